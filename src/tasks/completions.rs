//! The record of a task's completions, newest first, and the occurrences of
//! the viewer's open tasks in a window of time, for calendar views. Both
//! read through the lists' rule.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    completion::{self, Entity as CompletionRows},
    task,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, Order,
    sea_query::{Expr, ExprTrait, IntoIden},
};
use uuid::Uuid;

use super::{
    Shown, TaskFilter, TaskRead, Tasks,
    child_pages::{Child, ChildPage, Children},
    listed,
};
use crate::{
    dates::{
        Due, Zone,
        recurrence::{Rule, Series, Start},
    },
    error::{AppError, AppResult},
    lists::{Role, visible},
};

/// The widest window `occurrences` expands.
pub const MOST_DAYS: i64 = 366;
/// The most occurrences one window answers.
pub const MOST_OCCURRENCES: usize = 1_000;

/// An occurrence of a task that was completed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    pub id: Uuid,
    pub task_id: Uuid,
    pub due_at: Option<DateTime<Utc>>,
    pub due_on: Option<NaiveDate>,
    pub completed_at: DateTime<Utc>,
    /// `None` once their account is gone.
    pub completed_by: Option<Uuid>,
}

/// A page of one task's completions, newest first.
pub type CompletionPage = ChildPage<Completion>;

impl Tasks {
    /// The page of completions `first`/`after` asks for of each of `tasks`
    /// that the viewer sees, newest first, in one statement.
    pub async fn completion_pages(
        &self,
        viewer: Uuid,
        tasks: &[Uuid],
        first: Option<i32>,
        after: Option<&str>,
    ) -> AppResult<HashMap<Uuid, CompletionPage>> {
        use completion::Column;
        let seen_tasks = visible::task_ids(viewer, Role::Viewer);
        let children = Children {
            table: CompletionRows.into_iden(),
            task: Column::TaskId.into_iden(),
            time: Column::CompletedAt.into_iden(),
            id: Column::Id.into_iden(),
            columns: [
                Column::Id,
                Column::TaskId,
                Column::DueAt,
                Column::DueOn,
                Column::CompletedAt,
                Column::CompletedBy,
            ]
            .map(IntoIden::into_iden)
            .into(),
            newest_first: true,
            seen: Condition::all()
                .add(Expr::col((CompletionRows, Column::TaskId)).in_subquery(seen_tasks)),
        };
        self.child_pages(viewer, children, tasks, first, after, |row| {
            let completion = Completion {
                id: row.try_get_by_index(0)?,
                task_id: row.try_get_by_index(1)?,
                due_at: row.try_get_by_index(2)?,
                due_on: row.try_get_by_index(3)?,
                completed_at: row.try_get_by_index(4)?,
                completed_by: row.try_get_by_index(5)?,
            };
            Ok(Child {
                task: completion.task_id,
                time: completion.completed_at,
                id: completion.id,
                item: completion,
            })
        })
        .await
    }

    /// The due dates of the viewer's open tasks (of `list`, when one is
    /// named) in `from <= due < to`, by time: each task's current due date,
    /// and for a task that recurs from its due date the occurrences after
    /// it. At most [`MOST_OCCURRENCES`]; a window of at most
    /// [`MOST_DAYS`].
    pub async fn occurrences(
        &self,
        viewer: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        list: Option<Uuid>,
    ) -> AppResult<Vec<(TaskRead, Due)>> {
        if to <= from {
            return Err(AppError::bad_input("to", "to must be after from"));
        }
        if to - from > chrono::Duration::days(MOST_DAYS) {
            return Err(AppError::bad_input(
                "to",
                format!("a window is at most {MOST_DAYS} days"),
            ));
        }
        let filter = TaskFilter {
            list_id: list,
            completed: Some(false),
            ..TaskFilter::default()
        };
        let recurs_from_due = Condition::all()
            .add(task::Column::Recurrence.is_not_null())
            .add(task::Column::RepeatFrom.eq("due"));
        let condition = listed(viewer, &filter)
            .add(task::Column::Due.is_not_null())
            .add(task::Column::Due.lt(to))
            .add(
                Condition::any()
                    .add(task::Column::Due.gte(from))
                    .add(recurs_from_due),
            );
        let mut found = Vec::new();
        for (task, start) in self.dated(condition, MOST_OCCURRENCES).await? {
            for due in task_occurrences(&task, start.as_deref(), from, to) {
                found.push((task.clone(), due));
            }
        }
        found.sort_by_key(|(task, due)| {
            let zone = Zone::stored(task.time_zone.as_deref().unwrap_or("UTC"));
            (due.instant(zone), task.id)
        });
        found.truncate(MOST_OCCURRENCES);
        Ok(found)
    }
}

impl Tasks {
    /// The tasks `condition` finds, by due date, at most `most`, each with
    /// every field and the start of its series (for expanding its rule).
    pub(super) async fn dated(
        &self,
        condition: Condition,
        most: usize,
    ) -> AppResult<Vec<(TaskRead, Option<String>)>> {
        let mut select = Shown::ALL.select();
        select
            .column((task::Entity, task::Column::SeriesStart))
            .cond_where(condition)
            .order_by((task::Entity, task::Column::Due), Order::Asc)
            .order_by((task::Entity, task::Column::Id), Order::Asc)
            .limit(u64::try_from(most).unwrap_or(u64::MAX));
        let starts_at = Shown::ALL.columns();
        let mut tasks = Vec::new();
        for row in &self.writer().db().query_all(&select).await? {
            tasks.push((
                TaskRead::read(row, Shown::ALL)?,
                row.try_get_by_index(starts_at)?,
            ));
        }
        Ok(tasks)
    }
}

/// The due dates of one open task in `from <= due < to`.
fn task_occurrences(
    task: &TaskRead,
    start: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Due> {
    let zone = Zone::stored(task.time_zone.as_deref().unwrap_or("UTC"));
    let Some(due) = Due::of(task.due_at.flatten(), task.due_on.flatten()) else {
        return Vec::new();
    };
    let within = |due: &Due| (from..to).contains(&due.instant(zone));
    let rule = task
        .recurrence
        .as_ref()
        .and_then(|rule| rule.as_deref())
        .and_then(|rule| Rule::parse(rule).ok());
    let recurs_from_due = task.repeat_from == Some(super::RepeatFrom::Due);
    let (Some(rule), true) = (rule, recurs_from_due) else {
        return Vec::from_iter(Some(due).filter(within));
    };
    let start = start
        .and_then(Start::from_stored)
        .unwrap_or_else(|| Start::of(due, zone));
    let series = Series {
        rule: &rule,
        start,
        zone,
    };
    let mut found: Vec<Due> = Some(due).filter(within).into_iter().collect();
    found.extend(
        series
            .occurrences()
            .skip_while(|next| next.instant(zone) <= due.instant(zone))
            .take_while(|next| next.instant(zone) < to)
            .filter(within)
            .take(MOST_OCCURRENCES),
    );
    found
}
