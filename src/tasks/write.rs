//! Creating, changing, moving, assigning and deleting tasks. Each write is a
//! [`Write`] of the process's [`crate::db::write::Writer`], checked by the
//! lists' rule in its own statement (an editor of the list, and for a move
//! of both lists), and ended by the event bus, which commits it and tells
//! the members of the list, read within the write.

use entity::task::{self, Column, Entity as TaskRows};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, EntityTrait, QueryFilter, QueryTrait,
    sea_query::{Expr, ExprTrait, Query},
};
use uuid::Uuid;

use super::{Description, NewTask, TaskChanges, TaskRead, Tasks, input};
use crate::{
    db::{self, write::Write},
    error::{AppError, AppResult},
    events::{Delivery, Notice, TaskEvent, TaskEventKind},
    lists::{self, Role, visible},
};

/// How often an update retries when another update of the same task won.
const UPDATE_ATTEMPTS: usize = 5;

impl Tasks {
    #[tracing::instrument(skip_all, fields(viewer = %viewer))]
    pub async fn create(&self, viewer: Uuid, new: NewTask) -> AppResult<TaskRead> {
        let now = db::now();
        let title = new.title.into_inner();
        let description = new.description.map(Description::into_inner);
        // An account's inbox has the account's id.
        let list = new.list_id.unwrap_or(viewer);
        let task = task::Model {
            id: Uuid::now_v7(),
            list_id: list,
            created_by: Some(viewer),
            assignee_id: None,
            search_text: input::search_text(&title, description.as_deref()),
            title,
            description,
            completed: false,
            due_at: new.due_at.map(db::truncate),
            created_at: now,
            updated_at: now,
        };
        let write = self.writer.begin().await?;
        let audience = Audience::read(&write, list, None).await?;
        // Inserted only when the viewer may add to the list, in the statement.
        let mut insert = TaskRows::insert(task::ActiveModel::from(task.clone())).into_query();
        let values = Query::select()
            .exprs(insert_values(&task))
            .and_where(Expr::val(list).in_subquery(visible::lists_of(viewer, Role::Editor)))
            .to_owned();
        insert.select_from(values).map_err(AppError::internal)?;
        if !write.changed(&insert).await? {
            write.abandon().await?;
            return Err(lists::refusal(&self.db, viewer, list).await?);
        }
        let task = TaskRead::from(task);
        self.tell(write, TaskEventKind::Created, &task, audience)
            .await?;
        Ok(task)
    }

    /// Applies `changes` to the viewer's task `id` and returns it as it is
    /// now.
    ///
    /// The write is conditional on the task being unchanged since it was
    /// read, so two concurrent updates of different fields both take effect
    /// and the search text always matches the title and description, and on
    /// the viewer's role as the rule finds it in that statement. The read
    /// stays outside the transaction: on SQLite, a transaction that reads
    /// before it writes cannot wait for another writer and fails instead.
    #[tracing::instrument(skip_all, fields(viewer = %viewer, task = %id))]
    pub async fn update(
        &self,
        viewer: Uuid,
        id: Uuid,
        changes: TaskChanges,
    ) -> AppResult<TaskRead> {
        for _ in 0..UPDATE_ATTEMPTS {
            let current = self.current(viewer, id).await?;
            if changes.is_empty() {
                return Ok(current.into());
            }
            self.check_change(viewer, &current, &changes).await?;
            let mut next = apply(&current, &changes);
            let moved = next.list_id != current.list_id;
            if moved
                && changes.assignee.is_none()
                && let Some(assignee) = next.assignee_id
                && lists::role_in(&self.db, assignee, next.list_id)
                    .await?
                    .is_none()
            {
                // The assignee is not in the list it moves to.
                next.assignee_id = None;
            }
            let mut statement = TaskRows::update_many()
                .set(task::ActiveModel {
                    title: Set(next.title.clone()),
                    description: Set(next.description.clone()),
                    completed: Set(next.completed),
                    due_at: Set(next.due_at),
                    updated_at: Set(next.updated_at),
                    search_text: Set(next.search_text.clone()),
                    list_id: Set(next.list_id),
                    assignee_id: Set(next.assignee_id),
                    ..Default::default()
                })
                .filter(Column::Id.eq(id))
                .filter(Column::UpdatedAt.eq(current.updated_at))
                .filter(visible::tasks(viewer, Role::Editor));
            if moved {
                statement = statement.filter(
                    Expr::val(next.list_id).in_subquery(visible::lists_of(viewer, Role::Editor)),
                );
            }
            if let Some(assignee) = next.assignee_id {
                // Assigned only to a member of the list it ends up in.
                statement =
                    statement.filter(Expr::val(assignee).in_subquery(members_of(next.list_id)));
            }
            let write = self.writer.begin().await?;
            let left = moved.then_some(current.list_id);
            let audience = Audience::read(&write, next.list_id, left).await?;
            if write.changed(&statement.into_query()).await? {
                let next = TaskRead::from(next);
                self.tell(write, TaskEventKind::Updated, &next, audience)
                    .await?;
                return Ok(next);
            }
            write.abandon().await?;
        }
        Err(AppError::internal("task kept changing during the update"))
    }

