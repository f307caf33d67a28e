//! The headless console: the state, the sources' command channels and the audit log, behind one
//! entry point, [`Core::handle`]. Everything that happens — a key, a paste, a fact from a source,
//! the screen's layout, the clock, a frame reaching the terminal — is an [`Event`]; the core turns
//! it into a state change (the reducer's) and performs the commands the reducer returns: a change
//! goes through the audit log's gate, then to the source it is for; a discovered backend starts
//! its source; `:cluster` loads the target profile. What only the app can do comes back as an
//! [`Effect`].
//!
//! The app (`app.rs`) wires a terminal and tokio to this; the tests drive the very same core
//! without a terminal, so what they check is what the console does.

use futures::FutureExt;
use std::collections::HashMap;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::task::JoinHandle;
use tracing::{error, info};

use crate::audit::AuditLog;
use crate::config::{ChecksProfile, ClusterProfile, LogsProfile, MetricsProfile};
use crate::keymap::Keymap;
use crate::model::run::{RunMode, RunResult, RunSpec, TaskInfo, MAX_OUTPUT};
use crate::model::{AuditId, ClusterId, Command, Health, Msg, NotRecorded, SourceId, SourceKind};
use crate::sources::checks::ChecksSource;
use crate::sources::discovery::DiscoverySource;
use crate::sources::etcd::EtcdSource;
use crate::sources::logs::LogsSource;
use crate::sources::metrics::MetricsSource;
use crate::sources::supervise;
use crate::state::{self, State, Viewports};
use crate::theme::Theme;

/// Everything one console session runs with.
pub struct Settings {
    pub profile: ClusterProfile,
    /// The other clusters of a merged view (`--cluster a,b`, `--view NAME`), after `profile`;
    /// empty for a single cluster.
    pub more: Vec<ClusterProfile>,
    /// Run on the embedded simulated fleet instead of real backends.
    pub demo: bool,
    pub readonly: bool,
    /// The zone times are shown in at start, and the configured one `Z` also offers.
    pub zone: crate::model::DisplayZone,
    pub zone_configured: Option<chrono_tz::Tz>,
    /// Mouse capture (`--mouse` or `mouse = true` in `[defaults]`).
    pub mouse: bool,
    pub theme: Theme,
    pub keymap: Keymap,
    pub audit_log: PathBuf,
    pub user: String,
    /// Where `:cluster` finds other clusters; `None` where there is no config to read.
    pub clusters: Option<Arc<dyn Clusters>>,
    /// The cluster this session was switched from (`:cluster -` goes back to it).
    pub switched_from: Option<String>,
    /// Where the profile came from (`--cluster`, `ETCDCTL_ENDPOINTS`, …): the status bar says it.
    pub origin: Option<String>,
    /// The command line's history, kept across runs; `None`: kept for this session only.
    pub history_file: Option<PathBuf>,
    /// Where incident journals are written (`:incident start NAME`).
    pub journal_dir: PathBuf,
    /// Where the etcd revision clocks, and where each listing learned to cut its key ranges
    /// (`sources::listing_cuts`), are kept across runs (`None`: for this run only).
    pub clock_dir: Option<PathBuf>,
    /// The time the revision clock records pairs at (the system's; tests set their own).
    pub revclock_now: crate::model::revclock::Now,
}

impl Settings {
    /// A session on `profile` with the built-in keymap and theme and no other clusters: what the
    /// tests and one-off tools start from.
    pub fn for_profile(profile: ClusterProfile, audit_log: PathBuf, user: &str) -> Settings {
        Settings {
            profile,
            more: Vec::new(),
            demo: false,
            readonly: false,
            zone: crate::model::DisplayZone::Utc,
            zone_configured: None,
            mouse: false,
            theme: Theme::resolve(None, None, false).expect("the built-in theme parses"),
            keymap: Keymap::resolve(None).expect("the built-in keymap parses"),
            // Beside the audit log: a test's temporary directory holds both.
            journal_dir: audit_log
                .parent()
                .unwrap_or(std::path::Path::new("."))
                .join("journal"),
            clock_dir: audit_log.parent().map(|d| d.join("revclock")),
            revclock_now: crate::model::revclock::Now::from_fn(crate::clock::now),
            audit_log,
            user: user.to_string(),
            clusters: None,
            switched_from: None,
            origin: None,
            history_file: None,
        }
    }
}

/// The other clusters of the config, for `:cluster`. Loading a target fully (config, profile,
/// theme, keymap) before leaving means a bad name or a broken profile costs a message on the
/// status line, never the running session.
pub trait Clusters: Send + Sync {
    /// The cluster names the config defines.
    fn names(&self) -> Result<Vec<String>, String>;
    /// The clusters with their marks (read-only, accent), for the `:cluster` picker.
    fn entries(&self) -> Result<Vec<state::ClusterChoice>, String> {
        Ok(self
            .names()?
            .into_iter()
            .map(|name| state::ClusterChoice {
                name,
                readonly: false,
                accent: None,
            })
            .collect())
    }
    /// Everything needed to run `name`, or why it cannot be run.
    fn load(&self, name: &str) -> Result<Settings, String>;
}

/// What happened, as the core is told it.
#[derive(Debug)]
pub enum Event {
    /// A key, pressed at `at` on the console's monotonic clock.
    Key { key: KeyEvent, at: Instant },
    /// A bracketed paste: text, never keys.
    Paste(String),
    /// The mouse, already placed on the screen by the app (which pane, which row).
    Pointer(state::Pointer),
    /// A fact from a source.
    Msg(Msg),
    /// What this screen gives each pane (`ui::layout::viewports`), before drawing it.
    Layout(Viewports),
    /// The wall clock, before each frame and once a second.
    Tick(DateTime<Utc>),
    /// A frame reached the terminal at `at`; `popups_visible` is false when the screen was too
    /// small to draw them.
    FrameDrawn { at: Instant, popups_visible: bool },
}

/// What only the app can do.
pub enum Effect {
    Quit,
    /// Give the terminal back and stop, as ctrl-z does in any program; `fg` brings it back.
    Suspend,
    /// Run these settings next; they loaded, so the switch cannot fail on the way.
    Switch(Box<Settings>),
    /// Draw now rather than at the next frame slot: the user is waiting for it.
    DrawNow,
    /// Draw with this theme from now on (`:theme NAME`).
    Theme(Box<Theme>),
    /// A listing of this many members arrived (the app hands freed memory back after drawing it).
    Listed(usize),
    /// Put this text on the terminal's clipboard: the app writes OSC 52 to the terminal.
    Clipboard(String),
    /// Ring the bell and raise a desktop notification (OSC 9 / OSC 777) with this raw text.
    Notify {
        title: String,
        body: String,
    },
    /// Lend the terminal to this custom command until it exits (the app suspends the screen,
    /// runs it, restores and redraws, then reports `Msg::RunFinished` back).
    Foreground(Box<RunSpec>),
}

