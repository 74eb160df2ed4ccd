//! Tasks in GraphQL: the `task` and `tasks` queries and the task
//! mutations, over `crate::tasks`. Every field here is behind the viewer
//! guard. The `Task` object is in [`object`], made from the declaration of
//! a task's fields; pages in [`page`]; what clients send in [`input`].

mod input;
mod object;
mod page;
mod preload;

use async_graphql::{Context, ID, Object, Result};
use uuid::Uuid;

pub use input::{TaskFilterInput, TaskOrderInput};
pub use object::{Task, conflict_value};
pub use page::{TaskConnection, page_cost};

use super::{
    loaders::{self, CountOf, PageOf},
    plain::Plain,
    viewer::{Viewer, viewer_id},
};
use crate::{
    error::AppError,
    tasks::{self, PageArgs, Scope, Tasks, order::TaskOrder},
};
use input::{CreateTaskInput, MoveTaskInput, UpdateTaskInput};
use page::shows;

pub use input::parse_id;

#[derive(Default)]
pub struct TaskQuery;

#[Object]
impl TaskQuery {
    /// One of the viewer's tasks; `null` when there is none with this id.
    async fn task(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Plain<Task>>> {
        let viewer = Viewer::require(ctx).await?;
        let id = parse_id(&id, "id")?;
        let tasks = ctx.data_unchecked::<Tasks>();
        Ok(tasks
            .find(viewer.user.id, id)
            .await?
            .map(|task| Plain(task.into())))
    }

    /// The tasks of every list the viewer is in, newest first unless
    /// `orderBy` says otherwise. `first` defaults to 20; at most 100 tasks
    /// come in one page.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "1 + page_cost(first, last) * child_complexity")]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<TaskFilterInput>,
        order_by: Option<TaskOrderInput>,
    ) -> Result<Plain<TaskConnection>> {
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        Ok(connection(ctx, None, filter, order_by, args).await?)
    }
}

/// A page of the viewer's tasks, within `scope` when one is given (a
/// list's own `tasks`, a task's `subtasks`), as the root `tasks`,
/// `TaskList.tasks` and `Task.subtasks` answer: the page, its count when
/// asked for, and what its tasks' selection loads (see [`preload`]).
pub async fn connection(
    ctx: &Context<'_>,
    scope: Option<(Scope, Uuid)>,
    filter: Option<TaskFilterInput>,
    order_by: Option<TaskOrderInput>,
    args: PageArgs,
) -> Result<Plain<TaskConnection>, AppError> {
    let mut filter = filter.unwrap_or_default().parse()?;
    let order = order_by.map_or_else(TaskOrder::default, TaskOrderInput::parse);
    let selection = ctx.look_ahead();
    let counted = selection.field("totalCount").exists();
    let (owner, page, count) = match scope {
        // A nested page: every parent's of the request in one statement,
        // and so is its count.
        Some((scope, id)) => {
            match scope {
                Scope::List => filter.list_id = None,
                Scope::Parent => filter.parent_id = None,
            }
            let viewer = viewer_id(ctx)?;
            let count = CountOf {
                viewer,
                scope,
                id,
                filter: filter.clone(),
            };
            let key = PageOf {
                viewer,
                scope,
                id,
                filter,
                order,
                args,
                shows: shows(&selection),
            };
            let (page, count) = tokio::try_join!(loaders::page(ctx, key), async {
                match counted {
                    true => loaders::count(ctx, count).await.map(Some),
                    false => Ok(None),
                }
            })?;
            (viewer, page, count)
        }
        None => {
            let tasks = ctx.data_unchecked::<Tasks>();
            let (owner, page) = Viewer::read(
                ctx,
                async |viewer| {
                    Ok((
                        viewer.user_id,
                        tasks
                            .page(viewer, &filter, order, args, shows(&selection))
                            .await?,
                    ))
                },
                |(_, page)| page.edges.is_empty(),
            )
            .await?;
            let count = match counted {
                true => Some(tasks.count(owner, &filter).await?),
                false => None,
            };
            (owner, page, count)
        }
    };
    let node = selection.field("edges").field("node");
    let read: Vec<&tasks::TaskRead> = page.edges.iter().map(|edge| &edge.task).collect();
    let preloaded = preload::preload(ctx, owner, &read, &node).await?;
    Ok(Plain(TaskConnection::new(page, preloaded, count)))
}

#[derive(Default)]
pub struct TaskMutation;

#[Object]
impl TaskMutation {
    async fn create_task(&self, ctx: &Context<'_>, input: CreateTaskInput) -> Result<Plain<Task>> {
        let viewer = Viewer::require(ctx).await?;
        let new = input.parse()?;
        let tasks = ctx.data_unchecked::<Tasks>();
        Ok(Plain(tasks.create(viewer.user.id, new).await?.into()))
    }

    /// Changes only the fields given.
    async fn update_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateTaskInput,
    ) -> Result<Plain<Task>> {
        let viewer = Viewer::require(ctx).await?;
        let id = parse_id(&id, "id")?;
        let changes = input.parse()?;
        let tasks = ctx.data_unchecked::<Tasks>();
        Ok(Plain(
            tasks.update(viewer.user.id, id, changes).await?.into(),
        ))
    }

    /// An editor assigns a task to a member of its list; `null` unassigns.
    async fn assign_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        person_id: Option<ID>,
    ) -> Result<Plain<Task>> {
        let viewer = Viewer::require(ctx).await?;
        let id = parse_id(&id, "id")?;
        let person = person_id
            .as_ref()
            .map(|person| input::parse_id(person, "personId"))
            .transpose()?;
        let changes = tasks::TaskChanges {
            assignee: Some(person),
            ..Default::default()
        };
        let tasks = ctx.data_unchecked::<Tasks>();
        Ok(Plain(
            tasks.update(viewer.user.id, id, changes).await?.into(),
        ))
    }

    /// An editor puts a task in its place in the manual order: after and/or
    /// before a sibling, under another parent, or in another list. The
    /// server computes its `position`; no other task changes.
    async fn move_task(&self, ctx: &Context<'_>, input: MoveTaskInput) -> Result<Plain<Task>> {
        let viewer = Viewer::require(ctx).await?;
        let (id, to) = input.parse()?;
        let tasks = ctx.data_unchecked::<Tasks>();
        Ok(Plain(tasks.move_task(viewer.user.id, id, to).await?.into()))
    }

    /// Deletes one of the viewer's tasks, with its subtasks, and returns
    /// its id.
    ///
    /// With `expectedVersion`, only while the task is at that version (else
    /// `CONFLICT`, nothing deleted).
    async fn delete_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: Option<i32>,
    ) -> Result<ID> {
        let viewer = Viewer::require(ctx).await?;
        let id = parse_id(&id, "id")?;
        let tasks = ctx.data_unchecked::<Tasks>();
        tasks.delete(viewer.user.id, id, expected_version).await?;
        Ok(ID(id.to_string()))
    }
}
