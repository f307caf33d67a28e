//! Pane snapshots on ratatui's `TestBackend` (text, reviewed by eye and stored under
//! `tests/it/snapshots/`), plus explicit checks of cell styles, which a text snapshot cannot see.
//!
//! Regenerate after an intended UI change: `INSTA_UPDATE=always cargo test --test it render_screen`, then
//! review the `.snap` diff. With `CI=true` a mismatch fails instead of writing `.snap.new` files.

use chrono::{DateTime, Duration, TimeZone, Utc};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;

use opsconsole::action::Action;
use opsconsole::keymap::Keymap;
use opsconsole::model::{ClusterId, Health, KvEntry, Msg, SourceKind};
use opsconsole::state::{handle_action, update, State};
use opsconsole::theme::{StyleName, Theme};
use opsconsole::ui;

const W: u16 = 120;
const H: u16 = 32;

const LEASE_WEB1: i64 = 0x694d_7b1c_0a3e_2f01;
const LEASE_WEB2: i64 = 0x694d_7b1c_0a3e_2f02;
const LEASE_WEB10: i64 = 0x694d_7b1c_0a3e_2f03;
const LEASE_WORKER: i64 = 0x694d_7b1c_0a3e_2f04;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 4, 10, 0).unwrap()
}

fn kv(key: &str, value: &[u8], rev: i64, lease: i64) -> KvEntry {
    KvEntry {
        key: key.into(),
        value: value.to_vec(),
        create_revision: rev,
        mod_revision: rev + 100,
        version: 3,
        lease,
    }
}

/// Six members in the shapes the README lists: our JSON convention, etcd's naming manager, a plain
/// `ip:port`; leases with a known TTL, a TTL about to run out, a TTL not polled yet, and no lease.
fn fleet() -> Vec<KvEntry> {
    vec![
        kv(
            "/services/api/api-1",
            br#"{"addr":"10.0.3.1","port":8080,"version":"2.0.1","started_at":"2026-11-23T04:10:00Z"}"#,
            5,
            0,
        ),
        kv(
            "/services/web/web-1",
            br#"{"addr":"10.0.0.1","port":80,"version":"1.4.2","started_at":"2026-11-25T01:10:00Z"}"#,
            11,
            LEASE_WEB1,
        ),
        kv(
            "/services/web/web-2",
            br#"{"addr":"10.0.0.2","port":80,"version":"1.4.2","started_at":"2026-11-25T04:02:00Z"}"#,
            12,
            LEASE_WEB2,
        ),
        kv(
            "/services/web/web-10",
            br#"{"addr":"10.0.0.10","port":80,"version":"1.5.0-rc1","started_at":"2026-11-25T04:09:18Z"}"#,
            13,
            LEASE_WEB10,
        ),
        kv("/services/redis/redis-1", b"10.0.1.1:6379", 3, 0),
        kv(
            "/services/worker/worker-1",
            br#"{"Op":0,"Addr":"10.0.2.1:9000","Metadata":null}"#,
            14,
            LEASE_WORKER,
        ),
    ]
}

/// A live, synced console on cluster `prod` with TTLs polled at `now` (web-10's not yet).
fn live_state() -> State {
    let mut s = State::new("prod", "/services/", "alice", now());
    s.zone = opsconsole::model::DisplayZone::Utc;
    update(
        &mut s,
        Msg::Health(SourceKind::Etcd.of(ClusterId(0)), Health::Live),
    );
    update(&mut s, Msg::listing("/services/", 120, fleet(), now()));
    update(
        &mut s,
        Msg::LeaseTtls {
            ttls: vec![(LEASE_WEB1, 27), (LEASE_WEB2, 4), (LEASE_WORKER, 29)],
            at: now(),
        },
    );
    s
}

fn theme(name: &str) -> Theme {
    Theme::resolve(Some(name), None, false).unwrap()
}

/// Lays out a `w`×`h` screen (the reducer learns each pane's size, as the app tells it before
/// every frame) and draws it.
fn draw_sized(state: &mut State, theme: &Theme, w: u16, h: u16) -> TestBackend {
    let keymap = Keymap::resolve(None).unwrap();
    let v = ui::layout::viewports(ratatui::layout::Rect::new(0, 0, w, h), state);
    opsconsole::state::set_viewports(state, v);
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal
        .draw(|f| ui::draw(f, state, theme, &keymap))
        .unwrap();
    terminal.backend().clone()
}

fn draw(state: &mut State, theme: &Theme) -> TestBackend {
    draw_sized(state, theme, W, H)
}

