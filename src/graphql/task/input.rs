//! What clients send about tasks: the inputs of the task mutations and of
//! the `tasks` listing, and how each is parsed into what `crate::tasks`
//! takes, by the input rules of `tasks::input`.

use async_graphql::{Enum, ID, InputObject, MaybeUndefined};
use uuid::Uuid;

use super::super::scalars::{Date, DateTime};
use crate::{
    dates::{Due, Zone, recurrence::Rule},
    error::AppError,
    tasks::{
        self, Description, NewTask, TaskChanges, TaskTitle,
        input::{filter_labels, search_pattern},
        order::{self, TaskOrder},
        recurring::DateChanges,
    },
};

#[derive(InputObject)]
pub struct CreateTaskInput {
    /// An id the client made (a UUID), so that sending the same create
    /// again (an offline client replaying it) answers the same task and
    /// changes nothing; the server makes one when not given.
    pub id: Option<ID>,
    /// The list it goes in: the viewer's inbox when not given.
    pub list_id: Option<ID>,
    /// 1–200 characters after trimming.
    pub title: String,
    /// At most 10,000 characters.
    pub description: Option<String>,
    /// A timed due date; or `dueOn`, not both.
    pub due_at: Option<DateTime>,
    /// An all-day due date; or `dueAt`, not both.
    pub due_on: Option<Date>,
    /// The IANA zone of its times (`Europe/Berlin`): `UTC` when not given.
    pub time_zone: Option<String>,
    /// An RFC 5545 RRULE (`FREQ=WEEKLY;BYDAY=MO`); needs a due date.
    pub recurrence: Option<String>,
    /// `DUE` when not given.
    pub repeat_from: Option<RepeatFrom>,
    /// `NONE` when not given.
    pub priority: Option<Priority>,
    /// Makes it a subtask of this task (last among its subtasks), in that
    /// task's list; 4 levels in all.
    pub parent_id: Option<ID>,
    /// Labels of the task's list.
    pub label_ids: Option<Vec<ID>>,
}

/// Only the fields given change; `null` clears `description` or `dueAt`.
#[derive(InputObject)]
pub struct UpdateTaskInput {
    #[graphql(default)]
    pub title: MaybeUndefined<String>,
    #[graphql(default)]
    pub description: MaybeUndefined<String>,
    #[graphql(default)]
    pub completed: MaybeUndefined<bool>,
    /// Setting it clears `dueOn`.
    #[graphql(default)]
    pub due_at: MaybeUndefined<DateTime>,
    /// Setting it clears `dueAt`.
    #[graphql(default)]
    pub due_on: MaybeUndefined<Date>,
    #[graphql(default)]
    pub time_zone: MaybeUndefined<String>,
    /// Setting it (re)starts the series at the due date; `null` ends it.
    #[graphql(default)]
    pub recurrence: MaybeUndefined<String>,
    #[graphql(default)]
    pub repeat_from: MaybeUndefined<RepeatFrom>,
    #[graphql(default)]
    pub priority: MaybeUndefined<Priority>,
    /// Exactly these labels, of the list the task ends up in (`[]`: none).
    #[graphql(default)]
    pub label_ids: MaybeUndefined<Vec<ID>>,
    /// Moves the task, with its subtasks, to another list (an editor of
    /// both), last among its top-level tasks; its assignee stays only if a
    /// member there.
    #[graphql(default)]
    pub list_id: MaybeUndefined<ID>,
    /// The task's `version` the change was made against: when the task
    /// has changed since, nothing is written and the answer is `CONFLICT`
    /// with the task as it is.
    pub expected_version: Option<i32>,
}

/// Narrows a listing; every condition given must hold.
#[derive(InputObject, Default)]
#[graphql(name = "TaskFilter")]
pub struct TaskFilterInput {
    /// Only this list's tasks (the root `tasks` spans every list the viewer
    /// is in).
    pub list_id: Option<ID>,
    /// Only the tasks assigned to this person.
    pub assignee_id: Option<ID>,
    pub completed: Option<bool>,
    /// Case-insensitive text in the title or description, taken literally.
    pub search: Option<String>,
    /// Due strictly before this time.
    pub due_before: Option<DateTime>,
    /// Due strictly after this time.
    pub due_after: Option<DateTime>,
    /// This priority or a higher one.
    pub priority_at_least: Option<Priority>,
    /// Only the subtasks of this task.
    pub parent_id: Option<ID>,
    /// Only tasks that are no other task's subtask.
    pub top_level_only: Option<bool>,
    /// Only tasks that carry every one of these labels (at most 50).
    pub label_ids: Option<Vec<ID>>,
}

