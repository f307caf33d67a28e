//! Bad input, fuzzed with proptest: every parser that sees bytes from a file, a backend or etcd must
//! return (Ok or a clear Err) without panicking, in bounded time, whatever it is given — random bytes,
//! random strings, random JSON trees built from the keys the parsers look for, and valid answers
//! with bytes flipped or cut off. The `state::update` reducer is fed random message sequences and
//! checked against a model of what etcd holds. A last test pushes a 20 MB answer through every
//! decoder and checks time and peak memory grow linearly.
//!
//! Failures found are kept by proptest in `tests/it/fuzz.proptest-regressions` and replayed first.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};
use serde_json::{json, Map, Value};

use opsconsole::action::Action;
use opsconsole::config::Config;
use opsconsole::keymap::Keymap;
use opsconsole::model::member_value;
use opsconsole::model::text::{sanitize, CUT_MARKER, MAX_LINE_CHARS};
use opsconsole::model::{ClusterId, Health, KvEntry, KvEvent, Msg, SourceKind};
use opsconsole::sources::checks::{alertmanager, sensu_core, sensu_go};
use opsconsole::sources::logs::syslog;
use opsconsole::sources::logs::{EsTail, LokiTail};
use opsconsole::sources::metrics::{graphite, prometheus};
use opsconsole::state::{self, State};

/// One case of any property must finish within this (debug build, busy machine).
const CASE_LIMIT: Duration = Duration::from_secs(2);

fn config() -> ProptestConfig {
    ProptestConfig {
        // 256 keeps the file under a minute; FUZZ_CASES=5000 for a deeper local run.
        cases: std::env::var("FUZZ_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256),
        max_shrink_iters: 2048,
        // Integration tests have no lib.rs next to them: name the file (cwd is the package root).
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/it/fuzz.proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

/// Runs `f`, failing the case if it took longer than [`CASE_LIMIT`].
fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    let took = t.elapsed();
    assert!(took < CASE_LIMIT, "{what} took {took:?}");
    out
}

// ---------------------------------------------------------------------------------------------
// Strategies

/// Words the parsers look for, so random trees reach past the first `get`.
const KEYS: &[&str] = &[
    "labels",
    "annotations",
    "alertname",
    "instance",
    "severity",
    "summary",
    "startsAt",
    "endsAt",
    "updatedAt",
    "status",
    "state",
    "silencedBy",
    "id",
    "matchers",
    "name",
    "value",
    "isRegex",
    "isEqual",
    "createdBy",
    "comment",
    "entity",
    "check",
    "metadata",
    "output",
    "executed",
    "occurrences",
    "history",
    "subscriptions",
    "is_silenced",
    "silenced",
    "last_ok",
    "client",
    "subscription",
    "begin",
    "expire",
    "expire_on_resolve",
    "creator",
    "reason",
    "silenced_by",
    "target",
    "datapoints",
    "data",
    "resultType",
    "result",
    "values",
    "metric",
    "error",
    "errorType",
    "hits",
    "_source",
    "_index",
    "_id",
    "sort",
    "@timestamp",
    "host",
    "program",
    "message",
    "_shards",
    "failed",
    "failures",
    "stream",
    "level",
    "job",
    "addr",
    "port",
    "version",
    "started_at",
    "Addr",
    "timestamp",
    "hostname",
    "msg",
    "log",
    "interval",
    "subscribers",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(KEYS).prop_map(str::to_string),
        1 => any::<String>(),
    ]
}

/// Strings that matter to the parsers: times, numbers as text, severities, escapes, anything.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        Just(String::new()),
        Just("2026-11-25T04:00:00Z".to_string()),
        Just("0001-01-01T00:00:00Z".to_string()),
        Just("1795631752505676037".to_string()),
        Just("NaN".to_string()),
        Just("+Inf".to_string()),
        Just("1e9999".to_string()),
        Just("success".to_string()),
        Just("matrix".to_string()),
        Just("critical".to_string()),
        Just("suppressed".to_string()),
        Just("\u{1b}[2J\u{1b}]0;owned\u{7}".to_string()),
        "[0-9]{1,18}",
        any::<String>(),
    ]
    .boxed()
}

/// [`text`] plus numbers at the ends of the integer ranges parsers use for timestamps.
fn text_extreme() -> BoxedStrategy<String> {
    prop_oneof![
        3 => text(),
        1 => Just(i128::MIN.to_string()),
        1 => Just(i128::MAX.to_string()),
        1 => Just(i64::MIN.to_string()),
        1 => "-?[0-9]{19,39}",
    ]
    .boxed()
}

/// Numbers of every kind; `extreme` adds the ends of the i64/u64 ranges.
fn number(extreme: bool) -> BoxedStrategy<Value> {
    let sane = prop_oneof![
        // ±2^40 s is ±35,000 years: past any real timestamp, short of chrono's limits.
        (-(1i64 << 40)..(1i64 << 40)).prop_map(|n| json!(n)),
        Just(json!(0)),
        Just(json!(-1)),
        any::<f64>().prop_filter_map("finite", |f| f.is_finite().then(|| json!(f))),
        (0i64..4_000_000_000).prop_map(|n| json!(n)),
        (1_600_000_000_000i64..1_900_000_000_000).prop_map(|n| json!(n)),
    ];
    if !extreme {
        return sane.boxed();
    }
    prop_oneof![
        3 => sane,
        1 => any::<i64>().prop_map(|n| json!(n)),
        1 => any::<u64>().prop_map(|n| json!(n)),
        1 => Just(json!(i64::MIN)),
        1 => Just(json!(i64::MAX)),
        1 => Just(json!(u64::MAX)),
    ]
    .boxed()
}

