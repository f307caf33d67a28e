//! The event loop: `select!` over terminal input, source messages, the clock and signals; owns
//! `State` and the command senders; redraws only when something changed, at most ~30 times a second.

use std::collections::{HashMap, VecDeque};
use std::io::{self, BufWriter, Stdout, Write};
use std::mem::ManuallyDrop;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use crossterm::event::{Event, EventStream, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use futures::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{error, info};

use crate::audit::AuditLog;
use crate::config::ClusterProfile;
use crate::keymap::{Context, Key, Keymap};
use crate::model::{Command, Health, Msg, SourceId, SourceKind};
use crate::sources::checks::ChecksSource;
use crate::sources::discovery::DiscoverySource;
use crate::sources::etcd::EtcdSource;
use crate::sources::logs::LogsSource;
use crate::sources::metrics::MetricsSource;
use crate::sources::supervise;
use crate::state::{self, FormKey, Popup, State, TextKey};
use crate::theme::Theme;

const FRAME: Duration = Duration::from_millis(33);
/// Messages applied before the loop looks at the keyboard again, so a firehose cannot starve keys.
const DRAIN_LIMIT: usize = 4096;

pub struct Settings {
    pub profile: ClusterProfile,
    /// Run on the embedded simulated fleet instead of real backends.
    pub demo: bool,
    pub readonly: bool,
    pub utc: bool,
    pub theme: Theme,
    pub keymap: Keymap,
    pub audit_log: PathBuf,
    pub user: String,
    /// Where `:cluster` finds other clusters; `None` where there is no config to read.
    pub clusters: Option<std::sync::Arc<dyn Clusters>>,
    /// The cluster this session was switched from (`:cluster -` goes back to it).
    pub switched_from: Option<String>,
}

/// The other clusters of the config, for `:cluster`. Loading a target fully (config, profile,
/// theme, keymap) before leaving means a bad name or a broken profile costs a message on the
/// status line, never the running session.
pub trait Clusters: Send + Sync {
    /// The cluster names the config defines.
    fn names(&self) -> Result<Vec<String>, String>;
    /// Everything needed to run `name`, or why it cannot be run.
    fn load(&self, name: &str) -> Result<Settings, String>;
}

pub enum Exit {
    Quit,
    /// Run these settings next; they loaded, so the switch cannot fail on the way.
    SwitchCluster(Box<Settings>),
    /// The terminal went away (closed pty) or a signal asked us to stop.
    Terminated(&'static str),
}

/// Whether we changed the terminal and have not put it back yet.
static TERMINAL_TAKEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Puts the terminal back: raw mode off, main screen, cursor shown. Runs once per takeover, so a
/// second call (the guard's drop after the panic hook) cannot move the cursor over the panic message.
pub fn restore_terminal() {
    if !TERMINAL_TAKEN.swap(false, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        LeaveAlternateScreen,
        crossterm::cursor::Show,
        crossterm::event::DisableBracketedPaste
    );
}

struct TerminalGuard {
    /// Buffered so each frame reaches the terminal in one write, never half-drawn.
    terminal: ManuallyDrop<Terminal<CrosstermBackend<BufWriter<Stdout>>>>,
}

impl TerminalGuard {
    fn enter() -> anyhow::Result<Self> {
        enable_raw_mode().context("switching the terminal to raw mode (is stdout a terminal?)")?;
        TERMINAL_TAKEN.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut out = io::stdout();
        // Bracketed paste: a paste arrives as one `Event::Paste`, never as keys that could open
        // and confirm a dialog (`restore_terminal` turns it off again).
        if let Err(e) = execute!(
            out,
            EnterAlternateScreen,
            crossterm::cursor::Hide,
            crossterm::event::EnableBracketedPaste
        ) {
            restore_terminal();
            return Err(e).context("entering the alternate screen");
        }
        let terminal = Terminal::new(CrosstermBackend::new(BufWriter::with_capacity(
            1 << 16,
            out,
        )))
        .inspect_err(|_| restore_terminal())?;
        Ok(TerminalGuard {
            terminal: ManuallyDrop::new(terminal),
        })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
        // ratatui's own Drop shows the cursor and, when that write fails because the terminal is
        // gone, `eprintln!`s — a panic when stderr is that same dead terminal. Show it here; if that
        // fails too, there is no terminal to tidy and the Terminal is not dropped.
        if self.terminal.show_cursor().is_ok() {
            // SAFETY: dropped once, here; the field is never used again.
            unsafe { ManuallyDrop::drop(&mut self.terminal) }
        }
    }
}

/// The thread that installed the panic hook: the one that runs the event loop (`block_on`).
/// Source tasks run on the runtime's worker threads, never on it.
static UI_THREAD: std::sync::OnceLock<std::thread::ThreadId> = std::sync::OnceLock::new();

/// Installs (once) a panic hook that writes the message and a backtrace to the log file. A panic
/// on the event loop's thread ends the console: the terminal is restored first, then one line goes
/// to stderr (not the default hook's several, which would land wherever the cursor is), and the
/// process exits with status 101. A panic anywhere else — a source task — leaves the screen alone:
/// its supervisor (`sources::supervise`) marks that pane failed and the rest keeps working.
pub fn install_panic_hook() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let _ = UI_THREAD.set(std::thread::current().id());
        std::panic::set_hook(Box::new(|info| {
            let backtrace = std::backtrace::Backtrace::force_capture();
            let thread = std::thread::current();
            let thread_name = thread.name().unwrap_or("unnamed");
            error!(%info, thread = thread_name, %backtrace, "panic");
            if UI_THREAD.get() == Some(&thread.id()) {
                restore_terminal();
                crate::cli::say(format_args!(
                    "internal error, stopping: {} — the backtrace is in {}",
                    panic_summary(info),
                    crate::paths::log_file().display()
                ));
            }
        }));
    });
}

