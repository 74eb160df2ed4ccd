//! Creating, changing and deleting tasks. Each write is a [`Write`] that
//! ends in [`Tasks::commit`], which hands the change to the event bus to
//! commit and tell the owner's subscribers of.
//!
//! On SQLite every write is a single statement, so it commits as its own
//! transaction: an explicit `BEGIN … COMMIT` around it would add two round
//! trips to SQLite's connection thread, with the write lock held across
//! them, and cost about a third of `createTask`'s throughput for nothing.
//! SQLite has one writer at a time, and the writes of this process take
//! turns, so that subscribers hear of changes in commit order, and a writer
//! waits for exactly its turn instead of sleeping in SQLite's busy handler.
//! On PostgreSQL the write and its `NOTIFY` share a transaction, which
//! orders the notices as the commits.

use entity::task::{self, Column, Entity as TaskRows};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, ExecResult, QueryFilter, QueryTrait, TransactionTrait,
};
use tokio::sync::MutexGuard;
use uuid::Uuid;

use super::{Description, NewTask, TaskChanges, TaskRead, Tasks, input};
use crate::{
    db,
    error::{AppError, AppResult},
    events::{Notice, Pending, TaskEvent, TaskEventKind},
};

/// How often an update retries when another update of the same task won.
const UPDATE_ATTEMPTS: usize = 5;

/// A write in progress: on SQLite the pool and this process's turn, on
/// PostgreSQL a transaction.
enum Write<'a> {
    Turn(&'a DatabaseConnection, MutexGuard<'a, ()>),
    Transaction(DatabaseTransaction),
}

impl Write<'_> {
    async fn execute(&self, statement: &impl QueryTrait) -> AppResult<ExecResult> {
        Ok(match self {
            Self::Turn(db, _) => {
                db.execute_raw(statement.build(db.get_database_backend()))
                    .await?
            }
            Self::Transaction(txn) => {
                txn.execute_raw(statement.build(txn.get_database_backend()))
                    .await?
            }
        })
    }

    /// Gives up a write whose statement changed nothing.
    async fn abandon(self) -> AppResult<()> {
        if let Self::Transaction(txn) = self {
            txn.rollback().await?;
        }
        Ok(())
    }
}

impl Tasks {
    #[tracing::instrument(skip_all, fields(owner = %owner))]
    pub async fn create(&self, owner: Uuid, new: NewTask) -> AppResult<TaskRead> {
        let now = db::now();
        let title = new.title.into_inner();
        let description = new.description.map(Description::into_inner);
        let task = task::Model {
            id: Uuid::now_v7(),
            user_id: owner,
            search_text: input::search_text(&title, description.as_deref()),
            title,
            description,
            completed: false,
            due_at: new.due_at.map(db::truncate),
            created_at: now,
            updated_at: now,
        };
        let write = self.begin().await?;
        write
            .execute(&TaskRows::insert(task::ActiveModel::from(task.clone())))
            .await?;
        let task = TaskRead::from(task);
        self.commit(write, owner, TaskEventKind::Created, task.id, Some(&task))
            .await?;
        Ok(task)
    }

    /// Applies `changes` to the owner's task `id` and returns it as it is now.
    ///
    /// The write is conditional on the task being unchanged since it was read,
    /// so two concurrent updates of different fields both take effect and the
    /// search text always matches the title and description. The read stays
    /// outside the transaction: on SQLite, a transaction that reads before it
    /// writes cannot wait for another writer and fails instead.
    #[tracing::instrument(skip_all, fields(owner = %owner, task = %id))]
    pub async fn update(&self, owner: Uuid, id: Uuid, changes: TaskChanges) -> AppResult<TaskRead> {
        for _ in 0..UPDATE_ATTEMPTS {
            let current = TaskRows::find_by_id(id)
                .filter(Column::UserId.eq(owner))
                .one(&self.db)
                .await?
                .ok_or(AppError::NotFound)?;
            if changes.is_empty() {
                return Ok(current.into());
            }
            let next = apply(&current, &changes);
            let statement = TaskRows::update_many()
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
                .filter(Column::UpdatedAt.eq(current.updated_at));
            let write = self.begin().await?;
            if write.execute(&statement).await?.rows_affected() == 1 {
                let next = TaskRead::from(next);
                self.commit(write, owner, TaskEventKind::Updated, id, Some(&next))
                    .await?;
                return Ok(next);
            }
            write.abandon().await?;
        }
        Err(AppError::internal("task kept changing during the update"))
    }

    #[tracing::instrument(skip_all, fields(owner = %owner, task = %id))]
    pub async fn delete(&self, owner: Uuid, id: Uuid) -> AppResult<()> {
        let statement = TaskRows::delete_many()
            .filter(Column::Id.eq(id))
            .filter(Column::UserId.eq(owner));
        let write = self.begin().await?;
        if write.execute(&statement).await?.rows_affected() == 0 {
            write.abandon().await?;
            return Err(AppError::NotFound);
        }
        self.commit(write, owner, TaskEventKind::Deleted, id, None)
            .await
    }

    /// Starts a write: on SQLite once it is this process's turn, on
    /// PostgreSQL in a transaction.
    async fn begin(&self) -> AppResult<Write<'_>> {
        Ok(match &self.turns {
            Some(turns) => Write::Turn(&self.db, turns.lock().await),
            None => Write::Transaction(self.db.begin().await?),
        })
    }

    /// Ends a write whose statement succeeded: the event bus commits it and
    /// tells the owner's subscribers; then the turn, if any, passes on.
    async fn commit(
        &self,
        write: Write<'_>,
        owner: Uuid,
        kind: TaskEventKind,
        task_id: Uuid,
        task: Option<&TaskRead>,
    ) -> AppResult<()> {
        let notice = Notice::Task(TaskEvent {
            kind,
            task_id,
            task: task.cloned(),
        });
        let (change, turn) = match write {
            Write::Turn(db, turn) => (Pending::Committed(db), Some(turn)),
            Write::Transaction(txn) => (Pending::Transaction(txn), None),
        };
        self.events.commit(change, owner, notice).await?;
        drop(turn);
        tracing::debug!(task = %task_id, "task change committed");
        Ok(())
    }
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
        next.due_at = due_at.map(db::truncate);
    }
    next.search_text = input::search_text(&next.title, next.description.as_deref());
    // Strictly later than before, even within one microsecond.
    next.updated_at = Ord::max(
        db::now(),
        current.updated_at + chrono::Duration::microseconds(1),
    );
    next
}