/// Runs of non-default style per row, so a snapshot can show what a theme does.
fn style_runs(buf: &Buffer) -> String {
    let mut out = String::new();
    let width = buf.area.width;
    for y in 0..buf.area.height {
        let mut runs = Vec::new();
        let mut x = 0;
        while x < width {
            let c = &buf[(x, y)];
            let key = (c.fg, c.bg, c.modifier);
            let start = x;
            while x < width && {
                let d = &buf[(x, y)];
                (d.fg, d.bg, d.modifier) == key
            } {
                x += 1;
            }
            if key != (Color::Reset, Color::Reset, Modifier::empty()) {
                let mut desc = Vec::new();
                if key.0 != Color::Reset {
                    desc.push(format!("fg={:?}", key.0));
                }
                if key.1 != Color::Reset {
                    desc.push(format!("bg={:?}", key.1));
                }
                if !key.2.is_empty() {
                    desc.push(format!("{:?}", key.2));
                }
                runs.push(format!("{start}-{} {}", x - 1, desc.join(" ")));
            }
        }
        if !runs.is_empty() {
            out.push_str(&format!("{y:>2}: {}\n", runs.join(" | ")));
        }
    }
    out
}

fn text_and_styles(backend: &TestBackend) -> String {
    format!(
        "{backend}\n-- styles (row: columns style) --\n{}",
        style_runs(backend.buffer())
    )
}

