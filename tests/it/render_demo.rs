//! The whole screen on the demo fleet (fixed seed, frozen clock) at the sizes people use — a
//! laptop's 80×24, 120×40 and a wide 200×50 — plus a zoomed pane and the metrics chart, on
//! ratatui's `TestBackend`. Regenerate after an intended UI change:
//! `INSTA_UPDATE=always cargo test --test it render_demo`, then review the `.snap` diff.

use chrono::{DateTime, TimeZone, Utc};
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;

use opsconsole::action::Action;
use opsconsole::keymap::Keymap;
use opsconsole::model::{Command, Msg};
use opsconsole::sources::demo::{demo_metrics, DemoSource};
use opsconsole::state::{self, handle_action, update, State};
use opsconsole::theme::Theme;
use opsconsole::ui;

const SEED: u64 = 42;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 14, 2, 0).unwrap()
}

/// The demo's first moments, applied as the app applies them.
fn demo() -> State {
    let mut s = State::new("demo", "/services/", "alice", now());
    s.zone = opsconsole::model::DisplayZone::Utc;
    s.demo = true;
    for kind in ["checks", "metrics", "logs"] {
        let kind = match kind {
            "checks" => opsconsole::model::SourceKind::Checks,
            "metrics" => opsconsole::model::SourceKind::Metrics,
            _ => opsconsole::model::SourceKind::Logs,
        };
        let source = s.source(kind);
        state::backend_started(&mut s, source, "demo", None);
    }
    for m in DemoSource::first_messages(SEED, now()) {
        let cmds = update(&mut s, m);
        answer(&mut s, cmds);
    }
    s
}

/// Answers the metrics query the reducer asks for, as the demo source would.
fn answer(s: &mut State, cmds: Vec<Command>) {
    for c in cmds {
        if let Command::MetricsQuery(q) = c {
            let result = demo_metrics(&q, now());
            let more = update(s, Msg::Metrics { result, at: now() });
            answer(s, more);
        }
    }
}

/// Lays the screen out (the reducer learns each pane's size and asks for the metrics it needs,
/// answered at once) and draws it.
fn draw(s: &mut State, w: u16, h: u16) -> TestBackend {
    let v = ui::layout::viewports(Rect::new(0, 0, w, h), s);
    let cmds = state::set_viewports(s, v);
    answer(s, cmds);
    let theme = Theme::resolve(None, None, false).unwrap();
    let keymap = Keymap::resolve(None).unwrap();
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ui::draw(f, s, &theme, &keymap)).unwrap();
    t.backend().clone()
}

#[test]
fn demo_at_80x24() {
    let mut s = demo();
    handle_action(&mut s, Action::Down);
    insta::assert_snapshot!("demo_80x24", draw(&mut s, 80, 24));
}

#[test]
fn demo_at_120x40() {
    let mut s = demo();
    handle_action(&mut s, Action::Down);
    insta::assert_snapshot!("demo_120x40", draw(&mut s, 120, 40));
}

#[test]
fn demo_at_200x50() {
    let mut s = demo();
    handle_action(&mut s, Action::Down);
    insta::assert_snapshot!("demo_200x50", draw(&mut s, 200, 50));
}

/// At 80×24 every name the user acts on is whole: instance, address, check.
#[test]
fn names_are_never_cut_at_80x24() {
    let mut s = demo();
    let screen = draw(&mut s, 80, 24);
    let text: String = format!("{screen}");
    for m in s.members.visible_rows(0, 5) {
        assert!(text.contains(m.instance()), "{} cut:\n{text}", m.instance());
        assert!(text.contains(m.addr()), "{} cut:\n{text}", m.addr());
    }
    for r in s.checks.visible_rows(0, 5) {
        assert!(text.contains(&r.check), "{} cut:\n{text}", r.check);
        assert!(text.contains(&r.entity), "{} cut:\n{text}", r.entity);
    }
}

#[test]
fn zoomed_checks_fill_the_screen() {
    let mut s = demo();
    handle_action(&mut s, Action::NextPane);
    handle_action(&mut s, Action::Zoom);
    insta::assert_snapshot!("demo_zoom_checks_80x24", draw(&mut s, 80, 24));
    handle_action(&mut s, Action::Zoom);
    let back = draw(&mut s, 80, 24);
    assert!(format!("{back}").contains("Members"), "{back}");
}

#[test]
fn chart_of_two_series() {
    let mut s = demo();
    handle_action(&mut s, Action::Down);
    handle_action(&mut s, Action::NextPane);
    handle_action(&mut s, Action::NextPane);
    draw(&mut s, 120, 40);
    handle_action(&mut s, Action::ToggleOverlay);
    handle_action(&mut s, Action::Down);
    handle_action(&mut s, Action::Detail);
    insta::assert_snapshot!("demo_chart_120x40", draw(&mut s, 120, 40));
}