/// Random JSON trees whose object keys are mostly the ones the parsers read.
fn json_tree(extreme: bool) -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(extreme),
        if extreme { text_extreme() } else { text() }.prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..8).prop_map(Value::Array),
            vec((key(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
    .boxed()
}

fn json_value() -> BoxedStrategy<Value> {
    json_tree(true)
}

/// A valid answer with random damage: bytes replaced, a cut, or a splice of random bytes.
fn damaged(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    damaged_with(valid, any::<u8>().boxed())
}

/// [`damaged`] with ASCII damage only.
fn damaged_ascii(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    damaged_with(valid, (0u8..0x80).boxed())
}

fn damaged_with(valid: Vec<u8>, byte: BoxedStrategy<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = valid.len();
    (
        vec((0..len.max(1), byte.clone()), 0..6),
        proptest::option::of(0..=len),
        proptest::option::of((0..=len, vec(byte, 0..16))),
    )
        .prop_map(move |(flips, cut, splice)| {
            let mut v = valid.clone();
            for (i, b) in flips {
                if i < v.len() {
                    v[i] = b;
                }
            }
            if let Some((at, bytes)) = splice {
                let at = at.min(v.len());
                v.splice(at..at, bytes);
            }
            if let Some(c) = cut {
                v.truncate(c);
            }
            v
        })
}

/// Random bytes, random JSON trees, and damaged valid answers, all as bytes.
fn input_bytes(valid: &'static str) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..512),
        json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        json_value().prop_map(|v| serde_json::to_vec(&json!([v])).unwrap()),
        damaged(valid.as_bytes().to_vec()),
    ]
}

/// [`input_bytes`] with numbers within ±2^40 (see [`sensu_core_survives_extreme_numbers`]).
fn sane_bytes(valid: &'static str) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..512),
        json_tree(false).prop_map(|v| serde_json::to_vec(&v).unwrap()),
        json_tree(false).prop_map(|v| serde_json::to_vec(&json!([v])).unwrap()),
        damaged(valid.as_bytes().to_vec()),
    ]
}

// Valid answers the damage starts from.
const ALERTS: &str = r#"[{"labels":{"alertname":"HighCPU","instance":"web-1","severity":"critical","job":"node"},"annotations":{"summary":"cpu 99%"},"startsAt":"2026-11-25T04:00:00Z","updatedAt":"2026-11-25T04:01:00Z","status":{"state":"suppressed","silencedBy":["s1"]}}]"#;
const SILENCES: &str = r#"[{"id":"s1","matchers":[{"name":"alertname","value":"High.*","isRegex":true,"isEqual":true}],"startsAt":"2026-11-25T04:00:00Z","endsAt":"2026-11-26T04:00:00Z","createdBy":"alice","comment":"maintenance","status":{"state":"active"}}]"#;
const SENSU_GO: &str = r#"[{"entity":{"metadata":{"name":"web-1"},"subscriptions":["web","entity:web-1"]},"check":{"metadata":{"name":"check_http"},"status":2,"output":"HTTP 503","executed":1795631752,"occurrences":14,"history":[{"status":0,"executed":1795631700},{"status":2,"executed":1795631752}],"is_silenced":false,"silenced":[],"last_ok":1795631700}}]"#;
const SENSU_CORE_RESULTS: &str = r#"[{"client":"web-1","check":{"name":"check_mem","status":1,"output":"mem 91%","executed":1795631752,"interval":60,"history":["0","1",1,"x"],"subscribers":["web"]}}]"#;
const SENSU_CORE_EVENTS: &str = r#"[{"client":{"name":"web-1","subscriptions":["web"]},"check":{"name":"check_mem","status":1},"occurrences":3,"silenced":true,"silenced_by":["web:check_mem"]}]"#;
const SENSU_CORE_SILENCED: &str = r#"[{"id":"web:check_mem","subscription":"web","check":"check_mem","begin":1795631700,"expire":3600,"expire_on_resolve":true,"creator":"bob","reason":"disk swap"}]"#;
const RENDER: &str = r#"[{"target":"s0","tags":{"name":"x"},"datapoints":[[1.5,100],[null,110],[1e9999,120],[-1e9999,130]]}]"#;
const MATRIX: &str = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"1"},"values":[[100,"1"],[115.5,"NaN"],[130,"+Inf"]]},{"metric":{"a":"2"},"values":[[100,"3"],[130,"2.5"]]}]}}"#;
const RSYSLOG_JSON: &str = r#"{"timestamp":"2026-11-25T04:45:19.543130+00:00","host":"vm","program":"myapp","severity":"notice","message":"hello"}"#;
const RFC5424: &str = r#"<165>1 2026-11-25T04:45:19.543Z web-1 nginx 1234 ID47 [exampleSDID@32473 iut="3" eventSource="App"] upstream timed out"#;
const RFC3164: &str =
    "<34>Nov 25 04:45:19 web-1 su[123]: 'su root' failed for lonvick on /dev/pts/8";
const CONFIG: &str = r#"[defaults]
keymap = "default"
theme = "default"
[clusters.prod]
readonly = true
etcd = { endpoints = ["https://10.0.0.1:2379"], prefix = "/services/", connect_timeout_secs = 5 }
checks = { kind = "alertmanager", url = "http://127.0.0.1:9093", interval_secs = 10 }
metrics = { kind = "graphite", url = "http://graphite", series = [{ name = "cpu", target = "stats.gauges.{instance}.cpu", unit = "%" }] }
logs = { kind = "loki", url = "http://127.0.0.1:3100", query = '{job="syslog"}' }
"#;
const KEYMAP: &str = r#"[global]
"q" = "quit"
"ctrl-c" = "quit"
"tab" = "next_pane"
[members]
"D" = "deregister"
"j" = "down"
[confirm]
"y" = "confirm"
"#;

// ---------------------------------------------------------------------------------------------
// Decoders: no panic, bounded time