/// Row `y` of the screen as text.
fn line(buf: &Buffer, y: u16) -> String {
    (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect()
}

/// First screen row whose text contains `needle`.
/// The first table row (below the pane titles, which may name the scope) holding `needle`.
fn row_of(buf: &Buffer, needle: &str) -> u16 {
    (1..buf.area.height)
        .find(|&y| line(buf, y).contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not on screen:\n{}", ratatui_text(buf)))
}

fn col_of(buf: &Buffer, y: u16, needle: &str) -> u16 {
    let l = line(buf, y);
    let byte = l.find(needle).unwrap();
    l[..byte].chars().count() as u16
}

fn ratatui_text(buf: &Buffer) -> String {
    (0..buf.area.height).map(|y| line(buf, y) + "\n").collect()
}

fn select(state: &mut State, key: impl AsRef<[u8]>) {
    let key = key.as_ref();
    assert!(
        state.members.select_key(key),
        "{} not in state",
        String::from_utf8_lossy(key)
    );
}

// ---- text snapshots ----

#[test]
fn full_screen_default_theme() {
    let mut s = live_state();
    select(&mut s, "/services/web/web-1");
    insta::assert_snapshot!(
        "full_screen_default",
        text_and_styles(&draw(&mut s, &theme("default")))
    );
}

#[test]
fn full_screen_high_contrast() {
    let mut s = live_state();
    select(&mut s, "/services/web/web-1");
    insta::assert_snapshot!(
        "full_screen_high_contrast",
        text_and_styles(&draw(&mut s, &theme("high-contrast")))
    );
}

#[test]
fn filter_active() {
    let mut s = live_state();
    handle_action(&mut s, Action::Filter);
    for c in "web-1".chars() {
        handle_action(&mut s, Action::InsertChar(c));
    }
    handle_action(&mut s, Action::Submit);
    insta::assert_snapshot!("filter_active", draw(&mut s, &theme("default")));
}

#[test]
fn filter_being_typed() {
    let mut s = live_state();
    handle_action(&mut s, Action::Filter);
    for c in "!web".chars() {
        handle_action(&mut s, Action::InsertChar(c));
    }
    insta::assert_snapshot!("filter_being_typed", draw(&mut s, &theme("default")));
}

#[test]
fn deregister_confirmation() {
    let mut s = live_state();
    select(&mut s, "/services/web/web-2");
    handle_action(&mut s, Action::Deregister);
    // The dialog's keys count once it has been on screen for a moment.
    let shown = std::time::Instant::now();
    opsconsole::state::frame_drawn(&mut s, shown, true);
    opsconsole::state::handle_key(
        &mut s,
        Action::ToggleRevokeLease,
        "r",
        shown + std::time::Duration::from_millis(300),
    );
    insta::assert_snapshot!("deregister_confirmation", draw(&mut s, &theme("default")));
}

#[test]
fn deregister_confirmation_without_lease() {
    let mut s = live_state();
    select(&mut s, "/services/redis/redis-1");
    handle_action(&mut s, Action::Deregister);
    insta::assert_snapshot!(
        "deregister_confirmation_no_lease",
        draw(&mut s, &theme("default"))
    );
}

#[test]
fn help_popup() {
    let mut s = live_state();
    handle_action(&mut s, Action::Help);
    insta::assert_snapshot!("help_popup", draw(&mut s, &theme("default")));
}

#[test]
fn member_detail() {
    let mut s = live_state();
    select(&mut s, "/services/web/web-1");
    handle_action(&mut s, Action::Detail);
    update(
        &mut s,
        Msg::History {
            key: "/services/web/web-1".into(),
            revisions: Ok(vec![
                KvEntry {
                    mod_revision: 60,
                    version: 2,
                    ..kv(
                        "/services/web/web-1",
                        br#"{"addr":"10.0.0.1","port":80,"version":"1.4.1"}"#,
                        11,
                        LEASE_WEB1,
                    )
                },
                KvEntry {
                    mod_revision: 11,
                    version: 1,
                    ..kv(
                        "/services/web/web-1",
                        br#"{"addr":"10.0.0.1","port":80,"version":"1.4.0"}"#,
                        11,
                        LEASE_WEB1,
                    )
                },
            ]),
        },
    );
    insta::assert_snapshot!("member_detail", draw(&mut s, &theme("default")));
}

#[test]
fn member_detail_loading_then_gone() {
    let mut s = live_state();
    select(&mut s, "/services/redis/redis-1");
    handle_action(&mut s, Action::Detail);
    insta::assert_snapshot!("member_detail_loading", draw(&mut s, &theme("default")));
    update(
        &mut s,
        Msg::MembersEvents {
            events: vec![opsconsole::model::KvEvent::Delete {
                key: "/services/redis/redis-1".into(),
                mod_revision: 130,
            }],
            at: now(),
        },
    );
    update(
        &mut s,
        Msg::History {
            key: "/services/redis/redis-1".into(),
            revisions: Err("etcd did not answer within 5 s".into()),
        },
    );
    insta::assert_snapshot!("member_detail_gone", draw(&mut s, &theme("default")));
}

#[test]
fn etcd_retrying_before_any_data() {
    let mut s = State::new("prod", "/services/", "alice", now());
    s.zone = opsconsole::model::DisplayZone::Utc;
    update(
        &mut s,
        Msg::Health(
            SourceKind::Etcd.of(ClusterId(0)),
            Health::Retrying {
                at: now() + Duration::seconds(4),
                attempt: 3,
                error: "connecting to http://127.0.0.1:2379: transport error: connection refused"
                    .into(),
            },
        ),
    );
    insta::assert_snapshot!("etcd_retrying", draw(&mut s, &theme("default")));
}

#[test]
fn connecting_before_any_data() {
    let mut s = State::new("prod", "/services/", "alice", now());
    s.zone = opsconsole::model::DisplayZone::Utc;
    insta::assert_snapshot!("etcd_connecting", draw(&mut s, &theme("default")));
}

#[test]
fn terminal_too_small() {
    let mut s = live_state();
    insta::assert_snapshot!(
        "too_small_50x10",
        draw_sized(&mut s, &theme("default"), 50, 10)
    );
}

#[test]
fn readonly_refusal_and_error_status() {
    let mut s = live_state();
    s.readonly = true;
    handle_action(&mut s, Action::Deregister);
    insta::assert_snapshot!("readonly_refused", draw(&mut s, &theme("default")));
}

const EVIL: &[u8] = b"\x1b[2J\x1b]0;pwned\x07";

fn evil_state() -> State {
    let mut s = live_state();
    let mut raw = b"10.6.6.6:80".to_vec();
    raw.extend_from_slice(EVIL);
    let mut key = b"/services/evil/x-2".to_vec();
    key.extend_from_slice(EVIL);
    update(
        &mut s,
        Msg::MembersEvents {
            events: vec![
                opsconsole::model::KvEvent::Put(kv("/services/evil/x-1", &raw, 140, 0)),
                opsconsole::model::KvEvent::Put(kv(
                    &String::from_utf8(key).unwrap(),
                    br#"{"addr":"10.6.6.7\u001b[2J\u001b]0;pwned\u0007","port":80,"version":"\u001b[31mv2\u001b[0m"}"#,
                    141,
                    0,
                )),
            ],
            at: now(),
        },
    );
    s
}

fn assert_no_control_chars(buf: &Buffer) {
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            let sym = buf[(x, y)].symbol();
            assert!(
                !sym.chars().any(|c| c.is_control()),
                "control character {sym:?} drawn at ({x},{y})"
            );
        }
    }
}

