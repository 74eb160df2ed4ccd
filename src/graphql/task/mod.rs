//! Tasks in GraphQL: the `task` and `tasks` queries and the task
//! mutations, over `crate::tasks`. Every field here is behind the viewer
//! guard. The `Task` object is in [`object`], made from the declaration of
//! a task's fields; pages in [`page`]; what clients send in [`input`].

mod input;
mod object;
mod page;
mod preload;

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};
use uuid::Uuid;

pub use input::{TaskFilterInput, TaskOrderInput};
pub use object::{Task, conflict_value};
pub use page::{TaskConnection, page_cost};

use super::{
    loaders::{self, PageOf},
    page_info::{Cursor, PageInfo},
    plain::{Plain, PlainList},
    viewer::{Viewer, viewer_id},
};
use crate::{
    error::AppError,
    tasks::{self, PageArgs, Scope, Tasks, order::TaskOrder},
};
use input::{CreateTaskInput, MoveTaskInput, UpdateTaskInput};
use page::{TaskEdge, shows};

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
    ) -> Result<TaskConnection> {
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
/// `TaskList.tasks` and `Task.subtasks` answer.
pub async fn connection(
    ctx: &Context<'_>,
    scope: Option<(Scope, Uuid)>,
    filter: Option<TaskFilterInput>,
    order_by: Option<TaskOrderInput>,
    args: PageArgs,
) -> Result<TaskConnection, AppError> {
    let mut filter = filter.unwrap_or_default().parse()?;
    let order = order_by.map_or_else(TaskOrder::default, TaskOrderInput::parse);
    let (owner, page) = match scope {
        // A nested page: every parent's of the request in one statement.
        Some((scope, id)) => {
            match scope {
                Scope::List => filter.list_id = None,
                Scope::Parent => filter.parent_id = None,
            }
            let viewer = viewer_id(ctx)?;
            let key = PageOf {
                viewer,
                scope,
                id,
                filter: filter.clone(),
                order,
                args,
                shows: shows(ctx),
            };
            (viewer, loaders::page(ctx, key).await?)
        }
        None => {
            let tasks = ctx.data_unchecked::<Tasks>();
            Viewer::read(
                ctx,
                async |viewer| {
                    Ok((
                        viewer.user_id,
                        tasks.page(viewer, &filter, order, args, shows(ctx)).await?,
                    ))
                },
                |(_, page)| page.edges.is_empty(),
            )
            .await?
        }
    };
    let cursors = Arc::new(page.cursors);
    let at = |position: Option<&tasks::order::Position>| {
        position.map(|position| Cursor::Task(position.clone(), Arc::clone(&cursors)))
    };
    let page_info = PageInfo {
        has_next_page: page.has_next_page,
        has_previous_page: page.has_previous_page,
        start: at(page.edges.first().and_then(|edge| edge.position.as_ref())),
        end: at(page.edges.last().and_then(|edge| edge.position.as_ref())),
    };
    let node = ctx.look_ahead().field("edges").field("node");
    let read: Vec<&tasks::TaskRead> = page.edges.iter().map(|edge| &edge.task).collect();
    let preloaded = preload::preload(ctx, owner, &read, &node).await?;
    let edges = page
        .edges
        .into_iter()
        .map(|edge| TaskEdge {
            position: edge.position,
            node: Task(edge.task, preloaded.clone()),
            cursors: Arc::clone(&cursors),
        })
        .collect();
    Ok(TaskConnection {
        edges: PlainList(edges),
        page_info: Plain(page_info),
        owner,
        scope,
        filter,
    })
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
