//! `Z` and `:zone`: which zone every time on screen is shown in, and typed times are read in.

use super::{Level, State};
use crate::model::DisplayZone;

/// `Z` / `:zone`: local → UTC → the configured zone → local.
pub fn cycle(state: &mut State) {
    state.zone = state.zone.next(state.zone_configured);
    say(state);
}

/// `:zone NAME`: that zone (an IANA name, `UTC` or `local`); a named one is what `Z` offers next
/// time round as well.
pub fn set_named(state: &mut State, name: &str) {
    match DisplayZone::parse(name) {
        Ok(zone) => {
            if let DisplayZone::Named(tz) = zone {
                state.zone_configured = Some(tz);
            }
            state.zone = zone;
            say(state);
        }
        Err(e) => state.say(Level::Error, format!(":zone {e}")),
    }
}

fn say(state: &mut State) {
    // The histogram's buckets are aligned in the display zone: counted again in the new one.
    state.logs.hist.zone = state.zone.as_tz();
    state.logs.hist.invalidate();
    let label = state.zone.label(state.now);
    state.say(
        Level::Info,
        format!("times in {label} — typed times (t, :at, a silence's end) are read in it too"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::State;

    #[test]
    fn z_cycles_and_zone_names_one() {
        let mut s = State::new("prod", "/services/", "alice", chrono::Utc::now());
        s.zone = DisplayZone::Local;
        cycle(&mut s);
        assert_eq!(s.zone, DisplayZone::Utc);
        assert!(s.status.as_ref().unwrap().text.contains("times in UTC"));
        // No configured zone: back to local.
        cycle(&mut s);
        assert_eq!(s.zone, DisplayZone::Local);
        set_named(&mut s, "Asia/Tokyo");
        assert_eq!(s.zone, DisplayZone::Named(chrono_tz::Tz::Asia__Tokyo));
        assert!(s
            .status
            .as_ref()
            .unwrap()
            .text
            .contains("Asia/Tokyo +09:00"));
        cycle(&mut s);
        cycle(&mut s);
        assert_eq!(s.zone, DisplayZone::Utc);
        cycle(&mut s);
        assert_eq!(s.zone, DisplayZone::Named(chrono_tz::Tz::Asia__Tokyo));
        set_named(&mut s, "Mars/Olympus");
        assert_eq!(s.status.as_ref().unwrap().level, Level::Error);
        assert_eq!(s.zone, DisplayZone::Named(chrono_tz::Tz::Asia__Tokyo));
    }
}