proptest! {
    #![proptest_config(config())]

    #[test]
    fn config_parse_never_panics(text in prop_oneof![
        any::<String>(),
        damaged(CONFIG.as_bytes().to_vec()).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]) {
        let r = timed("Config::parse", || Config::parse(&text, Path::new("/fuzz/config.toml")));
        if let Err(e) = r {
            let msg = e.to_string();
            prop_assert!(msg.contains("/fuzz/config.toml"), "error names the file: {msg}");
            prop_assert!(!msg.contains('\n'), "one line: {msg:?}");
        }
    }

    #[test]
    fn keymap_parse_never_panics(text in prop_oneof![
        any::<String>(),
        damaged(KEYMAP.as_bytes().to_vec()).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ], with_base in any::<bool>()) {
        let base = with_base.then(|| Keymap::resolve(None).unwrap());
        let _ = timed("Keymap::parse", || Keymap::parse(&text, "fuzz.toml", base));
    }

    #[test]
    fn member_value_parse_never_panics(raw in prop_oneof![
        vec(any::<u8>(), 0..256),
        json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        damaged(br#"{"addr":"10.0.0.1","port":80,"version":"1.4.2","started_at":"2026-11-25T01:00:00Z"}"#.to_vec()),
    ]) {
        let p = timed("member_value::parse", || member_value::parse(&raw));
        for s in [&p.addr, &p.version].into_iter().flatten() {
            prop_assert!(!s.chars().any(char::is_control), "control char in {s:?}");
        }
        let _ = member_value::pretty(&raw);
    }

    #[test]
    fn sensu_go_events_never_panic(raw in input_bytes(SENSU_GO)) {
        let _ = timed("parse_events", || sensu_go::parse_events(&raw, "http://fuzz/events"));
        let _ = timed("parse_silenced", || sensu_go::parse_silenced(&raw, "http://fuzz/silenced"));
    }

    #[test]
    fn sensu_core_never_panics(
        results in sane_bytes(SENSU_CORE_RESULTS),
        events in sane_bytes(SENSU_CORE_EVENTS),
        silenced in sane_bytes(SENSU_CORE_SILENCED),
        valid in 0u8..3,
    ) {
        // Also each damaged part next to two valid ones, so the later stages are reached.
        let (r, e, s) = match valid {
            0 => (results.as_slice(), SENSU_CORE_EVENTS.as_bytes(), SENSU_CORE_SILENCED.as_bytes()),
            1 => (SENSU_CORE_RESULTS.as_bytes(), events.as_slice(), SENSU_CORE_SILENCED.as_bytes()),
            _ => (SENSU_CORE_RESULTS.as_bytes(), SENSU_CORE_EVENTS.as_bytes(), silenced.as_slice()),
        };
        let _ = timed("sensu_core::parse", || sensu_core::parse(r, e, s, "http://fuzz"));
        let _ = timed("sensu_core::parse", || sensu_core::parse(&results, &events, &silenced, "http://fuzz"));
    }

    #[test]
    fn alertmanager_never_panics(alerts in input_bytes(ALERTS), silences in input_bytes(SILENCES)) {
        let _ = timed("parse_alerts", || alertmanager::parse_alerts(&alerts, "http://fuzz/alerts"));
        let _ = timed("parse_silences", || alertmanager::parse_silences(&silences, "http://fuzz/silences"));
    }

    #[test]
    fn graphite_render_never_panics(raw in input_bytes(RENDER)) {
        let _ = timed("parse_render", || graphite::parse_render(&raw, "http://fuzz/render"));
    }

    #[test]
    fn prometheus_matrix_never_panics(raw in input_bytes(MATRIX)) {
        let _ = timed("parse_matrix", || prometheus::parse_matrix(&raw, "http://fuzz/query_range"));
    }

    #[test]
    fn syslog_parsers_never_panic(raw in prop_oneof![
        vec(any::<u8>(), 0..512),
        json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        damaged(RSYSLOG_JSON.as_bytes().to_vec()),
        damaged_ascii(RFC5424.as_bytes().to_vec()),
        damaged_ascii(RFC3164.as_bytes().to_vec()),
    ], now_secs in 0i64..4_102_444_800) {
        check_syslog(&raw, now_secs)?;
    }

    /// The same with any byte in the syslog lines: a non-ASCII character inside an RFC 3164
    /// timestamp (`<34>Nov é5 04:45:19 …`) makes `parse_3164` slice inside a character.
    #[test]
    fn syslog_parsers_never_panic_on_non_ascii(raw in prop_oneof![
        damaged(RFC5424.as_bytes().to_vec()),
        damaged(RFC3164.as_bytes().to_vec()),
    ], now_secs in 0i64..4_102_444_800) {
        check_syslog(&raw, now_secs)?;
    }

    #[test]
    fn es_tail_apply_never_panics(answers in vec(es_answer(false), 1..5)) {
        check_es(&answers);
    }

    #[test]
    fn loki_tail_apply_never_panics(answers in vec(loki_answer(false), 1..5)) {
        check_loki(&answers);
    }

}

fn check_syslog(raw: &[u8], now_secs: i64) -> Result<(), TestCaseError> {
    let line = timed("parse_any", || syslog::parse_any(raw));
    for s in [&*line.host, &*line.program, line.message.as_str()] {
        prop_assert!(!s.chars().any(char::is_control), "control char in {:?}", s);
    }
    let now = Utc.timestamp_opt(now_secs, 0).unwrap();
    let text = String::from_utf8_lossy(raw);
    let line = timed("parse_syslog", || syslog::parse_syslog(&text, now));
    for s in [&*line.host, &*line.program, line.message.as_str()] {
        prop_assert!(!s.chars().any(char::is_control), "control char in {:?}", s);
    }
    Ok(())
}

fn check_es(answers: &[Value]) {
    let mut t = EsTail::new("logstash-*".into());
    for a in answers {
        let _ = timed("EsTail::apply", || t.apply(a));
        let _ = t.body();
    }
}

fn check_loki(answers: &[Value]) {
    let mut t = LokiTail::new("{job=\"x\"}".into(), None);
    for a in answers {
        let _ = timed("LokiTail::apply", || t.apply(a));
        let _ = t.params(Utc::now());
    }
}

/// One hit whose sort value is at the end of the i64 range, polled twice (the cursor minus the
/// overlap window must not overflow).
#[test]
fn es_tail_survives_extreme_sort_values() {
    for ts in [i64::MIN, i64::MIN + 1, i64::MAX] {
        let answer = json!({"hits": {"hits": [
            {"_index": "i", "_id": "1", "sort": [ts], "_source": {"message": "x"}}]}});
        check_es(&[answer.clone(), answer]);
    }
}

/// One line whose timestamp is at the end of the i128 range, polled twice (the cursor minus the
/// overlap window must not overflow).
#[test]
fn loki_tail_survives_extreme_timestamps() {
    for ts in [i128::MIN, i128::MIN + 1, i128::MAX] {
        let answer = json!({"status": "success", "data": {"resultType": "streams", "result": [
            {"stream": {}, "values": [[ts.to_string(), "x"]]}]}});
        check_loki(&[answer.clone(), answer]);
    }
}

/// Sensu Core numbers far outside real time: a silence expiring in 10^13 s (`Utc::now() +
/// Duration::seconds(expire)`), a history with a huge interval (`executed - k * interval`).
#[test]
fn sensu_core_survives_extreme_numbers() {
    let silenced =
        br#"[{"id":"a","expire":10000000000000},{"id":"b","expire":9223372036854775807}]"#;
    let _ = sensu_core::parse(b"[]", b"[]", silenced, "http://fuzz");
    let results = br#"[{"client":"c","check":{"name":"k","executed":1795631752,"interval":9223372036854775807,"history":["0","1","2"]}}]"#;
    let _ = sensu_core::parse(results, b"[]", b"[]", "http://fuzz");
}

fn es_answer(extreme: bool) -> BoxedStrategy<Value> {
    prop_oneof![
        json_tree(extreme),
        vec(es_hit(extreme), 0..12)
            .prop_map(|hits| json!({"_shards": {"failed": 0}, "hits": {"hits": hits}})),
    ]
    .boxed()
}

fn loki_answer(extreme: bool) -> BoxedStrategy<Value> {
    prop_oneof![
        json_tree(extreme),
        vec(loki_stream(extreme), 0..4).prop_map(
            |r| json!({"status": "success", "data": {"resultType": "streams", "result": r}})
        ),
    ]
    .boxed()
}

/// An Elasticsearch hit with random sort values (at the ends of the range if `extreme`) and fields.
fn es_hit(extreme: bool) -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just("i".to_string()), text()],
        prop_oneof![Just("1".to_string()), Just("2".to_string()), text()],
        prop_oneof![
            number(extreme),
            text().prop_map(Value::String),
            Just(Value::Null)
        ],
        json_tree(extreme),
        text(),
    )
        .prop_map(|(index, id, sort, extra, msg)| {
            json!({"_index": index, "_id": id, "sort": [sort],
                   "_source": {"@timestamp": "2026-11-25T04:00:00Z", "host": "web-1", "message": msg, "x": extra}})
        })
}