/// The crafted title text `pwned` may appear (names are never cut), but only inside its visible
/// escape `\x1b]0;pwned`, never as text of its own that could pass for a real value.
fn shown_only_escaped(text: &str) {
    for (i, _) in text.match_indices("pwned") {
        assert!(
            text[..i].ends_with("\\x1b]0;") || text[..i].ends_with("␛]0;"),
            "pwned shown without its escape:\n{text}"
        );
    }
}

#[test]
fn escape_sequences_in_values_are_shown_harmlessly() {
    let mut s = evil_state();
    let table = draw(&mut s, &theme("default"));
    assert_no_control_chars(table.buffer());
    shown_only_escaped(&ratatui_text(table.buffer()));
    insta::assert_snapshot!("escape_sequences_table", table);

    select(&mut s, "/services/evil/x-1");
    handle_action(&mut s, Action::Detail);
    let detail = draw(&mut s, &theme("default"));
    assert_no_control_chars(detail.buffer());
    shown_only_escaped(&ratatui_text(detail.buffer()));
    insta::assert_snapshot!("escape_sequences_detail", detail);

    // The JSON value: its pretty form shows the escapes as inert `\u001b` text.
    let evil_key = s
        .members
        .visible_rows(0, 100)
        .find(|m| m.key().starts_with(b"/services/evil/x-2"))
        .map(|m| m.key().to_vec())
        .unwrap();
    handle_action(&mut s, Action::Back);
    select(&mut s, &evil_key);
    handle_action(&mut s, Action::Detail);
    let detail = draw(&mut s, &theme("default"));
    assert_no_control_chars(detail.buffer());
    insta::assert_snapshot!("escape_sequences_json_detail", detail);

    handle_action(&mut s, Action::Back);
    handle_action(&mut s, Action::Deregister);
    let confirm = draw(&mut s, &theme("default"));
    assert_no_control_chars(confirm.buffer());
    // The dialog names the exact key: its escapes are shown escaped (inert), so a crafted key can
    // never pass for the real `/services/evil/x-2`.
    assert!(
        ratatui_text(confirm.buffer()).contains(r"x-2\x1b[2J\x1b]0;pwned\x07"),
        "{}",
        ratatui_text(confirm.buffer())
    );
}

// ---- explicit style checks ----

#[test]
fn selected_row_has_the_selected_style() {
    for name in ["default", "high-contrast", "light"] {
        let t = theme(name);
        let sel = t.style(StyleName::Selected);
        let mut s = live_state();
        select(&mut s, "/services/web/web-1");
        let b = draw(&mut s, &t);
        let buf = b.buffer();
        let y = row_of(buf, "web-1 ");
        // The whole row inside the pane, from the first column to the right border.
        for x in 1..59 {
            let c = &buf[(x, y)];
            assert_eq!(
                c.fg,
                sel.fg.unwrap_or(Color::Reset),
                "{name}: fg at ({x},{y})"
            );
            assert_eq!(
                c.bg,
                sel.bg.unwrap_or(Color::Reset),
                "{name}: bg at ({x},{y})"
            );
            assert!(
                c.modifier.contains(sel.add_modifier),
                "{name}: modifier at ({x},{y})"
            );
        }
        // Another row does not carry it.
        let other = row_of(buf, "redis-1");
        assert_ne!(buf[(2, other)].bg, sel.bg.unwrap_or(Color::Reset), "{name}");
    }
}

#[test]
fn unfocused_selection_is_muted_and_underlined() {
    let t = theme("default");
    let mut s = live_state();
    select(&mut s, "/services/web/web-1");
    handle_action(&mut s, Action::NextPane);
    let b = draw(&mut s, &t);
    let buf = b.buffer();
    let y = row_of(buf, "web-1 ");
    let c = &buf[(2, y)];
    assert_eq!(Some(c.fg), t.style(StyleName::Muted).fg);
    assert!(c.modifier.contains(Modifier::UNDERLINED));
    assert_ne!(Some(c.bg), t.style(StyleName::Selected).bg);
    // Without colour the two cursors still differ: reversed where the focus is, underlined not.
    let plain = Theme::resolve(None, None, true).unwrap();
    let (focused, unfocused) = (plain.cursor(true), plain.cursor(false));
    assert!(focused.add_modifier.contains(Modifier::REVERSED));
    assert!(unfocused.add_modifier.contains(Modifier::UNDERLINED));
    assert!(!unfocused.add_modifier.contains(Modifier::REVERSED));
}

