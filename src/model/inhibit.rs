//! Alertmanager inhibit rules, read from the `config.original` YAML `/api/v2/status` returns, to
//! say which rule muted an alert. Alertmanager writes that YAML itself (Go's yaml.v2, block
//! style), so this reads only the `inhibit_rules:` block of it — matcher strings
//! (`source_matchers`, `target_matchers`), the older maps (`source_match`, `source_match_re`,
//! `target_match`, `target_match_re`) and `equal` — rather than pulling in a YAML parser; a
//! rule it cannot read is kept as its text, matched by nothing.

use super::Matcher;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct InhibitRule {
    pub source: Vec<Matcher>,
    pub target: Vec<Matcher>,
    pub equal: Vec<String>,
    /// The rule as the config writes it, one line: what the detail shows.
    pub text: String,
}

impl InhibitRule {
    /// Whether this rule lets `source` (an inhibiting alert's labels) mute `target`'s.
    pub fn applies(&self, source: &[(String, String)], target: &[(String, String)]) -> bool {
        let get = |labels: &[(String, String)], name: &str| -> String {
            labels
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        (!self.source.is_empty() || !self.target.is_empty())
            && self
                .source
                .iter()
                .all(|m| matches(m, &get(source, &m.name)))
            && self
                .target
                .iter()
                .all(|m| matches(m, &get(target, &m.name)))
            && self.equal.iter().all(|l| get(source, l) == get(target, l))
    }
}

fn matches(m: &Matcher, value: &str) -> bool {
    let hit = if m.is_regex {
        regex::Regex::new(&format!("^(?:{})$", m.value))
            .map(|re| re.is_match(value))
            .unwrap_or(false)
    } else {
        value == m.value
    };
    hit == m.is_equal
}

/// `alertname="ZoneDown"`, `severity=~"warn.*"`, `zone!=a`: one Alertmanager matcher string.
pub fn parse_matcher(s: &str) -> Option<Matcher> {
    let s = s.trim();
    let at = s.find(['=', '!'])?;
    let (name, rest) = s.split_at(at);
    let (op, value) = ["=~", "!~", "!=", "="]
        .iter()
        .find_map(|op| rest.strip_prefix(op).map(|v| (*op, v)))?;
    let value = value.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .map(|v| v.replace("\\\"", "\"").replace("\\\\", "\\"))
        .unwrap_or_else(|| value.to_string());
    let name = name.trim().trim_matches('"');
    (!name.is_empty()).then(|| Matcher {
        name: name.to_string(),
        value,
        is_regex: op.ends_with('~'),
        is_equal: op.starts_with('='),
    })
}

/// A YAML scalar as written: quotes taken off.
fn scalar(s: &str) -> String {
    let s = s.trim();
    if let Some(v) = s.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        return v.replace("''", "'");
    }
    if let Some(v) = s.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        return v.replace("\\\"", "\"").replace("\\\\", "\\");
    }
    s.to_string()
}

