//! Resize storms (RELIABILITY, "Not covered"): the binary in tmux against a real etcd while the
//! window is resized hundreds of times as fast as tmux allows, through sizes too small to draw,
//! one row and column, 80×24 and 200×50. The console must end drawn at the last size (not at
//! one it saw on the way), still take keys, never panic and give the terminal back.

use std::time::Instant;

use crate::common::e2e::{fleet, has_row};
use crate::common::tmux::SOON;

const SIZES: [(u16, u16); 8] = [
    (80, 24),
    (12, 5),
    (200, 50),
    (1, 1),
    (33, 7),
    (160, 45),
    (81, 25),
    (40, 10),
];

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // utime and stime: fields 14 and 15, counted after the `(comm)` that may hold spaces.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

#[test]
fn a_storm_of_resizes_ends_drawn_at_the_last_size_and_still_taking_keys() {
    let f = fleet("");
    let t = f.console(&[]);
    let pid = t.app_pid();
    let cpu_before = cpu_ticks(pid);
    let started = Instant::now();
    let rounds = 40;
    for round in 0..rounds {
        for (w, h) in SIZES {
            // Sizes differ a little each round, so no two storms' frames are alike.
            let (w, h) = (w + (round % 3) as u16, h + (round % 2) as u16);
            t.tmux(&[
                "resize-window",
                "-t",
                "t",
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
            ]);
        }
    }
    let storm = started.elapsed();
    t.tmux(&["resize-window", "-t", "t", "-x", "100", "-y", "30"]);
    let s = t.wait_screen("the console drawn at 100×30 after the storm", SOON, |s| {
        let lines: Vec<&str> = s.lines().collect();
        lines.len() == 30
            && lines[0].starts_with('┌')
            // A box drawn to the last column: the frame is for 100 columns, not an older size.
            && lines.iter().any(|l| l.chars().nth(99) == Some('┐'))
            && has_row(s, "web-1")
            && has_row(s, "redis-1")
    });
    assert!(!s.contains("Terminal too small"), "{s}");
    let cpu_ticks_used = cpu_ticks(pid).saturating_sub(cpu_before);
    println!(
        "{} resizes in {storm:.1?}; the console used {} ms of CPU meanwhile",
        rounds * SIZES.len(),
        cpu_ticks_used * 10
    );

    // Keys still work: a filter narrows the table, Esc clears it.
    t.send(&["/"]);
    t.type_text("web-2");
    t.send(&["Enter"]);
    t.wait_screen("only web-2 after the filter", SOON, |s| {
        has_row(s, "web-2") && !has_row(s, "web-1")
    });
    t.escape();
    t.wait_screen("every member back", SOON, |s| {
        has_row(s, "web-1") && has_row(s, "web-2")
    });

    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0, "{}", t.screen());
    t.assert_terminal_restored();
    let log = std::fs::read_to_string(t.state_dir().join("opsconsole.log")).unwrap_or_default();
    assert!(!log.contains("panicked"), "{log}");
}
