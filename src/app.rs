//! The event loop: the terminal and tokio wired to the headless [`Core`]. `select!` over terminal
//! input, source messages, the clock and signals; every one becomes a core event; the core's
//! effects (quit, switch cluster, draw now) are carried out here. Redraws only when something
//! changed, at most ~30 times a second.

use std::io::{self, BufWriter, Stdout, Write};
use std::mem::ManuallyDrop;
use std::time::Duration;

use anyhow::Context as _;
use crossterm::event::{Event, EventStream};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use futures::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{error, info};

pub use crate::core::{Clusters, Settings};
use crate::core::{Core, Effect, Event as CoreEvent};
use crate::model::Msg;

/// A frame for the user (a key, a click, a paste, a resize) at most this often after the last
/// one: holding a key or spinning a wheel coalesces into at most 125 frames a second, and a key's
/// frame waits at most this long — issue 18 asks < 16 ms from key to frame. Background frames do
/// not count ([`Pacer`]): at 33 ms measured from any frame, a key pressed just after a background
/// frame waited up to 33 ms.
pub const FRAME: Duration = Duration::from_millis(8);
/// While a confirmation dialog is open, what the backends send (its lease countdown among it) is
/// drawn this often rather than at the background pace: the dialog's keys count only once it,
/// as it is now, has been on screen for a moment (`ConfirmGuard`).
pub const DIALOG_FRAME: Duration = Duration::from_millis(33);
/// A frame at most this often for what the backends send on their own (log lines, watch events,
/// polls, the clock): about once a second, with the 1 s clock (`CLOCK`) that moves ages and TTLs, reads
/// as live (k9s refreshes every 2 s, `top` every 3), and a console left open on a busy cluster does
/// not draw frames nobody is looking at — drawing was 60 % of its idle CPU against the live stack
/// at 500 ms (BENCHMARKS.md). Under 1 s so a change is on screen within the second the watch
/// budget allows, even behind a frame drawn just before it.
pub const BACKGROUND_FRAME: Duration = Duration::from_millis(900);
/// The longest the screen goes without a frame while nothing arrives: ages and TTL countdowns
/// move once a second. A deadline from the last frame, not an interval of its own: while the
/// backends send (log lines, polls) a frame comes every `BACKGROUND_FRAME` anyway, and a 1 s
/// interval woke the loop once more a second for a frame that was coming (BENCHMARKS.md, issue
/// 18, eighth round). Under a second, because a deadline from the last frame drifts (the timer's
/// and the frame's own time): frames less than a second apart never skip a second of an age.
/// The once-a-second housekeeping (clock steps, memory trims) goes with it.
///
/// 960 ms = 15 slots of the timer wheel: the deadline is taken back to a slot's start (`on_wheel`),
/// and as frames are drawn a few ms after their deadline, 960 after one lands on the next
/// deadline 960 ms later — where 950 would land 896 after it.
const CLOCK: Duration = Duration::from_millis(960);
const _: () = assert!(
    CLOCK.as_millis() < 1000 && CLOCK.as_millis() >= BACKGROUND_FRAME.as_millis(),
    "frames under a second apart, and no more often than the background pace"
);
/// Messages applied before the loop looks at the keyboard again, so a firehose cannot starve keys.
pub const DRAIN_LIMIT: usize = 4096;
/// And at most this long: under a backlog at 1M members, 4,096 messages were several frames'
/// ingest (a frame's, 1,650 watch events and 1,650 log lines, took 11–14 ms of CPU), and a key
/// pressed meanwhile waited behind all of it. The loop's `select!` is biased to the terminal, so
/// after a drain a waiting key is read first: it waits behind at most this much ingest (and the
/// message under way), then its own handling and frame.
pub const DRAIN_TIME: Duration = Duration::from_millis(4);

/// How long after the user's last key, click, paste or resize every fact is applied as it
/// arrives (as before [`forward`]): someone at the keyboard may be waiting for any of them (the
/// metrics of the member just selected, the logs of a new filter), and costs do not matter then.
const ATTENTIVE: Duration = Duration::from_secs(10);

/// Whether a fact must wake the loop the moment it arrives, even with nobody at the keyboard:
/// everything but the steady traffic of a live cluster (watch events, lease TTLs, polls of
/// checks and metrics, log lines), which waits for the next frame — the clock's, at most
/// `CLOCK` after the last one, where it would have been drawn anyway. An action's outcome, an
/// alert, a notice, a source's health (a backend down), a listing and the answers to the time
/// cursor wake it at once; a new kind of fact does too until it is listed here.
pub fn wakes_at_once(msg: &Msg) -> bool {
    match msg {
        Msg::InCluster(_, inner) => wakes_at_once(inner),
        Msg::MembersEvents { .. }
        | Msg::LeaseTtls { .. }
        | Msg::ChecksSnapshot { .. }
        | Msg::Metrics { .. }
        | Msg::LogLines(_) => false,
        _ => true,
    }
}

