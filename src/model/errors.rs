//! A backend's error chain as one short line a person reads at a glance — `etcd 127.0.0.1:2379
//! refused the connection` rather than `status: Unavailable, message: "error trying to connect:
//! tcp connect error: Connection refused (os error 111)" …`. The full chain goes to the log file
//! and the detail view; panes show this.

/// The line for `kind`'s backend (`etcd`, `alertmanager`, …) failing with `chain`.
pub fn human_error(kind: &str, chain: &str) -> String {
    let lower = chain.to_ascii_lowercase();
    let addr = address_in(chain);
    let who = match &addr {
        Some(a) => format!("{kind} {a}"),
        None => kind.to_string(),
    };
    let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    // Our own messages already read as a sentence and say what to do (`401: the password from
    // $X was rejected — check it`): they are kept, not replaced by a generic phrase.
    if chain.contains(" — ") {
        return super::text::fit(&super::text::sanitize(chain), 160);
    }
    let said = if has(&["does not speak tls"]) {
        return super::text::fit(&super::text::sanitize(first_clause(kind, chain)), 120);
    } else if has(&["connection refused"]) {
        "refused the connection"
    } else if has(&[
        "dns error",
        "failed to lookup",
        "name or service not known",
        "no such host",
    ]) {
        "is not a host name the resolver knows"
    } else if has(&[
        "certificate",
        "unknownissuer",
        "unknown issuer",
        "handshake",
    ]) {
        "failed the TLS handshake (certificate or protocol)"
    } else if has(&[
        "401",
        "unauthorized",
        "authentication failed",
        "invalid auth",
        "invalid token",
    ]) {
        "refused the credentials"
    } else if has(&["403", "forbidden", "permission denied"]) {
        "denied permission"
    } else if has(&[
        "timed out",
        "deadline has elapsed",
        "timeout",
        "did not answer",
        "no answer within",
    ]) {
        "did not answer in time"
    } else if has(&[
        "no route to host",
        "network is unreachable",
        "host is unreachable",
    ]) {
        "is unreachable"
    } else if has(&[
        "connection reset",
        "broken pipe",
        "connection closed",
        "unexpected eof",
    ]) {
        "closed the connection"
    } else {
        let first = super::text::sanitize(first_clause(kind, chain)).into_owned();
        return super::text::fit(&format!("{who}: {first}"), 120);
    };
    format!("{who} {said}")
}

/// The first part of an error chain (`a: b: c` → `a`), without a leading backend name
/// (`alertmanager: odd reply` → `odd reply`, never `alertmanager: alertmanager`).
fn first_clause<'a>(kind: &str, chain: &'a str) -> &'a str {
    chain
        .split(": ")
        .map(str::trim)
        .find(|s| !s.is_empty() && !s.eq_ignore_ascii_case(kind))
        .unwrap_or(chain.trim())
}

/// The first `host:port` (a URL's authority, or a bare `host:port`) the chain names.
fn address_in(chain: &str) -> Option<String> {
    for word in chain.split(|c: char| c.is_whitespace() || "\"'(),;<>[]".contains(c)) {
        let w = word
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .trim_end_matches(['/', '.', ':']);
        let w = w.split('/').next().unwrap_or(w);
        if let Some((host, port)) = w.rsplit_once(':') {
            let host_ok = !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
            let port_ok = (2..=5).contains(&port.len()) && port.chars().all(|c| c.is_ascii_digit());
            if host_ok && port_ok {
                return Some(w.to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backend_name_at_the_head_of_the_chain_is_not_the_reason() {
        assert_eq!(
            human_error("alertmanager", "alertmanager: no answer within 1 s"),
            "alertmanager did not answer in time"
        );
        assert_eq!(
            human_error("alertmanager", "alertmanager: an odd reply: more"),
            "alertmanager: an odd reply"
        );
        assert_eq!(human_error("loki", "loki"), "loki: loki");
    }

    #[test]
    fn common_failures_read_as_one_line() {
        let table = [
            (
                "etcd",
                "connecting to http://127.0.0.1:2379: status: Unavailable, message: \"error trying to connect: tcp connect error: Connection refused (os error 111)\"",
                "etcd 127.0.0.1:2379 refused the connection",
            ),
            (
                "alertmanager",
                "alertmanager: GET http://am.prod:9093/api/v2/alerts: operation timed out",
                "alertmanager am.prod:9093 did not answer in time",
            ),
            (
                "sensu-go",
                "sensu-go: GET https://sensu:8080/api/core/v2/events: 401 Unauthorized",
                "sensu-go sensu:8080 refused the credentials",
            ),
            (
                "loki",
                "loki: dns error: failed to lookup address information: Name or service not known",
                "loki is not a host name the resolver knows",
            ),
            ("etcd", "weird: thing happened", "etcd: weird"),
            (
                "sensu-go",
                "sensu-go: 401: the password from $SENSU_PW was rejected — check it",
                "sensu-go: 401: the password from $SENSU_PW was rejected — check it",
            ),
        ];
        for (kind, chain, want) in table {
            assert_eq!(human_error(kind, chain), want, "{chain}");
        }
    }

    #[test]
    fn a_crafted_error_cannot_draw() {
        let s = human_error("etcd", "\u{1b}[2Jboom: x");
        assert!(!s.contains('\u{1b}'), "{s:?}");
    }
}