#[test]
fn focused_border_follows_focus() {
    let t = theme("default");
    let focused = t.border(true);
    let plain = t.border(false);
    let mut s = live_state();
    // Pane corners at 120x32: members (0,0), checks (60,0), metrics and logs on the lower row.
    let lower = {
        let b = draw(&mut s, &t);
        row_of(b.buffer(), "┌ Metrics")
    };
    let corners = [(0u16, 0u16), (60, 0), (0, lower), (60, lower)];
    for step in 0..4 {
        let b = draw(&mut s, &t);
        let buf = b.buffer();
        for (i, &(x, y)) in corners.iter().enumerate() {
            let c = &buf[(x, y)];
            assert_eq!(c.symbol(), "┌", "corner {i}");
            let want = if i == step { focused } else { plain };
            assert_eq!(Some(c.fg), want.fg, "focus step {step}, corner {i}");
            assert_eq!(
                c.modifier.contains(Modifier::BOLD),
                want.add_modifier.contains(Modifier::BOLD),
                "focus step {step}, corner {i}"
            );
            // The side and bottom edges too, not only the corner.
            assert_eq!(buf[(x, y + 1)].symbol(), "│", "corner {i}");
            assert_eq!(
                Some(buf[(x, y + 1)].fg),
                want.fg,
                "focus step {step}, left edge {i}"
            );
            assert_eq!(
                Some(buf[(x + 59, y + 1)].fg),
                want.fg,
                "focus step {step}, right edge {i}"
            );
        }
        handle_action(&mut s, Action::NextPane);
    }
    // With a popup open no pane claims the focus.
    handle_action(&mut s, Action::Help);
    let b = draw(&mut s, &t);
    assert_eq!(Some(b.buffer()[(0, 0)].fg), plain.fg);
}

#[test]
fn cluster_accent_colours_every_pane_border() {
    let t = Theme::resolve(None, Some("red"), false).unwrap();
    let mut s = live_state();
    let b = draw(&mut s, &t);
    let buf = b.buffer();
    assert_eq!(buf[(0, 0)].fg, Color::Red);
    assert_eq!(buf[(60, 0)].fg, Color::Red);
    assert!(
        buf[(0, 0)].modifier.contains(Modifier::BOLD),
        "focus stays visible through the accent"
    );
}

#[test]
fn no_color_has_no_colours_but_reversed_selection() {
    let t = Theme::resolve(None, None, true).unwrap();
    let mut s = live_state();
    select(&mut s, "/services/web/web-1");
    // Everything that can carry a colour on one screen: TTL warning, status message, popup.
    update(
        &mut s,
        Msg::DeregisterDone {
            key: "/services/web/web-9".into(),
            outcome: opsconsole::model::DeregisterOutcome::Failed("boom".into()),
            audit_id: "snap-1".into(),
        },
    );
    for popup in [None, Some(Action::Help), Some(Action::Deregister)] {
        if let Some(a) = popup {
            handle_action(&mut s, a);
        }
        let b = draw(&mut s, &t);
        let buf = b.buffer();
        for y in 0..H {
            for x in 0..W {
                let c = &buf[(x, y)];
                assert_eq!(c.fg, Color::Reset, "fg at ({x},{y}) with {popup:?}");
                assert_eq!(c.bg, Color::Reset, "bg at ({x},{y}) with {popup:?}");
            }
        }
        if popup.is_none() {
            let y = row_of(buf, "web-1 ");
            for x in 1..59 {
                assert!(
                    buf[(x, y)].modifier.contains(Modifier::REVERSED),
                    "selection at ({x},{y})"
                );
            }
            assert!(!buf[(2, row_of(buf, "redis-1"))]
                .modifier
                .contains(Modifier::REVERSED));
            // The cluster badge still stands out.
            let bar = H - 1;
            assert!(
                buf[(1, bar)].modifier.contains(Modifier::REVERSED),
                "cluster badge"
            );
            // Focus is still told apart by emphasis.
            assert!(buf[(0, 0)].modifier.contains(Modifier::BOLD));
            assert!(!buf[(60, 0)].modifier.contains(Modifier::BOLD));
        }
        if popup == Some(Action::Help) {
            handle_action(&mut s, Action::Back);
        }
    }
}

#[test]
fn ttl_about_to_expire_is_a_warning() {
    let t = theme("default");
    let mut s = live_state();
    let b = draw(&mut s, &t);
    let buf = b.buffer();
    let y = row_of(buf, "web-2 ");
    let x = col_of(buf, y, "4s");
    assert_eq!(Some(buf[(x, y)].fg), t.style(StyleName::Warning).fg);
    let y = row_of(buf, "worker-1");
    let x = col_of(buf, y, "29s");
    assert_eq!(buf[(x, y)].fg, Color::Reset);
}