/// Carries the sources' facts from `from` to the loop's channel `to`, in order, and wakes the
/// loop (`wake`) only for a fact that [`wakes_at_once`], or once `to` is half full (a backlog is
/// drained as it comes, as before). Idle with nobody at the keyboard, the loop polls `to` only
/// at its frames: each log line (~4 a second on the live stack) had woken the UI thread for a
/// frame that came at the background pace anyway (BACKGROUND_FRAME). This task runs in the
/// wake-up of the source that sent (tokio runs a task woken from a worker next, on that worker),
/// so it adds no thread wake-ups of its own.
async fn forward(
    mut from: mpsc::Receiver<Msg>,
    to: mpsc::Sender<Msg>,
    wake: std::sync::Arc<tokio::sync::Notify>,
) {
    while let Some(msg) = from.recv().await {
        let now = wakes_at_once(&msg);
        if to.send(msg).await.is_err() {
            return;
        }
        if now || to.capacity() <= to.max_capacity() / 2 {
            wake.notify_one();
        }
    }
    // Every source is gone: the loop finds the channel closed.
    drop(to);
    wake.notify_one();
}

/// What [`take_waiting`] found.
enum Waiting {
    Applied,
    Nothing,
    Closed,
}

/// Applies what waits in `rx` (one drain, with its limits), without waiting.
fn take_waiting(
    rx: &mut mpsc::Receiver<Msg>,
    core: &mut Core,
    effects: &mut Vec<Effect>,
) -> Waiting {
    match rx.try_recv() {
        Ok(first) => {
            drain(
                first,
                || rx.try_recv().ok(),
                |m| effects.extend(core.handle(CoreEvent::Msg(m))),
                DRAIN_LIMIT,
                std::time::Instant::now() + DRAIN_TIME,
            );
            Waiting::Applied
        }
        Err(mpsc::error::TryRecvError::Empty) => Waiting::Nothing,
        Err(mpsc::error::TryRecvError::Disconnected) => Waiting::Closed,
    }
}

/// Applies `first`, then what `next` has waiting, until it has nothing, `limit` messages were
/// applied, or `deadline` passed (checked after each message, so at least one is applied).
/// Returns how many were. (Public for `benches/budgets.rs`, which times a key behind one drain.)
pub fn drain<M>(
    first: M,
    mut next: impl FnMut() -> Option<M>,
    mut apply: impl FnMut(M),
    limit: usize,
    deadline: std::time::Instant,
) -> usize {
    let mut m = Some(first);
    let mut n = 0;
    while let Some(msg) = m.take() {
        apply(msg);
        n += 1;
        if n < limit && std::time::Instant::now() < deadline {
            m = next();
        }
    }
    n
}

/// How soon after the last frame the next may come: at once after something the user did, soon
/// while a confirmation dialog is open (see [`DIALOG_FRAME`]), otherwise at the background pace.
fn frame_pace(urgent: bool, confirming: bool) -> Duration {
    if urgent {
        FRAME
    } else if confirming {
        DIALOG_FRAME
    } else {
        BACKGROUND_FRAME
    }
}

fn confirming(state: &crate::state::State) -> bool {
    state.popup.as_ref().is_some_and(|p| p.is_confirmation())
}

/// `wait` after `t`; a wait longer than a slot of tokio's timer wheel ends at the start of its
/// slot instead (up to 64 ms sooner, see `crate::wheel`): the background frame and the clock woke
/// a runtime worker twice each, once to move the timer down the wheel and once to fire it. The
/// user's frames (8 and 33 ms) are left as they are.
fn on_wheel(t: Instant, wait: Duration) -> Instant {
    if wait > crate::wheel::SLOT {
        crate::wheel::slot_floor(t + wait)
    } else {
        t + wait
    }
}

/// When the next frame may be drawn. A frame for the user is paced only against the frames
/// drawn for the user: a background frame drawn a moment before a key does not hold the key's
/// frame back, and a key repeat or a wheel is still coalesced into one frame per [`FRAME`].
#[derive(Debug, Default, Clone, Copy)]
struct Pacer {
    last: Option<Instant>,
    last_for_user: Option<Instant>,
}

impl Pacer {
    /// The earliest moment of the next frame; `None` for at once.
    fn next(&self, urgent: bool, confirming: bool) -> Option<Instant> {
        let since = if urgent {
            self.last_for_user
        } else {
            self.last
        };
        since.map(|t| on_wheel(t, frame_pace(urgent, confirming)))
    }

    fn drawn(&mut self, at: Instant, urgent: bool) {
        self.last = Some(at);
        if urgent {
            self.last_for_user = Some(at);
        }
    }

    /// `wait` after the last frame of any kind (now if none was drawn).
    fn after_last(&self, wait: Duration) -> Instant {
        self.last.map_or_else(Instant::now, |t| on_wheel(t, wait))
    }

    /// The next frame at once, whatever was drawn (a resize, the terminal taken back).
    fn at_once(&mut self) {
        *self = Pacer::default();
    }
}

/// A stream polled only when it may have something: on its first poll, after it yielded an item,
/// and after its own waker fired. `select!` polls every branch each time the loop wakes — for a
/// message, a timer, a frame — and crossterm's `EventStream` answers each such poll by trying
/// (with a zero timeout, which spins and parks) the lock its reader thread holds while it waits
/// for input: 9 % of the idle console's UI thread against the live stack (BENCHMARKS.md, issue
/// 18, eighth round). Behind this gate it is polled when its reader thread says input came.
struct Gated<S> {
    inner: S,
    signal: std::sync::Arc<GateSignal>,
    /// `signal` as the waker `inner` is polled with (one, kept).
    waker: std::task::Waker,
    /// The last poll of `inner` gave an item: it may have more without waking anyone.
    more: bool,
}

