//! Calendar feeds (SPEC §12): a member of a list makes a secret URL that
//! calendar apps subscribe to, `/calendar/<token>.ics`, serving the list's
//! open tasks with a due date as RFC 5545 `VTODO`s, as that member sees
//! them. Only the token's digest is kept; the token is the only credential
//! (calendar apps send no other), so it has 256 random bits, a member
//! revokes their feeds of a list at once, and a feed of someone who left
//! the list serves nothing (`404`, as an unknown token).
//!
//! The text is written by the `icalendar` crate; the time zones used get
//! `VTIMEZONE`s with each change of offset over the years the tasks span,
//! read from the zone database the server expands rules with.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::OffsetComponents;
use entity::{
    calendar_feed::{self, Entity as FeedRows},
    task,
};
use icalendar::{
    Calendar, CalendarDateTime, Component, DatePerhapsTime, EventLike, Property, Todo, TodoStatus,
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, Query},
};
use uuid::Uuid;

use super::{Priority, TaskFilter, TaskRead, Tasks, listed};
use crate::{
    auth::random,
    dates::{
        Due, Zone,
        recurrence::{Rule, Start},
    },
    db,
    error::{AppError, AppResult},
    lists,
};

/// The most tasks one feed serves.
const MOST_TASKS: usize = 5_000;

/// A feed as served: its text and a tag of that text.
pub struct Feed {
    pub text: String,
    pub etag: String,
}

impl Tasks {
    /// A member of `list` (any role) makes a feed of it; its token, which
    /// is shown once.
    pub async fn create_calendar_feed(&self, viewer: Uuid, list: Uuid) -> AppResult<String> {
        if lists::role_in(self.writer().db(), viewer, list)
            .await?
            .is_none()
        {
            return Err(AppError::NotFound);
        }
        let token = random::token()?;
        FeedRows::insert(calendar_feed::ActiveModel {
            id: Set(Uuid::now_v7()),
            list_id: Set(list),
            user_id: Set(viewer),
            token_digest: Set(random::digest_text(&token)),
            created_at: Set(db::now()),
        })
        .exec(self.writer().db())
        .await?;
        Ok(token)
    }

    /// Ends every feed of `list` the viewer made; how many.
    pub async fn revoke_calendar_feeds(&self, viewer: Uuid, list: Uuid) -> AppResult<u64> {
        if lists::role_in(self.writer().db(), viewer, list)
            .await?
            .is_none()
        {
            return Err(AppError::NotFound);
        }
        let gone = FeedRows::delete_many()
            .filter(calendar_feed::Column::UserId.eq(viewer))
            .filter(calendar_feed::Column::ListId.eq(list))
            .exec(self.writer().db())
            .await?;
        Ok(gone.rows_affected)
    }

    /// The feed of `token`, if it names one whose maker is still in its
    /// list.
    pub async fn calendar_feed(&self, token: &str) -> AppResult<Option<Feed>> {
        let members = Query::select()
            .column(entity::list_member::Column::UserId)
            .from(entity::list_member::Entity)
            .and_where(
                Expr::col((
                    entity::list_member::Entity,
                    entity::list_member::Column::ListId,
                ))
                .equals((FeedRows, calendar_feed::Column::ListId)),
            )
            .to_owned();
        let Some(feed) = FeedRows::find()
            .filter(calendar_feed::Column::TokenDigest.eq(random::digest_text(token)))
            .filter(Expr::col((FeedRows, calendar_feed::Column::UserId)).in_subquery(members))
            .one(self.writer().db())
            .await?
        else {
            return Ok(None);
        };
        let viewer = feed.user_id;
        let filter = TaskFilter {
            list_id: Some(feed.list_id),
            completed: Some(false),
            ..TaskFilter::default()
        };
        let condition = listed(viewer, &filter).add(task::Column::Due.is_not_null());
        let tasks = self.dated(condition, MOST_TASKS).await?;
        let ids: Vec<Uuid> = tasks.iter().map(|(task, _)| task.id).collect();
        let labels = self.labels_of_tasks(viewer, &ids).await?;
        let list_name = entity::task_list::Entity::find_by_id(feed.list_id)
            .one(self.writer().db())
            .await?
            .map(|list| list.name)
            .unwrap_or_default();
        let mut calendar = Calendar::new();
        calendar.name(&list_name);
        let mut zones: BTreeMap<&'static str, (Zone, i32, i32)> = BTreeMap::new();
        for (task, start) in &tasks {
            let names: Vec<&str> = labels
                .get(&task.id)
                .map(|labels| labels.iter().map(|label| label.name.as_str()).collect())
                .unwrap_or_default();
            if let Some((todo, zone, year)) = vtodo(task, start.as_deref(), &names) {
                let span = zones.entry(zone.name()).or_insert((zone, year, year));
                span.1 = Ord::min(span.1, year);
                span.2 = Ord::max(span.2, year);
                calendar.push(todo);
            }
        }
        let this_year = Utc::now().year();
        let definitions: String = zones
            .into_values()
            .filter(|(zone, _, _)| *zone != Zone::default())
            .map(|(zone, first, last)| vtimezone(zone, first - 1, Ord::max(last, this_year) + 2))
            .collect();
        let mut text = calendar.done().to_string();
        // Before the first component, where calendar apps look for them.
        let at = text
            .find("BEGIN:VTODO")
            .or_else(|| text.find("END:VCALENDAR"))
            .unwrap_or(text.len());
        text.insert_str(at, &definitions);
        let etag = format!("\"{}\"", &random::digest_text(&text)[..27]);
        Ok(Some(Feed { text, etag }))
    }
}

