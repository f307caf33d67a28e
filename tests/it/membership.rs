//! Membership: the members pane's etcd source against a real etcd 3.4 (started by each test on free
//! loopback ports), driven through the app's own core (`common::etcd_console`), compared with what
//! etcd itself says (etcdctl): the initial listing (value shapes, prefix boundary, paging), live
//! puts, updates, deletes and lease expiry, resuming or re-listing after etcd was killed, cut off
//! (a proxy), compacted, rebuilt or replaced by another cluster at the same address (identity),
//! keys that are not UTF-8, a frozen etcd, and the members pane in a real terminal.
//!
//! Failover between the members of a cluster is in `failover`; deregistering in `deregister`.

use crate::common;

use std::time::{Duration, Instant};

use etcd_client::{Client, Txn, TxnOp};
use futures::StreamExt;
use opsconsole::model::{DeregisterOutcome, Health, Phase};
use opsconsole::sources::etcd::{connect, list_prefix, PAGE_SIZE};
use opsconsole::state::{Change, Confirm, Popup};

use common::e2e::{fleet, has_row, row};
use common::etcd_console::{
    etcd_has, etcd_members, etcd_mod_revision, etcd_revision, grant, profile, Console, LIVE,
    PREFIX, RECONNECT,
};
use common::proxy::Proxy;
use common::Etcd;

// ---------------------------------------------------------------------------------------------
// Initial listing: value shapes, prefix boundary, paging

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_list_parses_role_instance_addr() {
    let etcd = Etcd::start();
    etcd.ctl(&[
        "put",
        "/services/web/web-1",
        r#"{"addr":"10.0.0.1","port":80,"version":"1.2.3"}"#,
    ]);
    etcd.ctl(&[
        "put",
        "/services/api/api-7",
        r#"{"Op":0,"Addr":"10.0.0.7:8080","Metadata":null}"#,
    ]);
    etcd.ctl(&["put", "/services/redis/redis-1", "10.0.1.1:6379"]);
    // Outside the prefix: must not show up (a prefix without its trailing slash would take these).
    etcd.ctl(&["put", "/services-old/web/web-9", "10.9.9.9:80"]);
    etcd.ctl(&["put", "/other/x", "y"]);

    let mut c = Console::start(profile(&[etcd.endpoint()]));
    c.until(LIVE * 2, "snapshot and Live", |c| {
        c.is_live() && !c.snapshots.is_empty()
    })
    .await;
    assert_eq!(c.snapshots, vec![3]);
    assert_eq!(c.healths.first(), Some(&Health::Connecting));
    assert_eq!(c.members(), etcd_members(&etcd), "console == etcd");
    assert!(c.state().members.synced);

    let m = c.state().members.get("/services/web/web-1").expect("web-1");
    assert_eq!((m.role(), m.instance()), ("web", "web-1"));
    assert_eq!(m.addr(), "10.0.0.1:80");
    assert_eq!(m.version_label(), "1.2.3");
    let m = c.state().members.get("/services/api/api-7").expect("api-7");
    assert_eq!(
        (m.role(), m.instance(), m.addr()),
        ("api", "api-7", "10.0.0.7:8080")
    );
    let m = c
        .state()
        .members
        .get("/services/redis/redis-1")
        .expect("redis-1");
    assert_eq!(
        (m.role(), m.instance(), m.addr()),
        ("redis", "redis-1", "10.0.1.1:6379")
    );
    assert_eq!(
        m.mod_revision,
        etcd_mod_revision(&etcd, "/services/redis/redis-1").unwrap()
    );
    // Sorted by role, then instance.
    let order: Vec<String> = c
        .state()
        .members
        .visible_rows(0, 10)
        .map(|m| m.key_text().to_string())
        .collect();
    assert_eq!(
        order,
        [
            "/services/api/api-7",
            "/services/redis/redis-1",
            "/services/web/web-1"
        ]
    );
    assert_eq!(c.state().members.revision, etcd_revision(&etcd));
}