#[derive(Default)]
struct GateSignal {
    woken: std::sync::atomic::AtomicBool,
    outer: futures::task::AtomicWaker,
}

impl std::task::Wake for GateSignal {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.woken.store(true, std::sync::atomic::Ordering::SeqCst);
        self.outer.wake();
    }
}

impl<S> Gated<S> {
    fn new(inner: S) -> Self {
        let signal = std::sync::Arc::new(GateSignal::default());
        Gated {
            inner,
            waker: std::task::Waker::from(signal.clone()),
            signal,
            more: true,
        }
    }
}

impl<S: futures::Stream + Unpin> futures::Stream for Gated<S> {
    type Item = S::Item;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<S::Item>> {
        let this = &mut *self;
        // Registered before the flag is read: a wake after the read still reaches this task.
        this.signal.outer.register(cx.waker());
        let woken = this
            .signal
            .woken
            .swap(false, std::sync::atomic::Ordering::SeqCst);
        if !this.more && !woken {
            return std::task::Poll::Pending;
        }
        let mut inner_cx = std::task::Context::from_waker(&this.waker);
        let polled = std::pin::Pin::new(&mut this.inner).poll_next(&mut inner_cx);
        this.more = polled.is_ready();
        polled
    }
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
        crossterm::event::DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show,
        crossterm::event::DisableBracketedPaste
    );
}

struct TerminalGuard {
    /// Buffered so each frame reaches the terminal in one write, never half-drawn.
    terminal: ManuallyDrop<Terminal<CrosstermBackend<FrameWriter>>>,
    /// Whether the terminal writer's flushes wait for the frame's end ([`FrameWriter`]).
    flushes_held: std::sync::Arc<std::sync::atomic::AtomicBool>,
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
        let flushes_held = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let terminal = terminal_size()
            .and_then(|area| {
                Terminal::with_options(
                    CrosstermBackend::new(FrameWriter::new(out, flushes_held.clone())),
                    TerminalOptions {
                        viewport: Viewport::Fixed(area),
                    },
                )
            })
            .inspect_err(|_| restore_terminal())?;
        Ok(TerminalGuard {
            terminal: ManuallyDrop::new(terminal),
            flushes_held,
        })
    }
}

/// The terminal's writer: buffered, and while a frame is drawn ([`TerminalGuard::hold_flushes`])
/// its flushes wait, so the frame, its links and the end of its synchronized update reach the
/// terminal in one write. ratatui flushes the backend at the end of `draw`, before the links and
/// the end are queued: two writes a frame, each waking the terminal (a pty's reader, tmux) once.
struct FrameWriter {
    out: BufWriter<Stdout>,
    /// Shared with [`TerminalGuard::hold_flushes`]: ratatui does not hand its writer out.
    held: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl FrameWriter {
    fn new(out: Stdout, held: std::sync::Arc<std::sync::atomic::AtomicBool>) -> FrameWriter {
        FrameWriter {
            out: BufWriter::with_capacity(1 << 16, out),
            held,
        }
    }
}

impl Write for FrameWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.out.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.held.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        self.out.flush()
    }
}

impl TerminalGuard {
    /// While held, flushes of the terminal's writer wait; released, the next one writes it all.
    fn hold_flushes(&self, held: bool) {
        self.flushes_held
            .store(held, std::sync::atomic::Ordering::Relaxed);
    }

    /// The whole screen as ratatui draws it (the viewport, as of the last [`Self::fit`]).
    fn area(&mut self) -> Rect {
        self.terminal.get_frame().area()
    }

    /// The viewport made the terminal's size again, when that changed (a resize, or a return from
    /// a command or a suspend): ratatui then clears the screen and draws the next frame whole.
    fn fit(&mut self) -> io::Result<()> {
        let area = terminal_size()?;
        if area != self.area() {
            self.terminal.resize(area)?;
        }
        Ok(())
    }
}

