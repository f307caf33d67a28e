//! Keys of a confirmation dialog count only once the dialog has been on screen for a moment.
//!
//! Without this, keys typed ahead (`Dy` in one burst) or pasted into a terminal that sends a
//! paste as key presses confirm a dialog nobody has seen: `D` opens it, `y` confirms it in the
//! same millisecond. The app reports each drawn frame with its time ([`ConfirmGuard::frame_drawn`])
//! and the time of each key ([`ConfirmGuard::clock`]); a confirmation key is taken only when the
//! very dialog it acts on was drawn at least [`CONFIRM_DELAY`] earlier on that clock.

use std::time::{Duration, Instant};

use super::Popup;

/// How long a confirmation dialog must have been on screen before its keys count.
pub const CONFIRM_DELAY: Duration = Duration::from_millis(250);

#[derive(Debug, Default)]
pub struct ConfirmGuard {
    /// The console's monotonic clock, as the app last reported it.
    now: Option<Instant>,
    /// The confirmation dialog on screen, exactly as drawn, and when it was first drawn so.
    shown: Option<(Popup, Instant)>,
}

impl ConfirmGuard {
    /// Time passes: the app reports the clock with each key and frame. Never goes backwards.
    pub fn clock(&mut self, at: Instant) {
        self.now = Some(self.now.map_or(at, |n| n.max(at)));
    }

    /// A frame reached the terminal at `at` with `popup` open; `visible` is false when the screen
    /// was too small to draw popups (then nothing was seen).
    pub fn frame_drawn(&mut self, popup: Option<&Popup>, at: Instant, visible: bool) {
        self.clock(at);
        let at = self.now.unwrap_or(at);
        match popup {
            Some(p) if visible && p.is_confirmation() => {
                // A dialog whose content changed (the revoke-lease toggle) is a new dialog: the
                // confirmation must act on what the screen showed.
                let p = as_seen(p);
                if !matches!(&self.shown, Some((shown, _)) if *shown == p) {
                    self.shown = Some((p, at));
                }
            }
            _ => self.shown = None,
        }
    }

    /// Whether `popup` has been on screen, as it is now, for at least [`CONFIRM_DELAY`].
    pub fn ready(&self, popup: &Popup) -> bool {
        match (&self.shown, self.now) {
            (Some((shown, since)), Some(now)) => {
                *shown == as_seen(popup) && now.saturating_duration_since(*since) >= CONFIRM_DELAY
            }
            _ => false,
        }
    }
}

/// The dialog as far as its meaning goes: what is typed into a typed confirmation is the user's
/// answer, not a change of what the dialog asks, so it does not restart the wait.
fn as_seen(popup: &Popup) -> Popup {
    let mut p = popup.clone();
    if let Popup::Confirm(super::Confirm {
        typed: Some(typed), ..
    }) = &mut p
    {
        typed.field.set("");
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dialog(revoke_lease: bool) -> Popup {
        let mut confirm = super::super::Confirm::deregister(
            super::super::Target {
                key: "/services/web/web-1".into(),
                mod_revision: 11,
                lease: 0x10,
                cluster: Default::default(),
            },
            Default::default(),
        );
        if let super::super::Change::Deregister {
            revoke_lease: r, ..
        } = &mut confirm.change
        {
            *r = revoke_lease;
        }
        Popup::Confirm(confirm)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn ready_only_after_the_dialog_was_drawn_and_the_delay_passed() {
        let t0 = Instant::now();
        let d = dialog(false);
        let mut g = ConfirmGuard::default();
        // (what happens, ready afterwards)
        g.clock(t0 + ms(1000));
        assert!(!g.ready(&d), "never drawn: not ready, however late");
        g.frame_drawn(Some(&d), t0 + ms(1000), true);
        assert!(!g.ready(&d), "just drawn");
        g.clock(t0 + ms(1249));
        assert!(!g.ready(&d), "249 ms after the frame");
        // Later frames of the same dialog do not restart the wait.
        g.frame_drawn(Some(&d), t0 + ms(1200), true);
        g.clock(t0 + ms(1250));
        assert!(g.ready(&d), "250 ms after the first frame");
        // A clock going backwards does not undo time.
        g.clock(t0);
        assert!(g.ready(&d));
    }

    #[test]
    fn a_changed_dialog_waits_again() {
        let t0 = Instant::now();
        let mut g = ConfirmGuard::default();
        g.frame_drawn(Some(&dialog(false)), t0, true);
        g.clock(t0 + ms(300));
        assert!(g.ready(&dialog(false)));
        // Not drawn yet with the toggle on: that one has not been seen.
        assert!(!g.ready(&dialog(true)));
        g.frame_drawn(Some(&dialog(true)), t0 + ms(300), true);
        assert!(!g.ready(&dialog(true)));
        g.clock(t0 + ms(550));
        assert!(g.ready(&dialog(true)));
    }

    #[test]
    fn a_frame_without_the_dialog_forgets_it() {
        let t0 = Instant::now();
        let d = dialog(false);
        let mut g = ConfirmGuard::default();
        g.frame_drawn(Some(&d), t0, true);
        g.clock(t0 + ms(300));
        assert!(g.ready(&d));
        // Too small to draw popups, then closed: each time it has to be seen again.
        for (i, (popup, visible)) in [(Some(&d), false), (None, true)].into_iter().enumerate() {
            let t = t0 + ms(1000 * (i as u64 + 1));
            g.frame_drawn(popup, t, visible);
            assert!(!g.ready(&d), "{visible}");
            g.frame_drawn(Some(&d), t + ms(100), true);
            g.clock(t + ms(349));
            assert!(!g.ready(&d), "{visible}");
            g.clock(t + ms(350));
            assert!(g.ready(&d), "{visible}");
        }
        // Other popups are not guarded, and replace the dialog.
        g.frame_drawn(Some(&Popup::Help { scroll: 0 }), t0 + ms(5000), true);
        assert!(!g.ready(&d));
    }
}