/// 12,000 keys (more than two pages of `PAGE_SIZE`) put in 128-op transactions, concurrently.
async fn put_bulk(endpoint: &str, n: usize) {
    let client = Client::connect([endpoint], None)
        .await
        .expect("connect for bulk put");
    let keys: Vec<usize> = (0..n).collect();
    let txns = keys.chunks(128).map(|chunk| {
        let ops: Vec<TxnOp> = chunk
            .iter()
            .map(|i| {
                TxnOp::put(
                    format!("/services/bulk/b-{i:05}"),
                    format!(
                        r#"{{"addr":"10.{}.{}.{}:80"}}"#,
                        i / 65536,
                        (i / 256) % 256,
                        i % 256
                    ),
                    None,
                )
            })
            .collect();
        let mut client = client.clone();
        async move {
            client
                .txn(Txn::new().and_then(ops))
                .await
                .expect("bulk txn")
        }
    });
    futures::stream::iter(txns)
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_list_pages_12k_keys_into_one_snapshot() {
    const N: usize = 12_000;
    assert!(
        N as i64 > 2 * PAGE_SIZE,
        "the test must span more than two pages"
    );
    let etcd = Etcd::start();
    let t = Instant::now();
    put_bulk(&etcd.endpoint(), N).await;
    etcd.ctl(&["put", "/services/zz/last", "10.0.0.1:1"]);
    etcd.ctl(&["put", "/services0", "just past the prefix"]);
    eprintln!("put {N} keys in {:?}", t.elapsed());

    // The listing function itself: one revision, every key once, in key order.
    let p = profile(&[etcd.endpoint()]);
    let client = connect(&p).await.expect("connect");
    let (revision, entries) = list_prefix(&client, PREFIX).await.expect("list_prefix");
    assert_eq!(revision, etcd_revision(&etcd));
    assert_eq!(entries.len(), N + 1);
    assert!(
        entries.windows(2).all(|w| w[0].key < w[1].key),
        "sorted, no duplicates"
    );
    assert_eq!(entries.last().unwrap().key, b"/services/zz/last");
    assert!(entries.iter().all(|e| e.key.starts_with(PREFIX.as_bytes())));

    // The source: all of them in the first and only snapshot.
    let mut c = Console::start(p);
    c.until(Duration::from_secs(10), "snapshot and Live", |c| {
        c.is_live() && !c.snapshots.is_empty()
    })
    .await;
    assert_eq!(c.snapshots, vec![N + 1], "one snapshot with every key");
    assert_eq!(c.state().members.len(), N + 1);
    assert_eq!(c.state().members.role_counts().get("bulk"), Some(&N));
    assert_eq!(c.members(), etcd_members(&etcd));
    let m = c
        .state()
        .members
        .get("/services/bulk/b-11999")
        .expect("last bulk key");
    assert_eq!(m.addr(), "10.0.46.223:80");
}

/// `n` keys `/services/<role>/<role>-<i>` with small JSON values, in 128-op transactions.
async fn put_role(endpoint: &str, role: &str, n: usize) {
    let client = Client::connect([endpoint], None)
        .await
        .expect("connect for bulk put");
    let keys: Vec<usize> = (0..n).collect();
    let txns = keys.chunks(128).map(|chunk| {
        let ops: Vec<TxnOp> = chunk
            .iter()
            .map(|i| {
                TxnOp::put(
                    format!("/services/{role}/{role}-{i}"),
                    format!(r#"{{"addr":"10.1.{}.{}","port":80}}"#, i / 256, i % 256),
                    None,
                )
            })
            .collect();
        let mut client = client.clone();
        async move {
            client
                .txn(Txn::new().and_then(ops))
                .await
                .expect("bulk txn")
        }
    });
    futures::stream::iter(txns)
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
}

/// The first rows of a listing are on screen, with `listing N / M`, before the listing completes:
/// a fleet in two key ranges (a small `api`, a large `web`) arrives range by range, and the pane
/// shows the first range's rows and how far the listing got; the full listing then replaces them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_rows_and_progress_show_before_the_listing_completes() {
    const API: usize = 150;
    const WEB: usize = 8_000;
    let etcd = Etcd::start();
    put_role(&etcd.endpoint(), "api", API).await;
    put_role(&etcd.endpoint(), "web", WEB).await;
    let mut c = Console::start(profile(&[etcd.endpoint()]));

    // Apply the source's messages one at a time, looking at the state (and the screen) after
    // each, until the full listing arrives.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut before_complete: Option<(usize, usize, Option<usize>, String)> = None;
    let mut totals = Vec::new();
    while c.snapshots.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = match c.h.next(left).await {
            Ok(Some(msg)) => msg,
            other => panic!("no full listing within 20 s ({other:?})"),
        };
        let progress = matches!(msg, opsconsole::model::Msg::MembersProgress { .. });
        c.apply(msg);
        let m = &c.state().members;
        if let Some(p) = m.listing {
            totals.extend(p.total);
        }
        if progress && before_complete.is_none() && !m.is_empty() {
            let p = m.listing.expect("progress while listing");
            let screen = screen(c.state_mut(), 120, 30);
            before_complete = Some((c.state().members.len(), p.listed, p.total, screen));
        }
    }
    let (rows, listed, total, early) =
        before_complete.expect("rows were shown before the listing completed");
    assert!(!c.snapshots.is_empty());
    assert!(rows > 0 && rows < API + WEB, "{rows} rows shown early");
    assert!(listed < API + WEB, "listed {listed} before the end");
    assert!(
        totals.iter().all(|t| *t == API + WEB),
        "every total reported is etcd's count: {totals:?}"
    );
    let shown = format!(
        "listing {} / {}",
        if listed >= 1000 {
            format!("{}k", listed / 1000)
        } else {
            listed.to_string()
        },
        match total {
            Some(_) => "8k".to_string(),
            None => "…".to_string(),
        }
    );
    assert!(
        early.contains(&shown),
        "the title shows {shown:?}:\n{early}"
    );
    assert!(
        early.contains("api-0") || early.contains("web-0"),
        "a first row is on screen:\n{early}"
    );

    // The full listing: every key, no progress left in the title.
    assert_eq!(c.snapshots, vec![API + WEB]);
    assert!(c.state().members.synced);
    assert_eq!(c.state().members.listing, None);
    assert_eq!(c.members(), etcd_members(&etcd));
    let screen = screen(c.state_mut(), 120, 30);
    assert!(!screen.contains("listing"), "{screen}");
    assert!(screen.contains(&format!("{}", API + WEB)), "{screen}");
}