/// The `VTODO` of an open task with a due date, with its zone and the year
/// of its due date.
fn vtodo(task: &TaskRead, start: Option<&str>, labels: &[&str]) -> Option<(Todo, Zone, i32)> {
    let zone = Zone::stored(task.time_zone.as_deref()?);
    let due = Due::of(task.due_at.flatten(), task.due_on.flatten())?;
    let mut todo = Todo::new();
    todo.uid(&task.id.to_string())
        .summary(task.title.as_deref()?)
        .status(TodoStatus::NeedsAction);
    if let Some(Some(description)) = &task.description {
        todo.description(description);
    }
    if let Some(updated) = task.updated_at {
        todo.timestamp(updated).last_modified(updated);
    }
    if let Some(created) = task.created_at {
        todo.created(created);
    }
    if let Some(level) = task.priority.and_then(ical_priority) {
        todo.priority(level);
    }
    if !labels.is_empty() {
        todo.categories(labels.iter().copied());
    }
    let when = |due: Due| -> DatePerhapsTime {
        match due {
            Due::On(day) => DatePerhapsTime::Date(day),
            Due::At(at) if zone == Zone::default() => CalendarDateTime::Utc(at).into(),
            Due::At(at) => CalendarDateTime::WithTimezone {
                date_time: zone.local(at),
                tzid: zone.name().to_owned(),
            }
            .into(),
        }
    };
    todo.due(when(due));
    if let Some(rule) = task
        .recurrence
        .as_ref()
        .and_then(Option::as_deref)
        .and_then(|rule| Rule::parse(rule).ok())
    {
        let start = start
            .and_then(Start::from_stored)
            .unwrap_or_else(|| Start::of(due, zone));
        let first = match start {
            Start::Day(day) => Due::On(day),
            Start::Local(local) => Due::At(zone.instant(local)),
        };
        todo.starts(when(first));
        todo.append_property(Property::new("RRULE", rule.text_for(start, zone)));
    }
    let year = due.instant(zone).with_timezone(&zone.tz()).year();
    Some((todo, zone, year))
}

/// RFC 5545's priority of ours: URGENT 1, HIGH 3, MEDIUM 5, LOW 9, none
/// for NONE.
fn ical_priority(priority: Priority) -> Option<u32> {
    match priority {
        Priority::Urgent => Some(1),
        Priority::High => Some(3),
        Priority::Medium => Some(5),
        Priority::Low => Some(9),
        Priority::None => None,
    }
}

/// `zone`'s definition from `first` through `last` (years): the offset in
/// force at the start, then each change, as the zone database has them.
/// The crate has no type for it, and writes a `DTSTAMP` and a `UID` into
/// every component it writes, which RFC 5545 does not allow in this one:
/// its text is made here, of lines that need no folding or escaping.
fn vtimezone(zone: Zone, first: i32, last: i32) -> String {
    let tz = zone.tz();
    let start = Utc
        .with_ymd_and_hms(first, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let end = Utc
        .with_ymd_and_hms(last + 1, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let offset = |at: DateTime<Utc>| tz.offset_from_utc_datetime(&at.naive_utc());
    let seconds = |at: DateTime<Utc>| offset(at).fix().local_minus_utc();
    let mut lines = vec![
        "BEGIN:VTIMEZONE".to_owned(),
        format!("TZID:{}", zone.name()),
    ];
    let initial = seconds(start);
    lines.extend(observance(
        !offset(start).dst_offset().is_zero(),
        start.naive_utc() + chrono::Duration::seconds(i64::from(initial)),
        initial,
        initial,
    ));
    let mut day = start;
    while day < end {
        let next = day + chrono::Duration::days(1);
        if seconds(next) != seconds(day) {
            // The first second of the new offset.
            let (mut before, mut after) = (day, next);
            while after - before > chrono::Duration::seconds(1) {
                let middle = before + (after - before) / 2;
                if seconds(middle) == seconds(day) {
                    before = middle;
                } else {
                    after = middle;
                }
            }
            let (from, to) = (seconds(day), seconds(after));
            lines.extend(observance(
                !offset(after).dst_offset().is_zero(),
                after.naive_utc() + chrono::Duration::seconds(i64::from(from)),
                from,
                to,
            ));
        }
        day = next;
    }
    lines.push("END:VTIMEZONE".to_owned());
    lines.join("\r\n") + "\r\n"
}

/// A `STANDARD` or `DAYLIGHT` observance that begins at `onset` (the
/// wall-clock time before it).
fn observance(daylight: bool, onset: NaiveDateTime, from: i32, to: i32) -> [String; 5] {
    let kind = if daylight { "DAYLIGHT" } else { "STANDARD" };
    [
        format!("BEGIN:{kind}"),
        format!("DTSTART:{}", onset.format("%Y%m%dT%H%M%S")),
        format!("TZOFFSETFROM:{}", utc_offset(from)),
        format!("TZOFFSETTO:{}", utc_offset(to)),
        format!("END:{kind}"),
    ]
}

/// `+0100`, `-0430`.
fn utc_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.abs() / 60;
    format!("{sign}{:02}{:02}", minutes / 60, minutes % 60)
}
