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

use super::{
    Description, NewTask, Shown, TaskChanges, TaskRead, Tasks, input, labels, recurring,
    tree::{self, Siblings},
};
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
        let parent = match new.parent_id {
            Some(parent) => Some(self.parent(viewer, parent, new.list_id).await?),
            None => None,
        };
        // A subtask goes in its parent's list; an account's inbox has the
        // account's id.
        let list = parent
            .as_ref()
            .map(|parent| parent.list_id)
            .or(new.list_id)
            .unwrap_or(viewer);
        let mut task = task::Model {
            created_by: Some(viewer),
            parent_id: new.parent_id,
            priority: new.priority.level(),
            ..super::row(list, title, description, now)
        };
        if let Some(id) = new.id {
            if let Some(made) = self.made_before(viewer, id).await? {
                return Ok(made);
            }
            task.id = id;
        }
        new.dates.apply(&mut task)?;
        task.due_at = task.due_at.map(db::truncate);
        let write = if new.label_ids.is_empty() {
            self.writer.begin().await?
        } else {
            self.writer.begin_together().await?
        };
        let audience = Audience::read(&write, list, None).await?;
        let siblings = Siblings {
            list,
            parent: task.parent_id,
        };
        siblings.hold(&write).await?;
        let checked = async {
            if let Some(parent) = task.parent_id
                && tree::level(&write, parent).await? >= tree::MAX_LEVELS
            {
                return Err(too_deep());
            }
            labels::check(&write, list, &new.label_ids).await
        };
        if let Err(error) = checked.await {
            write.abandon().await?;
            return Err(error);
        }
        task.position = siblings.last(&write, task.id).await?;
        task.seq = write.position().unwrap_or_default();
        // Inserted only when the viewer may add to the list, in the statement.
        let mut insert = TaskRows::insert(task::ActiveModel::from(task.clone())).into_query();
        let values = Query::select()
            .exprs(insert_values(&task))
            .and_where(Expr::val(list).in_subquery(visible::lists_of(viewer, Role::Editor)))
            .to_owned();
        insert.select_from(values).map_err(AppError::internal)?;
        let inserted = match write.changed(&insert).await {
            Err(AppError::Internal(cause)) if new.id.is_some() && is_taken(&*cause) => {
                // The same create, sent twice at once: the other one won.
                write.abandon().await?;
                return self
                    .made_before(viewer, task.id)
                    .await?
                    .ok_or_else(|| AppError::internal("a task id taken, then gone"));
            }
            inserted => inserted?,
        };
        if !inserted {
            write.abandon().await?;
            return Err(lists::refusal(&self.db, viewer, list).await?);
        }
        if !new.label_ids.is_empty() {
            labels::set(&write, task.id, &new.label_ids).await?;
        }
        let task = TaskRead::from(task);
        self.tell(write, TaskEventKind::Created, vec![task.clone()], audience)
            .await?;
        Ok(task)
    }

    /// The task a create with the client's id `id` made before, as it is
    /// now: `None` when the id is free; `BAD_USER_INPUT` when it is another
    /// task's (made by someone else, or one the viewer does not see), and
    /// `NOT_FOUND` when the task it made was deleted since.
    async fn made_before(&self, viewer: Uuid, id: Uuid) -> AppResult<Option<TaskRead>> {
        let taken = || AppError::bad_input("id", "another task has this id");
        if let Some(task) = TaskRows::find_by_id(id).one(&self.db).await? {
            let seen = lists::role_in(&self.db, viewer, task.list_id)
                .await?
                .is_some();
            return if task.created_by == Some(viewer) && seen {
                Ok(Some(task.into()))
            } else {
                Err(taken())
            };
        }
        if crate::sync::log::was_deleted(&self.db, id).await? {
            return Err(AppError::NotFound);
        }
        Ok(None)
    }

    /// The task `parent` that a new task goes under, if the viewer sees it
    /// and it is in `list` (when one is named).
    async fn parent(
        &self,
        viewer: Uuid,
        parent: Uuid,
        list: Option<Uuid>,
    ) -> AppResult<task::Model> {
        match self.current(viewer, parent).await {
            Ok(parent) if list.is_none_or(|list| list == parent.list_id) => Ok(parent),
            Ok(_) => Err(AppError::bad_input(
                "parentId",
                "a subtask is in its parent's list",
            )),
            Err(AppError::NotFound) => Err(AppError::bad_input("parentId", "no such task")),
            Err(error) => Err(error),
        }
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
            expect(changes.expected_version, &current)?;
            if changes.is_empty() {
                return Ok(current.into());
            }
            self.check_change(viewer, &current, &changes).await?;
            let (mut next, completion) = apply(&current, &changes)?;
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
            let write = if moved || changes.label_ids.is_some() {
                self.writer.begin_together().await?
            } else {
                self.writer.begin().await?
            };
            next.seq = write.position().unwrap_or(current.seq);
            next.version = current.version + 1;
            let left = moved.then_some(current.list_id);
            let audience = Audience::read(&write, next.list_id, left).await?;
            let subtree = if moved {
                // It becomes a top-level task of the other list, last there,
                // and takes its subtasks along.
                let siblings = Siblings {
                    list: next.list_id,
                    parent: None,
                };
                hold_both(&write, current.list_id, next.list_id).await?;
                next.parent_id = None;
                next.position = siblings.last(&write, id).await?;
                tree::subtree(&write, id).await?
            } else {
                Vec::new()
            };
            if let Some(labels) = &changes.label_ids
                && let Err(error) = labels::check(&write, next.list_id, labels).await
            {
                write.abandon().await?;
                return Err(error);
            }
            if write
                .changed(&self.update_statement(viewer, &current, &next))
                .await?
            {
                if moved {
                    let moving: Vec<Uuid> = subtree.iter().map(|&(task, _)| task).collect();
                    labels::follow(&write, &moving, next.list_id).await?;
                }
                if let Some(labels) = &changes.label_ids {
                    labels::set(&write, id, labels).await?;
                }
                if let Some(completion) = completion {
                    record(&write, id, completion, viewer, next.updated_at).await?;
                }
                if next.due != current.due {
                    self.reschedule(&write, &next).await?;
                }
                let mut changed = vec![TaskRead::from(next.clone())];
                changed.extend(self.carry(&write, &subtree, next.list_id).await?);
                self.tell(write, TaskEventKind::Updated, changed, audience)
                    .await?;
                return Ok(TaskRead::from(next));
            }
            write.abandon().await?;
        }
        Err(AppError::internal("task kept changing during the update"))
    }

    /// Deletes the viewer's task `id` and its subtasks.
    #[tracing::instrument(skip_all, fields(viewer = %viewer, task = %id))]
    pub async fn delete(&self, viewer: Uuid, id: Uuid, expected: Option<i32>) -> AppResult<()> {
        let current = self.current(viewer, id).await?;
        expect(expected, &current)?;
        let mut statement = TaskRows::delete_many()
            .filter(Column::Id.eq(id))
            .filter(visible::tasks(viewer, Role::Editor));
        if let Some(expected) = expected {
            statement = statement.filter(Column::Version.eq(expected));
        }
        let statement = statement.into_query();
        let write = self.writer.begin_together().await?;
        let audience = Audience::read(&write, current.list_id, None).await?;
        let subtree = tree::subtree(&write, id).await?;
        if !write.changed(&statement).await? {
            write.abandon().await?;
            if let Ok(now) = self.current(viewer, id).await {
                expect(expected, &now)?;
            }
            return Err(lists::refusal(&self.db, viewer, current.list_id).await?);
        }
        // The database deleted the subtasks with it (by their parent).
        let gone = subtree
            .iter()
            .map(|&(task, _)| TaskRead {
                id: task,
                ..TaskRead::from(current.clone())
            })
            .collect();
        self.tell(write, TaskEventKind::Deleted, gone, audience)
            .await
    }

    /// Moves the viewer's task `id` among its siblings, under another
    /// parent, or to another list, as [`Move`] says.
    #[tracing::instrument(skip_all, fields(viewer = %viewer, task = %id))]
    pub async fn move_task(&self, viewer: Uuid, id: Uuid, to: Move) -> AppResult<TaskRead> {
        for _ in 0..UPDATE_ATTEMPTS {
            let current = self.current(viewer, id).await?;
            expect(to.expected_version, &current)?;
            let target = to.list_id.unwrap_or(current.list_id);
            let changes = TaskChanges {
                list_id: Some(target),
                ..Default::default()
            };
            self.check_change(viewer, &current, &changes).await?;
            let (mut next, _) = apply(&current, &changes)?;
            next.parent_id = match to.parent_id {
                Some(parent) => parent,
                // Kept within its list; top-level in another.
                None if target == current.list_id => current.parent_id,
                None => None,
            };
            let moved = target != current.list_id;
            if moved
                && let Some(assignee) = next.assignee_id
                && lists::role_in(&self.db, assignee, target).await?.is_none()
            {
                next.assignee_id = None;
            }
            let write = self.writer.begin_together().await?;
            next.seq = write.position().unwrap_or(current.seq);
            next.version = current.version + 1;
            let left = moved.then_some(current.list_id);
            let audience = Audience::read(&write, target, left).await?;
            hold_both(&write, current.list_id, target).await?;
            let subtree = match self.place(&write, viewer, id, &mut next, &to).await {
                Ok(subtree) => subtree,
                Err(error) => {
                    write.abandon().await?;
                    return Err(error);
                }
            };
            if write
                .changed(&self.update_statement(viewer, &current, &next))
                .await?
            {
                let mut changed = vec![TaskRead::from(next.clone())];
                if moved {
                    let moving: Vec<Uuid> = subtree.iter().map(|&(task, _)| task).collect();
                    labels::follow(&write, &moving, target).await?;
                    changed.extend(self.carry(&write, &subtree, target).await?);
                }
                self.tell(write, TaskEventKind::Updated, changed, audience)
                    .await?;
                return Ok(TaskRead::from(next));
            }
            // Changed since it was read: read it again.
            write.abandon().await?;
        }
        Err(AppError::internal("task kept changing during the move"))
    }

    /// Checks `next`'s new parent and neighbours within `write` and gives it
    /// its position; the task's subtree (itself first).
    async fn place(
        &self,
        write: &Write<'_>,
        viewer: Uuid,
        id: Uuid,
        next: &mut task::Model,
        to: &Move,
    ) -> AppResult<Vec<(Uuid, usize)>> {
        let subtree = tree::subtree(write, id).await?;
        if let Some(parent) = next.parent_id {
            if subtree.iter().any(|&(task, _)| task == parent) {
                return Err(AppError::bad_input(
                    "parentId",
                    "a task cannot go under itself or its subtasks",
                ));
            }
            let seen = self
                .current(viewer, parent)
                .await
                .ok()
                .filter(|parent| parent.list_id == next.list_id);
            if seen.is_none() {
                return Err(AppError::bad_input(
                    "parentId",
                    "no such task in the task's list",
                ));
            }
            let height = subtree.iter().map(|&(_, level)| level).max().unwrap_or(1);
            if tree::level(write, parent).await? + height > tree::MAX_LEVELS {
                return Err(too_deep());
            }
        }
        let siblings = Siblings {
            list: next.list_id,
            parent: next.parent_id,
        };
        let after = match to.after {
            Some(after) => Some(siblings.member(write, after, id, "after").await?),
            None => None,
        };
        let before = match to.before {
            Some(before) => Some(siblings.member(write, before, id, "before").await?),
            None => None,
        };
        next.position = siblings
            .place(write, id, after.as_ref(), before.as_ref())
            .await?;
        Ok(subtree)
    }

    /// The task as it is, if the viewer sees it.
    pub(super) async fn current(&self, viewer: Uuid, id: Uuid) -> AppResult<task::Model> {
        TaskRows::find_by_id(id)
            .filter(visible::tasks(viewer, Role::Viewer))
            .one(&self.db)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// The update of `current` to `next`, made only if the task is as it was
    /// read and the viewer may make it (an editor of its list, and of the
    /// list it moves to; an assignee who is a member there), in the
    /// statement.
    fn update_statement(
        &self,
        viewer: Uuid,
        current: &task::Model,
        next: &task::Model,
    ) -> sea_orm::sea_query::UpdateStatement {
        let mut statement = TaskRows::update_many()
            .set(task::ActiveModel {
                title: Set(next.title.clone()),
                description: Set(next.description.clone()),
                completed: Set(next.completed),
                due_at: Set(next.due_at),
                due_on: Set(next.due_on),
                due: Set(next.due),
                time_zone: Set(next.time_zone.clone()),
                recurrence: Set(next.recurrence.clone()),
                repeat_from: Set(next.repeat_from.clone()),
                series_start: Set(next.series_start.clone()),
                series_done: Set(next.series_done),
                priority: Set(next.priority),
                parent_id: Set(next.parent_id),
                position: Set(next.position.clone()),
                updated_at: Set(next.updated_at),
                search_text: Set(next.search_text.clone()),
                list_id: Set(next.list_id),
                assignee_id: Set(next.assignee_id),
                version: Set(next.version),
                seq: Set(next.seq),
                ..Default::default()
            })
            .filter(Column::Id.eq(current.id))
            .filter(Column::Version.eq(current.version))
            .filter(Column::UpdatedAt.eq(current.updated_at))
            .filter(visible::tasks(viewer, Role::Editor));
        if next.list_id != current.list_id {
            statement = statement.filter(
                Expr::val(next.list_id).in_subquery(visible::lists_of(viewer, Role::Editor)),
            );
        }
        if let Some(assignee) = next.assignee_id {
            // Assigned only to a member of the list it ends up in.
            statement = statement.filter(Expr::val(assignee).in_subquery(members_of(next.list_id)));
        }
        statement.into_query()
    }

    /// Moves the subtasks in `subtree` (after its top, which the caller
    /// moved) to `list`, within `write`; each as it is now.
    async fn carry(
        &self,
        write: &Write<'_>,
        subtree: &[(Uuid, usize)],
        list: Uuid,
    ) -> AppResult<Vec<TaskRead>> {
        let below: Vec<Uuid> = subtree.iter().skip(1).map(|&(id, _)| id).collect();
        if below.is_empty() {
            return Ok(Vec::new());
        }
        let now = db::now();
        let statement = TaskRows::update_many()
            .col_expr(Column::ListId, Expr::val(list))
            .col_expr(Column::UpdatedAt, Expr::val(now))
            .col_expr(Column::Version, Expr::col(Column::Version).add(1))
            .filter(Column::Id.is_in(below.iter().copied()))
            .into_query();
        write.changed(&statement).await?;
        let mut select = Shown::ALL.select();
        select.and_where(Column::Id.is_in(below.iter().copied()));
        let rows = write.query_all(write.backend().build(&select)).await?;
        Ok(rows
            .iter()
            .map(|row| TaskRead::read(row, Shown::ALL))
            .collect::<Result<_, _>>()?)
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
        lists::require(&self.db, viewer, current.list_id, Role::Editor).await?;
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

    /// Ends `write`, telling `audience` of `kind` for each of `tasks` (a
    /// task and the subtasks that went with it): the members of their list,
    /// and for tasks that left a list, its members who are not in the new
    /// one that they are gone for them.
    pub(super) async fn tell(
        &self,
        write: Write<'_>,
        kind: TaskEventKind,
        tasks: Vec<TaskRead>,
        audience: Audience,
    ) -> AppResult<()> {
        self.tell_with(write, kind, tasks, audience, Vec::new())
            .await
    }

    /// [`Tasks::tell`], with `more` notices of the same write.
    pub(super) async fn tell_with(
        &self,
        write: Write<'_>,
        kind: TaskEventKind,
        tasks: Vec<TaskRead>,
        audience: Audience,
        more: Vec<Delivery>,
    ) -> AppResult<()> {
        let Audience { members, left } = audience;
        let mut deliveries = more;
        for task in tasks {
            if let Some((left, gone)) = &left {
                deliveries.push(Delivery {
                    users: gone.clone(),
                    notice: Notice::Task(Box::new(TaskEvent {
                        kind: TaskEventKind::Deleted,
                        task_id: task.id,
                        list_id: *left,
                        task: None,
                        seq: 0,
                    })),
                });
            }
            tracing::debug!(task = %task.id, "task change committed");
            deliveries.push(Delivery {
                users: members.clone(),
                notice: Notice::Task(Box::new(TaskEvent {
                    kind,
                    task_id: task.id,
                    list_id: task.list_id,
                    task: (kind != TaskEventKind::Deleted).then_some(task),
                    seq: 0,
                })),
            });
        }
        self.events.commit_write(write, deliveries).await?;
        Ok(())
    }
}

/// Where `moveTask` puts a task; each `None` keeps it where it is.
#[derive(Debug, Default)]
pub struct Move {
    /// `Some(None)`: top-level.
    pub parent_id: Option<Option<Uuid>>,
    pub list_id: Option<Uuid>,
    /// The sibling it goes right after.
    pub after: Option<Uuid>,
    /// The sibling it goes right before.
    pub before: Option<Uuid>,
    /// The version the move was made against, if the client said.
    pub expected_version: Option<i32>,
}

/// Records `completion` of task `task` by `viewer` at `at`, within `write`.
async fn record(
    write: &Write<'_>,
    task: Uuid,
    completion: recurring::Completion,
    viewer: Uuid,
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<()> {
    let row = entity::completion::ActiveModel {
        id: Set(Uuid::now_v7()),
        task_id: Set(task),
        due_at: Set(completion.due_at),
        due_on: Set(completion.due_on),
        completed_at: Set(at),
        completed_by: Set(Some(viewer)),
    };
    write
        .changed(&entity::completion::Entity::insert(row).into_query())
        .await?;
    Ok(())
}

/// Holds the order of both lists a move touches, in one order whoever
/// moves, so that two moves never wait on each other's.
async fn hold_both(write: &Write<'_>, from: Uuid, to: Uuid) -> AppResult<()> {
    let (first, second) = (Ord::min(from, to), Ord::max(from, to));
    for list in [first, second] {
        Siblings { list, parent: None }.hold(write).await?;
        if first == second {
            break;
        }
    }
    Ok(())
}

/// `CONFLICT` unless `current` is at the version `expected` (when the
/// client said which).
fn expect(expected: Option<i32>, current: &task::Model) -> AppResult<()> {
    match expected {
        Some(expected) if expected != current.version => Err(AppError::Conflict {
            expected,
            version: current.version,
            task: Box::new(current.clone().into()),
        }),
        _ => Ok(()),
    }
}

/// Whether `cause` is a unique key refused (an id already taken).
fn is_taken(cause: &(dyn std::error::Error + 'static)) -> bool {
    cause
        .downcast_ref::<sea_orm::DbErr>()
        .and_then(sea_orm::DbErr::sql_err)
        .is_some_and(|error| matches!(error, sea_orm::SqlErr::UniqueConstraintViolation(_)))
}

fn too_deep() -> AppError {
    AppError::bad_input(
        "parentId",
        format!("tasks nest {} levels deep at most", tree::MAX_LEVELS),
    )
}

impl Audience {
    /// The members of the list the task is in after the change.
    pub(super) fn members(&self) -> &[Uuid] {
        &self.members
    }
}

/// Who hears of a task's change, read at the start of its write (on
/// PostgreSQL the members' rows are held before the task's, in the order a
/// removal takes them, so the two never wait on each other).
pub(super) struct Audience {
    /// The members of the list the task is in after the change.
    members: Vec<Uuid>,
    /// For a move, the list it left and those of its members not in the
    /// new one.
    left: Option<(Uuid, Vec<Uuid>)>,
}

impl Audience {
    pub(super) async fn read(write: &Write<'_>, list: Uuid, left: Option<Uuid>) -> AppResult<Self> {
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
        Expr::val(task.parent_id),
        Expr::val(task.position.clone()),
        Expr::val(task.priority),
        Expr::val(task.title.clone()),
        Expr::val(task.description.clone()),
        Expr::val(task.completed),
        Expr::val(task.due_at),
        Expr::val(task.due_on),
        Expr::val(task.due),
        Expr::val(task.time_zone.clone()),
        Expr::val(task.recurrence.clone()),
        Expr::val(task.repeat_from.clone()),
        Expr::val(task.series_start.clone()),
        Expr::val(task.series_done),
        Expr::val(task.created_at),
        Expr::val(task.updated_at),
        Expr::val(task.search_text.clone()),
        Expr::val(task.version),
        Expr::val(task.seq),
    ]
}

/// `current` with `changes` made, and the completion it records when the
/// changes complete it (SPEC §12: a recurring task moves on to its next
/// occurrence instead, and stays open while the rule has one).
fn apply(
    current: &task::Model,
    changes: &TaskChanges,
) -> AppResult<(task::Model, Option<recurring::Completion>)> {
    let mut next = current.clone();
    if let Some(title) = &changes.title {
        next.title = title.clone().into_inner();
    }
    if let Some(description) = &changes.description {
        next.description = description.clone().map(Description::into_inner);
    }
    changes.dates.apply(&mut next)?;
    next.due_at = next.due_at.map(db::truncate);
    if let Some(priority) = changes.priority {
        next.priority = priority.level();
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
    let completion = match changes.completed {
        Some(true) if !current.completed => {
            let now = next.updated_at;
            Some(recurring::complete(&mut next, now))
        }
        Some(completed) => {
            next.completed = completed;
            None
        }
        None => None,
    };
    Ok((next, completion))
}