/// `MESSAGE at FILE:LINE` on one line, short enough to read (the full text is in the log file).
fn panic_summary(info: &std::panic::PanicHookInfo) -> String {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let message = crate::model::text::sanitize(&message).into_owned();
    let message = match message.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message,
    };
    match info.location() {
        Some(l) => format!("{message} at {}:{}", l.file(), l.line()),
        None => message,
    }
}

pub async fn run(settings: Settings) -> anyhow::Result<Exit> {
    let started = Instant::now();
    let (msg_tx, mut msg_rx) = mpsc::channel::<Msg>(1024);
    let (mut state, mut senders, tasks) = if settings.demo {
        start_demo(&settings, msg_tx)
    } else {
        start_sources(&settings, msg_tx)?
    };
    let mut guard = TerminalGuard::enter()?;
    let mut events = EventStream::new();
    let mut clock = tokio::time::interval(Duration::from_secs(1));
    let mut trimmer = crate::memory::Trimmer::new();
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut sighup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    // In raw mode ctrl-c is a key; these come from other processes (kill -INT / -QUIT).
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut sigquit = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::quit())?;

    if let Some(from) = &settings.switched_from {
        state::note(
            &mut state,
            format!(
                "switched to cluster {} (from {from}; :cluster - goes back)",
                settings.profile.name
            ),
        );
    }
    // Checked before anything can be attempted: a console that cannot record changes says so
    // at once. Each attempt writes to it again, so fixing it needs no restart.
    let audit = AuditLog::new(settings.audit_log.clone());
    state.set_audit_run(crate::audit::run_id());
    if let Err(e) = audit.check() {
        error!(%e, path = %audit.path().display(), "audit log unwritable");
        state::audit_unwritable(&mut state, format!("{}: {e}", audit.path().display()));
    }
    // Set by `:cluster NAME` once NAME has loaded.
    let mut switch_to: Option<Box<Settings>> = None;

    let mut dirty = true;
    let mut last_draw = Instant::now() - FRAME;
    // Freed listing buffers are handed back after the frame that shows the listing, not before it.
    let mut trim_after_frame = false;
    let mut membership_shown = false;
    let exit = loop {
        if dirty && last_draw.elapsed() >= FRAME {
            let mut cmds = state::tick(&mut state, Utc::now());
            // The layout of this frame, given to the reducer before drawing it: the lists scroll
            // and the sources are asked for what this screen shows.
            let size = guard.terminal.size().context("reading the terminal size")?;
            let viewports = crate::ui::layout::viewports(size.into(), &state);
            if viewports != state.viewports {
                cmds.extend(state::set_viewports(&mut state, viewports));
            }
            dispatch(
                &mut state,
                &settings,
                &senders,
                &audit,
                cmds,
                &mut switch_to,
            )
            .await;
            // Synchronized update: terminals that support it show the frame atomically.
            let _ = crossterm::queue!(
                guard.terminal.backend_mut(),
                crossterm::terminal::BeginSynchronizedUpdate
            );
            let area = guard
                .terminal
                .draw(|f| crate::ui::draw(f, &state, &settings.theme, &settings.keymap))
                .context("drawing the screen")?
                .area;
            let backend = guard.terminal.backend_mut();
            let _ = crossterm::queue!(backend, crossterm::terminal::EndSynchronizedUpdate);
            let _ = backend.flush();
            state::frame_drawn(
                &mut state,
                std::time::Instant::now(),
                crate::ui::shows_popups(area),
            );
            dirty = false;
            last_draw = Instant::now();
            if !membership_shown && state.members.synced {
                membership_shown = true;
                info!(
                    ms = started.elapsed().as_millis() as u64,
                    members = state.members.len(),
                    "first frame with the membership"
                );
            }
            if std::mem::take(&mut trim_after_frame) {
                crate::memory::release_free_memory();
            }
        }
        let next_frame = last_draw + FRAME;
        tokio::select! {
            biased;
            ev = events.next() => match ev {
                Some(Ok(Event::Key(key))) => {
                    let cmds = on_key(&mut state, &settings.keymap, key, std::time::Instant::now());
                    dispatch(&mut state, &settings, &senders, &audit, cmds, &mut switch_to).await;
                    dirty = true;
                    // A key press is answered at once, not at the next frame slot.
                    last_draw = Instant::now() - FRAME;
                }
                Some(Ok(Event::Paste(text))) => {
                    let cmds = state::handle_paste(&mut state, &text);
                    dispatch(&mut state, &settings, &senders, &audit, cmds, &mut switch_to).await;
                    dirty = true;
                    // A key press is answered at once, not at the next frame slot.
                    last_draw = Instant::now() - FRAME;
                }
                Some(Ok(Event::Resize(..))) => {
                    guard.terminal.autoresize().ok();
                    dirty = true;
                    last_draw = Instant::now() - FRAME;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    error!(%e, "terminal input failed");
                    break Exit::Terminated("terminal input failed");
                }
                None => break Exit::Terminated("terminal closed"),
            },
            _ = sigterm.recv() => break Exit::Terminated("SIGTERM"),
            _ = sighup.recv() => break Exit::Terminated("SIGHUP"),
            _ = sigint.recv() => break Exit::Terminated("SIGINT"),
            _ = sigquit.recv() => break Exit::Terminated("SIGQUIT"),
            msg = msg_rx.recv() => {
                let Some(msg) = msg else { break Exit::Terminated("all sources stopped") };
                let mut cmds = Vec::new();
                let mut next = Some(msg);
                let mut n = 0;
                while let Some(m) = next.take() {
                    match m {
                        Msg::Discovered { pane, value, .. } => discover(&mut state, &mut senders, pane, value),
                        m => {
                            // Only listings: trimming after log bursts was measured and gained
                            // nothing (the lines' memory is live, not freed buffers).
                            let listed = match &m {
                                Msg::MembersSnapshot { entries, .. } => Some(entries.len()),
                                Msg::MembersListed { members, .. } => Some(members.len()),
                                _ => None,
                            };
                            if let Some(n) = listed {
                                trimmer.note(n);
                                // A full listing is what the user is waiting for: draw it now,
                                // not at the next frame slot.
                                last_draw = Instant::now() - FRAME;
                            }
                            cmds.extend(state::update(&mut state, m));
                        }
                    }
                    n += 1;
                    if n < DRAIN_LIMIT {
                        next = msg_rx.try_recv().ok();
                    }
                }
                dispatch(&mut state, &settings, &senders, &audit, cmds, &mut switch_to).await;
                dirty = true;
                trim_after_frame |= trimmer.due(std::time::Instant::now());
            }
            _ = clock.tick() => {
                dirty = true;
                // Also here: a re-list soon after the last trim is trimmed once the interval passed.
                if trimmer.due(std::time::Instant::now()) {
                    crate::memory::release_free_memory();
                }
            }
            _ = tokio::time::sleep_until(next_frame), if dirty => {}
        }
        if let Some(next) = switch_to.take() {
            break Exit::SwitchCluster(next);
        }
        if state.should_quit {
            break Exit::Quit;
        }
    };
    for t in tasks {
        t.abort();
    }
    for (_, t) in senders.panes.drain() {
        t.abort();
    }
    drop(guard);
    info!("console stopped");
    Ok(exit)
}