/// `[a, "b"]` or nothing.
fn flow_list(s: &str) -> Option<Vec<String>> {
    let inner = s.trim().strip_prefix('[')?.strip_suffix(']')?;
    Some(
        inner
            .split(',')
            .map(scalar)
            .filter(|v| !v.is_empty())
            .collect(),
    )
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The inhibit rules of an Alertmanager config.
pub fn parse_rules(yaml: &str) -> Vec<InhibitRule> {
    let lines: Vec<&str> = yaml.lines().collect();
    let Some(start) = lines
        .iter()
        .position(|l| indent(l) == 0 && l.trim_end() == "inhibit_rules:")
    else {
        return Vec::new();
    };
    // The block: every line after the key until the next top-level key.
    let block: Vec<&str> = lines[start + 1..]
        .iter()
        .take_while(|l| l.trim().is_empty() || indent(l) > 0 || l.starts_with('-'))
        .copied()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect();
    let item_indent = block.first().map(|l| indent(l)).unwrap_or(0);
    let mut rules: Vec<Vec<String>> = Vec::new();
    for l in block {
        if indent(l) == item_indent && l.trim_start().starts_with('-') {
            // The item's first key, moved to the keys' indentation.
            let rest = l.trim_start().trim_start_matches('-');
            let pad = item_indent + 1 + (rest.len() - rest.trim_start().len());
            rules.push(vec![format!("{}{}", " ".repeat(pad), rest.trim_start())]);
        } else if let Some(r) = rules.last_mut() {
            r.push(l.to_string());
        }
    }
    rules.iter().map(|r| rule(r)).collect()
}

fn rule(lines: &[String]) -> InhibitRule {
    let key_indent = lines.first().map(|l| indent(l)).unwrap_or(0);
    let mut out = InhibitRule::default();
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        i += 1;
        if indent(l) != key_indent {
            continue;
        }
        let Some((key, value)) = l.trim().split_once(':') else {
            continue;
        };
        // The key's values: inline (`[..]` or a scalar) or the deeper lines below it.
        let mut items: Vec<String> = Vec::new();
        let mut pairs: Vec<(String, String)> = Vec::new();
        if let Some(list) = flow_list(value) {
            items = list;
        } else if !value.trim().is_empty() && value.trim() != "{}" {
            items.push(scalar(value));
        }
        while i < lines.len()
            && (indent(&lines[i]) > key_indent || lines[i].trim_start().starts_with("- "))
        {
            let v = lines[i].trim();
            if let Some(item) = v.strip_prefix("- ") {
                items.push(scalar(item));
            } else if let Some((k, v)) = v.split_once(':') {
                pairs.push((scalar(k), scalar(v)));
            }
            i += 1;
        }
        let eq = |k: String, v: String, is_regex: bool| Matcher {
            name: k,
            value: v,
            is_regex,
            is_equal: true,
        };
        match key.trim() {
            "source_matchers" => out
                .source
                .extend(items.iter().filter_map(|s| parse_matcher(s))),
            "target_matchers" => out
                .target
                .extend(items.iter().filter_map(|s| parse_matcher(s))),
            "source_match" => out
                .source
                .extend(pairs.into_iter().map(|(k, v)| eq(k, v, false))),
            "source_match_re" => out
                .source
                .extend(pairs.into_iter().map(|(k, v)| eq(k, v, true))),
            "target_match" => out
                .target
                .extend(pairs.into_iter().map(|(k, v)| eq(k, v, false))),
            "target_match_re" => out
                .target
                .extend(pairs.into_iter().map(|(k, v)| eq(k, v, true))),
            "equal" => out.equal = items,
            _ => {}
        }
    }
    out.text = describe(&out);
    out
}

/// `ZoneDown-like sources (alertname="ZoneDown") mute severity="warning" with equal zone`, short.
fn describe(r: &InhibitRule) -> String {
    let list = Matcher::describe_all;
    let mut s = format!(
        "source {{{}}} mutes target {{{}}}",
        list(&r.source),
        list(&r.target)
    );
    if !r.equal.is_empty() {
        s.push_str(&format!(" where equal: {}", r.equal.join(", ")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(l: &[(&str, &str)]) -> Vec<(String, String)> {
        l.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// What Alertmanager 0.25 writes back in `config.original` for both forms of rule.
    const ORIGINAL: &str = "global:\n  resolve_timeout: 5m\nroute:\n  receiver: \"null\"\ninhibit_rules:\n- source_match:\n    severity: critical\n  target_match_re:\n    severity: warn.*\n  equal:\n  - cluster\n- source_matchers:\n  - alertname=\"ZoneDown\"\n  target_matchers:\n  - severity=\"warning\"\n  equal:\n  - zone\nreceivers:\n- name: \"null\"\ntemplates: []\n";

    #[test]
    fn reads_both_forms_and_applies_them() {
        let rules = parse_rules(ORIGINAL);
        assert_eq!(rules.len(), 2, "{rules:#?}");
        assert_eq!(rules[0].equal, vec!["cluster"]);
        assert!(rules[0].target[0].is_regex);
        assert_eq!(
            rules[1].text,
            "source {alertname=\"ZoneDown\"} mutes target {severity=\"warning\"} where equal: zone"
        );
        let zone = labels(&[("alertname", "ZoneDown"), ("zone", "a")]);
        let warn_a = labels(&[("severity", "warning"), ("zone", "a")]);
        let warn_b = labels(&[("severity", "warning"), ("zone", "b")]);
        assert!(rules[1].applies(&zone, &warn_a));
        assert!(!rules[1].applies(&zone, &warn_b));
        assert!(!rules[0].applies(&zone, &warn_a));
    }

    #[test]
    fn flow_lists_and_no_rules() {
        let rules = parse_rules(
            "inhibit_rules:\n  - source_matchers: ['a=\"1\"']\n    equal: [x, \"y\"]\n",
        );
        assert_eq!(rules.len(), 1, "{rules:#?}");
        assert_eq!(rules[0].equal, vec!["x", "y"]);
        assert_eq!(rules[0].source[0].value, "1");
        assert!(parse_rules("route:\n  receiver: x\n").is_empty());
        assert_eq!(
            parse_matcher("sev!~ \"w.*\""),
            Some(Matcher {
                name: "sev".into(),
                value: "w.*".into(),
                is_regex: true,
                is_equal: false
            })
        );
    }
}