/// Starts a console with its clock dir (where the learned cuts live) at `dir`, reads its listing
/// to the end and returns the keys read when the first rows were shown and the largest page (the
/// largest step of the running count).
async fn first_rows_and_largest_page(etcd: &Etcd, dir: &std::path::Path) -> (usize, usize) {
    let dir = dir.to_path_buf();
    let profile = common::etcd_console::cluster(profile(&[etcd.endpoint()]));
    let mut c = Console::with_settings(profile, |s| s.clock_dir = Some(dir));
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut first = None;
    let (mut most, mut largest) = (0, 0);
    while c.snapshots.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = match c.h.next(left).await {
            Ok(Some(msg)) => msg,
            other => panic!("no full listing within 20 s ({other:?})"),
        };
        if let opsconsole::model::Msg::MembersProgress {
            preview, listed, ..
        } = &msg
        {
            if !preview.is_empty() {
                first.get_or_insert(*listed);
            }
            largest = largest.max(listed.saturating_sub(most));
            most = most.max(*listed);
        }
        c.apply(msg);
    }
    assert_eq!(c.members(), etcd_members(etcd), "the whole prefix, once");
    (
        first.expect("rows were shown before the listing completed"),
        largest,
    )
}

/// One role of 20,000 names is one key range when cut by the name's first character: its first
/// rows come from a preview-sized first page, and the rest of it is one large page. The listing
/// learns where to cut it, and the next start reads it as ranges of a thousand keys or a few; a
/// damaged cuts file costs nothing but that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_start_cuts_the_listing_where_the_first_learned_to() {
    const WEB: usize = 20_000;
    let preview = opsconsole::sources::etcd::PREVIEW_ROWS;
    let etcd = Etcd::start();
    put_role(&etcd.endpoint(), "web", WEB).await;
    let dir = tempfile::tempdir().unwrap();
    let cuts_files = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "cuts"))
            .collect::<Vec<_>>()
    };
    let (first, largest) = first_rows_and_largest_page(&etcd, dir.path()).await;
    assert_eq!(first, preview, "cold: first rows from a preview's page");
    assert_eq!(
        largest,
        WEB - preview,
        "cold: the rest of the one range in one page"
    );
    let files = cuts_files();
    assert_eq!(files.len(), 1, "{files:?}");
    let (first, largest) = first_rows_and_largest_page(&etcd, dir.path()).await;
    assert!(first <= preview, "warm: first rows after {first} keys");
    // Ranges of ≈1k, 1k, 2k, 4k, 8k and 4k keys: no page holds more than ~8k (two answering
    // together can count as one step of the running count).
    assert!(largest <= 13_000, "warm: a page of {largest} keys");
    std::fs::write(&files[0], "not hex\n\u{1b}[2J\n").unwrap();
    assert_eq!(
        first_rows_and_largest_page(&etcd, dir.path()).await,
        (preview, WEB - preview),
        "damaged: as cold"
    );
    assert_eq!(cuts_files().len(), 1);
}