type Started = (State, Senders, Vec<tokio::task::JoinHandle<()>>);

fn base_state(settings: &Settings, prefix: &str) -> State {
    let mut state = State::new(&settings.profile.name, prefix, &settings.user, Utc::now());
    state.readonly = settings.readonly;
    state.utc = settings.utc;
    state.previous_cluster = settings.switched_from.clone();
    state
}

/// One task per configured backend, each with its own command channel; a discovery watcher for
/// the panes the profile leaves out.
fn start_sources(settings: &Settings, msg_tx: mpsc::Sender<Msg>) -> anyhow::Result<Started> {
    let etcd_profile = settings
        .profile
        .etcd
        .clone()
        .context("this cluster profile has no etcd table")?;
    let mut state = base_state(settings, &etcd_profile.prefix);
    let p = &settings.profile;
    if !p.warnings.is_empty() {
        let etcd = state.source(SourceKind::Etcd);
        state::update(&mut state, Msg::Notice(etcd, p.warnings.join("; ")));
    }
    for kind in [SourceKind::Checks, SourceKind::Metrics, SourceKind::Logs] {
        state
            .health
            .insert(state.source(kind), Health::NotConfigured);
    }
    let mut tasks = Vec::new();
    let (etcd_tx, etcd_rx) = mpsc::channel::<Command>(256);
    tasks.push(supervise::spawn(
        state.source(SourceKind::Etcd),
        msg_tx.clone(),
        EtcdSource::new(etcd_profile.clone(), msg_tx.clone(), etcd_rx)
            .in_cluster(state.cluster_id)
            .run(),
    ));
    let mut senders = Senders {
        etcd: etcd_tx,
        checks: None,
        metrics: None,
        logs: None,
        panes: HashMap::new(),
        msg_tx: msg_tx.clone(),
    };
    if let Some(c) = p.checks.clone() {
        senders.start_checks(&mut state, c);
    }
    if let Some(m) = p.metrics.clone() {
        senders.start_metrics(&mut state, m);
    }
    if let Some(l) = p.logs.clone() {
        senders.start_logs(&mut state, l);
    }
    // Panes left out of the profile are looked up in etcd; profile values always win.
    let wanted: Vec<SourceKind> = [
        (SourceKind::Checks, p.checks.is_none()),
        (SourceKind::Metrics, p.metrics.is_none()),
        (SourceKind::Logs, p.logs.is_none()),
    ]
    .into_iter()
    .filter_map(|(id, missing)| missing.then_some(id))
    .collect();
    if !wanted.is_empty() && !p.discovery_prefix.is_empty() {
        // Its panic leaves the discovered panes as they are; say so rather than fail one of them.
        let on_panic = Msg::Notice(
            state.source(SourceKind::Etcd),
            format!("discovery under {} stopped after an internal error; restart opsconsole to follow changes", p.discovery_prefix),
        );
        tasks.push(tokio::spawn(supervise::supervised(
            DiscoverySource::new(
                etcd_profile,
                p.discovery_prefix.clone(),
                wanted,
                msg_tx.clone(),
            )
            .in_cluster(state.cluster_id)
            .run(),
            msg_tx,
            on_panic,
        )));
    }
    Ok((state, senders, tasks))
}

