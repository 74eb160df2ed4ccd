//! Tasks: creating, changing, deleting and listing one user's tasks.
//!
//! Every query here filters on the owner in SQL, so another user's task is
//! indistinguishable from one that does not exist.

pub mod cursor;
pub mod fields;
pub mod order;
mod page;

use chrono::{DateTime, Utc};
use entity::task::{self, Column, Entity as Tasks};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, Select,
    sea_query::{Expr, ExprTrait, LikeExpr},
};
use uuid::Uuid;

pub use fields::{Description, TaskTitle};
pub use page::{DEFAULT_PAGE, MAX_PAGE, Page, PageArgs, list};

use crate::{
    db,
    error::{AppError, AppResult},
};

/// How often an update retries when another update of the same task won.
const UPDATE_ATTEMPTS: usize = 5;

pub struct NewTask {
    pub title: TaskTitle,
    pub description: Option<Description>,
    pub due_at: Option<DateTime<Utc>>,
}

/// Changes to a task; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Default)]
pub struct TaskChanges {
    pub title: Option<TaskTitle>,
    pub description: Option<Option<Description>>,
    pub completed: Option<bool>,
    pub due_at: Option<Option<DateTime<Utc>>>,
}

/// Which of the owner's tasks a listing shows.
#[derive(Clone, Debug, Default)]
pub struct TaskFilter {
    pub completed: Option<bool>,
    /// A `LIKE` pattern from [`fields::search_pattern`].
    pub search_pattern: Option<String>,
    pub due_before: Option<DateTime<Utc>>,
    pub due_after: Option<DateTime<Utc>>,
}

impl TaskChanges {
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.description.is_none()
            && self.completed.is_none()
            && self.due_at.is_none()
    }
}

/// The owner's tasks that pass `filter`, as a condition for any query.
pub fn owned(owner: Uuid, filter: &TaskFilter) -> Condition {
    let mut condition = Condition::all().add(Column::UserId.eq(owner));
    if let Some(completed) = filter.completed {
        condition = condition.add(Column::Completed.eq(completed));
    }
    if let Some(pattern) = &filter.search_pattern {
        let like = LikeExpr::new(pattern.clone()).escape('\\');
        condition = condition.add(Expr::col(Column::SearchText).like(like));
    }
    if let Some(before) = filter.due_before {
        condition = condition.add(Column::DueAt.lt(before));
    }
    if let Some(after) = filter.due_after {
        condition = condition.add(Column::DueAt.gt(after));
    }
    condition
}

fn select_owned(owner: Uuid, filter: &TaskFilter) -> Select<Tasks> {
    Tasks::find().filter(owned(owner, filter))
}

pub async fn find(
    db: &DatabaseConnection,
    owner: Uuid,
    id: Uuid,
) -> AppResult<Option<task::Model>> {
    Ok(select_owned(owner, &TaskFilter::default())
        .filter(Column::Id.eq(id))
        .one(db)
        .await?)
}

pub async fn count(db: &DatabaseConnection, owner: Uuid, filter: &TaskFilter) -> AppResult<u64> {
    Ok(select_owned(owner, filter).count(db).await?)
}

#[tracing::instrument(skip_all, fields(owner = %owner))]
pub async fn create(db: &DatabaseConnection, owner: Uuid, new: NewTask) -> AppResult<task::Model> {
    let now = db::now();
    let title = new.title.into_inner();
    let description = new.description.map(Description::into_inner);
    let task = task::Model {
        id: Uuid::now_v7(),
        user_id: owner,
        search_text: fields::search_text(&title, description.as_deref()),
        title,
        description,
        completed: false,
        due_at: new.due_at.map(truncate),
        created_at: now,
        updated_at: now,
    };
    Tasks::insert(task::ActiveModel::from(task.clone()))
        .exec_without_returning(db)
        .await?;
    Ok(task)
}

/// Applies `changes` to the owner's task `id` and returns it as it is now.
///
/// The write is conditional on the task being unchanged since it was read,
/// so two concurrent updates of different fields both take effect and the
/// search text always matches the title and description.
#[tracing::instrument(skip_all, fields(owner = %owner, task = %id))]
pub async fn update(
    db: &DatabaseConnection,
    owner: Uuid,
    id: Uuid,
    changes: TaskChanges,
) -> AppResult<task::Model> {
    for _ in 0..UPDATE_ATTEMPTS {
        let current = find(db, owner, id).await?.ok_or(AppError::NotFound)?;
        if changes.is_empty() {
            return Ok(current);
        }
        let next = apply(&current, &changes);
        let written = Tasks::update_many()
            .set(task::ActiveModel {
                title: Set(next.title.clone()),
                description: Set(next.description.clone()),
                completed: Set(next.completed),
                due_at: Set(next.due_at),
                updated_at: Set(next.updated_at),
                search_text: Set(next.search_text.clone()),
                ..Default::default()
            })
            .filter(Column::Id.eq(id))
            .filter(Column::UserId.eq(owner))
            .filter(Column::UpdatedAt.eq(current.updated_at))
            .exec(db)
            .await?;
        if written.rows_affected == 1 {
            return Ok(next);
        }
    }
    Err(AppError::internal("task kept changing during the update"))
}

fn apply(current: &task::Model, changes: &TaskChanges) -> task::Model {
    let mut next = current.clone();
    if let Some(title) = &changes.title {
        next.title = title.clone().into_inner();
    }
    if let Some(description) = &changes.description {
        next.description = description.clone().map(Description::into_inner);
    }
    if let Some(completed) = changes.completed {
        next.completed = completed;
    }
    if let Some(due_at) = changes.due_at {
        next.due_at = due_at.map(truncate);
    }
    next.search_text = fields::search_text(&next.title, next.description.as_deref());
    // Strictly later than before, even within one microsecond.
    next.updated_at = Ord::max(
        db::now(),
        current.updated_at + chrono::Duration::microseconds(1),
    );
    next
}

#[tracing::instrument(skip_all, fields(owner = %owner, task = %id))]
pub async fn delete(db: &DatabaseConnection, owner: Uuid, id: Uuid) -> AppResult<()> {
    let deleted = Tasks::delete_many()
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(owner))
        .exec(db)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// Dates at the precision the databases keep.
fn truncate(time: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    time.trunc_subsecs(6)
}
