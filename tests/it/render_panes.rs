//! Snapshots of the checks, metrics and logs panes and the silence form, on ratatui's `TestBackend`,
//! with the data arriving through the sources' own messages. Regenerate after an intended UI change:
//! `INSTA_UPDATE=always cargo test --test it render_panes`, then review the `.snap` diff.

use chrono::{DateTime, Duration, TimeZone, Utc};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use opsconsole::action::Action;
use opsconsole::keymap::Keymap;
use opsconsole::model::{
    CheckResult, ChecksSnapshot, ClusterId, Health, HistoryPoint, KvEntry, LogLine, MetricsResult,
    Msg, Series, Silence, SourceKind,
};
use opsconsole::state::{self, handle_action, update, State};
use opsconsole::theme::{StyleName, Theme};
use opsconsole::ui;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 4, 10, 0).unwrap()
}

fn check(entity: &str, check: &str, status: i64, output: &str, mins: i64) -> CheckResult {
    let t = now() - Duration::minutes(mins);
    CheckResult {
        entity: entity.into(),
        check: check.into(),
        status,
        output: output.into(),
        occurrences: mins,
        since: Some(t),
        executed: Some(now() - Duration::seconds(20)),
        history: (0..8)
            .map(|i| HistoryPoint {
                status: if i < 5 { 0 } else { status },
                executed: Some(t + Duration::minutes(i)),
            })
            .collect(),
        subscriptions: vec!["linux".into(), format!("entity:{entity}")],
        ..Default::default()
    }
}