/// A running source: where its commands go, and its task.
struct Running {
    commands: Option<mpsc::Sender<Command>>,
    task: Option<JoinHandle<()>>,
    /// Dropped to stop a replaceable backend's task (`after_replaced`): unlike an abort, a task
    /// still waiting for the one it replaces finishes that wait and sends its mark first.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Runs `next` once `old` (the task that served `source` before, already told to stop) has
/// ended and the mark that its facts are all sent has gone down the same channel; until `stop`
/// fires. Told to stop while still waiting, it waits on and sends its mark all the same, so a
/// chain of quick replacements (A → B → C) marks every one and C starts after A has ended.
async fn after_replaced(
    old: Option<JoinHandle<()>>,
    source: SourceId,
    tx: mpsc::Sender<Msg>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
    next: futures::future::BoxFuture<'static, ()>,
) {
    if let Some(old) = old {
        let _ = old.await;
        if tx.send(Msg::SourceSwitched(source)).await.is_err() {
            return;
        }
    }
    tokio::select! {
        biased;
        _ = &mut stop => {}
        _ = next => {}
    }
}

impl Running {
    fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// A pane's backend, from the profile or found under the discovery prefix.
pub enum PaneBackend {
    Checks(ChecksProfile),
    Metrics(MetricsProfile),
    Logs(LogsProfile),
}

impl PaneBackend {
    /// A discovery entry's JSON for the pane `kind` (read with the same rules as the profile's
    /// TOML table).
    pub fn from_discovered(kind: SourceKind, json: &str) -> Result<PaneBackend, String> {
        let parsed = match kind {
            SourceKind::Checks => crate::config::checks_from_json(json).map(PaneBackend::Checks),
            SourceKind::Metrics => crate::config::metrics_from_json(json).map(PaneBackend::Metrics),
            SourceKind::Logs => crate::config::logs_from_json(json).map(PaneBackend::Logs),
            SourceKind::Etcd => return Err("etcd is not discovered".into()),
        };
        parsed.map_err(|e| e.to_string())
    }

    pub fn kind(&self) -> SourceKind {
        match self {
            PaneBackend::Checks(_) => SourceKind::Checks,
            PaneBackend::Metrics(_) => SourceKind::Metrics,
            PaneBackend::Logs(_) => SourceKind::Logs,
        }
    }

    /// The backend's name as the pane's title shows it.
    pub fn name(&self) -> &'static str {
        match self {
            PaneBackend::Checks(c) => c.kind.name(),
            PaneBackend::Metrics(m) => m.kind.name(),
            PaneBackend::Logs(l) => l.kind.name(),
        }
    }

    pub fn url(&self) -> &str {
        match self {
            PaneBackend::Checks(c) => &c.http.url,
            PaneBackend::Metrics(m) => &m.http.url,
            PaneBackend::Logs(l) => &l.http.url,
        }
    }

    /// Lines the logs pane buffers for this backend.
    pub fn buffer_lines(&self) -> Option<usize> {
        match self {
            PaneBackend::Logs(l) => Some(l.buffer_lines),
            _ => None,
        }
    }
}

pub struct Core {
    pub state: State,
    keymap: Keymap,
    audit: AuditLog,
    msg_tx: mpsc::Sender<Msg>,
    /// Where each cluster's sources send their facts (by `ClusterId`): `msg_tx` itself for a
    /// single cluster; in a merged view a channel per cluster whose forwarder wraps each fact in
    /// its cluster (`Msg::InCluster`), so the sources stay the single-cluster ones.
    cluster_tx: Vec<mpsc::Sender<Msg>>,
    sources: HashMap<SourceId, Running>,
    /// Tasks that serve no pane (discovery).
    helpers: Vec<JoinHandle<()>>,
    cluster: String,
    clusters: Option<Arc<dyn Clusters>>,
    /// A test hook (`OPSCONSOLE_TEST_PANIC=1`, read once at start): panic on the first key.
    panic_on_key: bool,
    /// What `:theme NAME` resolves with: the profile's accent, and whether NO_COLOR is set.
    accent: Option<String>,
    no_color: bool,
    history_file: Option<PathBuf>,
    journal_dir: PathBuf,
    clock_dir: Option<PathBuf>,
    revclock_now: crate::model::revclock::Now,
    /// Custom commands' processes still running (capture, pipe, background), by run: their
    /// process groups, all killed when the console stops.
    children: HashMap<AuditId, u32>,
    /// Where the etcd sources run (`sources::own_thread`): started with the first of them.
    etcd_thread: Option<crate::sources::own_thread::OwnThread>,
    /// Hints a full source queue could not take yet, offered again after every event.
    held_hints: crate::held_hints::HeldHints,
}

impl Core {
    /// Starts the session's sources (each sends its facts on `msg_tx`) and checks the audit log.
    pub fn start(settings: &Settings, msg_tx: mpsc::Sender<Msg>) -> anyhow::Result<Core> {
        let prefix = match (&settings.profile.etcd, settings.demo) {
            (_, true) => crate::sources::demo::PREFIX.to_string(),
            (Some(etcd), false) => etcd.prefix.clone(),
            // The other panes work without membership; the members pane says it has no etcd.
            (None, false) => String::new(),
        };
        let mut state = State::new(
            &settings.profile.name,
            &prefix,
            &settings.user,
            crate::clock::now(),
        );
        state.readonly = settings.readonly;
        state.zone = settings.zone;
        state.zone_configured = settings.zone_configured;
        state.logs.hist.zone = settings.zone.as_tz();
        state.previous_cluster = settings.switched_from.clone();
        state.keymap = settings.keymap.clone();
        state.guard = settings.profile.guard.clone();
        state.churn.flap_count = state.guard.flap_count;
        state.churn.flap_window = chrono::Duration::minutes(state.guard.flap_window_mins as i64);
        state.profile_origin = settings.origin.clone();
        if let Some(path) = &settings.history_file {
            state.history = read_history(path);
        }
        state.completions.themes = crate::theme::BUILTIN
            .iter()
            .map(|(n, _)| n.to_string())
            .collect();
        if let Some(names) = settings.clusters.as_ref().and_then(|c| c.names().ok()) {
            state.completions.clusters = names;
        }
        let mut core = Core {
            state,
            keymap: settings.keymap.clone(),
            audit: AuditLog::new(settings.audit_log.clone()),
            cluster_tx: vec![msg_tx.clone()],
            msg_tx,
            sources: HashMap::new(),
            helpers: Vec::new(),
            cluster: settings.profile.name.clone(),
            clusters: settings.clusters.clone(),
            panic_on_key: std::env::var_os("OPSCONSOLE_TEST_PANIC").is_some_and(|v| v == "1"),
            accent: settings.profile.accent.clone(),
            no_color: crate::theme::no_color(),
            history_file: settings.history_file.clone(),
            journal_dir: settings.journal_dir.clone(),
            clock_dir: settings.clock_dir.clone(),
            revclock_now: settings.revclock_now.clone(),
            children: HashMap::new(),
            etcd_thread: None,
            held_hints: Default::default(),
        };
        core.state.commands = settings.profile.commands.clone();
        core.state.link_templates = settings.profile.links.clone();
        let clusters = std::iter::once(&settings.profile)
            .chain(&settings.more)
            .map(|p| state::merged::ClusterInfo {
                name: p.name.clone(),
                accent: p.accent.clone(),
                readonly: p.readonly,
                guard: p.guard.clone(),
            })
            .collect();
        core.state.set_clusters(clusters);
        if settings.demo {
            core.start_demo();
        } else if settings.more.is_empty() {
            core.start_profile(ClusterId::default(), &settings.profile);
        } else {
            core.start_merged(settings);
        }
        if let Some(from) = &settings.switched_from {
            state::note(
                &mut core.state,
                format!(
                    "switched to cluster {} (from {from}; :cluster - goes back)",
                    settings.profile.name
                ),
            );
        }
        // Checked before anything can be attempted: a console that cannot record changes says so
        // at once. Each attempt writes to it again, so fixing it needs no restart.
        core.state.set_audit_run(crate::audit::run_id());
        if let Err(e) = core.audit.check() {
            error!(%e, path = %core.audit.path().display(), "audit log unwritable");
            let why = format!("{}: {e}", core.audit.path().display());
            state::audit_unwritable(&mut core.state, why);
        }
        Ok(core)
    }

