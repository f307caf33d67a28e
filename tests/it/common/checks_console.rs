//! The console for the checks tests: the app's own core on a profile with only a checks backend
//! (its real checks source, reducer and audit gate), keys pressed as a user would.

use std::time::Duration;

use opsconsole::action::Action;
use opsconsole::config::{ChecksProfile, ClusterProfile};
use opsconsole::keymap::{Context, Keymap};
use opsconsole::model::{AuditEntry, CheckResult, Phase, SourceKind};
use opsconsole::state::{Pane, Popup, State};

use super::headless::Headless;
use super::wait::{pump_until, Pump};

pub struct ChecksConsole {
    pub h: Headless,
    keymap: Keymap,
}

impl ChecksConsole {
    /// `kind` is what the pane names the backend (`alertmanager`, `sensu-go`, …).
    pub fn start(profile: ChecksProfile, kind: &str) -> ChecksConsole {
        let cluster = ClusterProfile {
            name: "test".into(),
            etcd: None,
            readonly: false,
            theme: None,
            keymap: None,
            accent: None,
            checks: Some(profile),
            metrics: None,
            logs: None,
            discovery_prefix: String::new(),
            guard: Default::default(),
            commands: Vec::new(),
            links: Vec::new(),
            warnings: Vec::new(),
        };
        let mut c = ChecksConsole {
            h: Headless::start(cluster),
            keymap: Keymap::resolve(None).expect("the default keymap"),
        };
        assert_eq!(c.state().backends.checks.as_deref(), Some(kind));
        c.h.press("tab");
        assert_eq!(c.state().focus, Pane::Checks);
        c
    }

    pub fn state(&self) -> &State {
        self.h.state()
    }

    /// The key the default keymap binds to `action` where the console is now, pressed after the
    /// screen showed what is open for a while (a confirmation dialog ignores keys until then).
    pub fn act(&mut self, action: Action) {
        let ctx = match &self.state().popup {
            Some(p) if p.is_confirmation() => Context::Confirm,
            Some(_) => Context::Popup,
            None => Context::Checks,
        };
        // In a form, the key a dialog would confirm with (`y`) is just typed.
        let key = self
            .keymap
            .key_for(ctx, action)
            .or_else(|| self.keymap.key_for(Context::Confirm, action))
            .unwrap_or_else(|| panic!("no key for {action:?} in {ctx:?}"));
        self.h.press(&key);
    }

    /// A key (`tab`, `enter`, `esc`, …) in the silence form.
    pub fn form(&mut self, key: &str) {
        self.h.press(key);
    }

    pub fn type_text(&mut self, text: &str) {
        self.h.type_text(text);
    }

    /// Applies messages as they arrive until `pred` holds; panics with the state after `timeout`.
    pub async fn until(
        &mut self,
        timeout: Duration,
        what: &str,
        pred: impl FnMut(&ChecksConsole) -> bool,
    ) {
        pump_until(self, what, timeout, pred).await;
    }

    /// [`Self::until`], with the checks source live too. A poll's rows come a moment before the
    /// `Live` that follows them (the runner sends what it read first): between the two, rows are
    /// on screen and actions on them still refused.
    pub async fn until_live(
        &mut self,
        timeout: Duration,
        what: &str,
        mut pred: impl FnMut(&ChecksConsole) -> bool,
    ) {
        self.until(timeout, what, |c| {
            pred(c) && opsconsole::state::not_live(c.state(), SourceKind::Checks).is_none()
        })
        .await;
    }

    /// The row whose labels are exactly `labels` (Alertmanager) — found by the backend's values,
    /// whatever the row shows.
    pub fn row_with_labels(&self, labels: &[(&str, &str)]) -> Option<&CheckResult> {
        let mut want: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        want.sort();
        self.state().checks.results.iter().find(|r| {
            let mut got = r.labels.clone();
            got.sort();
            got == want
        })
    }

    /// Moves the cursor onto the visible row `pick` chooses, with the keys (top, then down).
    pub fn select(&mut self, pick: impl Fn(&CheckResult) -> bool) {
        self.h.press("g");
        for _ in 0..self.state().checks.visible_len() {
            if self.state().checks.selected().is_some_and(&pick) {
                return;
            }
            self.h.press("j");
        }
        panic!("no such row among {:#?}", self.state().checks.results);
    }

    /// Opens the silence form on the selected row, moves to the `scope_steps`-th scope (0 is the
    /// most specific, check on entity), types `reason` and presses Enter.
    pub fn fill_silence_form(&mut self, scope_steps: usize, reason: &str) {
        self.act(Action::Silence);
        assert!(
            matches!(self.state().popup, Some(Popup::SilenceForm(_))),
            "the silence form opens: {:?} {:?}",
            self.state().popup,
            self.state().status
        );
        // The form opens on the reason; Tab wraps to the scope, Shift-Tab comes back.
        self.form("tab");
        for _ in 0..scope_steps {
            self.form("right");
        }
        self.form("backtab");
        self.type_text(reason);
        self.form("enter");
    }

    /// The form's error line, while the form is still open.
    pub fn form_error(&self) -> Option<String> {
        match &self.state().popup {
            Some(Popup::SilenceForm(f)) => f.error.clone(),
            _ => None,
        }
    }

    pub fn status(&self) -> String {
        self.state()
            .status
            .as_ref()
            .map(|s| s.text.clone())
            .unwrap_or_default()
    }

    /// Every line of the audit log.
    pub fn audits(&self) -> Vec<AuditEntry> {
        self.h.audit()
    }

    /// The outcome and refusal lines for `action`, in order (each attempt line before them is
    /// checked where it matters, with [`audits`](Self::audits)).
    pub fn audited(&self, action: &str) -> Vec<AuditEntry> {
        self.audits()
            .into_iter()
            .filter(|a| a.action == action && a.phase != Phase::Attempt)
            .collect()
    }
}

impl Pump for ChecksConsole {
    async fn pump(&mut self, d: Duration) -> Result<(), String> {
        for msg in self.h.receive(d).await? {
            self.h.apply(msg);
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!(
            "status: {:?}\npopup: {:?}\naudit: {:#?}\nrows: {:#?}",
            self.state().status,
            self.state().popup,
            self.audits(),
            self.state().checks.results
        )
    }
}
