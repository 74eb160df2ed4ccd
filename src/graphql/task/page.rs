//! A page of tasks in GraphQL: the Relay connection, its edges and page
//! info, answered in one pass, and what a page's selection shows.

use std::sync::Arc;

use async_graphql::{Context, Object, Result, ServerResult, Value};
use uuid::Uuid;

use super::{
    super::{
        errors::server_error,
        plain::{self, Plain, PlainList, PlainObject},
    },
    object::{Task, read, shown},
};
use crate::{
    error::AppError,
    tasks::{self, PageCursors, PageShows, Tasks, order::Position},
};

pub struct PageInfo {
    pub(super) has_next_page: bool,
    pub(super) has_previous_page: bool,
    pub(super) start: Option<Position>,
    pub(super) end: Option<Position>,
    pub(super) cursors: Arc<PageCursors>,
}

impl PageInfo {
    fn cursor(&self, at: Option<&Position>) -> Result<Option<String>, AppError> {
        at.map(|at| self.cursors.cursor(at)).transpose()
    }
}

// The schema's view of the fields; their values come from `PlainObject`.
#[Object]
impl PageInfo {
    async fn has_next_page(&self) -> bool {
        self.has_next_page
    }

    async fn has_previous_page(&self) -> bool {
        self.has_previous_page
    }

    async fn start_cursor(&self) -> Result<Option<String>> {
        Ok(self.cursor(self.start.as_ref())?)
    }

    async fn end_cursor(&self) -> Result<Option<String>> {
        Ok(self.cursor(self.end.as_ref())?)
    }
}

impl PlainObject for PageInfo {
    fn field(&self, ctx: &Context<'_>) -> ServerResult<Value> {
        let cursor = |at: Option<&Position>| {
            self.cursor(at)
                .map(|cursor| cursor.map_or(Value::Null, Value::String))
                .map_err(|error| server_error(error, Some(ctx.item.pos)))
        };
        match ctx.item.node.name.node.as_str() {
            "hasNextPage" => Ok(Value::Boolean(self.has_next_page)),
            "hasPreviousPage" => Ok(Value::Boolean(self.has_previous_page)),
            "startCursor" => cursor(self.start.as_ref()),
            "endCursor" => cursor(self.end.as_ref()),
            _ => plain::unknown(ctx),
        }
    }
}

pub struct TaskEdge {
    /// Present when the page shows cursors.
    pub(super) position: Option<Position>,
    pub(super) node: Task,
    pub(super) cursors: Arc<PageCursors>,
}

impl TaskEdge {
    fn cursor_text(&self) -> Result<String, AppError> {
        self.cursors.cursor(read(self.position.as_ref())?)
    }
}

// The schema's view of the fields; their values come from `PlainObject`.
#[Object]
impl TaskEdge {
    /// Points at this edge, for `after` and `before`.
    async fn cursor(&self) -> Result<String> {
        Ok(self.cursor_text()?)
    }

    async fn node(&self) -> &Task {
        &self.node
    }
}

impl PlainObject for TaskEdge {
    fn field(&self, ctx: &Context<'_>) -> ServerResult<Value> {
        match ctx.item.node.name.node.as_str() {
            "cursor" => self
                .cursor_text()
                .map(Value::String)
                .map_err(|error| server_error(error, Some(ctx.item.pos))),
            "node" => Ok(plain::object(&self.node, ctx)),
            _ => plain::unknown(ctx),
        }
    }
}

/// A page of the viewer's tasks (Relay cursor connection).
pub struct TaskConnection {
    pub(super) edges: PlainList<TaskEdge>,
    pub(super) page_info: Plain<PageInfo>,
    pub(super) owner: Uuid,
    pub(super) filter: tasks::TaskFilter,
}

#[Object]
impl TaskConnection {
    async fn edges(&self) -> &PlainList<TaskEdge> {
        &self.edges
    }

    async fn page_info(&self) -> &Plain<PageInfo> {
        &self.page_info
    }

    /// All the viewer's tasks that pass the filter; counted only when asked for.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let tasks = ctx.data_unchecked::<Tasks>();
        let count = tasks.count(self.owner, &self.filter).await?;
        Ok(i64::try_from(count).unwrap_or(i64::MAX))
    }
}

/// What the `tasks` field's selection shows of the page, so that the page
/// reads only that.
pub(super) fn shows(ctx: &Context<'_>) -> PageShows {
    let page = ctx.look_ahead();
    let edges = page.field("edges");
    let info = page.field("pageInfo");
    PageShows {
        tasks: shown(&edges.field("node")),
        cursors: edges.field("cursor").exists()
            || info.field("startCursor").exists()
            || info.field("endCursor").exists(),
    }
}

/// How many tasks a page may hold, for the complexity limit.
pub(super) fn page_cost(first: Option<i32>, last: Option<i32>) -> usize {
    let requested = first
        .or(last)
        .map_or(tasks::DEFAULT_PAGE, |n| u64::try_from(n).unwrap_or(0));
    usize::try_from(requested.min(tasks::MAX_PAGE)).unwrap_or(usize::MAX)
}