    /// One event in, the state changed by the reducer, the commands performed.
    pub fn handle(&mut self, event: Event) -> Vec<Effect> {
        let mut effects = Vec::new();
        let cmds = match event {
            Event::Key { key, at } => {
                effects.push(Effect::DrawNow);
                self.key(key, at)
            }
            Event::Paste(text) => {
                effects.push(Effect::DrawNow);
                state::handle_paste(&mut self.state, &text)
            }
            Event::Pointer(p) => {
                effects.push(Effect::DrawNow);
                state::handle_pointer(&mut self.state, p)
            }
            Event::Msg(msg) => {
                if let Msg::RunFinished { id, .. } = &msg {
                    self.children.remove(id);
                }
                // A merged view's facts come wrapped in their cluster; what they are decides here.
                let fact = match &msg {
                    Msg::InCluster(_, inner) => inner.as_ref(),
                    other => other,
                };
                let listed = matches!(fact, Msg::MembersListed { .. });
                if let Msg::MembersListed { members, .. } = fact {
                    // A full listing is what the user is waiting for: draw it now.
                    effects.push(Effect::Listed(members.len()));
                    effects.push(Effect::DrawNow);
                }
                if matches!(
                    fact,
                    Msg::MembersAt { .. } | Msg::LogsAround { .. } | Msg::LogsHistogram { .. }
                ) {
                    // The answer to a step of the time cursor or a time jump: the user asked.
                    effects.push(Effect::DrawNow);
                }
                if matches!(
                    fact,
                    Msg::DeregisterDone { .. }
                        | Msg::RestoreDone { .. }
                        | Msg::SilenceDone { .. }
                        | Msg::RunFinished { .. }
                ) {
                    // An action's outcome: the user is waiting for it. It was drawn at the
                    // background pace, up to 900 ms after the key's frame ("deregistering …"
                    // stood that long after etcd had answered, BENCHMARKS.md tenth round).
                    effects.push(Effect::DrawNow);
                }
                if let Msg::MembersProgress { preview, .. } = fact {
                    // The first rows of a listing: as wanted as the rest.
                    if !preview.is_empty() && !self.state.members.synced {
                        effects.push(Effect::DrawNow);
                    }
                }
                let commands = state::update(&mut self.state, msg);
                if listed {
                    // A relist's old members (a million frees) are dropped on a thread of their
                    // own, not before the frame.
                    let old = state::take_discarded(&mut self.state);
                    if !old.is_empty() {
                        std::thread::spawn(move || drop(old));
                    }
                }
                commands
            }
            Event::Layout(v) if v != self.state.viewports => {
                state::set_viewports(&mut self.state, v)
            }
            Event::Layout(_) => Vec::new(),
            Event::Tick(now) => state::tick(&mut self.state, now),
            Event::FrameDrawn { at, popups_visible } => {
                state::frame_drawn(&mut self.state, at, popups_visible);
                Vec::new()
            }
        };
        self.perform(cmds, &mut effects);
        self.held_hints.retry();
        effects
    }

    /// Stops every source, and kills every custom command still running (no process is left
    /// behind: each runs in its own process group, and the whole group goes).
    pub fn stop(&mut self) {
        for r in self.sources.values_mut() {
            r.stop();
        }
        for t in self.helpers.drain(..) {
            t.abort();
        }
        if !self.children.is_empty() {
            let groups: Vec<u32> = self.children.drain().map(|(_, pid)| pid).collect();
            for &pid in &groups {
                kill_group(pid, libc::SIGTERM);
            }
            // A moment to exit cleanly, then whatever is left of the groups is killed.
            std::thread::sleep(std::time::Duration::from_millis(300));
            for &pid in &groups {
                kill_group(pid, libc::SIGKILL);
            }
            info!(tasks = groups.len(), "custom commands killed on exit");
        }
    }

    /// Whether custom commands' processes are running.
    pub fn running_children(&self) -> Vec<u32> {
        self.children.values().copied().collect()
    }

