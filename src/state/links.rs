//! The links of the open detail popup: the backend's own (an alert's `runbook_url`, `dashboard`
//! and other http(s) annotations, its `generatorURL`) and the profile's templates filled from the
//! row, numbered 1–9. Only http/https; the host is always shown beside the name.

use super::{Popup, State};
use crate::model::run::{self, LinkPane};

/// Links a popup lists at most (one key each, `1`–`9`).
pub const MAX_LINKS: usize = 9;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub name: String,
    pub url: String,
    pub host: String,
}

fn link(name: &str, url: &str) -> Option<Link> {
    Some(Link {
        name: name.to_string(),
        host: run::url_host(url)?.to_string(),
        url: url.to_string(),
    })
    .filter(|_| run::is_web_url(url))
}

/// The numbered links of the open popup (a member or check detail), and the templates that
/// could not be filled (name, why).
pub fn of_popup(state: &State) -> (Vec<Link>, Vec<(String, String)>) {
    let mut links = Vec::new();
    let mut skipped = Vec::new();
    let (pane, values) = match &state.popup {
        Some(Popup::MemberDetail { key, cluster, .. }) => {
            let Some(m) = state.members.get_in(*cluster, key) else {
                return (links, skipped);
            };
            let mut v = super::run::base_values(state);
            run_member(m, &mut v);
            (LinkPane::Members, v)
        }
        Some(Popup::CheckDetail { entity, check, .. }) => {
            let Some(r) = state.checks.find(entity, check) else {
                return (links, skipped);
            };
            links.extend(r.links.iter().filter_map(|(n, u)| link(n, u)));
            let mut v = super::run::base_values(state);
            super::run::check_values(r, &mut v);
            (LinkPane::Checks, v)
        }
        _ => return (links, skipped),
    };
    for t in &state.link_templates {
        if t.pane.is_some_and(|p| p != pane) {
            continue;
        }
        match run::fill_url(&t.url, &values) {
            Ok(url) => links.extend(link(&t.name, &url)),
            Err(why) => skipped.push((t.name.clone(), why)),
        }
    }
    links.truncate(MAX_LINKS);
    (links, skipped)
}

fn run_member(m: &crate::model::Member, v: &mut std::collections::BTreeMap<String, String>) {
    super::run::member_values(m, v);
}
