//! The metrics tests' common part: a metrics profile of either kind, a source, queries, and finding
//! a series or an error in a result.

use std::collections::BTreeMap;
use std::path::Path;

use opsconsole::config::{Config, MetricsProfile};
use opsconsole::model::{MetricsQuery, MetricsResult, Series, Window};
use opsconsole::sources::metrics::MetricsSource;
use tokio::sync::mpsc;

pub fn profile(kind: &str, url: &str, series: &[&str]) -> MetricsProfile {
    let text = format!(
        "[clusters.test]\netcd = {{ endpoints = [\"http://127.0.0.1:2379\"] }}\n\
         metrics = {{ kind = \"{kind}\", url = \"{url}\", timeout_secs = 5, series = [{}] }}\n",
        series.join(", ")
    );
    Config::parse(&text, Path::new("/test/config.toml"))
        .unwrap_or_else(|e| panic!("config does not parse: {e}\n{text}"))
        .cluster("test")
        .unwrap()
        .metrics
        .clone()
        .expect("metrics profile")
}

pub fn source(profile: MetricsProfile) -> MetricsSource {
    let (tx, _rx) = mpsc::channel(8);
    let (_cmd_tx, cmd_rx) = mpsc::channel(8);
    MetricsSource::new(profile, tx, cmd_rx).expect("building the metrics source")
}

pub fn member(instance: &str) -> Option<BTreeMap<String, String>> {
    Some(BTreeMap::from([(
        "instance".to_string(),
        instance.to_string(),
    )]))
}

pub fn query(vars: Option<BTreeMap<String, String>>, window: Window, width: usize) -> MetricsQuery {
    MetricsQuery {
        label: "t".into(),
        vars,
        window,
        width,
        end: None,
    }
}

pub fn ok<'a>(r: &'a MetricsResult, name: &str) -> &'a Series {
    r.series
        .iter()
        .find_map(|s| s.as_ref().ok().filter(|s| s.name == name))
        .unwrap_or_else(|| panic!("no Ok series {name:?} in {:#?}", r.series))
}

pub fn err<'a>(r: &'a MetricsResult, starts: &str) -> &'a str {
    r.series
        .iter()
        .find_map(|s| s.as_ref().err().filter(|e| e.starts_with(starts)))
        .unwrap_or_else(|| panic!("no error for {starts:?} in {:#?}", r.series))
}
