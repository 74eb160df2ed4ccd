//! What a date means, apart from any storage: a task's time zone (an IANA
//! name), its due date as an instant or as a day with no time, and the
//! instant an all-day date stands for when tasks are filtered and ordered
//! (the start of its day in the task's zone). [`recurrence`] expands a
//! rule from such a date.

pub mod recurrence;

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

use crate::error::{AppError, AppResult};

/// An IANA time zone (`Europe/Berlin`), `UTC` by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Zone(chrono_tz::Tz);

impl Default for Zone {
    fn default() -> Self {
        Self(chrono_tz::UTC)
    }
}

impl Zone {
    /// The zone named `name` in the input field `field`.
    pub fn parse(name: &str, field: &'static str) -> AppResult<Self> {
        name.parse::<chrono_tz::Tz>()
            .map(Self)
            .map_err(|_| AppError::bad_input(field, "not an IANA time zone, such as Europe/Berlin"))
    }

    /// The zone a stored name names; UTC for a name this build does not
    /// know (the stored name stays as it is).
    pub fn stored(name: &str) -> Self {
        name.parse().map(Self).unwrap_or_default()
    }

    pub fn name(self) -> &'static str {
        self.0.name()
    }

    pub fn tz(self) -> chrono_tz::Tz {
        self.0
    }

    /// The instant of the wall-clock time `local` here: the earlier of two
    /// when the clocks go back, the first after the gap when they go
    /// forward.
    pub fn instant(self, local: NaiveDateTime) -> DateTime<Utc> {
        let mut probe = local;
        // A gap is at most a few hours; step over it a minute at a time.
        for _ in 0..(24 * 60) {
            match self.0.from_local_datetime(&probe) {
                LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => {
                    return at.with_timezone(&Utc);
                }
                LocalResult::None => probe += chrono::Duration::minutes(1),
            }
        }
        Utc.from_utc_datetime(&local)
    }

    /// The start of `day` here.
    pub fn start_of(self, day: NaiveDate) -> DateTime<Utc> {
        self.instant(day.and_time(NaiveTime::MIN))
    }

    /// The wall-clock time of `at` here.
    pub fn local(self, at: DateTime<Utc>) -> NaiveDateTime {
        at.with_timezone(&self.0).naive_local()
    }
}

/// When a task is due: at an instant, or on a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    At(DateTime<Utc>),
    On(NaiveDate),
}

impl Due {
    /// From a task's two fields, which are never both set.
    pub fn of(at: Option<DateTime<Utc>>, on: Option<NaiveDate>) -> Option<Self> {
        match (at, on) {
            (Some(at), _) => Some(Self::At(at)),
            (None, Some(on)) => Some(Self::On(on)),
            (None, None) => None,
        }
    }

    /// The instant filters and orders take it for: an all-day date is due
    /// at the start of its day in `zone`.
    pub fn instant(self, zone: Zone) -> DateTime<Utc> {
        match self {
            Self::At(at) => at,
            Self::On(day) => zone.start_of(day),
        }
    }

    pub fn at(self) -> Option<DateTime<Utc>> {
        match self {
            Self::At(at) => Some(at),
            Self::On(_) => None,
        }
    }

    pub fn on(self) -> Option<NaiveDate> {
        match self {
            Self::On(day) => Some(day),
            Self::At(_) => None,
        }
    }
}

/// A day as it is stored and sent: RFC 3339's full-date, `2026-12-24`.
pub fn parse_day(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|_| text.len() == 10)
}

pub fn format_day(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> Zone {
        Zone::parse("Europe/Berlin", "timeZone").expect("a zone")
    }

    #[test]
    fn zones_are_iana_names() {
        assert_eq!(berlin().name(), "Europe/Berlin");
        assert_eq!(Zone::default().name(), "UTC");
        for bad in ["", "Berlin", "CEST+2", "Europe/Nowhere"] {
            assert!(Zone::parse(bad, "timeZone").is_err(), "{bad}");
        }
    }

    #[test]
    fn an_all_day_date_is_due_at_the_start_of_its_day_in_its_zone() {
        let day = parse_day("2026-12-24").expect("a day");
        let due = Due::On(day).instant(berlin());
        assert_eq!(due.to_rfc3339(), "2026-12-23T23:00:00+00:00");
        assert_eq!(
            Due::On(day).instant(Zone::default()).to_rfc3339(),
            "2026-12-24T00:00:00+00:00"
        );
    }

    #[test]
    fn wall_clock_times_across_daylight_saving_changes() {
        let zone = berlin();
        let gap = parse_day("2027-03-28")
            .expect("a day")
            .and_hms_opt(2, 30, 0)
            .expect("a time");
        assert_eq!(
            zone.instant(gap).to_rfc3339(),
            "2027-03-28T01:00:00+00:00",
            "after the gap"
        );
        let twice = parse_day("2027-10-31")
            .expect("a day")
            .and_hms_opt(2, 30, 0)
            .expect("a time");
        assert_eq!(
            zone.instant(twice).to_rfc3339(),
            "2027-10-31T00:30:00+00:00",
            "the earlier"
        );
    }

    #[test]
    fn days_are_full_dates_only() {
        assert!(parse_day("2026-12-24").is_some());
        for bad in [
            "2026-12-32",
            "2026-2-1",
            "24.12.2026",
            "2026-12-24T00:00:00Z",
            "+2026-12-24",
        ] {
            assert!(parse_day(bad).is_none(), "{bad}");
        }
    }
}
