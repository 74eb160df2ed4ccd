//! Tasks in GraphQL: the `task` and `tasks` queries and the task
//! mutations, over `crate::tasks`. Every field here is behind the viewer
//! guard. The `Task` object is in [`object`], made from the declaration of
//! a task's fields; pages in [`page`]; what clients send in [`input`].

mod input;
mod object;
mod page;

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};
use uuid::Uuid;

pub use object::Task;

use super::{
    page_info::{Cursor, PageInfo},
    plain::{Plain, PlainList},
    viewer::Viewer,
};
use crate::{
    error::AppError,
    tasks::{self, PageArgs, Tasks, order::TaskOrder},
};
use input::{CreateTaskInput, TaskFilterInput, TaskOrderInput, UpdateTaskInput};
use page::{TaskConnection, TaskEdge, page_cost, shows};

fn parse_id(id: &ID) -> Result<Uuid, AppError> {
    Uuid::parse_str(id).map_err(|_| AppError::bad_input("id", "not a valid task id"))
}

#[derive(Default)]
pub struct TaskQuery;

#[Object]
impl TaskQuery {
    /// One of the viewer's tasks; `null` when there is none with this id.
    async fn task(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Plain<Task>>> {
        let viewer = Viewer::require(ctx).await?;
        let id = parse_id(&id)?;
        let tasks = ctx.data_unchecked::<Tasks>();
        Ok(tasks
            .find(viewer.user.id, id)
            .await?
            .map(|task| Plain(task.into())))
    }

    /// The viewer's tasks, newest first unless `orderBy` says otherwise.
    /// `first` defaults to 20; at most 100 tasks come in one page.
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
        let filter = filter.unwrap_or_default().parse()?;
        let order = order_by.map_or_else(TaskOrder::default, TaskOrderInput::parse);
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let tasks = ctx.data_unchecked::<Tasks>();
        let (owner, page) = Viewer::read(
            ctx,
            async |viewer| {
                Ok((
                    viewer.user_id,
                    tasks.page(viewer, &filter, order, args, shows(ctx)).await?,
                ))
            },
            |(_, page)| page.edges.is_empty(),
        )
        .await?;
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
        let edges = page
            .edges
            .into_iter()
            .map(|edge| TaskEdge {
                position: edge.position,
                node: edge.task.into(),
                cursors: Arc::clone(&cursors),
            })
            .collect();
        Ok(TaskConnection {
            edges: PlainList(edges),
            page_info: Plain(page_info),
            owner,
            filter,
        })
    }
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
        let id = parse_id(&id)?;
        let changes = input.parse()?;
        let tasks = ctx.data_unchecked::<Tasks>();
        Ok(Plain(
            tasks.update(viewer.user.id, id, changes).await?.into(),
        ))
    }

    /// Deletes one of the viewer's tasks and returns its id.
    async fn delete_task(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let viewer = Viewer::require(ctx).await?;
        let id = parse_id(&id)?;
        let tasks = ctx.data_unchecked::<Tasks>();
        tasks.delete(viewer.user.id, id).await?;
        Ok(ID(id.to_string()))
    }
}