/// A Loki stream with random labels and (timestamp, line) pairs; `extreme` adds timestamps at the
/// ends of the i128 range.
fn loki_stream(extreme: bool) -> impl Strategy<Value = Value> {
    let ts = if extreme {
        prop_oneof![text_extreme(), "-?[0-9]{1,39}"].boxed()
    } else {
        prop_oneof![text(), "-?[0-9]{1,19}"].boxed()
    };
    (vec((key(), text()), 0..4), vec((ts, text()), 0..8)).prop_map(|(labels, values)| {
        let labels: Map<String, Value> = labels.into_iter().map(|(k, v)| (k, json!(v))).collect();
        let values: Vec<Value> = values.into_iter().map(|(t, l)| json!([t, l])).collect();
        json!({"stream": labels, "values": values})
    })
}

// ---------------------------------------------------------------------------------------------
// sanitize: what reaches the terminal

/// Fragments that build escape sequences, alone or glued to text.
fn hostile_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        any::<char>().prop_map(|c| c.to_string()),
        Just("\u{1b}".to_string()),
        Just("\u{1b}[".to_string()),
        Just("\u{1b}]".to_string()),
        Just("\u{1b}P".to_string()),
        Just("\u{1b}\\".to_string()),
        Just("\u{7}".to_string()),
        Just("\u{9b}".to_string()),
        Just("\u{9c}".to_string()),
        Just("\u{9d}".to_string()),
        Just("\u{90}".to_string()),
        Just("\u{85}".to_string()),
        Just("\t".to_string()),
        Just("\r\n".to_string()),
        Just("\u{7f}".to_string()),
        Just("\u{202e}".to_string()),
        Just("\u{2066}".to_string()),
        Just("\u{200b}".to_string()),
        Just("2J".to_string()),
        Just("0;title".to_string()),
        Just(";".to_string()),
        "[a-z0-9 ]{0,12}",
        (0usize..6000).prop_map(|n| "x".repeat(n)),
    ];
    vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn sanitize_leaves_no_control_and_caps_length(s in prop_oneof![hostile_text(), any::<String>()]) {
        let out = timed("sanitize", || sanitize(&s));
        for c in out.chars() {
            prop_assert!(
                !(c.is_control() || ('\u{80}'..='\u{9f}').contains(&c) || c == '\u{7f}'),
                "control {:?} left in {:?}", c, out
            );
        }
        prop_assert!(
            !out.contains('\u{1b}') && !out.contains('\u{7}'),
            "ESC or BEL left in {:?}",
            out
        );
        let max = MAX_LINE_CHARS + CUT_MARKER.chars().count();
        prop_assert!(out.chars().count() <= max, "{} chars", out.chars().count());
        // Bidi overrides and isolates (text that reads differently than it is) are gone too.
        prop_assert!(
            !out.chars().any(|c| ('\u{202a}'..='\u{202e}').contains(&c) || ('\u{2066}'..='\u{2069}').contains(&c)),
            "bidi control left in {:?}",
            out
        );
        // Plain short text (letters and digits of any script, ASCII punctuation, spaces) passes
        // unchanged.
        if s.chars().all(|c| c.is_alphanumeric() || c == ' ' || c.is_ascii_punctuation())
            && s.chars().count() <= MAX_LINE_CHARS
        {
            prop_assert_eq!(out.as_ref(), s.as_str());
        }
        // Sanitising the result changes nothing when it was not cut.
        if !out.ends_with(CUT_MARKER) {
            let again = sanitize(&out).into_owned();
            prop_assert_eq!(again.as_str(), out.as_ref());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The reducer: random message sequences against a model of etcd

#[derive(Debug, Clone)]
enum Step {
    Snapshot(Vec<(Vec<u8>, Vec<u8>, i64)>),
    Put(Vec<u8>, Vec<u8>, i64),
    Delete(Vec<u8>),
    LeaseTtls(Vec<(i64, i64)>),
    Action(Action),
    Text(Action),
    Tick(i64),
    Health(bool),
    Logs(Vec<Vec<u8>>),
}

const PREFIX: &str = "/services/";

/// Keys are bytes, as etcd holds them: mostly names, some with bytes that are not UTF-8 (`inv\xff`
/// and `inv\xfe` are two members, never one row).
fn member_key() -> impl Strategy<Value = Vec<u8>> {
    let with_prefix = |s: &[u8]| [PREFIX.as_bytes(), s].concat();
    prop_oneof![
        8 => "[ab0-9/]{0,6}".prop_map(move |s| with_prefix(s.as_bytes())),
        2 => "[a-z]{1,3}/[a-z]{0,2}[0-9]{0,22}".prop_map(move |s| with_prefix(s.as_bytes())),
        1 => any::<String>().prop_map(move |s| with_prefix(s.as_bytes())),
        2 => ("[ab]/inv", vec(prop_oneof![Just(0xffu8), Just(0xfe), Just(0xc3), Just(b'\\'), Just(b'x')], 0..3))
            .prop_map(move |(s, tail)| with_prefix(&[s.as_bytes(), &tail].concat())),
        1 => Just(PREFIX.as_bytes().to_vec()),
    ]
}

fn member_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "10\\.0\\.[0-9]\\.[0-9]:[0-9]{1,5}".prop_map(String::into_bytes),
        ("[0-9.]{0,9}", any::<u16>(), "[0-9.a-z]{0,5}").prop_map(|(a, p, v)| {
            format!(r#"{{"addr":"{a}","port":{p},"version":"{v}","started_at":"2026-11-2{}T00:00:00Z"}}"#, p % 10)
                .into_bytes()
        }),
        vec(any::<u8>(), 0..32),
    ]
}

fn lease() -> impl Strategy<Value = i64> {
    prop_oneof![3 => Just(0i64), 1 => 1i64..4, 1 => any::<i64>()]
}

fn action() -> impl Strategy<Value = Action> {
    proptest::sample::select(vec![
        Action::NextPane,
        Action::PrevPane,
        Action::Up,
        Action::Down,
        Action::PageUp,
        Action::PageDown,
        Action::Top,
        Action::Bottom,
        Action::Filter,
        Action::Back,
        Action::Detail,
        Action::SortNext,
        Action::SortReverse,
        Action::Deregister,
        Action::Silence,
        Action::Unsilence,
        Action::ToggleFollow,
        Action::Help,
        Action::Confirm,
        Action::Cancel,
        Action::ToggleRevokeLease,
        Action::ToggleHideOk,
        Action::ToggleHideSilenced,
        Action::ToggleHideInhibited,
        Action::ToggleUnackedOnly,
        Action::Ack,
        Action::Unack,
        Action::NextWindow,
        Action::PrevWindow,
        Action::CycleSeverity,
        Action::ToggleWrap,
        Action::Select,
        Action::Submit,
        Action::NextField,
        Action::PrevField,
        Action::CursorLeft,
        Action::CursorRight,
        Action::WordLeft,
        Action::LineStart,
        Action::LineEnd,
        Action::DeleteWordBack,
        Action::DeleteToStart,
        Action::DeleteToEnd,
        Action::DeleteForward,
    ])
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => vec((member_key(), member_value(), lease()), 0..12).prop_map(Step::Snapshot),
        6 => (member_key(), member_value(), lease()).prop_map(|(k, v, l)| Step::Put(k, v, l)),
        3 => member_key().prop_map(Step::Delete),
        1 => vec((1i64..4, -1i64..100), 0..4).prop_map(Step::LeaseTtls),
        4 => action().prop_map(Step::Action),
        2 => prop_oneof![
            proptest::sample::select(vec!['a', 'b', '0', '1', '/', '!', '(', '[', '*', '.', '^', 'W'])
                .prop_map(Action::InsertChar),
            Just(Action::DeleteBack),
            Just(Action::Submit),
            Just(Action::Cancel),
        ].prop_map(Step::Text),
        1 => (0i64..100_000).prop_map(Step::Tick),
        1 => any::<bool>().prop_map(Step::Health),
        1 => vec(vec(any::<u8>(), 0..64), 0..4).prop_map(Step::Logs),
    ]
}

