//! One display zone (issue 24): `--zone`, `Z` cycling local / UTC / the configured zone, `:zone`,
//! the status bar saying the zone with its offset, and typed times echoed in the display zone and
//! in UTC before they are committed — a DST gap refused, an overlap flagged — in a real terminal
//! at 80×24.

use crate::common;

use common::e2e::message_line;
use common::panes::status_bar;
use common::tmux::{Tmux, SOON};

#[test]
fn z_cycles_the_zone_and_typed_times_are_echoed_in_it_at_80x24() {
    let t = Tmux::sized("opsconsole-zone", 80, 24)
        .env("TZ", "UTC")
        .start(&["--demo", "--zone", "Asia/Tokyo"]);
    let s = t.wait_text("Members");
    assert!(status_bar(&s).contains("Asia/Tokyo +09:00"), "{s}");

    // Z: local (the machine's, UTC here), then UTC, then the configured zone again.
    t.send(&["Z"]);
    let s = t.wait_screen("local zone", SOON, |s| {
        status_bar(s).contains("local +00:00")
    });
    assert!(message_line(&s).contains("times in local +00:00"), "{s}");
    t.send(&["Z"]);
    t.wait_screen("UTC", SOON, |s| status_bar(s).contains(" UTC "));
    t.send(&["Z"]);
    t.wait_screen("Tokyo again", SOON, |s| {
        status_bar(s).contains("Asia/Tokyo +09:00")
    });

    // :zone names another; a name that is no zone is refused and nothing changes.
    t.send(&[":"]);
    t.type_text("zone Mars/Olympus");
    t.send(&["Enter"]);
    let s = t.wait_text("not an IANA zone name");
    assert!(status_bar(&s).contains("Asia/Tokyo"), "{s}");
    t.send(&[":"]);
    t.type_text("zone Europe/Berlin");
    t.send(&["Enter"]);
    t.wait_screen("Berlin", SOON, |s| {
        status_bar(s).contains("Europe/Berlin +0")
    });

    // T: the typed time is echoed, in Berlin time and UTC, before Enter.
    t.send(&["T"]);
    t.wait_text("at time:");
    t.type_text("2026-03-29 02:30");
    let s = t.wait_text("does not exist");
    assert!(
        message_line(&s).contains("at time: 2026-03-29 02:30"),
        "{s}"
    );
    t.send(&["BSpace"; 16]);
    t.type_text("2026-10-25 02:30");
    let s = t.wait_text("= 00:30 UTC");
    let line = message_line(&s);
    assert!(
        line.contains("= 2026-10-25 02:30 +02:00 = 00:30 UTC (twice: 1st)"),
        "{line}"
    );
    // Committed: the cursor is at that moment, said in the display zone.
    t.send(&["Enter"]);
    t.wait_screen("the cursor at 02:30 Berlin", SOON, |s| {
        status_bar(s).contains("AT 02:30:00 +02:00")
    });
    t.send(&["T"]);
    t.wait_gone("AT 02:30");
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}
