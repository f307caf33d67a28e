//! Why a firing check is quiet, karma-style: active, silenced, inhibited, or acked (claimed by
//! someone with a short silence whose comment starts `ACK <user>:`). Acks are silences in the
//! backend — Alertmanager and Sensu have no ack of their own — so the comment is the only mark
//! that tells an ack from a maintenance silence, and both ways of reading it live here.

use chrono::{DateTime, Utc};

use super::{CheckResult, Silence};

/// The comment prefix that makes a silence an ack.
pub const ACK_PREFIX: &str = "ACK ";

/// `ACK alice: looking at it`: the comment an ack silence carries.
pub fn ack_comment(user: &str, note: &str) -> String {
    let note = note.trim();
    if note.is_empty() {
        format!("{ACK_PREFIX}{user}")
    } else {
        format!("{ACK_PREFIX}{user}: {note}")
    }
}

/// The user and note of an ack comment; `None` for any other comment.
pub fn parse_ack_comment(comment: &str) -> Option<(&str, &str)> {
    let rest = comment.strip_prefix(ACK_PREFIX)?;
    let (user, note) = match rest.split_once(':') {
        Some((u, n)) => (u.trim(), n.trim()),
        None => (rest.trim(), ""),
    };
    (!user.is_empty() && !user.contains(char::is_whitespace)).then_some((user, note))
}

/// An ack on a check: who, since when, until when, and the silence that carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct Ack {
    pub user: String,
    pub note: String,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub silence_id: String,
}

impl Ack {
    pub fn of(s: &Silence) -> Option<Ack> {
        let (user, note) = parse_ack_comment(&s.reason)?;
        Some(Ack {
            user: user.to_string(),
            note: note.to_string(),
            since: s.begin.or(s.updated_at),
            until: s.expire_at,
            silence_id: s.id.clone(),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Mute {
    Active,
    Silenced,
    Inhibited,
    Acked(Ack),
}

impl Mute {
    pub fn is_active(&self) -> bool {
        matches!(self, Mute::Active)
    }
}

/// The silences covering a row: the ones the backend names on it, then (Sensu, and our own
/// silences before the next poll) the ones that match it.
pub fn covering<'a>(r: &CheckResult, silences: &'a [Silence]) -> Vec<&'a Silence> {
    let mut out: Vec<&Silence> = silences
        .iter()
        .filter(|s| r.silenced_by.contains(&s.id))
        .collect();
    if out.is_empty() && r.silenced {
        out = silences.iter().filter(|s| s.matches(r)).collect();
    }
    out
}

/// A row's state. An ack wins over a plain silence (it is the more specific claim), and a
/// silence over an inhibition (silencing is what a person did; Alertmanager reports both).
pub fn mute_of(r: &CheckResult, silences: &[Silence]) -> Mute {
    if r.silenced {
        let newest_ack = covering(r, silences)
            .into_iter()
            .filter_map(Ack::of)
            .max_by_key(|a| a.until);
        return match newest_ack {
            Some(a) => Mute::Acked(a),
            None => Mute::Silenced,
        };
    }
    if !r.inhibited_by.is_empty() {
        return Mute::Inhibited;
    }
    Mute::Active
}

/// Firing rows and how many of them are muted which way: the header's
/// `23 firing (5 silenced, 8 inhibited, 2 acked)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MuteCounts {
    pub firing: usize,
    pub silenced: usize,
    pub inhibited: usize,
    pub acked: usize,
}

impl MuteCounts {
    pub fn add(&mut self, r: &CheckResult, m: &Mute) {
        if r.status == 0 {
            return;
        }
        self.firing += 1;
        match m {
            Mute::Active => {}
            Mute::Silenced => self.silenced += 1,
            Mute::Inhibited => self.inhibited += 1,
            Mute::Acked(_) => self.acked += 1,
        }
    }

    pub fn muted(&self) -> usize {
        self.silenced + self.inhibited + self.acked
    }

    /// `23 firing (5 silenced, 8 inhibited, 2 acked)`, naming only the kinds present.
    pub fn text(&self) -> String {
        let parts: Vec<String> = [
            (self.silenced, "silenced"),
            (self.inhibited, "inhibited"),
            (self.acked, "acked"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        if parts.is_empty() {
            format!("{} firing", self.firing)
        } else {
            format!("{} firing ({})", self.firing, parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn silence(id: &str, reason: &str, begin: i64, end: i64) -> Silence {
        Silence {
            id: id.into(),
            reason: reason.into(),
            begin: DateTime::from_timestamp(begin, 0),
            expire_at: DateTime::from_timestamp(end, 0),
            ..Default::default()
        }
    }

    #[test]
    fn ack_comments_round_trip() {
        assert_eq!(ack_comment("alice", "on it"), "ACK alice: on it");
        assert_eq!(ack_comment("alice", "  "), "ACK alice");
        assert_eq!(
            parse_ack_comment("ACK alice: on it"),
            Some(("alice", "on it"))
        );
        assert_eq!(parse_ack_comment("ACK alice"), Some(("alice", "")));
        assert_eq!(parse_ack_comment("ACK: nobody"), None);
        assert_eq!(parse_ack_comment("maintenance window"), None);
        assert_eq!(parse_ack_comment("ACKNOWLEDGED by ops"), None);
    }

    #[test]
    fn state_of_a_row() {
        let maint = silence("m", "kernel upgrade", 100, 10_000);
        let ack = silence("a", "ACK bob: disk", 200, 2_000);
        let mut r = CheckResult {
            status: 2,
            ..Default::default()
        };
        assert_eq!(mute_of(&r, &[]), Mute::Active);
        r.inhibited_by = vec!["f00".into()];
        assert_eq!(mute_of(&r, &[]), Mute::Inhibited);
        r.silenced = true;
        r.silenced_by = vec!["m".into()];
        let all = [maint.clone(), ack.clone()];
        assert_eq!(mute_of(&r, &all), Mute::Silenced);
        r.silenced_by.push("a".into());
        match mute_of(&r, &all) {
            Mute::Acked(a) => {
                assert_eq!((a.user.as_str(), a.silence_id.as_str()), ("bob", "a"));
                assert_eq!(a.since, DateTime::from_timestamp(200, 0));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn counts_name_only_what_is_there() {
        let mut c = MuteCounts::default();
        let firing = CheckResult {
            status: 2,
            ..Default::default()
        };
        let ok = CheckResult::default();
        c.add(&firing, &Mute::Active);
        c.add(&firing, &Mute::Inhibited);
        c.add(&firing, &Mute::Inhibited);
        c.add(&ok, &Mute::Silenced);
        assert_eq!(c.text(), "3 firing (2 inhibited)");
        c.add(&firing, &Mute::Silenced);
        assert_eq!(c.text(), "4 firing (1 silenced, 2 inhibited)");
    }
}