impl Senders {
    fn replace_task(&mut self, pane: SourceId, task: Option<tokio::task::JoinHandle<()>>) {
        if let Some(old) = self.panes.remove(&pane) {
            old.abort();
        }
        if let Some(t) = task {
            self.panes.insert(pane, t);
        }
    }

    fn start_checks(&mut self, state: &mut State, c: crate::config::ChecksProfile) {
        let (tx, rx) = mpsc::channel::<Command>(64);
        state.backends.checks = Some(c.kind.name().to_string());
        state
            .health
            .insert(state.source(SourceKind::Checks), Health::Connecting);
        let t = supervise::spawn(
            state.source(SourceKind::Checks),
            self.msg_tx.clone(),
            ChecksSource::new(c, self.msg_tx.clone(), rx)
                .in_cluster(state.cluster_id)
                .run(),
        );
        self.replace_task(state.source(SourceKind::Checks), Some(t));
        self.checks = Some(tx);
    }

    fn start_metrics(&mut self, state: &mut State, m: crate::config::MetricsProfile) {
        let (tx, rx) = mpsc::channel::<Command>(16);
        state.backends.metrics = Some(m.kind.name().to_string());
        match MetricsSource::new(m, self.msg_tx.clone(), rx).map(|s| s.in_cluster(state.cluster_id))
        {
            Ok(src) => {
                state
                    .health
                    .insert(state.source(SourceKind::Metrics), Health::Connecting);
                let t = supervise::spawn(
                    state.source(SourceKind::Metrics),
                    self.msg_tx.clone(),
                    src.run(),
                );
                self.replace_task(state.source(SourceKind::Metrics), Some(t));
                self.metrics = Some(tx);
                // Ask again for the current view on the new backend.
                state.metrics = Default::default();
            }
            Err(e) => {
                self.replace_task(state.source(SourceKind::Metrics), None);
                self.metrics = None;
                state.health.insert(
                    state.source(SourceKind::Metrics),
                    Health::Failed(format!("{e:#}")),
                );
            }
        }
    }