type Model = BTreeMap<Vec<u8>, (Vec<u8>, i64, i64)>;

proptest! {
    #![proptest_config(config())]

    #[test]
    fn reducer_matches_a_model_of_etcd(steps in vec(step(), 1..60)) {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 25, 4, 0, 0).unwrap();
        let mut st = State::new("fuzz", PREFIX, "fuzzer", t0);
        let mut model = Model::new();
        let mut rev = 1i64;
        let started = Instant::now();
        for s in steps {
            rev += 1;
            let at = t0 + chrono::Duration::seconds(rev);
            match s {
                Step::Snapshot(entries) => {
                    model.clear();
                    let entries: Vec<KvEntry> = entries
                        .into_iter()
                        .map(|(key, value, lease)| {
                            model.insert(key.clone(), (value.clone(), rev, lease));
                            KvEntry { key, value, create_revision: rev, mod_revision: rev, version: 1, lease }
                        })
                        .collect();
                    // A listing has each key once (the last write wins in the model too).
                    let mut seen = std::collections::HashSet::new();
                    let mut entries: Vec<KvEntry> = entries.into_iter().rev().filter(|e| seen.insert(e.key.clone())).collect();
                    entries.reverse();
                    state::update(&mut st, Msg::listing("/services/", rev, entries, at));
                }
                Step::Put(key, value, lease) => {
                    let version = model.get(&key).map(|_| 2).unwrap_or(1);
                    model.insert(key.clone(), (value.clone(), rev, lease));
                    let e = KvEntry { key, value, create_revision: rev, mod_revision: rev, version, lease };
                    state::update(&mut st, Msg::MembersEvents { events: vec![KvEvent::Put(e)], at });
                }
                Step::Delete(key) => {
                    model.remove(&key);
                    state::update(&mut st, Msg::MembersEvents { events: vec![KvEvent::Delete { key, mod_revision: rev }], at });
                }
                Step::LeaseTtls(ttls) => {
                    state::update(&mut st, Msg::LeaseTtls { ttls, at });
                }
                Step::Action(a) => {
                    let _ = state::handle_action(&mut st, a);
                }
                Step::Text(k) => {
                    let _ = state::handle_action(&mut st, k);
                }
                Step::Tick(secs) => {
                    let _ = state::tick(&mut st, t0 + chrono::Duration::seconds(secs));
                }
                Step::Health(up) => {
                    let h = if up { Health::Live } else {
                        Health::Retrying { at: at + chrono::Duration::seconds(1), attempt: 1, error: "x".into() }
                    };
                    state::update(&mut st, Msg::Health(SourceKind::Etcd.of(ClusterId(0)), h));
                }
                Step::Logs(lines) => {
                    let lines = lines.iter().map(|l| syslog::parse_any(l)).collect();
                    state::update(&mut st, Msg::LogLines(lines));
                }
            }
            // The members pane holds exactly what etcd holds…
            prop_assert_eq!(st.members.len(), model.len());
            for (k, (v, r, l)) in &model {
                let m = st.members.get(k);
                prop_assert!(m.is_some(), "missing {:?}", k);
                let m = m.unwrap();
                prop_assert_eq!((m.value(), m.mod_revision, m.lease), (&v[..], *r, *l), "stale {:?}", k);
            }
            // …and shows each of them once (those the filter lets through), in one consistent order.
            let shown: Vec<Vec<u8>> = st.members.visible_rows(0, usize::MAX).map(|m| m.key().to_vec()).collect();
            let mut unique = shown.clone();
            unique.sort();
            unique.dedup();
            prop_assert_eq!(unique.len(), shown.len(), "a row shown twice: {:?}", shown);
            let expected: Vec<Vec<u8>> = model
                .keys()
                .filter(|k| {
                    let m = st.members.get(k).unwrap();
                    st.members.filter.as_ref().is_none_or(|f| {
                        f.matches_any(&[m.key_text(), m.addr(), m.version_label(), m.role(), m.instance()])
                    })
                })
                .cloned()
                .collect();
            prop_assert_eq!(unique, expected, "shown rows != members passing the filter");
            prop_assert_eq!(st.members.visible_len(), shown.len());
            let counted: usize = st.members.role_counts().values().sum();
            prop_assert_eq!(counted, model.len(), "role counts");
            if let Some(i) = st.members.selected_index() {
                prop_assert!(i < shown.len());
            }
        }
        prop_assert!(started.elapsed() < CASE_LIMIT * 2, "sequence took {:?}", started.elapsed());
    }
}