/// The screen as text, `w`×`h`, drawn as the app draws it.
fn screen(state: &mut opsconsole::state::State, w: u16, h: u16) -> String {
    let keymap = opsconsole::keymap::Keymap::resolve(None).unwrap();
    let theme = opsconsole::theme::Theme::resolve(Some("default"), None, false).unwrap();
    let v = opsconsole::ui::layout::viewports(ratatui::layout::Rect::new(0, 0, w, h), state);
    opsconsole::state::set_viewports(state, v);
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    terminal
        .draw(|f| opsconsole::ui::draw(f, state, &theme, &keymap))
        .unwrap();
    let buf = terminal.backend().buffer().clone();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n")
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Live changes and lease expiry

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_put_update_delete() {
    let etcd = Etcd::start();
    etcd.ctl(&["put", "/services/web/web-1", "10.0.0.1:80"]);
    let mut c = Console::start(profile(&[etcd.endpoint()]));
    c.until(LIVE * 2, "Live with 1 member", |c| {
        c.is_live() && c.state().members.len() == 1
    })
    .await;

    etcd.ctl(&[
        "put",
        "/services/web/web-2",
        r#"{"addr":"10.0.0.2","port":8080}"#,
    ]);
    let t = c
        .until(LIVE, "web-2 appears", |c| c.has("/services/web/web-2"))
        .await;
    eprintln!("put seen after {t:?}");
    let m = c.state().members.get("/services/web/web-2").unwrap();
    assert_eq!(m.addr(), "10.0.0.2:8080");
    assert_eq!(m.version(), 1);
    assert!(m.started_at().is_some(), "a creation seen live gets an age");

    etcd.ctl(&[
        "put",
        "/services/web/web-2",
        r#"{"addr":"10.0.0.22","port":8080,"version":"2"}"#,
    ]);
    let t = c
        .until(LIVE, "web-2 updated", |c| {
            c.state()
                .members
                .get("/services/web/web-2")
                .map(|m| m.addr())
                == Some("10.0.0.22:8080")
        })
        .await;
    eprintln!("update seen after {t:?}");
    let m = c.state().members.get("/services/web/web-2").unwrap();
    assert_eq!((m.version(), m.version_label()), (2, "2"));
    assert_eq!(
        m.mod_revision,
        etcd_mod_revision(&etcd, "/services/web/web-2").unwrap()
    );

    etcd.ctl(&["del", "/services/web/web-1"]);
    let t = c
        .until(LIVE, "web-1 deleted", |c| !c.has("/services/web/web-1"))
        .await;
    eprintln!("delete seen after {t:?}");
    assert_eq!(c.members(), etcd_members(&etcd));
    assert_eq!(c.state().members.revision, etcd_revision(&etcd));
    assert_eq!(
        c.snapshots.len(),
        1,
        "live changes come as events, not re-lists"
    );
    // Outside the prefix: never shown.
    etcd.ctl(&["put", "/services0/x", "y"]);
    etcd.ctl(&["put", "/services/web/web-3", "10.0.0.3:80"]);
    c.until(LIVE, "web-3 appears", |c| c.has("/services/web/web-3"))
        .await;
    assert_eq!(c.members(), etcd_members(&etcd));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_expiry_removes_member() {
    let etcd = Etcd::start();
    etcd.ctl(&["put", "/services/web/stays", "10.0.0.1:80"]);
    let mut c = Console::start(profile(&[etcd.endpoint()]));
    c.until(LIVE * 2, "Live", |c| {
        c.is_live() && c.state().members.len() == 1
    })
    .await;

    let lease = grant(&etcd, 2);
    etcd.ctl(&[
        "put",
        "--lease",
        &format!("{lease:x}"),
        "/services/web/leased",
        "10.0.0.2:80",
    ]);
    c.until(LIVE, "leased member appears", |c| {
        c.has("/services/web/leased")
    })
    .await;
    assert_eq!(
        c.state().members.get("/services/web/leased").unwrap().lease,
        lease
    );
    // The state asked the source for this lease's TTL (it is on screen) and gets it.
    c.until(LIVE, "lease TTL polled", |c| {
        c.state()
            .members
            .lease_remaining(lease, chrono::Utc::now())
            .is_some()
    })
    .await;

    // Nobody keeps it alive: etcd expires it within ~2 s (+ its 500 ms expiry sweep).
    let t = c
        .until(Duration::from_secs(8), "leased member expires", |c| {
            !c.has("/services/web/leased")
        })
        .await;
    eprintln!("lease expiry seen {t:?} after the put was seen");
    assert!(!etcd_has(&etcd, "/services/web/leased"));
    assert_eq!(c.members(), etcd_members(&etcd));
    assert!(c.has("/services/web/stays"));
}

/// A short keepalive in the profile must not make etcd drop an idle watch: grpc-go servers answer
/// pings closer than 5 s apart with GOAWAY "too_many_pings" (seen after ~4 s idle with 1 s pings).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_watch_survives_short_keepalive() {
    let etcd = Etcd::start();
    etcd.ctl(&["put", "/services/web/web-1", "10.0.0.1:80"]);
    let mut p = profile(&[etcd.endpoint()]);
    p.keepalive = Duration::from_secs(1);
    let mut c = Console::start(p);
    c.until(LIVE * 2, "Live", |c| c.is_live()).await;
    let mark = c.healths.len();
    c.idle(Duration::from_secs(7)).await;
    assert_eq!(
        c.retrying_since(mark),
        None,
        "idle watch dropped: {:?}",
        c.healths
    );
    etcd.ctl(&["put", "/services/web/web-2", "10.0.0.2:80"]);
    c.until(LIVE, "web-2 appears", |c| c.has("/services/web/web-2"))
        .await;
    assert_eq!(c.healths.len(), mark, "no reconnect: {:?}", c.healths);
}

#[test]
fn members_appear_update_and_are_counted_per_role() {
    let f = fleet("");
    let t = f.console(&[]);
    let s = t.screen();
    for (role, instance, addr) in [
        ("web", "web-1", "10.0.0.1:80"),
        ("web", "web-2", "10.0.0.2:8080"),
        ("redis", "redis-1", "10.0.1.1:6379"),
    ] {
        let r = row(&s, instance).unwrap();
        let cols: Vec<&str> = r.trim_matches('│').split_whitespace().collect();
        assert_eq!(cols[0], role, "role column of {instance}: {r}");
        assert_eq!(cols[2], addr, "address column of {instance}: {r}");
    }
    assert!(
        row(&s, "web-1").unwrap().contains("1.4.2"),
        "version of web-1 missing:\n{s}"
    );
    let title = s.lines().next().unwrap();
    assert!(title.contains("Members"), "{title}");
    assert!(
        title.contains("web:2") && title.contains("redis:1"),
        "per-role counts missing: {title}"
    );

    f.etcd.ctl(&[
        "put",
        "/services/web/web-3",
        r#"{"addr":"10.0.0.3","port":81}"#,
    ]);
    let s = t.wait_screen("web-3 to appear", LIVE, |s| has_row(s, "web-3"));
    assert!(row(&s, "web-3").unwrap().contains("10.0.0.3:81"), "{s}");
    t.wait_screen("title to count web:3", LIVE, |s| {
        s.lines().next().unwrap().contains("web:3")
    });

    f.etcd.ctl(&["del", "/services/redis/redis-1"]);
    let s = t.wait_screen("redis-1 to disappear", LIVE, |s| !has_row(s, "redis-1"));
    assert!(
        has_row(&s, "web-1") && has_row(&s, "web-2") && has_row(&s, "web-3"),
        "{s}"
    );
    assert!(
        !s.lines().next().unwrap().contains("redis:"),
        "redis still counted:\n{s}"
    );

    // A key outside the prefix is not a member.
    f.etcd.ctl(&["put", "/other/db/db-1", "10.9.9.9:5432"]);
    f.etcd.ctl(&["put", "/services/web/web-4", "10.0.0.4:80"]);
    let s = t.wait_screen("web-4 to appear", LIVE, |s| has_row(s, "web-4"));
    assert!(
        !s.contains("db-1"),
        "a key outside the prefix is shown:\n{s}"
    );
}

// ---------------------------------------------------------------------------------------------
// etcd killed, cut off (a proxy between console and etcd), compacted, rebuilt

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_after_etcd_is_killed_and_restarted() {
    let mut etcd = Etcd::start();
    etcd.ctl(&["put", "/services/web/web-1", "10.0.0.1:80"]);
    etcd.ctl(&["put", "/services/web/web-2", "10.0.0.2:80"]);
    let mut c = Console::start(profile(&[etcd.endpoint()]));
    c.until(LIVE * 2, "Live", |c| {
        c.is_live() && c.state().members.len() == 2
    })
    .await;
    let mark = c.healths.len();

    etcd.kill();
    let t = c
        .until(RECONNECT, "Retrying after SIGKILL", |c| {
            c.retrying_since(mark).is_some()
        })
        .await;
    eprintln!("crash noticed after {t:?}");
    // A deregister during the outage is refused at once, says why and is audited: nothing is
    // sent to an etcd the console cannot see.
    c.select("/services/web/web-1");
    c.h.press("D");
    assert_eq!(c.state().popup, None, "no dialog while etcd is not live");
    let status = c.state().status.as_ref().map(|s| s.text.clone());
    assert!(
        status
            .as_deref()
            .is_some_and(|s| s.contains("etcd is not live")),
        "{status:?}"
    );
    let refused = c.audits().last().cloned().expect("a refusal line");
    assert_eq!(
        (refused.target.as_str(), refused.result.as_deref()),
        ("/services/web/web-1", Some("refused: not live"))
    );

    etcd.restart();
    let retry_at = c.retrying_since(mark).unwrap();
    let t = c
        .until(RECONNECT, "Live again after restart", |c| {
            c.healths[retry_at..].contains(&Health::Live) && c.is_live()
        })
        .await;
    eprintln!("live again {t:?} after the restart returned");

    etcd.ctl(&["del", "/services/web/web-1"]);
    etcd.ctl(&["put", "/services/web/web-3", "10.0.0.3:80"]);
    etcd.ctl(&["put", "/services/web/web-2", "10.0.0.2:8080"]);
    let truth = etcd_members(&etcd);
    c.until(LIVE, "console == etcd after restart", |c| {
        c.members() == truth
    })
    .await;
    assert!(!c.has("/services/web/web-1"), "no ghost");
    assert_eq!(c.state().members.revision, etcd_revision(&etcd));
}

/// Console behind a live proxy, with `n` members listed.
async fn behind_proxy(etcd: &Etcd, n: usize) -> (Proxy, Console) {
    for i in 1..=n {
        etcd.ctl(&[
            "put",
            &format!("/services/web/web-{i}"),
            &format!("10.0.0.{i}:80"),
        ]);
    }
    let proxy = Proxy::start(etcd.client_port).await;
    let mut c = Console::start(profile(&[proxy.endpoint()]));
    c.until(LIVE * 2, "Live through the proxy", |c| {
        c.is_live() && c.state().members.len() == n
    })
    .await;
    (proxy, c)
}

/// Cuts the proxy and waits until the console has noticed.
async fn disconnect(proxy: &mut Proxy, c: &mut Console) {
    let mark = c.healths.len();
    proxy.down().await;
    c.until(RECONNECT, "Retrying after the proxy went down", |c| {
        c.retrying_since(mark).is_some()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_while_disconnected_relists_without_ghosts() {
    let etcd = Etcd::start();
    let (mut proxy, mut c) = behind_proxy(&etcd, 5).await;
    etcd.ctl(&["put", "/services/web/web-1", "10.0.0.1:81"]);
    c.until(LIVE, "update seen", |c| {
        c.state().members.get("/services/web/web-1").unwrap().addr() == "10.0.0.1:81"
    })
    .await;
    assert_eq!(c.snapshots.len(), 1);

    disconnect(&mut proxy, &mut c).await;
    etcd.ctl(&["del", "/services/web/web-1"]);
    etcd.ctl(&["del", "/services/web/web-2"]);
    etcd.ctl(&["put", "/services/web/web-3", "10.0.0.3:8080"]);
    etcd.ctl(&["put", "/services/db/db-1", "10.0.2.1:5432"]);
    etcd.ctl(&["put", "/services/db/db-2", "10.0.2.2:5432"]);
    etcd.ctl(&["del", "/services/db/db-2"]);
    let rev = etcd_revision(&etcd);
    etcd.ctl(&["compact", &rev.to_string()]);
    let truth = etcd_members(&etcd);
    assert_eq!(truth.len(), 4);

    proxy.up().await;
    let t = c
        .until(RECONNECT, "console == etcd after compaction", |c| {
            c.members() == truth
        })
        .await;
    eprintln!("reconciled {t:?} after the proxy came back");
    assert_eq!(
        c.snapshots.len(),
        2,
        "history was compacted: exactly one re-list"
    );
    for gone in [
        "/services/web/web-1",
        "/services/web/web-2",
        "/services/db/db-2",
    ] {
        assert!(!c.has(gone), "ghost {gone}");
    }
    c.until(LIVE, "Live after the re-list", |c| c.is_live())
        .await;
    assert_eq!(c.state().members.revision, rev);
    assert_eq!(c.state().members.role_counts().get("web"), Some(&3));

    // And it keeps watching after the re-list.
    etcd.ctl(&["put", "/services/web/web-9", "10.0.0.9:80"]);
    c.until(LIVE, "web-9 after re-list", |c| {
        c.has("/services/web/web-9")
    })
    .await;
    assert_eq!(c.members(), etcd_members(&etcd));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_missed_while_disconnected_arrive_on_resume() {
    let etcd = Etcd::start();
    let (mut proxy, mut c) = behind_proxy(&etcd, 3).await;

    disconnect(&mut proxy, &mut c).await;
    etcd.ctl(&["del", "/services/web/web-1"]);
    etcd.ctl(&["put", "/services/web/web-2", "10.0.0.2:8080"]);
    etcd.ctl(&["put", "/services/web/web-4", "10.0.0.4:80"]);
    etcd.ctl(&["put", "/services/web/web-5", "10.0.0.5:80"]);
    etcd.ctl(&["del", "/services/web/web-5"]);
    let lease = grant(&etcd, 60);
    etcd.ctl(&[
        "put",
        "--lease",
        &format!("{lease:x}"),
        "/services/api/api-1",
        "10.0.1.1:80",
    ]);
    let truth = etcd_members(&etcd);
    // Not visible while cut off.
    assert!(!c.has("/services/web/web-4"));

    proxy.up().await;
    let t = c
        .until(RECONNECT, "console == etcd after resume", |c| {
            c.members() == truth
        })
        .await;
    eprintln!("caught up {t:?} after the proxy came back");
    assert_eq!(
        c.snapshots.len(),
        1,
        "resumed from the last revision + 1: no re-list"
    );
    c.until(LIVE, "Live after resume", |c| c.is_live()).await;
    assert_eq!(
        c.state().members.get("/services/api/api-1").unwrap().lease,
        lease
    );

    // A second cut: the resume point moved on (no replay from the old revision, nothing lost).
    disconnect(&mut proxy, &mut c).await;
    etcd.ctl(&["del", "/services/web/web-2"]);
    let truth = etcd_members(&etcd);
    proxy.up().await;
    c.until(RECONNECT, "console == etcd after second resume", |c| {
        c.members() == truth
    })
    .await;
    assert_eq!(c.snapshots.len(), 1);
}

/// etcd comes back on the same endpoint with an empty data dir (rebuilt, or restored from an older
/// backup): its revision is now *behind* the console's resume point. A watch from that point would
/// wait silently for revisions that will not come for a long time while showing the old members;
/// the source must re-list instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_rebuilt_with_lower_revision_is_relisted() {
    let mut etcd = Etcd::start();
    for i in 0..20 {
        etcd.ctl(&[
            "put",
            "/services/web/web-1",
            &format!("10.0.0.1:{}", 8000 + i),
        ]);
    }
    etcd.ctl(&["put", "/services/web/web-2", "10.0.0.2:80"]);
    let mut c = Console::start(profile(&[etcd.endpoint()]));
    c.until(LIVE * 2, "Live", |c| {
        c.is_live() && c.state().members.len() == 2
    })
    .await;
    let old_revision = etcd_revision(&etcd);
    let mark = c.healths.len();

    etcd.kill();
    std::fs::remove_dir_all(etcd.dir.path().join("data")).expect("wiping the data dir");
    c.until(RECONNECT, "Retrying after SIGKILL", |c| {
        c.retrying_since(mark).is_some()
    })
    .await;
    etcd.restart();
    etcd.ctl(&["put", "/services/db/db-1", "10.0.2.1:5432"]);
    assert!(
        etcd_revision(&etcd) < old_revision,
        "the new store starts lower"
    );
    let truth = etcd_members(&etcd);
    c.until(RECONNECT, "console == rebuilt etcd", |c| {
        c.members() == truth
    })
    .await;
    assert!(!c.has("/services/web/web-1"), "no ghost from the old store");
    // And live again on the new store.
    etcd.ctl(&["put", "/services/db/db-2", "10.0.2.2:5432"]);
    c.until(LIVE, "db-2 appears", |c| c.has("/services/db/db-2"))
        .await;
    assert_eq!(c.members(), etcd_members(&etcd));
}

/// A frozen etcd (SIGSTOP: sockets open, no answers) is noticed within `keepalive_secs` + 5 s, and
/// from then on the members pane says how old its data is and TTLs stop counting down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_etcd_is_noticed_and_the_pane_goes_stale() {
    let etcd = Etcd::start();
    let lease = grant(&etcd, 600);
    etcd.ctl(&[
        "put",
        "/services/web/web-1",
        "10.0.0.1:80",
        &format!("--lease={lease:x}"),
    ]);
    // The default keep-alive (10 s): the bound is 10 + 5 s.
    let mut p = profile(&[etcd.endpoint()]);
    p.keepalive = Duration::from_secs(10);
    let mut c = Console::start(p);
    c.until(LIVE * 2, "Live with web-1", |c| {
        c.is_live() && c.has("/services/web/web-1")
    })
    .await;
    // The row is on screen: its TTL is polled (the console asks for the leases on screen).
    c.until(LIVE, "a TTL", |c| {
        c.state()
            .members
            .lease_remaining(lease, c.state().now)
            .is_some()
    })
    .await;

    let mark = c.healths.len();
    let frozen_at = chrono::Utc::now();
    etcd.freeze();
    // The quorum probe's read goes unanswered (~1 s); the watch's own bound is keepalive 10 s +
    // 5 s for the progress answer; 2 s of slack for a loaded machine.
    c.until(
        Duration::from_secs(10 + 5 + 2),
        "Retrying while etcd is frozen",
        |c| c.retrying_since(mark).is_some(),
    )
    .await;
    let now = |c: &mut Console, secs: i64| {
        c.state_mut().now = chrono::Utc::now() + chrono::Duration::seconds(secs);
    };
    now(&mut c, 0);
    // The age counts from etcd's last answer, which came before the freeze.
    let since_freeze = c.state().now - frozen_at;
    let stale = c.state().stale_for(opsconsole::model::SourceKind::Etcd);
    assert!(
        stale.is_some_and(|s| s >= since_freeze),
        "the pane is stale from etcd's last answer: {stale:?}, frozen {since_freeze:?} ago"
    );
    let frozen = c
        .state()
        .members
        .lease_remaining(lease, c.state().members_clock());
    now(&mut c, 60);
    assert_eq!(
        c.state()
            .members
            .lease_remaining(lease, c.state().members_clock()),
        frozen,
        "the TTL does not count down while etcd is not answering"
    );
    etcd.thaw();
    c.until(RECONNECT, "Live again", |c| c.live_since(mark))
        .await;
}

// ---------------------------------------------------------------------------------------------
// Identity: which cluster, which key

/// Another etcd comes up at the address the console knows, with more revisions than the one it
/// replaced: resuming the watch there would keep the old members as live and miss the new ones.
/// The console is cut off (a proxy) while the swap happens and the new store is written, so it
/// reconnects straight into the newer, foreign history.
async fn swapped_cluster_is_listed_again(token: &str) {
    let mut etcd = Etcd::start();
    let (mut proxy, mut c) = behind_proxy(&etcd, 3).await;
    let old_revision = etcd_revision(&etcd);
    disconnect(&mut proxy, &mut c).await;

    etcd.replace_with_fresh(token);
    for i in 1..=(old_revision + 5) {
        etcd.ctl(&["put", &format!("/services/api/api-{i}"), "10.0.9.1:80"]);
    }
    etcd.ctl(&["del", "/services/api/api-1"]);
    assert!(
        etcd_revision(&etcd) > old_revision + 5,
        "the new store is ahead"
    );
    let truth = etcd_members(&etcd);
    proxy.up().await;
    let told = |c: &Console| {
        c.state().status.as_ref().is_some_and(|s| {
            s.text.contains("etcd cluster changed") && s.text.contains("listed again")
        })
    };
    c.until(
        RECONNECT,
        "console == the new etcd, and the user told",
        |c| c.members() == truth && told(c),
    )
    .await;
    assert_eq!(c.snapshots.len(), 2, "listed once more");
    // Live on the new cluster from there.
    etcd.ctl(&["put", "/services/db/db-1", "10.0.2.1:5432"]);
    c.until(LIVE, "db-1 appears", |c| c.has("/services/db/db-1"))
        .await;
    assert_eq!(c.members(), etcd_members(&etcd));
}

/// A different `--initial-cluster-token`: the cluster id in the response headers changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_cluster_at_the_same_address_is_listed_again() {
    swapped_cluster_is_listed_again("another-cluster").await;
}

/// Identical flags: same cluster and member ids, so only the continuity check (the count of keys
/// and a sampled key's mod_revision at the resume revision) can tell.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_etcd_with_the_same_ids_is_listed_again() {
    swapped_cluster_is_listed_again("etcd-cluster").await;
}

/// A normal failover inside one cluster (another member of the same cluster answers) resumes the
/// watch without a re-list; covered with three members in `failover`. Here: a plain
/// reconnect to the same store resumes too (no re-list, no "cluster changed").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_to_the_same_store_resumes_without_a_relist() {
    let etcd = Etcd::start();
    let (mut proxy, mut c) = behind_proxy(&etcd, 3).await;
    disconnect(&mut proxy, &mut c).await;
    etcd.ctl(&["put", "/services/web/web-9", "10.0.0.9:80"]);
    etcd.ctl(&["del", "/services/web/web-1"]);
    let truth = etcd_members(&etcd);
    proxy.up().await;
    c.until(RECONNECT, "console == etcd", |c| c.members() == truth)
        .await;
    assert_eq!(c.snapshots.len(), 1, "resumed, not listed again");
    assert!(c
        .state()
        .status
        .as_ref()
        .is_none_or(|s| !s.text.contains("cluster changed")));
}