    fn start_logs(&mut self, state: &mut State, l: crate::config::LogsProfile) {
        state.backends.logs = Some(l.kind.name().to_string());
        state.logs = crate::state::logs::Logs::with_capacity(l.buffer_lines);
        state
            .health
            .insert(state.source(SourceKind::Logs), Health::Connecting);
        let (tx, rx) = mpsc::channel::<Command>(16);
        let t = supervise::spawn(
            state.source(SourceKind::Logs),
            self.msg_tx.clone(),
            LogsSource::new(l, self.msg_tx.clone())
                .in_cluster(state.cluster_id)
                .with_commands(rx)
                .run(),
        );
        self.replace_task(state.source(SourceKind::Logs), Some(t));
        self.logs = Some(tx);
    }

    fn stop(&mut self, state: &mut State, pane: SourceId) {
        self.replace_task(pane, None);
        state.health.insert(pane, Health::NotConfigured);
        match pane.kind {
            SourceKind::Checks => {
                self.checks = None;
                state.backends.checks = None;
                state.checks = Default::default();
            }
            SourceKind::Metrics => {
                self.metrics = None;
                state.backends.metrics = None;
                state.metrics = Default::default();
            }
            SourceKind::Logs => {
                self.logs = None;
                state.backends.logs = None;
                state.logs = Default::default();
            }
            SourceKind::Etcd => {}
        }
    }
}

/// A discovery key changed: start, replace or stop that pane's source. Bad values are reported
/// and the running source is kept.
fn discover(state: &mut State, senders: &mut Senders, pane: SourceId, value: Option<String>) {
    let name = pane.label();
    let Some(text) = value else {
        senders.stop(state, pane);
        state::note(
            state,
            format!("{name}: discovery entry removed; pane not configured"),
        );
        return;
    };
    let started = match pane.kind {
        SourceKind::Checks => crate::config::checks_from_json(&text).map(|c| {
            let url = c.http.url.clone();
            senders.start_checks(state, c);
            url
        }),
        SourceKind::Metrics => crate::config::metrics_from_json(&text).map(|m| {
            let url = m.http.url.clone();
            senders.start_metrics(state, m);
            url
        }),
        SourceKind::Logs => crate::config::logs_from_json(&text).map(|l| {
            let url = l.http.url.clone();
            senders.start_logs(state, l);
            url
        }),
        SourceKind::Etcd => return,
    };
    match started {
        Ok(url) => {
            info!(pane = name, %url, "discovered backend");
            state::note(state, format!("{name}: discovered {url}"));
        }
        Err(e) => state::note_error(
            state,
            format!("{name}: discovery entry is invalid ({e}); keeping the current source"),
        ),
    }
}

