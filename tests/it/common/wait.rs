//! The one way a test waits for something: [`wait_until`] looks at a condition until it holds or
//! its time is up, then fails with "timed out after … waiting for: …" and whatever the caller adds.
//! [`wait_until_async`] is the same for checks that await, and [`pump_until`] for the consoles that
//! apply their sources' messages between two looks. Every polling wait in the tests goes through
//! [`Wait`]: this is the only place that keeps a deadline, decides how often to look again and words
//! a timeout.

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

/// How long to pause before looking at a condition again.
pub const POLL: Duration = Duration::from_millis(50);

/// What a check answers: done (`true`, `Some(v)`, `Ok(v)`), or not yet — `Err(why)` says what was
/// seen instead, and the latest such answer is printed if the wait times out.
pub trait Ready {
    type Out;
    fn ready(self) -> Result<Self::Out, Option<String>>;
}

impl Ready for bool {
    type Out = ();
    fn ready(self) -> Result<(), Option<String>> {
        if self {
            Ok(())
        } else {
            Err(None)
        }
    }
}

impl<T> Ready for Option<T> {
    type Out = T;
    fn ready(self) -> Result<T, Option<String>> {
        self.ok_or(None)
    }
}

impl<T, E: Display> Ready for Result<T, E> {
    type Out = T;
    fn ready(self) -> Result<T, Option<String>> {
        self.map_err(|e| Some(e.to_string()))
    }
}

/// One wait: what for, for how long, since when, and the latest "not yet".
pub struct Wait {
    what: String,
    timeout: Duration,
    start: Instant,
    last: Option<String>,
}

impl Wait {
    pub fn new(what: impl Into<String>, timeout: Duration) -> Wait {
        Wait {
            what: what.into(),
            timeout,
            start: Instant::now(),
            last: None,
        }
    }

    /// Takes a check's answer: the value once it is done, None (keeping why) while it is not.
    pub fn look<R: Ready>(&mut self, answer: R) -> Option<R::Out> {
        match answer.ready() {
            Ok(v) => Some(v),
            Err(why) => {
                if why.is_some() {
                    self.last = why;
                }
                None
            }
        }
    }

    /// The time left; once there is none, fails with the timeout message and `context()`.
    pub fn left(&self, context: impl FnOnce() -> String) -> Duration {
        let left = self.timeout.saturating_sub(self.start.elapsed());
        if left.is_zero() {
            self.fail(context());
        }
        left
    }

    /// How long to pause before the next look (never past the deadline); fails once time is up.
    pub fn pause(&self, context: impl FnOnce() -> String) -> Duration {
        self.left(context).min(POLL)
    }

    /// "timed out after … waiting for: …", the latest "not yet" and `context`.
    pub fn fail(&self, context: impl Display) -> ! {
        let mut msg = format!(
            "timed out after {:?} waiting for: {}",
            self.timeout, self.what
        );
        if let Some(last) = &self.last {
            msg.push_str(&format!("\nlast seen: {last}"));
        }
        let context = context.to_string();
        if !context.is_empty() {
            msg.push('\n');
            msg.push_str(&context);
        }
        panic!("{msg}");
    }

    /// Fails at once because what is waited for can no longer happen (`why`: the source stopped).
    pub fn gone(&self, why: impl Display) -> ! {
        panic!("{why} while waiting for: {}", self.what);
    }
}

/// Looks at `check` every [`POLL`] until it is done; returns what it answered then.
pub fn wait_until<R: Ready>(
    what: impl Into<String>,
    timeout: Duration,
    check: impl FnMut() -> R,
) -> R::Out {
    wait_until_or(what, timeout, check, String::new)
}

/// [`wait_until`], with `context()` (a log tail, the last screen) added to a timeout.
pub fn wait_until_or<R: Ready>(
    what: impl Into<String>,
    timeout: Duration,
    mut check: impl FnMut() -> R,
    mut context: impl FnMut() -> String,
) -> R::Out {
    let mut wait = Wait::new(what, timeout);
    loop {
        if let Some(v) = wait.look(check()) {
            return v;
        }
        std::thread::sleep(wait.pause(&mut context));
    }
}

/// [`wait_until`] for a check that awaits (an HTTP request, a lock); pauses without blocking the
/// runtime.
pub async fn wait_until_async<R: Ready, F: Future<Output = R>>(
    what: impl Into<String>,
    timeout: Duration,
    check: impl FnMut() -> F,
) -> R::Out {
    wait_until_async_or(what, timeout, check, String::new).await
}

/// [`wait_until_async`] with `context()` added to a timeout.
pub async fn wait_until_async_or<R: Ready, F: Future<Output = R>>(
    what: impl Into<String>,
    timeout: Duration,
    mut check: impl FnMut() -> F,
    mut context: impl FnMut() -> String,
) -> R::Out {
    let mut wait = Wait::new(what, timeout);
    loop {
        if let Some(v) = wait.look(check().await) {
            return v;
        }
        tokio::time::sleep(wait.pause(&mut context)).await;
    }
}

/// A console fed by its sources: between two looks it applies what they sent.
pub trait Pump {
    /// Applies what arrives within `d` (returning early once something was applied); Err says
    /// the sources are gone.
    async fn pump(&mut self, d: Duration) -> Result<(), String>;

    /// What the console holds, for a timeout message.
    fn describe(&self) -> String;
}

/// Applies the console's messages until `check` is done on it; returns what it answered then.
pub async fn pump_until<S: Pump, R: Ready>(
    console: &mut S,
    what: impl Into<String>,
    timeout: Duration,
    mut check: impl FnMut(&S) -> R,
) -> R::Out {
    let mut wait = Wait::new(what, timeout);
    loop {
        if let Some(v) = wait.look(check(console)) {
            return v;
        }
        let d = wait.pause(|| console.describe());
        if let Err(why) = console.pump(d).await {
            wait.gone(why);
        }
    }
}

/// Receives from `rx` until `pick` takes a message (the others are dropped); returns what it
/// took. Fails after `timeout`, or at once when the sender is gone.
pub async fn recv_until<M, T>(
    rx: &mut tokio::sync::mpsc::Receiver<M>,
    what: impl Into<String>,
    timeout: Duration,
    mut pick: impl FnMut(M) -> Option<T>,
) -> T {
    let wait = Wait::new(what, timeout);
    loop {
        let left = wait.left(String::new);
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(m)) => {
                if let Some(v) = pick(m) {
                    return v;
                }
            }
            Ok(None) => wait.gone("the source stopped"),
            Err(_) => {}
        }
    }
}
