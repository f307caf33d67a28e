//! The headless console for the checks tests: the real `ChecksSource` task feeding a real `State`
//! through `state::update`, keys going in through `handle_action` / `handle_form` as the app sends
//! them, and the commands `update` returns routed as the app routes them (silences to the source,
//! audit entries kept here).

use std::time::{Duration, Instant};

use opsconsole::action::Action;

use opsconsole::audit::AuditLog;
use opsconsole::config::ChecksProfile;
use opsconsole::model::{AuditEntry, CheckResult, Command, Msg};
use opsconsole::sources::checks::ChecksSource;
use opsconsole::state::{self, FormKey, Pane, Popup, State};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub struct ChecksConsole {
    pub state: State,
    rx: mpsc::Receiver<Msg>,
    cmds: mpsc::Sender<Command>,
    pub audits: Vec<AuditEntry>,
    /// Where attempts are recorded before a change is sent, as the app does.
    audit_log: AuditLog,
    _audit_dir: tempfile::TempDir,
    /// The console's clock for keys: each key comes a second after the last.
    clock: Instant,
    task: JoinHandle<()>,
}

impl ChecksConsole {
    /// `kind` is what the status bar names the backend (`alertmanager`, `sensu-go`, …).
    pub fn start(profile: ChecksProfile, kind: &str) -> ChecksConsole {
        let (msg_tx, rx) = mpsc::channel(256);
        let (cmds, cmd_rx) = mpsc::channel(16);
        let mut state = State::new("test", "/services/", "tester", chrono::Utc::now());
        state.backends.checks = Some(kind.to_string());
        state.focus = Pane::Checks;
        let task = tokio::spawn(ChecksSource::new(profile, msg_tx, cmd_rx).run());
        let audit_dir = tempfile::tempdir().expect("tempdir");
        ChecksConsole {
            state,
            rx,
            cmds,
            audits: Vec::new(),
            audit_log: AuditLog::new(audit_dir.path().join("audit.log")),
            _audit_dir: audit_dir,
            clock: Instant::now(),
            task,
        }
    }

    fn route(&mut self, out: Vec<Command>) {
        for cmd in out {
            match cmd {
                Command::Audit(a) => self.audits.push(a),
                Command::Gated(g) => {
                    let c = self
                        .audit_log
                        .release(*g)
                        .unwrap_or_else(|e| panic!("the test's audit log: {}", e.error));
                    self.cmds
                        .try_send(c)
                        .expect("the checks source takes commands");
                }
                _ => {}
            }
        }
    }

    pub fn apply(&mut self, msg: Msg) {
        let out = state::update(&mut self.state, msg);
        self.route(out);
    }

    /// An action as a key pressed after the screen showed the current popup for a while (a
    /// confirmation dialog ignores keys until it has been seen).
    pub fn act(&mut self, action: Action) {
        self.clock += Duration::from_secs(1);
        let shown = self.clock;
        state::frame_drawn(&mut self.state, shown, true);
        let out = state::handle_key(
            &mut self.state,
            action,
            "key",
            shown + Duration::from_millis(300),
        );
        self.route(out);
    }

    pub fn form(&mut self, key: FormKey) {
        let out = state::handle_form(&mut self.state, key);
        self.route(out);
    }

    pub fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.form(FormKey::Char(c));
        }
    }

    /// Applies messages as they arrive until `pred` holds; panics with the state after `timeout`.
    pub async fn until(
        &mut self,
        timeout: Duration,
        what: &str,
        mut pred: impl FnMut(&ChecksConsole) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        loop {
            if pred(self) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!(
                    "timed out after {timeout:?} waiting for: {what}\nstatus: {:?}\npopup: {:?}\naudit: {:#?}\nrows: {:#?}",
                    self.state.status,
                    self.state.popup,
                    self.audits,
                    self.state.checks.results
                );
            }
            match tokio::time::timeout(left.min(Duration::from_millis(100)), self.rx.recv()).await {
                Ok(Some(msg)) => {
                    self.apply(msg);
                    while let Ok(msg) = self.rx.try_recv() {
                        self.apply(msg);
                    }
                }
                Ok(None) => panic!("the checks source stopped while waiting for: {what}"),
                Err(_) => {}
            }
        }
    }

    /// The row whose labels are exactly `labels` (Alertmanager) — found by the backend's values,
    /// whatever the row shows.
    pub fn row_with_labels(&self, labels: &[(&str, &str)]) -> Option<&CheckResult> {
        let mut want: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        want.sort();
        self.state.checks.results.iter().find(|r| {
            let mut got = r.labels.clone();
            got.sort();
            got == want
        })
    }

    /// Moves the cursor onto the visible row `pick` chooses.
    pub fn select(&mut self, pick: impl Fn(&CheckResult) -> bool) {
        let c = &self.state.checks;
        let i = (0..c.visible_len())
            .find(|&i| c.row(i).is_some_and(&pick))
            .unwrap_or_else(|| panic!("no such row among {:#?}", c.results));
        self.state.checks.select_index(i);
    }

    /// Opens the silence form on the selected row, moves to the `scope_steps`-th scope (0 is the
    /// most specific, check on entity), types `reason` and presses Enter.
    pub fn fill_silence_form(&mut self, scope_steps: usize, reason: &str) {
        self.act(Action::Silence);
        assert!(
            matches!(self.state.popup, Some(Popup::SilenceForm(_))),
            "the silence form opens: {:?} {:?}",
            self.state.popup,
            self.state.status
        );
        // The form opens on the reason; Tab wraps to the scope, Shift-Tab comes back.
        self.form(FormKey::Tab);
        for _ in 0..scope_steps {
            self.form(FormKey::Right);
        }
        self.form(FormKey::BackTab);
        self.type_text(reason);
        self.form(FormKey::Enter);
    }

    /// The form's error line, while the form is still open.
    pub fn form_error(&self) -> Option<String> {
        match &self.state.popup {
            Some(Popup::SilenceForm(f)) => f.error.clone(),
            _ => None,
        }
    }

    pub fn status(&self) -> String {
        self.state
            .status
            .as_ref()
            .map(|s| s.text.clone())
            .unwrap_or_default()
    }

    /// The audit entries for `action`, in order.
    pub fn audited(&self, action: &str) -> Vec<&AuditEntry> {
        self.audits.iter().filter(|a| a.action == action).collect()
    }
}

impl Drop for ChecksConsole {
    fn drop(&mut self) {
        self.task.abort();
    }
}