// ---------------------------------------------------------------------------------------------
// Huge answers: 20 MB into every decoder, time and peak memory linear in the size

/// Counts the bytes allocated by the current thread (peak since the last reset), so a decoder's
/// memory can be measured while other tests run on other threads.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note(l.size() as isize);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        note(-(l.size() as isize));
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note(l.size() as isize);
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        note(new as isize - l.size() as isize);
        unsafe { System.realloc(p, l, new) }
    }
}

fn note(delta: isize) {
    // try_with: thread-locals may be gone while a thread exits.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// CPU time this thread has used (from /proc, 10 ms ticks): unlike wall time it does not grow when
/// other tests or builds compete for the cores.
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("/proc/thread-self/stat");
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<u64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // Fields 14 and 15 of stat(5): utime and stime in clock ticks (USER_HZ = 100 on Linux).
    Duration::from_millis((f[11] + f[12]) * 10)
}

/// Runs `f` and returns (wall time, CPU time, peak bytes above what was live before, all on this
/// thread).
fn measure<T>(f: impl FnOnce() -> T) -> (Duration, Duration, usize, T) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let (t, cpu) = (Instant::now(), thread_cpu());
    let out = f();
    let (took, cpu) = (t.elapsed(), thread_cpu().saturating_sub(cpu));
    let peak = PEAK.with(Cell::get) - base;
    (took, cpu, peak.max(0) as usize, out)
}