/// The simulated fleet answers every command itself.
fn start_demo(settings: &Settings, msg_tx: mpsc::Sender<Msg>) -> Started {
    let mut state = base_state(settings, crate::sources::demo::PREFIX);
    state.demo = true;
    state.backends.checks = Some("demo".into());
    state.backends.metrics = Some("demo".into());
    state.backends.logs = Some("demo".into());
    let (tx, rx) = mpsc::channel::<Command>(256);
    let task = supervise::spawn(
        state.source(SourceKind::Etcd),
        msg_tx.clone(),
        crate::sources::demo::DemoSource::new(msg_tx, rx).run(),
    );
    let senders = Senders {
        etcd: tx.clone(),
        checks: Some(tx.clone()),
        metrics: Some(tx),
        logs: None,
        panes: HashMap::new(),
        msg_tx: mpsc::channel(1).0,
    };
    (state, senders, vec![task])
}

/// Keys → text input, or → keymap → action; `at` is when the key arrived (the console's clock).
pub fn on_key(
    state: &mut State,
    keymap: &Keymap,
    key: KeyEvent,
    at: std::time::Instant,
) -> Vec<Command> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    if std::env::var_os("OPSCONSOLE_TEST_PANIC").is_some_and(|v| v == "1") {
        panic!("OPSCONSOLE_TEST_PANIC=1: forced panic on a key press (test hook)");
    }
    if state.input.is_some() {
        let text = match key.code {
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => TextKey::Esc,
            KeyCode::Char(c) => TextKey::Char(c),
            KeyCode::Backspace => TextKey::Backspace,
            KeyCode::Enter => TextKey::Enter,
            KeyCode::Esc => TextKey::Esc,
            _ => return Vec::new(),
        };
        return state::handle_text(state, text);
    }
    if let Some(Popup::SilenceForm(_)) = state.popup {
        let form_key = match key.code {
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => FormKey::Esc,
            KeyCode::Char(c) => FormKey::Char(c),
            KeyCode::Backspace => FormKey::Backspace,
            KeyCode::Up => FormKey::Up,
            KeyCode::Down => FormKey::Down,
            KeyCode::Left => FormKey::Left,
            KeyCode::Right => FormKey::Right,
            KeyCode::Tab => FormKey::Tab,
            KeyCode::BackTab => FormKey::BackTab,
            KeyCode::Enter => FormKey::Enter,
            KeyCode::Esc => FormKey::Esc,
            _ => return Vec::new(),
        };
        return state::handle_form(state, form_key);
    }
    if let (Some(Popup::PickSilence { .. }), KeyCode::Enter) = (&state.popup, key.code) {
        return state::handle_key(state, crate::action::Action::Confirm, "enter", at);
    }
    let ctx = match state.popup {
        Some(Popup::ConfirmDeregister { .. })
        | Some(Popup::ConfirmSilence(_))
        | Some(Popup::ConfirmUnsilence { .. }) => Context::Confirm,
        Some(_) => Context::Popup,
        None => state.focus.context(),
    };
    let Some(k) = Key::from_event(&key) else {
        return Vec::new();
    };
    match keymap.lookup(ctx, &k) {
        Some(action) => state::handle_key(state, action, &k.label(), at),
        None => Vec::new(),
    }
}

/// Where each source takes its commands.
pub struct Senders {
    pub etcd: mpsc::Sender<Command>,
    pub checks: Option<mpsc::Sender<Command>>,
    pub metrics: Option<mpsc::Sender<Command>>,
    pub logs: Option<mpsc::Sender<Command>>,
    /// Pane source tasks, replaceable when discovery changes an endpoint.
    panes: HashMap<SourceId, tokio::task::JoinHandle<()>>,
    msg_tx: mpsc::Sender<Msg>,
}