fn state() -> State {
    let mut s = State::new("prod", "/services/", "alice", now());
    s.zone = opsconsole::model::DisplayZone::Utc;
    s.backends.checks = Some("sensu-go".into());
    s.backends.metrics = Some("graphite".into());
    s.backends.logs = Some("redis".into());
    for id in [
        SourceKind::Etcd.of(ClusterId(0)),
        SourceKind::Checks.of(ClusterId(0)),
        SourceKind::Metrics.of(ClusterId(0)),
        SourceKind::Logs.of(ClusterId(0)),
    ] {
        update(&mut s, Msg::Health(id, Health::Live));
    }
    update(
        &mut s,
        Msg::listing(
            "/services/",
            10,
            ["web-1", "web-2", "db-1"]
                .iter()
                .enumerate()
                .map(|(i, n)| KvEntry {
                    key: format!("/services/{}/{n}", &n[..n.len() - 2]).into_bytes(),
                    value: format!(r#"{{"addr":"10.0.0.{}","port":80}}"#, i + 1).into_bytes(),
                    create_revision: 2,
                    mod_revision: 3,
                    version: 1,
                    lease: 0,
                })
                .collect(),
            now(),
        ),
    );
    let mut silenced = check(
        "web-2",
        "check_disk",
        1,
        "DISK WARNING - free space: / 1804 MB (9%)",
        40,
    );
    silenced.silenced = true;
    silenced.silenced_by = vec!["entity:web-2:check_disk".into()];
    update(
        &mut s,
        Msg::ChecksSnapshot {
            snapshot: ChecksSnapshot {
                inhibit_rules: Vec::new(),
                results: vec![
                    check(
                        "web-1",
                        "check_http",
                        0,
                        "HTTP OK: HTTP/1.1 200 OK - 612 bytes",
                        300,
                    ),
                    check(
                        "web-1",
                        "check_load",
                        2,
                        "CRITICAL - load average: 31.40, 28.02\nsecond line",
                        12,
                    ),
                    silenced,
                    check("db-1", "keepalive", 7, "status 7 from a custom check", 3),
                ],
                silences: vec![Silence {
                    id: "entity:web-2:check_disk".into(),
                    subscription: Some("entity:web-2".into()),
                    check: Some("check_disk".into()),
                    creator: "bob".into(),
                    reason: "disk swap".into(),
                    begin: Some(now() - Duration::minutes(30)),
                    expire_at: Some(now() + Duration::minutes(90)),
                    ..Default::default()
                }],
                skipped: 0,
            },
            at: now(),
        },
    );
    for i in 0..6u32 {
        update(
            &mut s,
            Msg::LogLines(vec![LogLine {
                time: Some(now() - Duration::seconds(60 - i as i64 * 10)),
                host: if i % 2 == 0 {
                    "web-1".into()
                } else {
                    "db-1".into()
                },
                program: ["nginx", "sshd", "app"][i as usize % 3].into(),
                severity: Some([6, 3, 4, 6, 7, 2][i as usize]),
                message: format!("line {i}: upstream timed out while reading response header"),
                fields: Default::default(),
            }]),
        );
    }
    s
}

/// Answers the metrics query among `cmd` with two series drawn over its width (and one error).
fn answer(s: &mut State, cmd: opsconsole::model::Command) {
    if let opsconsole::model::Command::MetricsQuery(q) = cmd {
        let series = [("cpu", "%", 40.0), ("req/s", "", 800.0)]
            .iter()
            .map(|(name, unit, base)| {
                let points: Vec<Option<f64>> = (0..q.width)
                    .map(|i| (i % 9 != 4).then(|| base + (i as f64 / 3.0).sin() * base / 2.0))
                    .collect();
                Ok(Series {
                    name: name.to_string(),
                    expr: format!("stats.gauges.x.{name}"),
                    unit: unit.to_string(),
                    last: Some(base * 1.1),
                    min: Some(base / 2.0),
                    max: Some(base * 1.5),
                    points,
                })
            })
            .chain(std::iter::once(Err(
                "mem: no data for stats.gauges.x.mem".to_string()
            )))
            .collect();
        update(
            s,
            Msg::Metrics {
                result: MetricsResult { query: q, series },
                at: now(),
            },
        );
    }
}

/// Lays out the screen (the reducer learns the sparkline width and asks for the metrics query),
/// answers that query, and draws.
fn draw(s: &mut State) -> TestBackend {
    let theme = Theme::resolve(None, None, false).unwrap();
    let keymap = Keymap::resolve(None).unwrap();
    let mut t = Terminal::new(TestBackend::new(140, 36)).unwrap();
    let v = ui::layout::viewports(ratatui::layout::Rect::new(0, 0, 140, 36), s);
    for cmd in state::set_viewports(s, v) {
        answer(s, cmd);
    }
    t.draw(|f| ui::draw(f, s, &theme, &keymap)).unwrap();
    t.backend().clone()
}

#[test]
fn checks_metrics_and_logs_panes() {
    let mut s = state();
    insta::assert_snapshot!("three_panes", draw(&mut s));
}

#[test]
fn checks_pane_stale_while_backend_down() {
    let mut s = state();
    update(
        &mut s,
        Msg::Health(
            SourceKind::Checks.of(ClusterId(0)),
            Health::Retrying {
                at: now() + Duration::seconds(8),
                attempt: 3,
                error: "sensu-go: 401: the API key from $SENSU_API_KEY was rejected — check it"
                    .into(),
            },
        ),
    );
    s.now = now() + Duration::minutes(2);
    insta::assert_snapshot!("checks_stale", draw(&mut s));
}

#[test]
fn silence_form_and_confirmation() {
    let mut s = state();
    handle_action(&mut s, Action::NextPane); // checks
    handle_action(&mut s, Action::Silence);
    insta::assert_snapshot!("silence_form", draw(&mut s));
    handle_action(&mut s, Action::Submit); // no reason yet
    insta::assert_snapshot!("silence_form_reason_required", draw(&mut s));
    for c in "deploying a fix".chars() {
        handle_action(&mut s, Action::InsertChar(c));
    }
    handle_action(&mut s, Action::Submit);
    insta::assert_snapshot!("silence_confirmation", draw(&mut s));
}

#[test]
fn check_and_log_details() {
    let mut s = state();
    handle_action(&mut s, Action::NextPane);
    handle_action(&mut s, Action::Down);
    handle_action(&mut s, Action::Down);
    handle_action(&mut s, Action::Detail);
    insta::assert_snapshot!("check_detail", draw(&mut s));
    handle_action(&mut s, Action::Back);
    handle_action(&mut s, Action::NextPane); // metrics
    handle_action(&mut s, Action::NextPane); // logs
    handle_action(&mut s, Action::Up); // pauses follow
    insta::assert_snapshot!("logs_paused", draw(&mut s));
}

/// Alerts whose labels hold what the screen must not obey (ESC, BEL), a look-alike named like
/// their sanitised text, and an alert without an `instance` label, as parsed from Alertmanager.
fn crafted_state() -> State {
    let mut s = State::new("prod", "/services/", "alice", now());
    s.zone = opsconsole::model::DisplayZone::Utc;
    s.backends.checks = Some("alertmanager".into());
    update(
        &mut s,
        Msg::Health(SourceKind::Checks.of(ClusterId(0)), Health::Live),
    );
    let alerts = serde_json::json!([
        {"labels": {"alertname": "Evil\u{1b}]52;c;ZXZpbA==\u{7}OSC", "instance": "web-1\u{1b}[2J", "severity": "critical"},
         "annotations": {"summary": "crafted"}, "startsAt": "2026-11-25T04:00:00Z", "updatedAt": "2026-11-25T04:09:00Z"},
        {"labels": {"alertname": "EvilOSC", "instance": "web-1", "severity": "critical"},
         "annotations": {"summary": "look-alike"}, "startsAt": "2026-11-25T04:00:00Z", "updatedAt": "2026-11-25T04:09:00Z"},
        {"labels": {"alertname": "NoInstance", "severity": "warning"},
         "annotations": {"summary": "no instance label"}, "startsAt": "2026-11-25T04:00:00Z", "updatedAt": "2026-11-25T04:09:00Z"}
    ]);
    let (results, skipped) = opsconsole::sources::checks::alertmanager::parse_alerts(
        alerts.to_string().as_bytes(),
        "http://am/api/v2/alerts",
    )
    .unwrap();
    assert_eq!(skipped, 0);
    update(
        &mut s,
        Msg::ChecksSnapshot {
            snapshot: ChecksSnapshot {
                results,
                ..Default::default()
            },
            at: now(),
        },
    );
    handle_action(&mut s, Action::NextPane); // checks
    s
}

/// Every cell drawing `symbol`, with its style.
fn cells_with(buf: &TestBackend, symbol: &str) -> Vec<(u16, u16, ratatui::style::Style)> {
    let b = buf.buffer();
    let mut out = Vec::new();
    for y in 0..b.area.height {
        for x in 0..b.area.width {
            let c = &b[(x, y)];
            if c.symbol() == symbol {
                out.push((x, y, c.style()));
            }
        }
    }
    out
}

fn assert_nothing_to_obey(buf: &TestBackend) {
    let b = buf.buffer();
    for c in b.content() {
        assert!(
            !c.symbol().chars().any(char::is_control),
            "a control character reached the screen: {:?}",
            c.symbol()
        );
    }
}

#[test]
fn crafted_names_are_drawn_with_visible_escapes() {
    let theme = Theme::resolve(None, None, false).unwrap();
    let escaped = theme.style(StyleName::Escaped);
    let mut s = crafted_state();
    // The cursor is on the look-alike (first: "web-1" < "web-1␛[2J"), so the crafted row's cells
    // keep their own style.
    assert_eq!(s.checks.selected().unwrap().check, "EvilOSC");
    let table = draw(&mut s);
    assert_nothing_to_obey(&table);
    let text = format!("{table}");
    assert!(text.contains("web-1␛[2J"), "{text}");
    assert!(text.contains("Evil␛]52;c"), "cut to the column: {text}");
    let marks = cells_with(&table, "␛");
    assert_eq!(
        marks.len(),
        2,
        "one ESC in the entity, one in the check: {marks:?}"
    );
    for (x, y, style) in &marks {
        assert_eq!(
            (style.fg, style.bg),
            (escaped.fg, escaped.bg),
            "the stand-in at {x},{y} is in the escaped style"
        );
        assert!(style
            .add_modifier
            .contains(ratatui::style::Modifier::UNDERLINED));
    }
    insta::assert_snapshot!("crafted_names_table", table);

    handle_action(&mut s, Action::Down);
    handle_action(&mut s, Action::Detail);
    let detail = draw(&mut s);
    assert_nothing_to_obey(&detail);
    assert!(
        cells_with(&detail, "␇")
            .iter()
            .any(|(_, _, st)| st.bg == escaped.bg),
        "the detail marks the BEL too"
    );
    insta::assert_snapshot!("crafted_names_detail", detail);
    handle_action(&mut s, Action::Back);

    handle_action(&mut s, Action::Silence);
    for c in "crafted".chars() {
        handle_action(&mut s, Action::InsertChar(c));
    }
    let form = draw(&mut s);
    assert_nothing_to_obey(&form);
    assert!(
        format!("{form}").contains("check  web-1␛[2J/Evil␛]52;c;ZXZpbA==␇OSC"),
        "{form}"
    );
    insta::assert_snapshot!("crafted_names_silence_form", form);
    handle_action(&mut s, Action::Submit);
    let confirm = draw(&mut s);
    assert_nothing_to_obey(&confirm);
    assert!(
        format!("{confirm}").contains("Evil␛]52;c;ZXZpbA==␇OSC on web-1␛[2J"),
        "{confirm}"
    );
    assert!(
        cells_with(&confirm, "␛")
            .iter()
            .any(|(_, _, st)| st.bg == escaped.bg),
        "the confirmation marks the escapes"
    );
    insta::assert_snapshot!("crafted_names_confirmation", confirm);
}

#[test]
fn an_alert_without_instance_and_the_refused_scope() {
    let mut s = crafted_state();
    handle_action(&mut s, Action::Bottom); // NoInstance, the only warning
    let table = draw(&mut s);
    let text = format!("{table}");
    assert!(text.contains("NoInstance"), "{text}");
    handle_action(&mut s, Action::Silence);
    for c in "why".chars() {
        handle_action(&mut s, Action::InsertChar(c));
    }
    handle_action(&mut s, Action::NextField); // scope
    handle_action(&mut s, Action::CursorRight);
    handle_action(&mut s, Action::CursorRight); // every check on (no instance)
    handle_action(&mut s, Action::Submit);
    let refused = draw(&mut s);
    let text = format!("{refused}");
    assert!(text.contains("every check on (no instance)"), "{text}");
    assert!(text.contains("matches the empty string"), "{text}");
    insta::assert_snapshot!("silence_form_refused_scope", refused);
}

#[test]
fn chart_at_the_time_cursor_ends_at_its_moment_with_a_marker() {
    let mut s = state();
    draw(&mut s);
    handle_action(&mut s, Action::NextPane);
    handle_action(&mut s, Action::NextPane);
    handle_action(&mut s, Action::CommandLine);
    for c in "at -30m".chars() {
        handle_action(&mut s, Action::InsertChar(c));
    }
    for cmd in handle_action(&mut s, Action::Submit) {
        answer(&mut s, cmd);
    }
    for cmd in handle_action(&mut s, Action::Detail) {
        answer(&mut s, cmd);
    }
    let screen = draw(&mut s);
    let text = format!("{screen:?}");
    let at = (now() - Duration::minutes(30))
        .format("T %H:%M")
        .to_string();
    assert!(text.contains(&at), "{at}: {text}");
    assert!(text.contains('┊'), "the marker at T: {text}");
    insta::assert_snapshot!("chart_at_time_cursor", screen);
}

/// JSON messages (issue 24): a JSON line and a payload after a prefix read as level, message and
/// fields (the source's `fields` choose which); `p` pretty-prints them below their line, with the
/// newlines of a stack trace inside a string expanded; a line that is not JSON stays as it is.
#[test]
fn json_messages_summarised_then_pretty_printed() {
    let mut s = state();
    s.logs.set_line_rules(
        opsconsole::model::ClusterId(0),
        opsconsole::state::logs::FieldChoice {
            shown: vec!["trace_id".into(), "http.status".into()],
            hidden: Vec::new(),
        },
        None,
    );
    let json = |i: i64, program: &str, message: &str| LogLine {
        time: Some(now() - Duration::seconds(5 - i)),
        host: "api-1".into(),
        program: program.into(),
        severity: Some(3),
        message: message.into(),
        fields: Default::default(),
    };
    update(
        &mut s,
        Msg::LogLines(vec![
            json(
                1,
                "api",
                r#"{"level":"error","msg":"GET /orders failed","trace_id":"9f2c","http":{"status":502},"user":"bob"}"#,
            ),
            json(
                2,
                "worker",
                r#"worker[42]: {"msg":"job crashed","error":{"type":"KeyError","stack":"Traceback (most recent call last):\n  File \"job.py\", line 3\nKeyError: 'id'"},"trace_id":"77aa"}"#,
            ),
            json(3, "worker", "not json {at all}"),
        ]),
    );
    for _ in 0..3 {
        handle_action(&mut s, Action::NextPane);
    }
    handle_action(&mut s, Action::Zoom);
    insta::assert_snapshot!("logs_json_summary", draw(&mut s));
    handle_action(&mut s, Action::TogglePretty);
    insta::assert_snapshot!("logs_json_pretty", draw(&mut s));
}

/// With wrap on, a long line takes several rows: a click selects the line drawn under the
/// mouse, not the line whose index is the click's row (found first by a user clicking the last
/// line of a wrapped tail and getting one further up).
#[test]
fn a_click_on_a_wrapped_log_line_selects_the_line_under_the_mouse() {
    let mut s = state();
    for (i, len) in [(6, 300), (7, 20), (8, 250), (9, 20)] {
        update(
            &mut s,
            Msg::LogLines(vec![LogLine {
                time: Some(now() - Duration::seconds(5)),
                host: "web-1".into(),
                program: "app".into(),
                severity: Some(6),
                message: format!("MARK-{i} {}", "x".repeat(len)),
                fields: Default::default(),
            }]),
        );
    }
    s.focus = state::Pane::Logs;
    handle_action(&mut s, Action::ToggleWrap);
    assert!(s.logs.wrap);
    let area = ratatui::layout::Rect::new(0, 0, 140, 36);
    for want in ["MARK-9", "MARK-8", "MARK-7", "MARK-6"] {
        // Where the lines are now (following at first, paused at the selected line after).
        let screen = draw(&mut s);
        let buf = screen.buffer();
        let (x, y) = (0..area.height)
            .find_map(|y| {
                let row: String = (0..area.width)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect();
                row.find(want).map(|i| (row[..i].chars().count() as u16, y))
            })
            .unwrap_or_else(|| panic!("{want} not on screen:\n{screen:?}"));
        // The row below a wrapped line's first row is still that line.
        let y = if want == "MARK-6" { y + 1 } else { y };
        let p = ui::layout::pointer(
            area,
            &s,
            x,
            y,
            state::PointerKind::Click,
            std::time::Instant::now(),
        )
        .expect("a pane under the mouse");
        state::pointer::handle(&mut s, p);
        let got = s
            .logs
            .selected()
            .map(|l| l.message.clone())
            .unwrap_or_default();
        assert!(got.starts_with(want), "clicked {want}, selected {got:?}");
    }
}