/// How urgent a task is.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "tasks::Priority")]
pub enum Priority {
    None,
    Low,
    Medium,
    High,
    Urgent,
}

/// Where the next occurrence of a recurring task is counted from.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "tasks::RepeatFrom")]
pub enum RepeatFrom {
    /// The due date: "every Monday", whenever it was done.
    Due,
    /// The completion: "three days after it was last done".
    Completion,
}

/// Where `moveTask` puts a task: after one sibling and/or before another
/// (neither: first), under another parent or in another list. What is not
/// given stays as it is; `parentId: null` makes it top-level.
#[derive(InputObject)]
pub struct MoveTaskInput {
    pub id: ID,
    #[graphql(default)]
    pub parent_id: MaybeUndefined<ID>,
    /// Another list (an editor of both); the task takes its subtasks along
    /// and is top-level there unless `parentId` names a task of that list.
    pub list_id: Option<ID>,
    /// The sibling it goes right after.
    pub after: Option<ID>,
    /// The sibling it goes right before.
    pub before: Option<ID>,
    /// The task's `version` the move was made against: when the task has
    /// changed since, nothing moves and the answer is `CONFLICT`.
    pub expected_version: Option<i32>,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "TaskOrderField", remote = "order::OrderField")]
pub enum OrderField {
    CreatedAt,
    UpdatedAt,
    DueAt,
    Title,
    Priority,
    /// The manual order (ascending: as the list shows it).
    Position,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "OrderDirection", remote = "order::Direction")]
pub enum Direction {
    Asc,
    Desc,
}

/// The order of a listing, ties broken by id; tasks without a due date come
/// last when ordering by it.
#[derive(InputObject)]
#[graphql(name = "TaskOrder")]
pub struct TaskOrderInput {
    pub field: OrderField,
    #[graphql(default_with = "Direction::Desc")]
    pub direction: Direction,
}

impl TaskFilterInput {
    pub(super) fn parse(self) -> Result<tasks::TaskFilter, AppError> {
        Ok(tasks::TaskFilter {
            list_id: self
                .list_id
                .as_ref()
                .map(|id| parse_id(id, "listId"))
                .transpose()?,
            assignee_id: self
                .assignee_id
                .as_ref()
                .map(|id| parse_id(id, "assigneeId"))
                .transpose()?,
            completed: self.completed,
            search_pattern: self.search.as_deref().map(search_pattern).transpose()?,
            due_before: self.due_before.map(|due| due.0),
            due_after: self.due_after.map(|due| due.0),
            priority_at_least: self.priority_at_least.map(Into::into),
            parent_id: self
                .parent_id
                .as_ref()
                .map(|id| parse_id(id, "parentId"))
                .transpose()?,
            top_level_only: self.top_level_only.unwrap_or(false),
            label_ids: filter_labels(parse_ids(
                self.label_ids.as_deref().unwrap_or_default(),
                "labelIds",
            )?)?,
        })
    }
}