    /// Starts a custom command whose attempt is on disk: foreground goes to the app; the others
    /// are spawned here, each in its own process group, and report `Msg::RunFinished`.
    fn run(&mut self, spec: RunSpec, effects: &mut Vec<Effect>) {
        if spec.mode == RunMode::Foreground {
            effects.push(Effect::Foreground(Box::new(spec)));
            return;
        }
        let Some((program, args)) = spec.argv.split_first() else {
            return;
        };
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .process_group(0)
            .kill_on_drop(true)
            .stdin(if spec.stdin.is_some() {
                std::process::Stdio::piped()
            } else {
                std::process::Stdio::null()
            });
        let capture = spec.mode != RunMode::Background;
        if capture {
            cmd.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
        } else {
            cmd.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
        }
        let tx = self.msg_tx.clone();
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                let result = RunResult {
                    status: format!("could not start {program}: {e}"),
                    success: false,
                    output: capture.then(|| format!("could not start {program}: {e}")),
                    truncated: false,
                };
                let msg = Msg::RunFinished {
                    id: spec.id,
                    name: spec.name,
                    result,
                };
                let cmds = state::update(&mut self.state, msg);
                self.perform(cmds, effects);
                return;
            }
        };
        let pid = child.id().unwrap_or(0);
        info!(name = %spec.name, pid, mode = spec.mode.name(), "custom command started");
        self.children.insert(spec.id.clone(), pid);
        if spec.mode == RunMode::Background {
            let task = TaskInfo {
                id: spec.id.clone(),
                name: spec.name.clone(),
                pid,
                argv: spec.argv.clone(),
                started: crate::clock::now(),
            };
            let cmds = state::update(&mut self.state, Msg::TaskStarted(task));
            self.perform(cmds, effects);
        }
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let text = spec.stdin;
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt as _;
            if let (Some(mut pipe), Some(text)) = (stdin, text) {
                tokio::spawn(async move {
                    // A command that stops reading early is its business (EPIPE is not ours).
                    let _ = pipe.write_all(text.as_bytes()).await;
                    let _ = pipe.shutdown().await;
                });
            }
            let (out, err, status) =
                tokio::join!(read_capped(stdout), read_capped(stderr), child.wait());
            let (status, success) = match status {
                Ok(s) => exit_text(s),
                Err(e) => (format!("lost track of it: {e}"), false),
            };
            let (output, truncated) = if capture {
                let (mut o, t1) = out;
                let (e, t2) = err;
                if !e.is_empty() {
                    if !o.is_empty() && !o.ends_with('\n') {
                        o.push('\n');
                    }
                    o.push_str(&e);
                }
                (Some(o), t1 || t2)
            } else {
                (None, false)
            };
            let result = RunResult {
                status,
                success,
                output,
                truncated,
            };
            let _ = tx
                .send(Msg::RunFinished {
                    id: spec.id,
                    name: spec.name,
                    result,
                })
                .await;
        });
    }

    /// A link from a detail: opened with `xdg-open` (`open` on macOS) when there is a local
    /// display, else copied with OSC 52 (over ssh the terminal's machine gets it).
    fn open_url(&mut self, url: String, effects: &mut Vec<Effect>) {
        if !crate::model::run::is_web_url(&url) {
            state::note_error(&mut self.state, "only http(s) links are opened".into());
            return;
        }
        let host = crate::model::run::url_host(&url).unwrap_or("").to_string();
        let mac = cfg!(target_os = "macos");
        let display = mac
            || ["DISPLAY", "WAYLAND_DISPLAY"]
                .iter()
                .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()));
        if !display {
            effects.push(Effect::Clipboard(url));
            state::note(
                &mut self.state,
                format!("no local display: the link to {host} is on the clipboard (OSC 52)"),
            );
            return;
        }
        let opener = if mac { "open" } else { "xdg-open" };
        let spawned = std::process::Command::new(opener)
            .arg(&url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn();
        match spawned {
            Ok(mut child) => {
                // Reaped off the event loop; the opener returns as soon as the browser has it.
                std::thread::spawn(move || child.wait());
                state::note(&mut self.state, format!("opening {host} …"));
            }
            Err(e) => {
                effects.push(Effect::Clipboard(url));
                state::note_error(
                    &mut self.state,
                    format!("{opener}: {e} — the link to {host} is on the clipboard instead"),
                );
            }
        }
    }

    /// Kills a custom command's process group (the Tasks popup's kill); its end comes back as
    /// `Msg::RunFinished` from the task that waits for it.
    fn kill_task(&mut self, id: &AuditId) {
        match self.children.get(id) {
            Some(&pid) => kill_group(pid, libc::SIGTERM),
            None => state::note(&mut self.state, "that task has already ended".into()),
        }
    }

    /// Where this session's incident journals go.
    pub fn journal_dir(&self) -> &std::path::Path {
        &self.journal_dir
    }

    pub fn audit_path(&self) -> &std::path::Path {
        self.audit.path()
    }

    // ---- sources ----

    fn start_demo(&mut self) {
        self.state.demo = true;
        let (tx, rx) = mpsc::channel::<Command>(256);
        let task = supervise::spawn(
            self.state.source(SourceKind::Etcd),
            self.msg_tx.clone(),
            crate::sources::demo::DemoSource::new(self.msg_tx.clone(), rx).run(),
        );
        // The simulated fleet answers every pane's commands itself.
        for kind in SourceKind::ALL {
            if kind != SourceKind::Etcd {
                let source = self.state.source(kind);
                state::backend_started(&mut self.state, source, "demo", None);
            }
            self.sources.insert(
                self.state.source(kind),
                Running {
                    commands: Some(tx.clone()),
                    task: None,
                    stop: None,
                },
            );
        }
        if let Some(r) = self.sources.get_mut(&self.state.source(SourceKind::Etcd)) {
            r.task = Some(task);
        }
    }

    /// A merged view: every cluster's sources, each cluster sending on its own channel (a
    /// forwarder tags its facts with the cluster), so one cluster down or slow never holds up
    /// another's facts behind its own.
    fn start_merged(&mut self, settings: &Settings) {
        let profiles: Vec<&ClusterProfile> = std::iter::once(&settings.profile)
            .chain(&settings.more)
            .collect();
        self.cluster_tx.clear();
        for i in 0..profiles.len() {
            let c = ClusterId(i as u16);
            let (tx, mut rx) = mpsc::channel::<Msg>(256);
            let out = self.msg_tx.clone();
            self.helpers.push(tokio::spawn(async move {
                while let Some(msg) = rx.recv().await {
                    if out.send(Msg::InCluster(c, Box::new(msg))).await.is_err() {
                        break;
                    }
                }
            }));
            self.cluster_tx.push(tx);
        }
        for (i, p) in profiles.into_iter().enumerate() {
            self.start_profile(ClusterId(i as u16), p);
        }
    }

    /// A fact the core makes for cluster `c`'s source (it could not be asked): wrapped in its
    /// cluster in a merged view, as the source's own answer would be.
    fn tagged_for(&self, c: ClusterId, msg: Msg) -> Msg {
        if self.state.merged() {
            Msg::InCluster(c, Box::new(msg))
        } else {
            msg
        }
    }

    /// Where cluster `c`'s sources send their facts.
    fn tx_of(&self, c: ClusterId) -> mpsc::Sender<Msg> {
        self.cluster_tx
            .get(c.0 as usize)
            .cloned()
            .unwrap_or_else(|| self.msg_tx.clone())
    }

    /// Cluster `c`'s sources: one task per configured backend, each with its own command
    /// channel; a discovery watcher for the panes the profile leaves out.
    fn start_profile(&mut self, c: ClusterId, p: &ClusterProfile) {
        if !p.warnings.is_empty() {
            let source = SourceKind::Etcd.of(c);
            state::update(&mut self.state, Msg::Alert(source, p.warnings.join("; ")));
        }
        for kind in [SourceKind::Checks, SourceKind::Metrics, SourceKind::Logs] {
            self.state.health.insert(kind.of(c), Health::NotConfigured);
        }
        let etcd = p.etcd.clone();
        if let Some(etcd) = &etcd {
            self.run_etcd(c, etcd.clone());
        } else {
            self.state
                .health
                .insert(SourceKind::Etcd.of(c), Health::NotConfigured);
        }
        let configured = [
            p.checks.clone().map(PaneBackend::Checks),
            p.metrics.clone().map(PaneBackend::Metrics),
            p.logs.clone().map(PaneBackend::Logs),
        ];
        for backend in configured.into_iter().flatten() {
            state::backend_started(
                &mut self.state,
                backend.kind().of(c),
                backend.name(),
                backend.buffer_lines(),
            );
            state::backend_in(&mut self.state, backend.kind().of(c), backend.name());
            if let PaneBackend::Logs(l) = &backend {
                let fields = crate::state::logs::FieldChoice {
                    shown: l.fields.clone(),
                    hidden: l.hide_fields.clone(),
                };
                let continuation = l.continuation.clone();
                self.state.logs.set_line_rules(c, fields, continuation);
            }
            self.run_backend(c, backend);
        }
        // Panes left out of the profile are looked up in etcd; profile values always win.
        let wanted: Vec<SourceKind> = [
            (SourceKind::Checks, p.checks.is_none()),
            (SourceKind::Metrics, p.metrics.is_none()),
            (SourceKind::Logs, p.logs.is_none()),
        ]
        .into_iter()
        .filter_map(|(kind, missing)| missing.then_some(kind))
        .collect();
        let Some(etcd) = etcd else { return };
        if !wanted.is_empty() && !p.discovery_prefix.is_empty() {
            // Its panic leaves the discovered panes as they are; say so rather than fail one.
            let on_panic = Msg::Notice(
                SourceKind::Etcd.of(c),
                format!("discovery under {} stopped after an internal error; restart opsconsole to follow changes", p.discovery_prefix),
            );
            let discovery = supervise::supervised(
                DiscoverySource::new(etcd, p.discovery_prefix.clone(), wanted, self.tx_of(c))
                    .in_cluster(c)
                    .run(),
                self.tx_of(c),
                on_panic,
            );
            let task = self.on_etcd_thread(discovery);
            self.helpers.push(task);
        }
    }

    fn run_etcd(&mut self, c: ClusterId, etcd: crate::config::EtcdProfile) {
        let (tx, rx) = mpsc::channel::<Command>(256);
        let source = SourceKind::Etcd.of(c);
        let task = self.on_etcd_thread(supervise::supervised(
            EtcdSource::new(etcd, self.tx_of(c), rx)
                .in_cluster(c)
                .with_clock_dir(self.clock_dir.clone())
                .with_revclock_now(self.revclock_now.clone())
                .run(),
            self.tx_of(c),
            supervise::failed(source),
        ));
        self.sources.insert(
            source,
            Running {
                commands: Some(tx),
                task: Some(task),
                stop: None,
            },
        );
    }

    /// Runs an etcd task on the etcd sources' own thread, started with the first of them; on the
    /// console's runtime if that thread cannot be started (it would only cost idle CPU).
    fn on_etcd_thread<F>(&mut self, fut: F) -> JoinHandle<()>
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        if self.etcd_thread.is_none() {
            match crate::sources::own_thread::OwnThread::start("etcd") {
                Ok(t) => self.etcd_thread = Some(t),
                Err(e) => {
                    tracing::warn!(error = %e, "no thread of their own for the etcd sources; they share the runtime");
                }
            }
        }
        match &self.etcd_thread {
            Some(t) => t.spawn(fut),
            None => tokio::spawn(fut),
        }
    }

    /// Starts (or replaces) the source of `backend`'s pane. The state already says it is
    /// connecting (`state::backend_started`).
    fn run_backend(&mut self, cluster: ClusterId, backend: PaneBackend) {
        let source = backend.kind().of(cluster);
        let tx = self.tx_of(cluster);
        let (cmd_tx, cmd_rx) = mpsc::channel::<Command>(64);
        // The new source starts once the old one has stopped and its mark is sent: its facts
        // come after every one of the old source's.
        let old = self.replace_source(source);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let after = |run| after_replaced(old, source, tx.clone(), stop_rx, run);
        let task = match backend {
            PaneBackend::Checks(c) => Ok(supervise::spawn(
                source,
                tx.clone(),
                after(
                    ChecksSource::new(c, tx.clone(), cmd_rx)
                        .in_cluster(cluster)
                        .run()
                        .boxed(),
                ),
            )),
            PaneBackend::Metrics(m) => match MetricsSource::new(m, tx.clone(), cmd_rx) {
                Ok(s) => Ok(supervise::spawn(
                    source,
                    tx.clone(),
                    after(s.in_cluster(cluster).run().boxed()),
                )),
                Err(e) => {
                    // Nothing replaces it: the old one's facts are still let pass only after it.
                    let mark = after(futures::future::ready(()).boxed());
                    self.helpers.push(tokio::spawn(mark));
                    Err(e)
                }
            },
            PaneBackend::Logs(l) => Ok(supervise::spawn(
                source,
                tx.clone(),
                after(
                    LogsSource::new(l, tx.clone())
                        .in_cluster(cluster)
                        .with_commands(cmd_rx)
                        .run()
                        .boxed(),
                ),
            )),
        };
        match task {
            Ok(task) => {
                self.sources.insert(
                    source,
                    Running {
                        commands: Some(cmd_tx),
                        task: Some(task),
                        stop: Some(stop_tx),
                    },
                );
            }
            Err(e) => {
                let failed = Msg::Health(source, Health::Failed(format!("{e:#}")));
                let mut effects = Vec::new();
                let cmds = state::update(&mut self.state, failed);
                self.perform(cmds, &mut effects);
            }
        }
    }

    /// Stops the task serving `source`, if one runs, and returns it to be waited for; from now
    /// until its mark (`Msg::SourceSwitched`) the state drops what it still sends. A replaceable
    /// backend's task is told to stop (it may still owe its own predecessor's mark); others are
    /// aborted.
    fn replace_source(&mut self, source: SourceId) -> Option<JoinHandle<()>> {
        self.held_hints.forget(source);
        let mut running = self.sources.remove(&source)?;
        let old = running.task.take()?;
        match running.stop.take() {
            Some(stop) => drop(stop),
            None => old.abort(),
        }
        *self.state.switching.entry(source).or_default() += 1;
        Some(old)
    }

    /// The command channel of this cluster's source of `kind`, if one runs.
    fn commands_in(&self, c: ClusterId, kind: SourceKind) -> Option<&mpsc::Sender<Command>> {
        self.sources
            .get(&kind.of(c))
            .and_then(|r| r.commands.as_ref())
    }

    // ---- keys ----

    fn key(&mut self, key: KeyEvent, at: Instant) -> Vec<Command> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        if self.panic_on_key {
            panic!("OPSCONSOLE_TEST_PANIC=1: forced panic on a key press (test hook)");
        }
        press(&mut self.state, &self.keymap, key, at)
    }

    // ---- commands ----

    /// Does what the reducer asked: the I/O side of a state change.
    fn perform(&mut self, cmds: Vec<Command>, effects: &mut Vec<Effect>) {
        // Each command with the cluster it is for: the session's own unless the reducer named one
        // (`Command::InCluster`) or the change's audit attempt does (a merged view's deregister).
        let own = self.state.cluster_id;
        let mut queue: std::collections::VecDeque<(ClusterId, Command)> =
            cmds.into_iter().map(|c| (own, c)).collect();
        while let Some((cur, cmd)) = queue.pop_front() {
            match cmd {
                Command::InCluster(c, inner) => queue.push_front((c, *inner)),
                // The gate: the attempt line is on disk before the change is sent, or nothing is.
                Command::Gated(gated) => {
                    let target = self
                        .state
                        .cluster_by_name(&gated.attempt.cluster)
                        .unwrap_or(cur);
                    match self.audit.release(*gated) {
                        Ok(released) => {
                            state::audit_writable(&mut self.state);
                            queue.push_front((target, released));
                        }
                        Err(refused) => {
                            let NotRecorded { attempt, error } = *refused;
                            error!(%error, id = %attempt.id, "audit log write failed; nothing sent");
                            let why = format!("{}: {error}", self.audit.path().display());
                            state::mutation_refused(&mut self.state, attempt, why);
                        }
                    }
                }
                Command::Audit(entry) => match self.audit.append(&entry) {
                    Ok(()) => state::audit_writable(&mut self.state),
                    Err(e) => {
                        error!(%e, id = %entry.id, "audit log write failed");
                        let why = format!("{}: {e}", self.audit.path().display());
                        state::audit_line_lost(&mut self.state, &entry, why);
                    }
                },
                Command::SwitchCluster(name) => {
                    if let Some(next) = self.load_cluster(&name) {
                        effects.push(Effect::Switch(next));
                    }
                }
                Command::ListClusters => self.list_clusters(),
                Command::Quit => effects.push(Effect::Quit),
                Command::Suspend => effects.push(Effect::Suspend),
                Command::SetTheme(name) => {
                    match Theme::resolve(Some(&name), self.accent.as_deref(), self.no_color) {
                        Ok(theme) => {
                            state::note(&mut self.state, format!("theme {name}"));
                            effects.push(Effect::Theme(Box::new(theme)));
                        }
                        Err(e) => state::note_error(&mut self.state, format!("theme {name}: {e}")),
                    }
                }
                Command::RecordHistory(line) => {
                    if let Some(path) = &self.history_file {
                        if let Err(e) = append_history(path, &line) {
                            info!(%e, path = %path.display(), "command history not saved");
                        }
                    }
                }
                Command::StartSource { source, spec } => {
                    match PaneBackend::from_discovered(source.kind, &spec) {
                        Ok(backend) => self.run_backend(source.cluster, backend),
                        // The reducer checked it; only a bug gets here.
                        Err(e) => error!(%e, "a discovered backend the reducer accepted"),
                    }
                }
                Command::StopSource(source) => {
                    let old = self.replace_source(source);
                    let tx = self.tx_of(source.cluster);
                    let (_stop, stop) = tokio::sync::oneshot::channel();
                    let ready = futures::future::ready(()).boxed();
                    let mark = after_replaced(old, source, tx, stop, ready);
                    self.helpers.push(tokio::spawn(mark));
                }
                // Hints: newest wins in the source; one a full queue refuses is held and offered
                // again (`held_hints`), never lost.
                cmd @ (Command::LogsScope(_)
                | Command::MetricsQuery(_)
                | Command::MetricsIdle
                | Command::WatchLeases(_)) => {
                    let kind = match &cmd {
                        Command::LogsScope(_) => SourceKind::Logs,
                        Command::MetricsQuery(_) | Command::MetricsIdle => SourceKind::Metrics,
                        _ => SourceKind::Etcd,
                    };
                    if let Some(tx) = self.commands_in(cur, kind).cloned() {
                        self.held_hints.send(kind.of(cur), &tx, cmd);
                    }
                }
                Command::Copy(text) => effects.push(Effect::Clipboard(text)),
                Command::Notify { title, body, hook } => {
                    if let Some(args) = hook {
                        run_notify_hook(args);
                    }
                    effects.push(Effect::Notify { title, body });
                }
                Command::Journal { incident, entry } => {
                    match crate::journal::append(&self.journal_dir, &incident, &entry) {
                        Ok(()) => self.state.journal_problem = None,
                        // Said once per problem, not at every line; the audit log stays the gate.
                        Err(e) if self.state.journal_problem.as_ref() != Some(&e) => {
                            self.state.journal_problem = Some(e.clone());
                            state::note_error(&mut self.state, e);
                        }
                        Err(_) => {}
                    }
                }
                Command::WriteJournal { incident, path } => {
                    match write_journal(
                        &self.journal_dir,
                        &incident,
                        path.as_deref(),
                        self.state.zone,
                    ) {
                        Ok(text) => state::note(&mut self.state, text),
                        Err(e) => state::note_error(&mut self.state, e),
                    }
                }
                Command::Run { spec, .. } => self.run(*spec, effects),
                Command::KillTask(id) => self.kill_task(&id),
                Command::OpenUrl(url) => self.open_url(url, effects),
                Command::SaveLogs {
                    path,
                    text,
                    lines,
                    overwrite,
                } => match save(&path, &text, overwrite) {
                    Ok(full) => state::note(
                        &mut self.state,
                        format!("wrote {lines} lines to {}", full.display()),
                    ),
                    Err(e) => state::note_error(&mut self.state, e),
                },
                Command::LogsAround(at) => {
                    let sent = self
                        .commands_in(cur, SourceKind::Logs)
                        .map(|tx| tx.try_send(Command::LogsAround(at)).is_ok())
                        .unwrap_or(false);
                    if !sent {
                        let lines = Err("the logs source is not running".to_string());
                        let msg = self.tagged_for(cur, Msg::LogsAround { at, lines });
                        let cmds = state::update(&mut self.state, msg);
                        queue.extend(cmds.into_iter().map(|c| (cur, c)));
                    }
                }
                Command::LogsHistogram(query) => {
                    let sent = self
                        .commands_in(cur, SourceKind::Logs)
                        .map(|tx| tx.try_send(Command::LogsHistogram(query.clone())).is_ok())
                        .unwrap_or(false);
                    if !sent {
                        let result = Err("the logs source is not running".to_string());
                        let msg = self.tagged_for(cur, Msg::LogsHistogram { query, result });
                        let cmds = state::update(&mut self.state, msg);
                        queue.extend(cmds.into_iter().map(|c| (cur, c)));
                    }
                }
                Command::AlertsAt(at) => {
                    if let Err(why) = self.send_in(cur, SourceKind::Metrics, cmd) {
                        let result = Err(why);
                        let msg = self.tagged_for(cur, Msg::AlertsAt { at, result });
                        let cmds = state::update(&mut self.state, msg);
                        queue.extend(cmds.into_iter().map(|c| (cur, c)));
                    }
                }
                Command::MembersAt(at) => {
                    if let Err(why) = self.send_in(cur, SourceKind::Etcd, cmd) {
                        let result = Err(crate::model::PastUnknown::Failed(why));
                        let msg = self.tagged_for(cur, Msg::MembersAt { at, result });
                        let cmds = state::update(&mut self.state, msg);
                        queue.extend(cmds.into_iter().map(|c| (cur, c)));
                    }
                }
                Command::FetchHistory { .. } | Command::LeaseInfo { .. } => {
                    if let Err(why) = self.send_in(cur, SourceKind::Etcd, cmd) {
                        state::note_error(&mut self.state, why);
                    }
                }
                cmd @ (Command::Silence { .. }
                | Command::Unsilence { .. }
                | Command::ExtendSilence { .. }
                | Command::Deregister { .. }
                | Command::Restore { .. }) => {
                    let (kind, id) = match &cmd {
                        Command::Silence { audit, .. }
                        | Command::Unsilence { audit, .. }
                        | Command::ExtendSilence { audit, .. } => {
                            (SourceKind::Checks, audit.id().clone())
                        }
                        Command::Deregister { audit, .. } | Command::Restore { audit, .. } => {
                            (SourceKind::Etcd, audit.id().clone())
                        }
                        _ => continue,
                    };
                    if let Err(why) = self.send_in(cur, kind, cmd) {
                        queue
                            .push_back((cur, state::mutation_not_sent(&mut self.state, &id, &why)));
                    }
                }
            }
        }
    }

    /// Hands `cmd` to the source of `kind` without waiting: a source that cannot take it now is
    /// said to be busy (the change is not sent) rather than stalling every key behind it.
    fn send_in(&self, c: ClusterId, kind: SourceKind, cmd: Command) -> Result<(), String> {
        let Some(tx) = self.commands_in(c, kind) else {
            return Err(match kind {
                SourceKind::Checks => "no checks backend is running for this cluster".into(),
                _ => format!("no {} source is running", kind.label()),
            });
        };
        tx.try_send(cmd).map_err(|e| match e {
            TrySendError::Full(_) => format!(
                "the {} source is busy with earlier requests; try again",
                kind.label()
            ),
            TrySendError::Closed(_) => {
                format!(
                    "the {} source has stopped; restart opsconsole",
                    kind.label()
                )
            }
        })
    }

    /// Loads `name` while this cluster keeps running; on failure says why and stays.
    fn load_cluster(&mut self, name: &str) -> Option<Box<Settings>> {
        let Some(clusters) = &self.clusters else {
            state::note_error(
                &mut self.state,
                "no config to switch clusters from".to_string(),
            );
            return None;
        };
        match clusters.load(name) {
            Ok(mut next) => {
                info!(from = %self.cluster, to = name, "switching cluster");
                next.switched_from = Some(self.cluster.clone());
                Some(Box::new(next))
            }
            Err(e) => {
                info!(to = name, error = %e, "cluster switch refused");
                let text = format!("cannot switch to {name}, staying on {}: {e}", self.cluster);
                state::note_error(&mut self.state, text);
                None
            }
        }
    }

    fn list_clusters(&mut self) {
        let Some(clusters) = &self.clusters else {
            state::note_error(
                &mut self.state,
                "no config to list clusters from".to_string(),
            );
            return;
        };
        match clusters.entries() {
            Ok(entries) => {
                self.state.completions.clusters = entries.iter().map(|c| c.name.clone()).collect();
                state::open_cluster_picker(&mut self.state, entries);
            }
            Err(e) => state::note_error(&mut self.state, format!("cannot list the clusters: {e}")),
        }
    }
}

