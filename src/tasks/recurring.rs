//! A task's dates as a write sets them (SPEC §12): a timed or an all-day
//! due date, never both, in the task's zone; a recurrence rule, whose
//! series starts at the due date the task had when the rule was set; and
//! what completing a task does: a [`Completion`] of the occurrence, and for
//! a recurring task the next due date, the task staying open, until the
//! rule has no next occurrence.

use chrono::{DateTime, NaiveDate, Utc};
use entity::task;
use sea_orm::DbErr;
use serde::{Deserialize, Serialize};

use crate::{
    dates::{
        Due, Zone,
        recurrence::{Rule, Series, Start},
    },
    db::{ColumnValue, Columns, StoredByName},
    error::{AppError, AppResult},
};

/// Where the next occurrence of a recurring task is counted from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RepeatFrom {
    /// From the due date: "every Monday", whenever it was done.
    #[default]
    Due,
    /// From the completion: "a week after it was last done".
    Completion,
}

impl StoredByName for RepeatFrom {
    const NAMES: &'static [(Self, &'static str)] =
        &[(Self::Due, "due"), (Self::Completion, "completion")];
}

impl From<String> for RepeatFrom {
    fn from(name: String) -> Self {
        Self::from_stored_name(&name).unwrap_or_default()
    }
}

impl ColumnValue for RepeatFrom {
    fn read_nullable(row: &impl Columns, at: usize) -> Result<Option<Self>, DbErr> {
        Ok(row.text(at)?.map(Self::from))
    }
}

/// Changes to a task's dates; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct DateChanges {
    /// A due date, or none; setting one kind clears the other.
    pub due: Option<Option<Due>>,
    pub zone: Option<Zone>,
    /// A rule, or none.
    pub recurrence: Option<Option<Rule>>,
    pub repeat_from: Option<RepeatFrom>,
}

impl DateChanges {
    pub fn is_empty(&self) -> bool {
        self.due.is_none()
            && self.zone.is_none()
            && self.recurrence.is_none()
            && self.repeat_from.is_none()
    }

    /// Applies the changes to `task`, keeping its fields in step: `due`
    /// from the due date and the zone; the series' start at the due date
    /// whenever the rule, the due date or the zone is set. A rule without a
    /// due date is refused.
    pub fn apply(&self, task: &mut task::Model) -> AppResult<()> {
        if let Some(due) = self.due {
            task.due_at = due.and_then(Due::at);
            task.due_on = due.and_then(Due::on);
        }
        if let Some(zone) = self.zone {
            task.time_zone = zone.name().to_owned();
        }
        if let Some(repeat_from) = self.repeat_from {
            task.repeat_from = repeat_from.stored_name().to_owned();
        }
        let zone = Zone::stored(&task.time_zone);
        let due = Due::of(task.due_at, task.due_on);
        if let Some(rule) = &self.recurrence {
            task.recurrence = rule.as_ref().map(|rule| rule.text().to_owned());
        }
        if task.recurrence.is_some() && due.is_none() {
            return Err(AppError::bad_input(
                "recurrence",
                "a recurring task needs a due date (dueAt or dueOn)",
            ));
        }
        // Setting a rule, a due date or a zone (re)starts the series at the
        // due date.
        if self.recurrence.is_some() || self.due.is_some() || self.zone.is_some() {
            task.series_start = match (&task.recurrence, due) {
                (Some(_), Some(due)) => Some(Start::of(due, zone).stored()),
                _ => None,
            };
            task.series_done = 0;
        }
        task.due = due.map(|due| due.instant(zone));
        Ok(())
    }
}

/// A completed occurrence, as the write records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    pub due_at: Option<DateTime<Utc>>,
    pub due_on: Option<NaiveDate>,
}