impl UpdateTaskInput {
    pub(super) fn parse(self) -> Result<TaskChanges, AppError> {
        let required =
            |field: &'static str| AppError::bad_input(field, format!("{field} cannot be null"));
        Ok(TaskChanges {
            title: match self.title {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => return Err(required("title")),
                MaybeUndefined::Value(title) => Some(TaskTitle::parse(&title)?),
            },
            description: match self.description {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(text) => Some(Some(Description::parse(&text)?)),
            },
            completed: match self.completed {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => return Err(required("completed")),
                MaybeUndefined::Value(completed) => Some(completed),
            },
            dates: DateChanges {
                due: match (self.due_at, self.due_on) {
                    (MaybeUndefined::Value(_), MaybeUndefined::Value(_)) => return Err(both()),
                    (MaybeUndefined::Value(at), _) => Some(Some(Due::At(at.0))),
                    (_, MaybeUndefined::Value(on)) => Some(Some(Due::On(on.0))),
                    (MaybeUndefined::Null, _) | (_, MaybeUndefined::Null) => Some(None),
                    (MaybeUndefined::Undefined, MaybeUndefined::Undefined) => None,
                },
                zone: match self.time_zone {
                    MaybeUndefined::Undefined => None,
                    MaybeUndefined::Null => return Err(required("timeZone")),
                    MaybeUndefined::Value(zone) => Some(Zone::parse(&zone, "timeZone")?),
                },
                recurrence: match self.recurrence {
                    MaybeUndefined::Undefined => None,
                    MaybeUndefined::Null => Some(None),
                    MaybeUndefined::Value(rule) => Some(Some(Rule::parse(&rule)?)),
                },
                repeat_from: match self.repeat_from {
                    MaybeUndefined::Undefined => None,
                    MaybeUndefined::Null => return Err(required("repeatFrom")),
                    MaybeUndefined::Value(from) => Some(from.into()),
                },
            },
            priority: match self.priority {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => return Err(required("priority")),
                MaybeUndefined::Value(priority) => Some(priority.into()),
            },
            label_ids: match self.label_ids {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => return Err(required("labelIds")),
                MaybeUndefined::Value(ids) => Some(parse_ids(&ids, "labelIds")?),
            },
            list_id: match self.list_id {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => return Err(required("listId")),
                MaybeUndefined::Value(id) => Some(parse_id(&id, "listId")?),
            },
            assignee: None,
            expected_version: self.expected_version,
        })
    }
}

impl CreateTaskInput {
    pub(super) fn parse(self) -> Result<NewTask, AppError> {
        Ok(NewTask {
            id: self.id.as_ref().map(|id| parse_id(id, "id")).transpose()?,
            list_id: self
                .list_id
                .as_ref()
                .map(|id| parse_id(id, "listId"))
                .transpose()?,
            title: TaskTitle::parse(&self.title)?,
            description: self
                .description
                .as_deref()
                .map(Description::parse)
                .transpose()?,
            dates: DateChanges {
                due: Some(match (self.due_at, self.due_on) {
                    (Some(_), Some(_)) => return Err(both()),
                    (Some(at), None) => Some(Due::At(at.0)),
                    (None, Some(on)) => Some(Due::On(on.0)),
                    (None, None) => None,
                }),
                zone: self
                    .time_zone
                    .map(|zone| Zone::parse(&zone, "timeZone"))
                    .transpose()?,
                recurrence: self
                    .recurrence
                    .map(|rule| Rule::parse(&rule).map(Some))
                    .transpose()?,
                repeat_from: self.repeat_from.map(Into::into),
            },
            priority: self.priority.map(Into::into).unwrap_or_default(),
            parent_id: self
                .parent_id
                .as_ref()
                .map(|id| parse_id(id, "parentId"))
                .transpose()?,
            label_ids: parse_ids(self.label_ids.as_deref().unwrap_or_default(), "labelIds")?,
        })
    }
}

impl MoveTaskInput {
    /// The task and where it goes.
    pub(super) fn parse(self) -> Result<(Uuid, tasks::Move), AppError> {
        let optional = |id: Option<ID>, field| id.map(|id| parse_id(&id, field)).transpose();
        let to = tasks::Move {
            parent_id: match self.parent_id {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(id) => Some(Some(parse_id(&id, "parentId")?)),
            },
            list_id: optional(self.list_id, "listId")?,
            after: optional(self.after, "after")?,
            before: optional(self.before, "before")?,
            expected_version: self.expected_version,
        };
        Ok((parse_id(&self.id, "id")?, to))
    }
}

impl TaskOrderInput {
    pub(super) fn parse(self) -> TaskOrder {
        TaskOrder {
            field: self.field.into(),
            direction: self.direction.into(),
        }
    }
}

/// A task has a timed or an all-day due date, never both.
fn both() -> AppError {
    AppError::bad_input("dueOn", "a task has dueAt or dueOn, not both")
}

/// The ids sent in the input field `field`.
pub(crate) fn parse_ids(ids: &[ID], field: &'static str) -> Result<Vec<Uuid>, AppError> {
    ids.iter().map(|id| parse_id(id, field)).collect()
}

/// An id sent in the input field `field`.
pub fn parse_id(id: &ID, field: &'static str) -> Result<Uuid, AppError> {
    Uuid::parse_str(id).map_err(|_| AppError::bad_input(field, "not a valid id"))
}