/// Signal `sig` to the process group `pid` leads (a custom command and whatever it started).
fn kill_group(pid: u32, sig: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    if pid > 1 {
        // SAFETY: kill(2) with a negative pid signals that process group; no memory is involved.
        unsafe {
            libc::kill(-pid, sig);
        }
    }
}

/// How a process ended, in words, and whether that is success.
pub fn exit_text(status: std::process::ExitStatus) -> (String, bool) {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => (format!("exit {code}"), code == 0),
        (None, Some(sig)) => (format!("killed by signal {sig}"), false),
        _ => ("ended".into(), false),
    }
}

/// A pipe read to its end, the first [`MAX_OUTPUT`] bytes kept (the rest read and dropped, so
/// the command never blocks on a full pipe); lossy UTF-8, and whether it was cut.
async fn read_capped(pipe: Option<impl tokio::io::AsyncRead + Unpin>) -> (String, bool) {
    use tokio::io::AsyncReadExt as _;
    let Some(mut pipe) = pipe else {
        return (String::new(), false);
    };
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    let mut cut = false;
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_OUTPUT.saturating_sub(kept.len());
                if n > room {
                    cut = true;
                }
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    (String::from_utf8_lossy(&kept).into_owned(), cut)
}

/// The history file's lines, oldest first (the last [`state::input::HISTORY_MAX`]); none when
/// it cannot be read.
fn read_history(path: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let skip = lines.len().saturating_sub(state::input::HISTORY_MAX);
    lines.into_iter().skip(skip).collect()
}