/// Keys are bytes. Two keys that differ only in bytes that are not UTF-8 (`inv\xff`, `inv\xfe`) are two
/// members end to end: listed and watched as two rows, shown escaped, their own values and history,
/// and deregistering one deletes exactly that key — not a lossy look-alike that matches nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_that_are_not_utf8_are_distinct_members_and_deregister_the_exact_key() {
    let etcd = Etcd::start();
    let mut client = Client::connect([etcd.endpoint()], None).await.unwrap();
    let ff = b"/services/coll/inv\xff".to_vec();
    let fe = b"/services/coll/inv\xfe".to_vec();
    let fd = b"/services/coll/inv\xfd".to_vec();
    client.put(ff.clone(), "10.0.0.1:80", None).await.unwrap();
    client.put(fe.clone(), "10.0.0.2:80", None).await.unwrap();
    client.put(fe.clone(), "10.0.0.3:80", None).await.unwrap();
    etcd.ctl(&["put", "/services/coll/inv", "10.0.0.9:80"]);

    let mut c = Console::start(profile(&[etcd.endpoint()]));
    c.until(LIVE * 2, "listing and Live", |c| {
        c.is_live() && !c.snapshots.is_empty()
    })
    .await;
    assert_eq!(c.state().members.len(), 3, "three keys in etcd, three rows");
    assert_eq!(
        c.members(),
        etcd_members(&etcd),
        "console == etcd, bytes and all"
    );
    let shown = |c: &Console, k: &[u8]| c.state().members.get(k).map(|m| m.instance().to_string());
    assert_eq!(shown(&c, &ff).as_deref(), Some("inv\\xff"));
    assert_eq!(shown(&c, &fe).as_deref(), Some("inv\\xfe"));
    assert_eq!(c.state().members.get(&fe).unwrap().addr(), "10.0.0.3:80");

    // A third arrives through the watch.
    client.put(fd.clone(), "10.0.0.4:80", None).await.unwrap();
    c.until(LIVE, "the watched key", |c| c.has(&fd)).await;
    assert_eq!(c.members(), etcd_members(&etcd));

    // History of the exact key: select it, Enter.
    c.select(&fe);
    c.h.press("enter");
    assert!(
        matches!(&c.state().popup, Some(Popup::MemberDetail { key, .. }) if *key == fe),
        "{:?}",
        c.state().popup
    );
    c.until(LIVE, "history of inv\\xfe", |c| {
        matches!(
            &c.state().popup,
            Some(Popup::MemberDetail {
                history: Some(_),
                ..
            })
        )
    })
    .await;
    let Some(Popup::MemberDetail {
        history: Some(Ok(earlier)),
        ..
    }) = &c.state().popup
    else {
        panic!("history failed: {:?}", c.state().popup)
    };
    assert_eq!(earlier.len(), 1);
    assert_eq!(
        (&earlier[0].key, &earlier[0].value[..]),
        (&fe, &b"10.0.0.2:80"[..])
    );
    c.h.press("esc");

    // Deregister inv\xff through the dialog: exactly that key goes.
    c.open_deregister(&ff, false);
    assert!(
        matches!(&c.state().popup, Some(Popup::Confirm(Confirm { change: Change::Deregister { target, .. }, .. })) if target.key == ff)
    );
    let out = c.confirm_deregister().await;
    assert_eq!(
        out,
        DeregisterOutcome::Deleted {
            lease_revoked: None
        }
    );
    assert_eq!(c.deregs[0].0, ff);
    let lines = c.audits();
    let attempt = lines
        .iter()
        .find(|l| l.phase == Phase::Attempt)
        .expect("an attempt line");
    assert_eq!(attempt.target, "/services/coll/inv\\xff");
    assert_eq!(
        attempt.key_b64.as_deref(),
        Some("L3NlcnZpY2VzL2NvbGwvaW52/w==")
    );
    c.until(LIVE, "gone", |c| !c.has(&ff)).await;
    let audit = c.audits().last().cloned().expect("an audit line");
    assert_eq!(
        (
            audit.action.as_str(),
            audit.result.as_deref().unwrap_or(""),
            audit.target.as_str()
        ),
        ("deregister", "deleted", "/services/coll/inv\\xff")
    );
    let left = |k: &[u8]| {
        let k = k.to_vec();
        let mut client = client.clone();
        async move { client.get(k, None).await.unwrap().kvs().len() }
    };
    assert_eq!(left(&ff).await, 0, "the exact key was deleted");
    assert_eq!(left(&fe).await, 1, "its look-alike is untouched");
    assert_eq!(left(&fd).await, 1);
    assert_eq!(c.members(), etcd_members(&etcd));
}
