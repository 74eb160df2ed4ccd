//! The tasks service: creating, changing, deleting and listing one user's
//! tasks.
//!
//! Every query here filters on the owner in SQL, so another user's task is
//! indistinguishable from one that does not exist.

pub mod cursor;
pub mod fields;
pub mod input;
pub mod order;
mod page;
mod write;

use chrono::{DateTime, Utc};
use entity::task::{self, Column};
use std::sync::Arc;

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, Select,
    sea_query::{Expr, ExprTrait, LikeExpr, SelectStatement},
};
use tokio::sync::Mutex;
use uuid::Uuid;

use cursor::CursorKey;
pub use fields::{Shown, TaskRead};
pub use input::{Description, TaskTitle};
pub use page::{DEFAULT_PAGE, MAX_PAGE, Page, PageArgs, PageCursors, PageShows};

use crate::{db::sqlite_reads::SqliteReads, error::AppResult, events::Events};

/// Everything task operations need; cheap to clone.
#[derive(Clone)]
pub struct Tasks {
    db: DatabaseConnection,
    /// On a SQLite file, readers used on the calling thread (see [`Tasks::all`]).
    reads: Option<Arc<SqliteReads>>,
    cursors: CursorKey,
    events: Events,
    /// On SQLite, whose turn it is to write (see [`write`]).
    turns: Option<Arc<Mutex<()>>>,
}

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
    /// A `LIKE` pattern from [`input::search_pattern`].
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

fn select_owned(owner: Uuid, filter: &TaskFilter) -> Select<task::Entity> {
    task::Entity::find().filter(owned(owner, filter))
}

impl Tasks {
    pub fn new(
        db: DatabaseConnection,
        reads: Option<SqliteReads>,
        cursors: CursorKey,
        events: Events,
    ) -> Self {
        let turns = (db.get_database_backend() == DbBackend::Sqlite).then(Arc::default);
        Self {
            db,
            reads: reads.map(Arc::new),
            cursors,
            events,
            turns,
        }
    }

    /// The owner's task `id`, if there is one, with every field.
    pub async fn find(&self, owner: Uuid, id: Uuid) -> AppResult<Option<TaskRead>> {
        let mut select = Shown::ALL.select();
        select
            .cond_where(owned(owner, &TaskFilter::default()).add(Column::Id.eq(id)))
            .limit(1);
        Ok(self.all(&select, Shown::ALL).await?.pop())
    }

    /// Every task `select` (of `shown`'s columns, [`Shown::select`]) finds:
    /// a short read (an index lookup or a bounded range), which on a SQLite
    /// file runs on the calling thread.
    async fn all(&self, select: &SelectStatement, shown: Shown) -> AppResult<Vec<TaskRead>> {
        let tasks = match &self.reads {
            Some(reads) => reads.all(&DbBackend::Sqlite.build(select), |row| {
                TaskRead::read(row, shown)
            })?,
            None => self
                .db
                .query_all(select)
                .await?
                .iter()
                .map(|row| TaskRead::read(row, shown))
                .collect::<Result<_, _>>()?,
        };
        Ok(tasks)
    }

    /// How many of the owner's tasks pass `filter`.
    pub async fn count(&self, owner: Uuid, filter: &TaskFilter) -> AppResult<u64> {
        Ok(select_owned(owner, filter).count(&self.db).await?)
    }
}