#[test]
fn deregister_dialog_is_drawn_as_dangerous() {
    let t = theme("default");
    let mut s = live_state();
    select(&mut s, "/services/web/web-2");
    handle_action(&mut s, Action::Deregister);
    let b = draw(&mut s, &t);
    let buf = b.buffer();
    let y = row_of(buf, "Deregister — cluster prod");
    let x = col_of(buf, y, "┌");
    let critical = t.style(StyleName::Critical);
    assert_eq!(Some(buf[(x, y)].fg), critical.fg);
    let y = row_of(buf, "[y]");
    let x = col_of(buf, y, "[y]");
    let danger = t.style(StyleName::Danger);
    assert_eq!(Some(buf[(x, y)].bg), danger.bg);
    assert_eq!(Some(buf[(x, y)].fg), danger.fg);
    let y = row_of(buf, "  key  ");
    let x = col_of(buf, y, "/services/web/web-2");
    assert_eq!(Some(buf[(x, y)].bg), t.style(StyleName::Highlight).bg);
}

#[test]
fn status_levels_use_their_styles() {
    let t = theme("default");
    // (outcome, style of the status line)
    let table = [
        (
            opsconsole::model::DeregisterOutcome::Deleted {
                lease_revoked: None,
            },
            StyleName::Text,
        ),
        (
            opsconsole::model::DeregisterOutcome::Missing,
            StyleName::Warning,
        ),
        (
            opsconsole::model::DeregisterOutcome::Failed("boom".into()),
            StyleName::Error,
        ),
    ];
    for (outcome, style) in table {
        let mut s = live_state();
        update(
            &mut s,
            Msg::DeregisterDone {
                key: "/services/web/web-9".into(),
                outcome: outcome.clone(),
                audit_id: "snap-1".into(),
            },
        );
        let b = draw(&mut s, &t);
        let buf = b.buffer();
        let y = H - 2;
        assert!(
            line(buf, y).contains("web-9"),
            "{outcome:?}: {}",
            line(buf, y)
        );
        assert_eq!(
            buf[(0, y)].fg,
            t.style(style).fg.unwrap_or(Color::Reset),
            "{outcome:?}"
        );
    }
}

#[test]
fn layout_gives_the_reducer_the_viewport_for_paging_and_leases() {
    let mut s = live_state();
    draw(&mut s, &theme("default"));
    // 32 rows: panes get 31 (one status row), the members pane 55% of that = 17, minus borders
    // and the header row.
    assert_eq!(s.members.cursor.rows(), 14);
    assert_eq!(s.members.cursor.offset(), 0);
}

/// The console at 04:00 (`:at -10m`) with the members etcd had then (three of today's six).
fn at_ten_minutes_ago() -> State {
    let mut s = live_state();
    handle_action(&mut s, Action::CommandLine);
    for c in "at -10m".chars() {
        handle_action(&mut s, Action::InsertChar(c));
    }
    handle_action(&mut s, Action::Submit);
    let at = now() - Duration::minutes(10);
    let past: Vec<opsconsole::model::Member> = fleet()
        .into_iter()
        .filter(|e| !e.key.ends_with(b"web-10") && !e.key.ends_with(b"web-2"))
        .chain(std::iter::once(kv(
            "/services/web/web-7",
            br#"{"addr":"10.0.0.7","port":80,"version":"1.4.1"}"#,
            7,
            0,
        )))
        .map(|e| opsconsole::model::Member::from_entry("/services/", e, None))
        .collect();
    update(
        &mut s,
        Msg::MembersAt {
            at,
            result: Ok(opsconsole::model::PastMembers {
                revision: 97,
                seen: at - Duration::seconds(2),
                members: past,
                compacted: None,
                partial: None,
            }),
        },
    );
    s
}

#[test]
fn render_time_cursor_status_bar_and_pane_titles() {
    let mut s = at_ten_minutes_ago();
    let backend = draw(&mut s, &theme("default"));
    let screen = format!("{:?}", backend);
    assert!(screen.contains(" AT 04:00:00 UTC (live: T) "), "{screen}");
    // A leased member's TTL at T is unknown (`?`), never today's TTL nor a pending `…`; a key
    // without a lease had none then either (`-`).
    let row = |name: &str| {
        screen
            .split('"')
            .find(|l| l.contains(name))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        row("web-1 ").contains(":80          ?   "),
        "{}",
        row("web-1 ")
    );
    assert!(
        row("web-7 ").contains(":80          -   "),
        "{}",
        row("web-7 ")
    );
    insta::assert_snapshot!("time_cursor_members_at", backend);
    // The badge is drawn in the danger style: the past must not pass for now.
    let buf = backend.buffer();
    let danger = theme("default").style(StyleName::Danger);
    let row = H - 1;
    let x = (0..W)
        .find(|x| buf[(*x, row)].symbol() == "A" && buf[(*x + 1, row)].symbol() == "T")
        .expect("the AT badge on the last row");
    assert_eq!(buf[(x, row)].fg, danger.fg.unwrap_or(Color::Reset));
}