/// Appends `line` to the history file (mode 0600: command lines may name hosts); rewrites it
/// to its last entries once it holds twice as many.
fn append_history(path: &std::path::Path, line: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let line = line.replace(['\n', '\r'], " ");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    writeln!(f, "{line}")?;
    drop(f);
    let text = std::fs::read_to_string(path)?;
    if text.lines().count() > 2 * state::input::HISTORY_MAX {
        let keep = read_history(path).join("\n") + "\n";
        std::fs::write(path, keep)?;
    }
    Ok(())
}

/// `:w PATH` (`~` expanded): a new file, or — with `overwrite` (`:w!`) — any. Says where it went,
/// or why not in one line.
/// `:journal`: the hand-off of `incident` in markdown, to `path` or beside its journal.
fn write_journal(
    dir: &std::path::Path,
    incident: &str,
    path: Option<&str>,
    utc: crate::model::DisplayZone,
) -> Result<String, String> {
    let (entries, bad) = crate::journal::read(dir, incident)?;
    let text = crate::model::journal::markdown(incident, &entries, utc);
    let target = match path {
        Some(p) => crate::paths::expand_tilde(p),
        None => dir.join(format!("{incident}.md")),
    };
    std::fs::write(&target, text).map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    let skipped = if bad > 0 {
        format!(" ({bad} unreadable journal lines skipped)")
    } else {
        String::new()
    };
    Ok(format!(
        "wrote the hand-off of incident {incident} to {}{skipped}",
        target.display()
    ))
}

