//! Log records and JSON messages (issue 24) through a real rsyslog and Redis, in a real terminal
//! at 80×24: a Java stack trace logged one syslog message per line is one row with `(+3)`, Enter
//! shows its lines, `r` shows every line as sent; a JSON message reads as level, message and
//! fields, and `p` pretty-prints it.

use crate::common;

use common::log_servers::{Redis, Rsyslog, RsyslogMode, KEY};
use common::tmux::{Settle, Tmux, SOON};
use common::{wait_until, write_config, Etcd};

#[test]
fn stack_traces_are_records_and_json_is_summarised_through_rsyslog_at_80x24() {
    let redis = Redis::start();
    let rs = Rsyslog::start(redis.port, RsyslogMode::Publish);
    let etcd = Etcd::start();
    etcd.ctl(&["put", "/services/web/web-1", "10.0.0.1:80"]);
    let logs = format!(
        "logs = {{ kind = \"redis\", url = \"{}\", channel = \"{KEY}\" }}",
        redis.url()
    );
    let (_dir, config) = write_config(&etcd.endpoint(), "/services/", &logs);
    let t = Tmux::sized("opsconsole-records", 80, 24)
        .settle(Settle::StillTrue)
        .start(&[
            "--cluster",
            "test",
            "--config",
            config.to_str().unwrap(),
            "--utc",
        ]);
    t.wait_text("web-1");
    wait_until("the console subscribed to the channel", SOON, || {
        redis.subscribers(KEY) > 0
    });
    // A JVM's syslog appender: one message per line of the trace, the tabs as rsyslog escapes them.
    for (prio, msg) in [
        (
            "user.err",
            "java.lang.IllegalStateException: order 42 is null",
        ),
        ("user.err", "\tat com.acme.Orders.get(Orders.java:42)"),
        ("user.err", "\tat com.acme.Api.handle(Api.java:7)"),
        ("user.err", "Caused by: java.sql.SQLException: timeout"),
        (
            "user.info",
            r#"{"level":"info","msg":"order placed","trace_id":"t-1","http":{"status":201}}"#,
        ),
    ] {
        rs.logger(false, &["-t", "orders", "-p", prio, msg]);
        // Datagrams in order: rsyslog reads them as they come.
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The logs pane, zoomed to the whole 80 columns.
    for _ in 0..3 {
        t.send(&["Tab"]);
    }
    t.send(&["z"]);
    let s = t.wait_screen(
        "the trace as one record and the JSON summarised",
        SOON,
        |s| {
            s.contains("(+3) java.lang.IllegalStateException")
                && s.contains("order placed trace_id=t-1")
        },
    );
    assert!(!s.contains("Orders.java"), "the record is folded:\n{s}");
    // Up selects the record (and pauses); Enter shows its lines under it.
    t.send(&["k"]);
    t.send(&["Enter"]);
    let s = t.wait_text("Caused by: java.sql.SQLException");
    assert!(s.contains("at com.acme.Orders.get(Orders.java:42)"), "{s}");
    assert!(s.contains("3 more lines"), "{s}");
    // p: the JSON message indented below its line, nested objects too.
    t.send(&["p"]);
    t.wait_screen("pretty JSON", SOON, |s| {
        s.contains("trace_id: t-1") && s.contains("status: 201")
    });
    // r: every line as sent, each its own row.
    t.send(&["p", "r"]);
    let s = t.wait_text("every line as sent");
    assert!(!s.contains("(+3)"), "{s}");
    assert!(s.contains("at com.acme.Api.handle(Api.java:7)"), "{s}");
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}