    #[tracing::instrument(skip_all, fields(viewer = %viewer, task = %id))]
    pub async fn delete(&self, viewer: Uuid, id: Uuid) -> AppResult<()> {
        let current = self.current(viewer, id).await?;
        let statement = TaskRows::delete_many()
            .filter(Column::Id.eq(id))
            .filter(visible::tasks(viewer, Role::Editor))
            .into_query();
        let write = self.writer.begin().await?;
        let audience = Audience::read(&write, current.list_id, None).await?;
        if !write.changed(&statement).await? {
            write.abandon().await?;
            return Err(lists::refusal(&self.db, viewer, current.list_id).await?);
        }
        let gone = TaskRead {
            id,
            ..TaskRead::from(current)
        };
        self.tell(write, TaskEventKind::Deleted, &gone, audience)
            .await
    }

    /// The task as it is, if the viewer sees it.
    async fn current(&self, viewer: Uuid, id: Uuid) -> AppResult<task::Model> {
        TaskRows::find_by_id(id)
            .filter(visible::tasks(viewer, Role::Viewer))
            .one(&self.db)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// The viewer may make `changes` to `current`: an editor of its list,
    /// and of the list it moves to; an assignee who is a member there. The
    /// update's own statement checks the same again.
    async fn check_change(
        &self,
        viewer: Uuid,
        current: &task::Model,
        changes: &TaskChanges,
    ) -> AppResult<()> {
        let role = lists::role_in(&self.db, viewer, current.list_id).await?;
        if !role.is_some_and(|role| role.allows(Role::Editor)) {
            return Err(lists::refused(role));
        }
        let target = changes.list_id.unwrap_or(current.list_id);
        if target != current.list_id {
            match lists::role_in(&self.db, viewer, target).await? {
                None => return Err(AppError::NotFound),
                Some(role) if !role.allows(Role::Editor) => return Err(AppError::Forbidden),
                Some(_) => {}
            }
        }
        if let Some(Some(person)) = changes.assignee
            && lists::role_in(&self.db, person, target).await?.is_none()
        {
            return Err(AppError::bad_input(
                "personId",
                "not a member of the task's list",
            ));
        }
        Ok(())
    }

    /// Ends `write`, telling `audience` of `kind`: the members of `task`'s
    /// list, and for a task that left a list, its members who are not in
    /// the new one that it is gone for them.
    async fn tell(
        &self,
        write: Write<'_>,
        kind: TaskEventKind,
        task: &TaskRead,
        audience: Audience,
    ) -> AppResult<()> {
        let Audience { members, left } = audience;
        let mut deliveries = Vec::new();
        if let Some((left, gone)) = left {
            deliveries.push(Delivery {
                users: gone,
                notice: Notice::Task(TaskEvent {
                    kind: TaskEventKind::Deleted,
                    task_id: task.id,
                    list_id: left,
                    task: None,
                }),
            });
        }
        deliveries.push(Delivery {
            users: members,
            notice: Notice::Task(TaskEvent {
                kind,
                task_id: task.id,
                list_id: task.list_id,
                task: (kind != TaskEventKind::Deleted).then(|| task.clone()),
            }),
        });
        self.events.commit_write(write, deliveries).await?;
        tracing::debug!(task = %task.id, "task change committed");
        Ok(())
    }
}

/// Who hears of a task's change, read at the start of its write (on
/// PostgreSQL the members' rows are held before the task's, in the order a
/// removal takes them, so the two never wait on each other).
struct Audience {
    /// The members of the list the task is in after the change.
    members: Vec<Uuid>,
    /// For a move, the list it left and those of its members not in the
    /// new one.
    left: Option<(Uuid, Vec<Uuid>)>,
}

impl Audience {
    async fn read(write: &Write<'_>, list: Uuid, left: Option<Uuid>) -> AppResult<Self> {
        let members = lists::audience(write, list).await?;
        let left = match left {
            Some(left) => {
                let gone = lists::audience(write, left)
                    .await?
                    .into_iter()
                    .filter(|member| !members.contains(member))
                    .collect();
                Some((left, gone))
            }
            None => None,
        };
        Ok(Self { members, left })
    }
}

/// The members of list `list`, as a subquery.
fn members_of(list: Uuid) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(entity::list_member::Column::UserId)
        .from(entity::list_member::Entity)
        .and_where(entity::list_member::Column::ListId.eq(list))
        .to_owned()
}

/// The values of `task`'s columns, in the order its insert names them.
fn insert_values(task: &task::Model) -> Vec<Expr> {
    vec![
        Expr::val(task.id),
        Expr::val(task.list_id),
        Expr::val(task.created_by),
        Expr::val(task.assignee_id),
        Expr::val(task.title.clone()),
        Expr::val(task.description.clone()),
        Expr::val(task.completed),
        Expr::val(task.due_at),
        Expr::val(task.created_at),
        Expr::val(task.updated_at),
        Expr::val(task.search_text.clone()),
    ]
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
    if let Some(list) = changes.list_id {
        next.list_id = list;
    }
    if let Some(assignee) = changes.assignee {
        next.assignee_id = assignee;
    }
    next.search_text = input::search_text(&next.title, next.description.as_deref());
    // Strictly later than before, even within one microsecond.
    next.updated_at = Ord::max(
        db::now(),
        current.updated_at + chrono::Duration::microseconds(1),
    );
    next
}