/// Completes `task` (open until now) at `now`: the completion of its
/// occurrence, and for a recurring task the next due date, the task
/// staying open, when the rule has one.
pub fn complete(task: &mut task::Model, now: DateTime<Utc>) -> Completion {
    let completion = Completion {
        due_at: task.due_at,
        due_on: task.due_on,
    };
    task.completed = true;
    let zone = Zone::stored(&task.time_zone);
    let (Some(rule), Some(due)) = (
        task.recurrence
            .as_deref()
            .and_then(|text| Rule::parse(text).ok()),
        Due::of(task.due_at, task.due_on),
    ) else {
        return completion;
    };
    let start = task
        .series_start
        .as_deref()
        .and_then(Start::from_stored)
        .unwrap_or_else(|| Start::of(due, zone));
    let done = task.series_done.saturating_add(1);
    task.series_done = done;
    let next = match RepeatFrom::from(task.repeat_from.clone()) {
        RepeatFrom::Due => Series {
            rule: &rule,
            start,
            zone,
        }
        .next_after(due),
        RepeatFrom::Completion => {
            if rule
                .count()
                .is_some_and(|count| i64::from(done) >= i64::from(count))
            {
                None
            } else {
                // The series restarts on the completion's day, at the
                // task's time of day.
                let restart = start.on(zone.local(now).date());
                let from = match restart {
                    Start::Day(day) => Due::On(day),
                    Start::Local(local) => Due::At(zone.instant(local)),
                };
                Series {
                    rule: &rule.without_count(),
                    start: restart,
                    zone,
                }
                .next_after(from)
            }
        }
    };
    if let Some(next) = next {
        task.completed = false;
        task.due_at = next.at();
        task.due_on = next.on();
        task.due = Some(next.instant(zone));
    }
    completion
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(due: Due, zone: &str, rule: &str, from: RepeatFrom) -> task::Model {
        let mut task = crate::tasks::row(
            uuid::Uuid::now_v7(),
            "Water the plants".into(),
            None,
            crate::db::now(),
        );
        DateChanges {
            due: Some(Some(due)),
            zone: Some(Zone::parse(zone, "timeZone").expect("a zone")),
            recurrence: Some(Some(Rule::parse(rule).expect("a rule"))),
            repeat_from: Some(from),
        }
        .apply(&mut task)
        .expect("valid");
        task
    }

    fn day(text: &str) -> NaiveDate {
        crate::dates::parse_day(text).expect("a day")
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("a time")
            .with_timezone(&Utc)
    }

    #[test]
    fn completing_moves_a_recurring_task_to_its_next_occurrence() {
        let mut weekly = task(
            Due::At(at("2027-03-22T08:00:00Z")),
            "Europe/Berlin",
            "FREQ=WEEKLY;BYDAY=MO;COUNT=2",
            RepeatFrom::Due,
        );
        let done = complete(&mut weekly, at("2027-03-23T10:00:00Z"));
        assert_eq!(done.due_at, Some(at("2027-03-22T08:00:00Z")));
        assert!(!weekly.completed);
        assert_eq!(
            weekly.due_at,
            Some(at("2027-03-29T07:00:00Z")),
            "09:00 in summer time"
        );
        complete(&mut weekly, at("2027-03-29T10:00:00Z"));
        assert!(weekly.completed, "COUNT=2: the series has ended");
    }

    #[test]
    fn from_completion_the_series_restarts_on_the_day_it_was_done() {
        let mut plants = task(
            Due::On(day("2027-01-04")),
            "UTC",
            "FREQ=DAILY;INTERVAL=3",
            RepeatFrom::Completion,
        );
        complete(&mut plants, at("2027-01-10T18:00:00Z"));
        assert_eq!(plants.due_on, Some(day("2027-01-13")));
        assert_eq!(plants.due_at, None);
        assert_eq!(plants.due, Some(at("2027-01-13T00:00:00Z")));
    }

    #[test]
    fn a_task_that_does_not_recur_stays_completed() {
        let mut once = task(
            Due::On(day("2027-01-04")),
            "UTC",
            "FREQ=DAILY",
            RepeatFrom::Due,
        );
        DateChanges {
            recurrence: Some(None),
            ..DateChanges::default()
        }
        .apply(&mut once)
        .expect("valid");
        complete(&mut once, at("2027-01-04T18:00:00Z"));
        assert!(once.completed);
        assert_eq!(once.due_on, Some(day("2027-01-04")));
    }

    #[test]
    fn a_rule_needs_a_due_date() {
        let mut task = task(
            Due::On(day("2027-01-04")),
            "UTC",
            "FREQ=DAILY",
            RepeatFrom::Due,
        );
        let cleared = DateChanges {
            due: Some(None),
            ..DateChanges::default()
        }
        .apply(&mut task);
        assert!(cleared.is_err());
    }
}