/// The terminal's size, asked of the terminal (`/dev/tty`). Asked on a resize and when the
/// terminal is taken back, not every frame: the viewport is `Fixed` at this size rather than
/// `Fullscreen`, which has ratatui ask twice a frame (each an open, an ioctl and a close).
fn terminal_size() -> io::Result<Rect> {
    let (w, h) = crossterm::terminal::size()?;
    Ok(Rect::new(0, 0, w, h))
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

/// OSC 52 "set the clipboard" for `text` (already sanitised: no control character can end the
/// sequence early). Terminals that support it put it on the system clipboard; tmux needs
/// `set -g set-clipboard on` and keeps it as a paste buffer too.
pub fn osc52(text: &str) -> String {
    use base64::Engine as _;
    format!(
        "\x1b]52;c;{}\x07",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

/// The bell, then a desktop notification as OSC 9 (iTerm2, WezTerm, Windows Terminal, kitty) and
/// OSC 777 (rxvt, foot, VTE/GNOME Terminal); inside tmux (`in_tmux`) each OSC is wrapped in tmux's
/// DCS passthrough (`ESC P tmux; …ESC ESC… ESC \`, needs `set -g allow-passthrough on`), while the
/// bell goes to tmux itself, which flags the window. The text comes from backends: only visible
/// characters go in, and no `;` that OSC 777 would read as a field separator.
pub fn notify_sequence(title: &str, body: &str, in_tmux: bool) -> String {
    let clean = |s: &str| {
        crate::model::text::visible(s)
            .chars()
            .filter(|c| !c.is_control())
            .map(|c| if c == ';' { ',' } else { c })
            .collect::<String>()
    };
    let (title, body) = (clean(title), clean(body));
    let osc9 = format!("\x1b]9;{title}: {body}\x07");
    let osc777 = format!("\x1b]777;notify;{title};{body}\x07");
    let wrap = |seq: &str| {
        if in_tmux {
            format!("\x1bPtmux;{}\x1b\\", seq.replace('\x1b', "\x1b\x1b"))
        } else {
            seq.to_string()
        }
    };
    format!("\x07{}{}", wrap(&osc9), wrap(&osc777))
}

/// Runs a foreground custom command in the terminal: the screen is put back as the shell had it
/// (raw mode off, main screen, cursor shown), the command runs with the terminal as its stdin,
/// stdout and stderr, then a line says how it ended and waits for Enter so its output can be read;
/// the console's screen comes back and is drawn whole. The terminal is taken back whatever
/// happened to the command; only failing to take it back is an error.
fn lend_terminal(
    guard: &mut TerminalGuard,
    spec: &crate::model::run::RunSpec,
    mouse: bool,
) -> anyhow::Result<crate::model::run::RunResult> {
    let _ = guard.terminal.backend_mut().flush();
    restore_terminal();
    let result = match spec.argv.split_first() {
        Some((program, args)) => {
            let mut out = io::stdout();
            let _ = writeln!(
                out,
                "[opsconsole] {}: {}",
                spec.name,
                crate::model::run::shell_words(&spec.argv)
            );
            let _ = out.flush();
            match std::process::Command::new(program).args(args).status() {
                Ok(status) => {
                    let (status, success) = crate::core::exit_text(status);
                    crate::model::run::RunResult {
                        status,
                        success,
                        output: None,
                        truncated: false,
                    }
                }
                Err(e) => crate::model::run::RunResult {
                    status: format!("could not start {program}: {e}"),
                    success: false,
                    output: None,
                    truncated: false,
                },
            }
        }
        None => crate::model::run::RunResult {
            status: "no program".into(),
            success: false,
            output: None,
            truncated: false,
        },
    };
    {
        let mut out = io::stdout();
        let _ = write!(
            out,
            "\r\n[opsconsole] {} ended: {} — press Enter to return to the console ",
            spec.name, result.status
        );
        let _ = out.flush();
        let mut line = String::new();
        let _ = io::stdin().read_line(&mut line);
    }
    retake_terminal(guard, mouse)?;
    Ok(result)
}

/// Takes the terminal back after a command or a suspend (raw mode, alternate screen, paste and
/// mouse as before), blanks it and makes ratatui's idea of it blank too, so the next frame is
/// drawn whole at whatever size the terminal has now. (`Terminal::clear` would ask the terminal
/// where its cursor is: not needed, and slow.)
fn retake_terminal(guard: &mut TerminalGuard, mouse: bool) -> anyhow::Result<()> {
    // crossterm remembers raw mode as on and would do nothing; the shell may have put the
    // terminal back in cooked mode meanwhile (a SIGSTOP from outside), so off, then on again.
    let _ = disable_raw_mode();
    enable_raw_mode().context("taking the terminal back (raw mode)")?;
    TERMINAL_TAKEN.store(true, std::sync::atomic::Ordering::SeqCst);
    execute!(
        io::stdout(),
        EnterAlternateScreen,
        crossterm::cursor::Hide,
        crossterm::event::EnableBracketedPaste
    )
    .context("taking the terminal back (alternate screen)")?;
    if mouse {
        execute!(io::stdout(), crossterm::event::EnableMouseCapture)
            .context("turning mouse capture back on")?;
    }
    execute!(
        io::stdout(),
        crossterm::terminal::Clear(crossterm::terminal::ClearType::All)
    )
    .context("clearing the screen")?;
    guard.fit().context("reading the terminal's size")?;
    guard
        .terminal
        .draw(|f| f.render_widget(ratatui::widgets::Clear, f.area()))
        .context("clearing the screen")?;
    Ok(())
}

/// ctrl-z, or SIGTSTP from outside: the terminal as the shell left it, then stopped (SIGSTOP,
/// since the console handles SIGTSTP itself); when `fg` (SIGCONT) resumes it, the terminal is
/// taken back and the next frame redrawn whole.
fn suspend(guard: &mut TerminalGuard, mouse: bool) -> anyhow::Result<()> {
    restore_terminal();
    // SAFETY: raising a signal at ourselves; SIGSTOP cannot be caught, so this returns only once
    // the process is continued.
    unsafe {
        libc::raise(libc::SIGSTOP);
    }
    retake_terminal(guard, mouse)
}

pub async fn run(settings: Settings) -> anyhow::Result<Exit> {
    let started = Instant::now();
    // The sources send on `source_tx`; `forward` hands their facts to the loop on `msg_tx` and
    // says through `wake` when one cannot wait for the next frame.
    let (source_tx, source_rx) = mpsc::channel::<Msg>(1024);
    let (msg_tx, mut msg_rx) = mpsc::channel::<Msg>(1024);
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let forwarder = tokio::spawn(forward(source_rx, msg_tx, wake.clone()));
    let mut core = Core::start(&settings, source_tx)?;
    let mut theme = settings.theme.clone();
    let keymap = &settings.keymap;
    let mut guard = TerminalGuard::enter()?;
    if settings.mouse {
        // Opt-in, like k9s: with capture on, the terminal's own text selection needs shift.
        execute!(io::stdout(), crossterm::event::EnableMouseCapture)
            .context("turning mouse capture on")?;
    }
    // Before crossterm reads: a hang-up must not leave it spinning on the dead terminal.
    crate::tty_hangup::watch();
    let mut events = Gated::new(EventStream::new());
    let mut trimmer = crate::memory::Trimmer::new();
    let mut clock_steps = crate::clock::StepWatch::default();
    let mut housekeeping_at = Instant::now() + CLOCK;
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut sighup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    // In raw mode ctrl-c is a key; these come from other processes (kill -INT / -QUIT).
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut sigquit = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::quit())?;
    // Job control from outside: `kill -TSTP` suspends like ctrl-z; a SIGCONT after someone else's
    // SIGSTOP finds the terminal as the shell left it, so it is taken back and redrawn.
    let mut sigtstp =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(libc::SIGTSTP))?;
    let mut sigcont =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(libc::SIGCONT))?;

    let mut dirty = true;
    // Something the user did is waiting to be seen: the next frame comes at the `FRAME` pace.
    let mut urgent = true;
    let mut pacer = Pacer::default();
    // Freed listing buffers are handed back after the frame that shows the listing, not before it.
    let mut trim_after_frame = false;
    let mut membership_shown = false;
    let mut effects: Vec<Effect> = Vec::new();
    // When the user last did something (see ATTENTIVE); whether the last drain left facts waiting.
    let mut last_user: Option<Instant> = None;
    let mut backlog = false;
    let exit = loop {
        if Instant::now() >= housekeeping_at {
            housekeeping_at = Instant::now() + CLOCK;
            // A step of the system clock moves nothing on screen (crate::clock); it is said once.
            if let Some(step) = clock_steps.check(crate::clock::step()) {
                tracing::warn!(step = %crate::clock::describe_step(step), "system clock stepped");
                crate::state::note(&mut core.state, crate::clock::step_message(step));
                dirty = true;
            }
            // Also here: a re-list soon after the last trim is trimmed once the interval passed.
            if trimmer.due(std::time::Instant::now()) {
                crate::memory::release_free_memory();
            }
        }
        let due = pacer.next(urgent, confirming(&core.state));
        if dirty && due.is_none_or(|d| Instant::now() >= d) {
            effects.extend(core.handle(CoreEvent::Tick(crate::clock::now())));
            // The layout of this frame, given to the core before drawing it: the lists scroll and
            // the sources are asked for what this screen shows.
            let size = guard.area();
            let viewports = crate::ui::layout::viewports(size, &core.state);
            effects.extend(core.handle(CoreEvent::Layout(viewports)));
            // Synchronized update: terminals that support it show the frame atomically.
            let _ = crossterm::queue!(
                guard.terminal.backend_mut(),
                crossterm::terminal::BeginSynchronizedUpdate
            );
            guard.hold_flushes(true);
            let drawn = guard
                .terminal
                .draw(|f| crate::ui::draw(f, &core.state, &theme, keymap))
                .map(|frame| {
                    (
                        frame.area,
                        crate::ui::links::placements(frame.buffer, &core.state),
                    )
                });
            guard.hold_flushes(false);
            let backend = guard.terminal.backend_mut();
            let (area, links) = drawn.context("drawing the screen")?;
            // The detail's links once more over the same cells, as OSC 8 hyperlinks (underlined).
            for (x, y, text, url) in links {
                let _ = crossterm::queue!(
                    backend,
                    crossterm::cursor::MoveTo(x, y),
                    crossterm::style::SetAttribute(crossterm::style::Attribute::Underlined),
                    crossterm::style::Print(crate::ui::links::osc8(&url, &text)),
                    crossterm::style::SetAttribute(crossterm::style::Attribute::NoUnderline),
                );
            }
            let _ = crossterm::queue!(backend, crossterm::terminal::EndSynchronizedUpdate);
            // The frame's one write: where a dead terminal is found (ratatui's own flush waited).
            backend.flush().context("drawing the screen")?;
            effects.extend(core.handle(CoreEvent::FrameDrawn {
                at: std::time::Instant::now(),
                popups_visible: crate::ui::shows_popups(area),
            }));
            pacer.drawn(Instant::now(), urgent);
            dirty = false;
            urgent = false;
            if !membership_shown && core.state.members.synced {
                membership_shown = true;
                info!(
                    ms = started.elapsed().as_millis() as u64,
                    members = core.state.members.len(),
                    "first frame with the membership"
                );
            }
            if std::mem::take(&mut trim_after_frame) {
                crate::memory::release_free_memory();
            }
        }
        let next_frame = pacer
            .next(urgent, confirming(&core.state))
            .unwrap_or_else(Instant::now);
        // Facts are applied as they arrive while the user is at the keyboard, a dialog is open or
        // a backlog is being drained; otherwise only those `forward` wakes the loop for, and the
        // rest at the next frame.
        let eager = urgent
            || backlog
            || confirming(&core.state)
            || last_user.is_some_and(|t| t.elapsed() < ATTENTIVE);
        tokio::select! {
            biased;
            _ = crate::tty_hangup::hung_up() => break Exit::Terminated("terminal closed"),
            ev = events.next() => match ev {
                Some(Ok(Event::Key(key))) => {
                    effects.extend(core.handle(CoreEvent::Key { key, at: std::time::Instant::now() }));
                    dirty = true;
                    urgent = true;
                    last_user = Some(Instant::now());
                }
                Some(Ok(Event::Paste(text))) => {
                    effects.extend(core.handle(CoreEvent::Paste(text)));
                    dirty = true;
                    urgent = true;
                    last_user = Some(Instant::now());
                }
                Some(Ok(Event::Mouse(m))) => {
                    use crossterm::event::{MouseButton, MouseEventKind};
                    use crate::state::PointerKind;
                    let kind = match m.kind {
                        MouseEventKind::Down(MouseButton::Left) => Some(PointerKind::Click),
                        MouseEventKind::ScrollUp => Some(PointerKind::WheelUp),
                        MouseEventKind::ScrollDown => Some(PointerKind::WheelDown),
                        _ => None,
                    };
                    let size = guard.area();
                    let placed = kind.and_then(|k| {
                        crate::ui::layout::pointer(size, &core.state, m.column, m.row, k, std::time::Instant::now())
                    });
                    if let Some(p) = placed {
                        effects.extend(core.handle(CoreEvent::Pointer(p)));
                        dirty = true;
                        urgent = true;
                        last_user = Some(Instant::now());
                    }
                }
                Some(Ok(Event::Resize(..))) => {
                    guard.fit().ok();
                    dirty = true;
                    urgent = true;
                    last_user = Some(Instant::now());
                    pacer.at_once();
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
            _ = sigtstp.recv() => effects.push(Effect::Suspend),
            _ = sigcont.recv() => {
                // Continued (after its own suspend, or a SIGSTOP from outside): the shell may
                // have used the terminal meanwhile, so it is taken back (each step is harmless
                // when already so) and drawn whole at its size now.
                retake_terminal(&mut guard, settings.mouse)?;
                dirty = true;
                urgent = true;
                pacer.at_once();
            }
            msg = msg_rx.recv(), if eager => {
                let Some(msg) = msg else { break Exit::Terminated("all sources stopped") };
                drain(
                    msg,
                    || msg_rx.try_recv().ok(),
                    |m| effects.extend(core.handle(CoreEvent::Msg(m))),
                    DRAIN_LIMIT,
                    std::time::Instant::now() + DRAIN_TIME,
                );
                backlog = !msg_rx.is_empty();
                dirty = true;
            }
            // A fact that cannot wait (or a backlog): applied now, drawn at the usual pace.
            _ = wake.notified(), if !eager => {
                match take_waiting(&mut msg_rx, &mut core, &mut effects) {
                    Waiting::Closed => break Exit::Terminated("all sources stopped"),
                    Waiting::Applied => {
                        backlog = !msg_rx.is_empty();
                        dirty = true;
                    }
                    Waiting::Nothing => backlog = false,
                }
            }
            // Nothing arrived since the last frame (or nothing woke the loop): the next one when
            // the clock moves on.
            _ = tokio::time::sleep_until(pacer.after_last(CLOCK)), if !dirty => dirty = true,
            _ = tokio::time::sleep_until(next_frame), if dirty => {}
        }
        // A background frame is due: the facts that waited for it (see `forward`) go into it,
        // here so that their effects are carried out below before it is drawn. Not before a frame
        // for the user: facts are applied as they come then, and a key's frame waits for no drain.
        if dirty
            && !urgent
            && !eager
            && pacer
                .next(false, confirming(&core.state))
                .is_none_or(|d| Instant::now() >= d)
        {
            match take_waiting(&mut msg_rx, &mut core, &mut effects) {
                Waiting::Closed => break Exit::Terminated("all sources stopped"),
                Waiting::Applied => backlog = !msg_rx.is_empty(),
                Waiting::Nothing => backlog = false,
            }
        }
        let mut stop = None;
        let mut returned = Vec::new();
        for effect in effects.drain(..) {
            match effect {
                Effect::Foreground(spec) => {
                    // crossterm's reader must not take the command's keys: it goes, and comes
                    // back afterwards.
                    drop(events);
                    let result = lend_terminal(&mut guard, &spec, settings.mouse);
                    events = Gated::new(EventStream::new());
                    // A ctrl-c meant for the command reached us too: not a reason to quit.
                    sigint =
                        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
                    sigquit = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::quit())?;
                    let result = result?;
                    returned.push(Msg::RunFinished {
                        id: spec.id,
                        name: spec.name,
                        result,
                    });
                    dirty = true;
                    urgent = true;
                    pacer.at_once();
                }
                Effect::Quit => stop = stop.or(Some(Exit::Quit)),
                Effect::Suspend => {
                    drop(events);
                    let resumed = suspend(&mut guard, settings.mouse);
                    events = Gated::new(EventStream::new());
                    resumed?;
                    dirty = true;
                    urgent = true;
                    pacer.at_once();
                }
                Effect::Switch(next) => stop = Some(Exit::SwitchCluster(next)),
                // A key or a listing is answered at once, not at the next frame slot.
                Effect::DrawNow => {
                    urgent = true;
                    pacer.at_once();
                }
                Effect::Theme(next) => {
                    theme = *next;
                    dirty = true;
                }
                // Only listings: trimming after log bursts was measured and gained nothing (the
                // lines' memory is live, not freed buffers).
                Effect::Listed(n) => {
                    trimmer.note(n);
                    trim_after_frame |= trimmer.due(std::time::Instant::now());
                }
                Effect::Notify { title, body } => {
                    let in_tmux = std::env::var_os("TMUX").is_some_and(|v| !v.is_empty());
                    let backend = guard.terminal.backend_mut();
                    if let Err(e) = backend
                        .write_all(notify_sequence(&title, &body, in_tmux).as_bytes())
                        .and_then(|_| backend.flush())
                    {
                        error!(%e, "writing the notification to the terminal");
                    }
                }
                Effect::Clipboard(text) => {
                    let backend = guard.terminal.backend_mut();
                    if let Err(e) = backend
                        .write_all(osc52(&text).as_bytes())
                        .and_then(|_| backend.flush())
                    {
                        error!(%e, "writing OSC 52 to the terminal");
                    }
                }
            }
        }
        for msg in returned {
            effects.extend(core.handle(CoreEvent::Msg(msg)));
        }
        if let Some(exit) = stop {
            break exit;
        }
    };
    core.stop();
    forwarder.abort();
    drop(guard);
    info!("console stopped");
    Ok(exit)
}

#[cfg(test)]
mod forward_tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::sync::{mpsc, Notify};

    use super::{forward, wakes_at_once};
    use crate::model::{ClusterId, Health, Msg, SourceKind};

    fn lines() -> Msg {
        Msg::LogLines(Vec::new())
    }

    #[test]
    fn the_steady_traffic_waits_for_a_frame_and_the_rest_wakes_the_loop() {
        let logs = SourceKind::Logs.of(ClusterId(0));
        assert!(!wakes_at_once(&lines()));
        assert!(!wakes_at_once(&Msg::LeaseTtls {
            ttls: vec![(1, 5)],
            at: crate::clock::now(),
        }));
        assert!(!wakes_at_once(&Msg::InCluster(
            ClusterId(1),
            Box::new(lines())
        )));
        assert!(wakes_at_once(&Msg::Health(
            logs,
            Health::Failed("down".into())
        )));
        assert!(wakes_at_once(&Msg::Alert(logs, "cluster changed".into())));
        assert!(wakes_at_once(&Msg::InCluster(
            ClusterId(1),
            Box::new(Msg::Notice(logs, "n".into()))
        )));
    }

    /// Whether `wake` has a permit stored (consumes it).
    async fn woken(wake: &Notify) -> bool {
        tokio::time::timeout(Duration::from_millis(50), wake.notified())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn facts_arrive_in_order_and_only_urgent_ones_or_a_half_full_channel_wake() {
        let (src_tx, src_rx) = mpsc::channel(8);
        let (to_tx, mut to_rx) = mpsc::channel(8);
        let wake = Arc::new(Notify::new());
        let task = tokio::spawn(forward(src_rx, to_tx, wake.clone()));
        let logs = SourceKind::Logs.of(ClusterId(0));
        src_tx.send(lines()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!woken(&wake).await, "a log line waits for the frame");
        src_tx
            .send(Msg::Health(logs, Health::Failed("down".into())))
            .await
            .unwrap();
        assert!(woken(&wake).await, "a source down wakes the loop");
        assert_eq!(to_rx.try_recv().unwrap(), lines());
        assert!(matches!(to_rx.try_recv().unwrap(), Msg::Health(..)));
        // Four waiting of eight: half full, drained now.
        for _ in 0..4 {
            src_tx.send(lines()).await.unwrap();
        }
        assert!(woken(&wake).await, "a backlog wakes the loop");
        // The sources gone: the loop is woken to find the channel closed.
        drop(src_tx);
        task.await.unwrap();
        assert!(woken(&wake).await);
    }
}

#[cfg(test)]
mod drain_tests {
    use std::time::{Duration, Instant};

    use super::{drain, Pacer, BACKGROUND_FRAME, DIALOG_FRAME, FRAME};

    #[test]
    fn a_background_frame_does_not_hold_back_a_keys_frame_but_key_frames_are_paced() {
        let t0 = tokio::time::Instant::now();
        let mut pacer = Pacer::default();
        assert_eq!(pacer.next(false, false), None, "the first frame at once");
        pacer.drawn(t0, false);
        // A key a moment after a background frame: its frame at once.
        assert_eq!(pacer.next(true, false), None);
        // Background changes wait for the background pace, or the dialog's while one is open.
        assert_eq!(pacer.next(false, false), Some(t0 + BACKGROUND_FRAME));
        assert_eq!(pacer.next(false, true), Some(t0 + DIALOG_FRAME));
        // The key's frame drawn: the next key's frame waits for `FRAME` after it, no longer.
        let t1 = t0 + Duration::from_millis(1);
        pacer.drawn(t1, true);
        assert_eq!(pacer.next(true, false), Some(t1 + FRAME));
        assert!(
            FRAME <= Duration::from_millis(8),
            "half the 16 ms key-to-frame budget at most"
        );
        assert_eq!(pacer.next(false, false), Some(t1 + BACKGROUND_FRAME));
        pacer.at_once();
        assert_eq!(pacer.next(true, false), None);
        assert_eq!(pacer.next(false, false), None);
    }

    #[test]
    fn a_drain_stops_when_empty_at_its_limit_or_its_deadline() {
        let far = Instant::now() + Duration::from_secs(3600);
        let run = |queued: usize, limit: usize, deadline: Instant| {
            let mut left = (1..=queued).collect::<Vec<usize>>().into_iter();
            let mut seen = Vec::new();
            let n = drain(0, || left.next(), |m| seen.push(m), limit, deadline);
            assert_eq!(n, seen.len());
            (n, left.len())
        };
        assert_eq!(run(10, 4096, far), (11, 0), "all of it");
        assert_eq!(run(10, 4, far), (4, 7), "the limit");
        // Past the deadline: the message that woke the loop, nothing more.
        assert_eq!(run(10, 4096, Instant::now()), (1, 10));
        // A deadline reached part way: the message under way finishes, the rest wait.
        let deadline = Instant::now() + Duration::from_millis(30);
        let mut left = 0..1_000_000usize;
        let n = drain(
            0,
            || left.next(),
            |_| std::thread::sleep(Duration::from_millis(10)),
            4096,
            deadline,
        );
        // Each takes 10 ms or more: after the third, 30 ms have passed.
        assert!(
            (1..=3).contains(&n),
            "{n} applied in a 30 ms drain of 10 ms messages"
        );
    }
}

#[cfg(test)]
mod notify_tests {
    use super::notify_sequence;

    #[test]
    fn bell_then_osc9_and_osc777_with_the_text_made_safe() {
        let s = notify_sequence(
            "opsconsole prod: new critical",
            "http on web-1\x1b[2J;x",
            false,
        );
        assert!(s.starts_with('\x07'), "{s:?}");
        assert!(
            s.contains("\x1b]9;opsconsole prod: new critical: http on web-1␛[2J,x\x07"),
            "{s:?}"
        );
        assert!(
            s.contains("\x1b]777;notify;opsconsole prod: new critical;http on web-1␛[2J,x\x07"),
            "{s:?}"
        );
        assert_eq!(s.matches('\x07').count(), 3, "{s:?}");
    }

    #[test]
    fn inside_tmux_each_osc_goes_through_the_passthrough() {
        let s = notify_sequence("t", "b", true);
        assert_eq!(
            s,
            "\x07\x1bPtmux;\x1b\x1b]9;t: b\x07\x1b\\\x1bPtmux;\x1b\x1b]777;notify;t;b\x07\x1b\\"
        );
    }
}

#[cfg(test)]
mod gate_tests {
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    use futures::Stream;

    use super::Gated;

    /// Yields what `items` holds, else keeps the waker it was polled with; counts its polls.
    #[derive(Default)]
    struct Source {
        items: Vec<u32>,
        polls: usize,
        waker: Option<Waker>,
    }

    impl Stream for Source {
        type Item = u32;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<u32>> {
            self.polls += 1;
            match self.items.pop() {
                Some(i) => Poll::Ready(Some(i)),
                None => {
                    self.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        }
    }

    #[derive(Default)]
    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn the_inner_stream_is_polled_only_when_it_may_have_something() {
        let woke = Arc::new(Count::default());
        let waker = Waker::from(woke.clone());
        let mut cx = Context::from_waker(&waker);
        let mut g = Gated::new(Source {
            items: vec![2, 1],
            ..Source::default()
        });
        let polls = |g: &Gated<Source>| g.inner.polls;
        // First poll, and after each item: the inner stream is asked.
        assert_eq!(Pin::new(&mut g).poll_next(&mut cx), Poll::Ready(Some(1)));
        assert_eq!(Pin::new(&mut g).poll_next(&mut cx), Poll::Ready(Some(2)));
        assert_eq!(Pin::new(&mut g).poll_next(&mut cx), Poll::Pending);
        assert_eq!(polls(&g), 3);
        // Woken for something else: not asked again.
        for _ in 0..5 {
            assert_eq!(Pin::new(&mut g).poll_next(&mut cx), Poll::Pending);
        }
        assert_eq!(polls(&g), 3);
        // Its own waker fires (input came): the task is woken and the stream asked.
        g.inner.items.push(7);
        g.inner.waker.take().unwrap().wake();
        assert_eq!(woke.0.load(Ordering::SeqCst), 1);
        assert_eq!(Pin::new(&mut g).poll_next(&mut cx), Poll::Ready(Some(7)));
        assert_eq!(polls(&g), 4);
        // A wake that finds nothing: asked once, then quiet again.
        assert_eq!(Pin::new(&mut g).poll_next(&mut cx), Poll::Pending);
        g.inner.waker.take().unwrap().wake();
        assert_eq!(Pin::new(&mut g).poll_next(&mut cx), Poll::Pending);
        assert_eq!(Pin::new(&mut g).poll_next(&mut cx), Poll::Pending);
        assert_eq!(polls(&g), 6);
        // The stream's waker stays the gate's: a wake reaches whichever task polled last.
        let other = Arc::new(Count::default());
        let other_waker = Waker::from(other.clone());
        let mut other_cx = Context::from_waker(&other_waker);
        assert_eq!(Pin::new(&mut g).poll_next(&mut other_cx), Poll::Pending);
        g.inner.items.push(9);
        g.inner.waker.take().unwrap().wake();
        assert_eq!(
            other.0.load(Ordering::SeqCst),
            1,
            "the task that polled last is woken"
        );
        assert_eq!(
            Pin::new(&mut g).poll_next(&mut other_cx),
            Poll::Ready(Some(9))
        );
    }
}