/// A JSON array of `item(i)` until it is at least `bytes` long.
fn json_array(bytes: usize, item: impl Fn(usize) -> String) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 4096);
    out.push(b'[');
    let mut i = 0;
    while out.len() < bytes {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item(i).as_bytes());
        i += 1;
    }
    out.push(b']');
    out
}

/// Filler that makes an item look like a real one (outputs and messages are a few hundred bytes)
/// and keeps the debug-build run time of the 20 MB tests reasonable.
fn pad() -> String {
    "lorem ipsum dolor sit amet ".repeat(10)
}

fn alert(i: usize) -> String {
    let pad = pad();
    format!(
        r#"{{"labels":{{"alertname":"A{i}","instance":"web-{i}","severity":"critical"}},"annotations":{{"summary":"s {i} {pad}"}},"startsAt":"2026-11-25T04:00:00Z","status":{{"state":"active","silencedBy":[]}}}}"#
    )
}

fn silence(i: usize) -> String {
    let pad = pad();
    format!(
        r#"{{"id":"s{i}","matchers":[{{"name":"alertname","value":"A{i}","isRegex":false}}],"createdBy":"a","comment":"c {pad}","status":{{"state":"active"}}}}"#
    )
}

/// Small on purpose: the worst case for a decoder that builds a `serde_json::Value` per item.
fn go_event(i: usize) -> String {
    format!(
        r#"{{"entity":{{"metadata":{{"name":"e{i}"}}}},"check":{{"metadata":{{"name":"c"}},"status":{},"output":"o","history":[{{"status":0,"executed":1795631700}}]}}}}"#,
        i % 4
    )
}

fn core_result(i: usize) -> String {
    let pad = pad();
    format!(
        r#"{{"client":"c{i}","check":{{"name":"k","status":1,"output":"o {pad}","executed":1795631752,"interval":60,"history":["0","1"]}}}}"#
    )
}

/// Comma-separated `value(i)` for i = 0, 1, … until the text is at least `bytes` long.
fn points_json(bytes: usize, value: impl Fn(usize) -> String) -> (String, usize) {
    let mut s = String::with_capacity(bytes + 64);
    let mut i = 0;
    while s.len() < bytes {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&value(i));
        i += 1;
    }
    (s, i)
}