fn save(path: &str, text: &str, overwrite: bool) -> Result<PathBuf, String> {
    use std::io::Write;
    let full = crate::paths::expand_tilde(path);
    let mut open = std::fs::OpenOptions::new();
    open.write(true);
    if overwrite {
        open.create(true).truncate(true);
    } else {
        open.create_new(true);
    }
    let mut f = open.open(&full).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            format!("{} exists — :w! {path} overwrites it", full.display())
        }
        _ => format!("cannot write {}: {e}", full.display()),
    })?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.flush())
        .map_err(|e| format!("cannot write {}: {e}", full.display()))?;
    Ok(full)
}

impl Drop for Core {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A key pressed at `at` (the console's monotonic clock): the keymap says what it does where the
/// console is (`Keymap::action`, the one place a key becomes an action), the reducer does it.
pub fn press(state: &mut State, keymap: &Keymap, key: KeyEvent, at: Instant) -> Vec<Command> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    if let Some((action, label)) = keymap.action(state.key_context(), &key) {
        return state::handle_key(state, action, &label, at);
    }
    // A terminal sends Esc and a key typed right after it as one alt-key (the ESC prefix); when
    // no alt-binding claims it here, it is what the user typed: Esc, then the key.
    let modifiers = key.modifiers;
    if modifiers.contains(KeyModifiers::ALT)
        && !modifiers.contains(KeyModifiers::CONTROL)
        && matches!(key.code, KeyCode::Char(_))
    {
        let mut out = press(
            state,
            keymap,
            KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE),
            at,
        );
        let plain = KeyEvent::new(key.code, modifiers - KeyModifiers::ALT);
        out.extend(press(state, keymap, plain, at));
        return out;
    }
    Vec::new()
}