#[test]
fn render_time_cursor_diff_popup() {
    let mut s = at_ten_minutes_ago();
    handle_action(&mut s, Action::AtDiff);
    insta::assert_snapshot!("time_cursor_diff", draw(&mut s, &theme("default")));
}

/// A merged view (prod, prod-eu): prod with [`fleet`], prod-eu with two members (one the same
/// instance as prod's), prod-eu's etcd retrying since a minute after its listing.
fn merged_state() -> State {
    use opsconsole::state::merged::ClusterInfo;
    let mut s = State::new("prod", "/services/", "alice", now());
    s.zone = opsconsole::model::DisplayZone::Utc;
    let mut prod = ClusterInfo::named("prod");
    prod.accent = Some("red".into());
    let mut eu = ClusterInfo::named("prod-eu");
    eu.accent = Some("blue".into());
    s.set_clusters(vec![prod, eu]);
    let (p, e) = (ClusterId(0), ClusterId(1));
    update(&mut s, Msg::Health(SourceKind::Etcd.of(p), Health::Live));
    update(&mut s, Msg::Health(SourceKind::Etcd.of(e), Health::Live));
    let wrap = |c, m| Msg::InCluster(c, Box::new(m));
    update(
        &mut s,
        wrap(p, Msg::listing("/services/", 120, fleet(), now())),
    );
    let eu_fleet = vec![
        kv(
            "/services/web/web-1",
            br#"{"addr":"10.8.0.1","port":80,"version":"1.4.2"}"#,
            7,
            0,
        ),
        kv(
            "/services/db/db-1",
            br#"{"addr":"10.8.1.1","port":5432}"#,
            8,
            0,
        ),
    ];
    update(
        &mut s,
        wrap(
            e,
            Msg::listing("/services/", 40, eu_fleet, now() - Duration::minutes(1)),
        ),
    );
    update(
        &mut s,
        Msg::Health(
            SourceKind::Etcd.of(e),
            Health::Retrying {
                at: now() + Duration::seconds(4),
                attempt: 3,
                error: "connection refused".into(),
            },
        ),
    );
    // Each cluster's logs source: a web-1 in each, their lines told apart by the CLUSTER column.
    s.backends.logs = Some("redis".into());
    let line = |at: i64, host: &str, message: &str| opsconsole::model::LogLine {
        time: Some(now() - Duration::seconds(at)),
        host: host.into(),
        program: "nginx".into(),
        severity: Some(3),
        message: message.into(),
        ..Default::default()
    };
    for c in [p, e] {
        update(&mut s, Msg::Health(SourceKind::Logs.of(c), Health::Live));
    }
    update(
        &mut s,
        wrap(
            p,
            Msg::LogLines(vec![line(30, "web-1", "upstream timed out")]),
        ),
    );
    update(
        &mut s,
        wrap(
            e,
            Msg::LogLines(vec![line(20, "web-1", "connect() failed (111)")]),
        ),
    );
    s
}

fn merged_theme() -> Theme {
    theme("default")
        .with_cluster_accents(&[Some("red".into()), Some("blue".into())])
        .unwrap()
}

#[test]
fn merged_view() {
    let mut s = merged_state();
    let t = merged_theme();
    let backend = draw(&mut s, &t);
    insta::assert_snapshot!("merged_view", backend);
    let buf = backend.buffer();
    // Each cluster's name in its own accent, through the theme.
    let y = row_of(buf, "prod-eu");
    let x = col_of(buf, y, "prod-eu");
    assert_eq!(
        buf[(x, y)].fg,
        Color::Yellow,
        "a stale cluster's rows say so (warning)"
    );
    let y = row_of(buf, "api-1");
    let x = col_of(buf, y, "prod");
    assert_eq!(buf[(x, y)].fg, Color::Red);
    let status = line(buf, H - 1);
    assert!(
        status.contains("prod ●") && status.contains("prod-eu ◍ retry 4s"),
        "{status}"
    );
    // The logs pane's CLUSTER column, each line's cluster in its accent.
    let y = row_of(buf, "connect() failed");
    let x = col_of(buf, y, "prod-eu");
    assert_eq!(buf[(x, y)].fg, Color::Blue, "{}", line(buf, y));
    let y = row_of(buf, "upstream timed out");
    let x = col_of(buf, y, "prod");
    assert_eq!(buf[(x, y)].fg, Color::Red, "{}", line(buf, y));
}