fn render_body(bytes: usize) -> Vec<u8> {
    // Four series; every 1000th point is Graphite's 1e9999.
    let series: Vec<String> = (0..4)
        .map(|s| {
            let (pts, _) = points_json(bytes / 4, |i| {
                if i % 1000 == 0 {
                    format!("[1e9999,{}]", 1_700_000_000 + i)
                } else {
                    format!("[{}.5,{}]", i % 97, 1_700_000_000 + i)
                }
            });
            format!(r#"{{"target":"s{s}","datapoints":[{pts}]}}"#)
        })
        .collect();
    format!("[{}]", series.join(",")).into_bytes()
}

fn matrix_body(bytes: usize) -> Vec<u8> {
    // Eight series over the same timestamps (the averaging path).
    let series: Vec<String> = (0..8)
        .map(|s| {
            let (pts, _) = points_json(bytes / 8, |i| {
                format!("[{},\"{}.25\"]", 1_700_000_000 + i, (i + s) % 89)
            });
            format!(r#"{{"metric":{{"i":"{s}"}},"values":[{pts}]}}"#)
        })
        .collect();
    format!(
        r#"{{"status":"success","data":{{"resultType":"matrix","result":[{}]}}}}"#,
        series.join(",")
    )
    .into_bytes()
}

fn es_body(bytes: usize) -> Vec<u8> {
    let hits = json_array(bytes, |i| {
        format!(
            r#"{{"_index":"logstash-1","_id":"d{i}","sort":[{}],"_source":{{"@timestamp":"2026-11-25T04:00:00Z","host":"web-{}","program":"app","severity":"info","message":"line {i} {}"}}}}"#,
            1_795_631_752_000u64 + i as u64,
            i % 50,
            pad()
        )
    });
    let mut out = br#"{"_shards":{"failed":0},"hits":{"hits":"#.to_vec();
    out.extend_from_slice(&hits);
    out.extend_from_slice(b"}}");
    out
}

fn loki_body(bytes: usize) -> Vec<u8> {
    let streams: Vec<String> = (0..10)
        .map(|s| {
            let (vals, _) = points_json(bytes / 10, |i| {
                format!(
                    r#"["{}","line {i} of stream {s} {}"]"#,
                    1_795_631_752_000_000_000u128 + (i * 10 + s) as u128,
                    "y".repeat(100)
                )
            });
            format!(r#"{{"stream":{{"host":"web-{s}","job":"app"}},"values":[{vals}]}}"#)
        })
        .collect();
    format!(
        r#"{{"status":"success","data":{{"resultType":"streams","result":[{}]}}}}"#,
        streams.join(",")
    )
    .into_bytes()
}

struct Decoder {
    name: &'static str,
    make: fn(usize) -> Vec<u8>,
    run: fn(&[u8]) -> usize,
}

fn decoders() -> Vec<Decoder> {
    vec![
        Decoder {
            name: "alertmanager::parse_alerts",
            make: |n| json_array(n, alert),
            run: |b| alertmanager::parse_alerts(b, "u").unwrap().0.len(),
        },
        Decoder {
            name: "alertmanager::parse_silences",
            make: |n| json_array(n, silence),
            run: |b| alertmanager::parse_silences(b, "u").unwrap().len(),
        },
        Decoder {
            name: "sensu_go::parse_events",
            make: |n| json_array(n, go_event),
            run: |b| sensu_go::parse_events(b, "u").unwrap().0.len(),
        },
        Decoder {
            name: "sensu_core::parse",
            make: |n| json_array(n, core_result),
            run: |b| {
                sensu_core::parse(b, b"[]", b"[]", "u")
                    .unwrap()
                    .results
                    .len()
            },
        },
        Decoder {
            name: "graphite::parse_render",
            make: render_body,
            run: |b| {
                graphite::parse_render(b, "u")
                    .unwrap()
                    .iter()
                    .map(|s| s.1.len())
                    .sum()
            },
        },
        Decoder {
            name: "prometheus::parse_matrix",
            make: matrix_body,
            run: |b| prometheus::parse_matrix(b, "u").unwrap().len(),
        },
        Decoder {
            name: "EsTail::apply (+ JSON decode)",
            make: es_body,
            run: |b| {
                let v: Value = serde_json::from_slice(b).unwrap();
                EsTail::new("i".into()).apply(&v).unwrap().0.len()
            },
        },
        Decoder {
            name: "LokiTail::apply (+ JSON decode)",
            make: loki_body,
            run: |b| {
                let v: Value = serde_json::from_slice(b).unwrap();
                LokiTail::new("q".into(), None).apply(&v).unwrap().0.len()
            },
        },
        Decoder {
            name: "syslog::parse_any (one 20 MB JSON line)",
            make: |n| {
                format!(
                    r#"{{"host":"h","program":"p","message":"{}"}}"#,
                    "m".repeat(n)
                )
                .into_bytes()
            },
            run: |b| syslog::parse_any(b).message.len(),
        },
        Decoder {
            name: "syslog::parse_syslog (one 20 MB line)",
            make: |n| {
                format!(
                    "<34>Nov 25 04:45:19 web-1 su[1]: {}",
                    "z\u{1b}[2J".repeat(n / 5)
                )
                .into_bytes()
            },
            run: |b| {
                syslog::parse_syslog(std::str::from_utf8(b).unwrap(), Utc::now())
                    .message
                    .len()
            },
        },
        Decoder {
            name: "member_value::parse (20 MB value)",
            make: |n| format!(r#"{{"addr":"{}"}}"#, "1".repeat(n)).into_bytes(),
            run: |b| member_value::parse(b).addr.map_or(0, |a| a.len()),
        },
        Decoder {
            name: "text::sanitize (20 MB of escapes)",
            make: |n| "\u{1b}[31m\u{7}".repeat(n / 6 + 1).into_bytes(),
            run: |b| sanitize(std::str::from_utf8(b).unwrap()).len(),
        },
    ]
}

/// Decodes a 2 MB and a 20 MB answer with decoder `name`: the 20 MB one must finish, and time and
/// peak memory must grow about linearly (10× the input: ~10×; a quadratic decoder would be ~100×).
fn huge(name: &str) {
    const BIG: usize = 20 << 20;
    const SMALL: usize = 2 << 20;
    let d = decoders()
        .into_iter()
        .find(|d| d.name.starts_with(name))
        .unwrap_or_else(|| panic!("no decoder {name}"));
    let small = (d.make)(SMALL);
    let big = (d.make)(BIG);
    assert!(
        big.len() >= BIG * 9 / 10,
        "{}: only {} bytes",
        d.name,
        big.len()
    );
    let (_, c_small, m_small, _) = measure(|| (d.run)(&small));
    let (t_big, c_big, m_big, n) = measure(|| (d.run)(&big));
    eprintln!(
        "HUGE {:<42} {:>5.1} MB → {:>7} items in {:>7.0?} (CPU {:>6.0?}; 2 MB: {:>6.0?}), peak +{:>4} MB = {:.1}× input (2 MB: +{} MB)",
        d.name,
        big.len() as f64 / (1 << 20) as f64,
        n,
        t_big,
        c_big,
        c_small,
        m_big >> 20,
        m_big as f64 / big.len() as f64,
        m_small >> 20
    );
    // CPU time: on a loaded machine the wall clock also counts the waits for a core (36 s wall
    // for 4 s of CPU was seen while two builds ran).
    assert!(
        c_big < Duration::from_secs(30),
        "{}: {:?} CPU ({:?} wall) for 20 MB",
        d.name,
        c_big,
        t_big
    );
    assert!(
        c_big <= c_small * 30 + Duration::from_millis(300),
        "{}: 2 MB in {c_small:?} CPU but 20 MB in {c_big:?} — superlinear",
        d.name
    );
    // Bounded: a decoder may build a tree several times the size of its input, not more. (Sensu
    // Go's, decoding every event to a serde_json::Value first, is the largest at ~29×.)
    assert!(
        m_big <= 40 * big.len(),
        "{}: peak {} MB for a {} MB input",
        d.name,
        m_big >> 20,
        big.len() >> 20
    );
    assert!(
        m_big <= m_small * 15 + (8 << 20),
        "{}: peak {} MB for 20 MB but {} MB for 2 MB — superlinear",
        d.name,
        m_big >> 20,
        m_small >> 20
    );
}

// One test per decoder, so the harness runs them side by side.
#[test]
fn huge_alertmanager_alerts() {
    huge("alertmanager::parse_alerts");
}

#[test]
fn huge_alertmanager_silences() {
    huge("alertmanager::parse_silences");
}

#[test]
fn huge_sensu_go_events() {
    huge("sensu_go::parse_events");
}

#[test]
fn huge_sensu_core_results() {
    huge("sensu_core::parse");
}

#[test]
fn huge_graphite_render() {
    huge("graphite::parse_render");
}

#[test]
fn huge_prometheus_matrix() {
    huge("prometheus::parse_matrix");
}

#[test]
fn huge_elasticsearch_hits() {
    huge("EsTail::apply");
}

#[test]
fn huge_loki_streams() {
    huge("LokiTail::apply");
}

#[test]
fn huge_syslog_lines() {
    huge("syslog::parse_any");
    huge("syslog::parse_syslog");
}

#[test]
fn huge_member_value_and_sanitize() {
    huge("member_value::parse");
    huge("text::sanitize");
}