/// The `notify_command` hook: its argument list run as it is (no shell), output discarded,
/// reaped in the background; a hook that cannot start is logged, never shown as a failure of
/// the notification itself.
fn run_notify_hook(args: Vec<String>) {
    let Some((program, rest)) = args.split_first() else {
        return;
    };
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("notify_command: no runtime to run it on");
        return;
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(rest)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    match cmd.spawn() {
        Ok(mut child) => {
            handle.spawn(async move {
                if let Err(e) = child.wait().await {
                    tracing::warn!(%e, "notify_command: waiting for it");
                }
            });
        }
        Err(e) => tracing::warn!(%e, program = %program, "notify_command: could not start it"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::KvEntry;
    use crate::state::{Pane, Popup};

    fn state() -> State {
        let mut s = State::new("prod", "/services/", "alice", chrono::Utc::now());
        let entries = (1..=3)
            .map(|i| KvEntry {
                key: format!("/services/web/web-{i}").into_bytes(),
                value: br#"{"addr":"10.0.0.1"}"#.to_vec(),
                create_revision: i,
                mod_revision: i,
                version: 1,
                lease: 0,
            })
            .collect();
        let at = s.now;
        state::update(&mut s, Msg::listing("/services/", 3, entries, at));
        s.focus = Pane::Members;
        s
    }

    /// Esc then `j` typed quickly reaches the console as alt-j (the terminal's ESC prefix):
    /// unbound as an alt-key, it is the two keys the user typed — the popup closes, the cursor
    /// moves.
    #[test]
    fn esc_and_a_key_typed_together_are_two_keys_not_an_alt_key() {
        let keymap = Keymap::resolve(None).unwrap();
        let mut s = state();
        let at = Instant::now();
        let key = |c: char, m: KeyModifiers| KeyEvent::new(KeyCode::Char(c), m);
        press(&mut s, &keymap, key('g', KeyModifiers::NONE), at);
        let first = s.members.selected().map(|m| m.key().to_vec());
        press(&mut s, &keymap, key('?', KeyModifiers::NONE), at);
        assert!(matches!(s.popup, Some(Popup::Help { .. })));
        press(&mut s, &keymap, key('j', KeyModifiers::ALT), at);
        assert!(s.popup.is_none(), "Esc closed the help");
        let now = s.members.selected().map(|m| m.key().to_vec());
        assert!(now.is_some() && now != first, "j moved the cursor");
        // An alt-key the keymap binds is that binding: alt-b in the command line is a word left.
        press(&mut s, &keymap, key(':', KeyModifiers::NONE), at);
        for c in "at x".chars() {
            press(&mut s, &keymap, key(c, KeyModifiers::NONE), at);
        }
        press(&mut s, &keymap, key('b', KeyModifiers::ALT), at);
        assert!(
            s.input.is_some(),
            "alt-b is bound in the line editor: still typing"
        );
    }
}
