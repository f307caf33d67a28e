//! The built console in a real terminal (`common::tmux`, 160×45) against a real etcd: a [`Fleet`]
//! of registered members with a config pointing at it, the console started on it, and the screen
//! read back (the members pane, the message line, the status bar). [`super::panes`] reads the four
//! panes of a full screen.

use std::path::PathBuf;
use std::time::Duration;

use super::panes::member_row;
use super::tmux::{Settle, Tmux, SOON};
use super::{write_config, Etcd};

pub const WIDTH: u16 = 160;
pub const HEIGHT: u16 = 45;

/// How long a change made in etcd may take to show on screen (the watch is push-based), or a
/// screen that should already be right may take to become so (within a poll).
pub const LIVE: Duration = Duration::from_secs(3);

/// The title the panes console's wrapper sets before starting it; it must still be the title
/// afterwards.
pub const TITLE: &str = "e2e-title";

/// opsconsole with `args` in a private tmux server, in a 160×45 window (`common::tmux`: XDG dirs
/// and HOME in a fresh tempdir; the wrapper prints `EXIT=` and `TTY=` after the program).
pub fn start(args: &[&str]) -> Tmux {
    Tmux::sized("opsconsole-e2e", WIDTH, HEIGHT).start(args)
}

/// opsconsole with `args` in a 160×45 window whose wrapper sets the pane title to [`TITLE`] before
/// starting it (and prints no `TTY=` line after it). The panes keep changing (sparklines, clocks),
/// so `wait_screen` asks only that its predicate still holds on a second capture 80 ms later
/// ([`Settle::StillTrue`]).
pub fn start_panes(args: &[&str]) -> Tmux {
    Tmux::sized("opsconsole-e2e-panes", WIDTH, HEIGHT)
        .title(TITLE)
        .report_tty(false)
        .settle(Settle::StillTrue)
        .start(args)
}

/// The members pane is the left half of the top rows; `row` finds the table line of `instance`.
pub fn members_pane(screen: &str) -> Vec<String> {
    screen
        .lines()
        .take(HEIGHT as usize * 55 / 100)
        .map(|l| l.chars().take(WIDTH as usize / 2).collect())
        .collect()
}

pub fn row(screen: &str, instance: &str) -> Option<String> {
    members_pane(screen).into_iter().find(|l| {
        // The scoped row starts with `▶`; the role comes next, then the instance.
        let mut words = l
            .trim_matches('│')
            .split_whitespace()
            .skip_while(|w| *w == "▶");
        words.nth(1) == Some(instance)
    })
}

pub fn has_row(screen: &str, instance: &str) -> bool {
    row(screen, instance).is_some()
}

/// The message line just above the status bar.
pub fn message_line(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().collect();
    lines
        .len()
        .checked_sub(2)
        .map(|i| lines[i].to_string())
        .unwrap_or_default()
}

/// The status bar (the last line) starts with the cluster badge.
pub fn on_cluster(screen: &str, name: &str) -> bool {
    screen
        .lines()
        .last()
        .is_some_and(|l| l.trim_start().starts_with(name))
}

/// The user's first `j`: nothing is selected at start; on a [`web_fleet`] this lands on web-1
/// (the first row) and scopes the panes to it.
pub fn select_first(t: &Tmux) {
    t.send(&["j"]);
    t.wait_text("scope: web-1");
}

/// Runs `line` on the console's command line (`:`).
pub fn command(t: &Tmux, line: &str) {
    t.send(&[":"]);
    t.wait_text("Enter apply");
    t.type_text(line);
    t.send(&["Enter"]);
}

/// A real etcd with members registered, and a config file with cluster `test` pointing at it.
pub struct Fleet {
    pub etcd: Etcd,
    _config_dir: tempfile::TempDir,
    pub config: PathBuf,
    /// The members under /services/ the console must show before a test starts.
    instances: Vec<String>,
    /// Started with [`start_panes`] (else [`start`]).
    panes: bool,
}

impl Fleet {
    /// etcd with `members` (key, value) put in order; `extra_config` lands inside
    /// `[clusters.test]`, with `{endpoint}` replaced by etcd's.
    fn start(members: &[(&str, &str)], extra_config: &str, panes: bool) -> Fleet {
        let etcd = Etcd::start();
        for (key, value) in members {
            etcd.ctl(&["put", key, value]);
        }
        let extra = extra_config.replace("{endpoint}", &etcd.endpoint());
        let (dir, config) = write_config(&etcd.endpoint(), "/services/", &extra);
        let instances = members
            .iter()
            .filter(|(key, _)| key.starts_with("/services/"))
            .filter_map(|(key, _)| key.rsplit('/').next().map(str::to_string))
            .collect();
        Fleet {
            etcd,
            _config_dir: dir,
            config,
            instances,
            panes,
        }
    }

    /// The console on cluster `test` with `extra_args`, once it shows every member.
    pub fn console(&self, extra_args: &[&str]) -> Tmux {
        let mut args = vec![
            "--cluster",
            "test",
            "--config",
            self.config.to_str().unwrap(),
        ];
        args.extend_from_slice(extra_args);
        let t = if self.panes {
            start_panes(&args)
        } else {
            start(&args)
        };
        let shown = |s: &str, i: &str| {
            if self.panes {
                member_row(s, i).is_some()
            } else {
                has_row(s, i)
            }
        };
        t.wait_screen(&format!("the members {:?}", self.instances), SOON, |s| {
            self.instances.iter().all(|i| shown(s, i))
        });
        t
    }

    /// `etcdctl get key` (empty when the key is gone).
    pub fn get(&self, key: &str) -> String {
        self.etcd.ctl(&["get", key])
    }

    pub fn has(&self, key: &str) -> bool {
        self.etcd.ctl(&["get", key]).contains(key)
    }
}

/// Three registrations under /services/, one per value shape: JSON with a version and a start
/// time (web-1), Go-style `Addr` (web-2), plain host:port (redis-1). Sorted by role, redis-1 comes
/// first.
pub fn fleet(extra_config: &str) -> Fleet {
    Fleet::start(
        &[
            (
                "/services/web/web-1",
                r#"{"addr":"10.0.0.1","port":80,"version":"1.4.2","started_at":"2024-01-01T00:00:00Z"}"#,
            ),
            ("/services/web/web-2", r#"{"Addr":"10.0.0.2:8080"}"#),
            ("/services/redis/redis-1", "10.0.1.1:6379"),
        ],
        extra_config,
        false,
    )
}

/// web-1 (the first row) and web-2 under /services/, and db-1 under /other/ for a second cluster
/// on the same etcd (`{endpoint}` in `extra_config`).
pub fn web_fleet(extra_config: &str) -> Fleet {
    Fleet::start(
        &[
            ("/services/web/web-1", r#"{"addr":"10.0.0.1","port":80}"#),
            ("/services/web/web-2", r#"{"addr":"10.0.0.2","port":80}"#),
            ("/other/db/db-1", r#"{"addr":"10.0.9.1","port":5432}"#),
        ],
        extra_config,
        false,
    )
}

/// web-1 and web-2, for a console whose four panes are read with [`super::panes`] (started with
/// [`start_panes`]).
pub fn panes_fleet(extra_config: &str) -> Fleet {
    Fleet::start(
        &[
            (
                "/services/web/web-1",
                r#"{"addr":"10.0.0.1","port":80,"version":"1.4.2"}"#,
            ),
            ("/services/web/web-2", r#"{"Addr":"10.0.0.2:8080"}"#),
        ],
        extra_config,
        true,
    )
}