#[test]
fn merged_logs_pane_names_the_cluster_whose_source_is_down() {
    let mut s = merged_state();
    update(
        &mut s,
        Msg::Health(
            SourceKind::Logs.of(ClusterId(1)),
            Health::Retrying {
                at: now() + Duration::seconds(8),
                attempt: 2,
                error: "redis: connection refused".into(),
            },
        ),
    );
    let backend = draw(&mut s, &merged_theme());
    let buf = backend.buffer();
    let y = row_of(buf, "redis: connection refused");
    let text = line(buf, y);
    assert!(
        text.contains("prod-eu: redis: connection refused — retry #2 in 8s"),
        "{text}"
    );
    // prod's source is live: not named; both clusters' lines still shown.
    assert!(!text.contains("prod: "), "{text}");
    row_of(buf, "upstream timed out");
    row_of(buf, "connect() failed");
}

#[test]
fn merged_view_at_80x24() {
    let mut s = merged_state();
    insta::assert_snapshot!(
        "merged_view_80x24",
        draw_sized(&mut s, &merged_theme(), 80, 24)
    );
}

#[test]
fn a_merged_cluster_whose_metrics_nobody_asks_for_is_not_shown_as_connecting() {
    // The merged metrics pane shows one cluster's series; the other's source waits (`Idle`).
    // It used to sit at `Connecting` for as long as the console ran: `prod-eu ◌` in the bar,
    // read as trouble that was not there.
    let mut s = merged_state();
    let (p, e) = (ClusterId(0), ClusterId(1));
    for c in [p, e] {
        for kind in SourceKind::ALL {
            update(&mut s, Msg::Health(kind.of(c), Health::Live));
        }
    }
    update(&mut s, Msg::Health(SourceKind::Metrics.of(e), Health::Idle));
    let backend = draw(&mut s, &merged_theme());
    let status = line(backend.buffer(), H - 1);
    assert!(
        status.contains("prod ●") && status.contains("prod-eu ●"),
        "{status}"
    );
    assert!(!status.contains('◌'), "{status}");
    // `:health` names it for what it is.
    opsconsole::state::merged::health_popup(&mut s);
    let backend = draw(&mut s, &merged_theme());
    let text = (0..H)
        .map(|y| line(backend.buffer(), y))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        text.contains("idle (nothing on screen asks for it)"),
        "{text}"
    );
    // Still asked and not answering: still said.
    update(
        &mut s,
        Msg::Health(SourceKind::Metrics.of(e), Health::Connecting),
    );
    let backend = draw(&mut s, &merged_theme());
    assert!(line(backend.buffer(), H - 1).contains("prod-eu ◌"));
}

#[test]
fn merged_status_bar_condenses_when_the_names_do_not_fit() {
    use opsconsole::state::merged::ClusterInfo;
    let mut s = State::new("eu-west-1", "/services/", "alice", now());
    s.zone = opsconsole::model::DisplayZone::Utc;
    let names: Vec<String> = (1..=10).map(|i| format!("region-{i:02}")).collect();
    s.set_clusters(names.iter().map(|n| ClusterInfo::named(n)).collect());
    for i in 0..10u16 {
        let h = match i {
            8 => Health::Retrying {
                at: now() + Duration::seconds(4),
                attempt: 1,
                error: "refused".into(),
            },
            9 => Health::Failed("bad certificate".into()),
            _ => Health::Live,
        };
        update(&mut s, Msg::Health(SourceKind::Etcd.of(ClusterId(i)), h));
    }
    let backend = draw_sized(&mut s, &theme("default"), 80, 24);
    let status = line(backend.buffer(), 23);
    assert!(
        status.contains("10 clusters 8● 1◍ 1✕"),
        "condensed counts at 80 columns: {status:?}"
    );
    // Wide enough: every name with its dot.
    let backend = draw_sized(&mut s, &theme("default"), 400, 24);
    let status = line(backend.buffer(), 23);
    assert!(
        status.contains("region-01 ●") && status.contains("region-09 ◍ retry 4s"),
        "{status:?}"
    );
}