#[allow(clippy::too_many_arguments)]
async fn dispatch(
    state: &mut State,
    settings: &Settings,
    senders: &Senders,
    audit: &AuditLog,
    cmds: Vec<Command>,
    switch_to: &mut Option<Box<Settings>>,
) {
    let etcd = &senders.etcd;
    let mut queue: VecDeque<Command> = cmds.into();
    while let Some(cmd) = queue.pop_front() {
        match cmd {
            // The gate: the attempt line is on disk before the change is sent, or nothing is sent.
            Command::Gated(gated) => match audit.release(*gated) {
                Ok(released) => {
                    state::audit_writable(state);
                    queue.push_front(released);
                }
                Err(refused) => {
                    let crate::model::NotRecorded { attempt, error } = *refused;
                    error!(%error, id = %attempt.id, "audit log write failed; nothing sent");
                    state::mutation_refused(
                        state,
                        attempt,
                        format!("{}: {error}", audit.path().display()),
                    );
                }
            },
            Command::SwitchCluster(name) => {
                if let Some(next) = load_cluster(state, settings, &name) {
                    *switch_to = Some(next);
                }
            }
            Command::ListClusters => list_clusters(state, settings),
            Command::Audit(entry) => match audit.append(&entry) {
                Ok(()) => state::audit_writable(state),
                Err(e) => {
                    error!(%e, id = %entry.id, "audit log write failed");
                    state::audit_line_lost(
                        state,
                        &entry,
                        format!("{}: {e}", audit.path().display()),
                    );
                }
            },
            Command::Quit => {}
            Command::LogsScope(_) => {
                if let Some(tx) = &senders.logs {
                    let _ = tx.try_send(cmd);
                }
            }
            Command::MetricsQuery(_) => {
                if let Some(tx) = &senders.metrics {
                    // Newest wins in the source; a full queue just means one is already pending.
                    let _ = tx.try_send(cmd);
                }
            }
            cmd @ (Command::Silence { .. } | Command::Unsilence { .. }) => {
                let id = match &cmd {
                    Command::Silence { audit, .. } | Command::Unsilence { audit, .. } => {
                        audit.id().clone()
                    }
                    _ => continue,
                };
                let sent = match &senders.checks {
                    Some(tx) => tx.send(cmd).await.is_ok(),
                    None => false,
                };
                if !sent {
                    queue.push_back(state::mutation_not_sent(
                        state,
                        &id,
                        "no checks backend is running for this cluster",
                    ));
                }
            }
            Command::WatchLeases(_) => {
                // Only a hint; dropping it when the source is busy is harmless.
                let _ = etcd.try_send(cmd);
            }
            Command::Deregister { ref audit, .. } => {
                let id = audit.id().clone();
                if etcd.send(cmd).await.is_err() {
                    queue.push_back(state::mutation_not_sent(
                        state,
                        &id,
                        "the etcd source has stopped; restart opsconsole",
                    ));
                }
            }
            Command::FetchHistory { .. } => {
                if etcd.send(cmd).await.is_err() {
                    state::note_error(
                        state,
                        "the etcd source has stopped; restart opsconsole".to_string(),
                    );
                }
            }
        }
    }
}

/// Loads `name` while this cluster keeps running; on failure says why and stays.
fn load_cluster(state: &mut State, settings: &Settings, name: &str) -> Option<Box<Settings>> {
    let Some(clusters) = &settings.clusters else {
        state::note_error(state, "no config to switch clusters from".to_string());
        return None;
    };
    match clusters.load(name) {
        Ok(mut next) => {
            info!(from = %settings.profile.name, to = name, "switching cluster");
            next.switched_from = Some(settings.profile.name.clone());
            Some(Box::new(next))
        }
        Err(e) => {
            info!(to = name, error = %e, "cluster switch refused");
            state::note_error(
                state,
                format!(
                    "cannot switch to {name}, staying on {}: {e}",
                    settings.profile.name
                ),
            );
            None
        }
    }
}

fn list_clusters(state: &mut State, settings: &Settings) {
    let Some(clusters) = &settings.clusters else {
        state::note_error(state, "no config to list clusters from".to_string());
        return;
    };
    match clusters.names() {
        Ok(names) => {
            let current = &settings.profile.name;
            let list = names
                .iter()
                .map(|n| {
                    if n == current {
                        format!("{n} (current)")
                    } else {
                        n.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            state::note(
                state,
                format!("clusters: {list} — :cluster NAME switches, :cluster - goes back"),
            );
        }
        Err(e) => state::note_error(state, format!("cannot list the clusters: {e}")),
    }
}
