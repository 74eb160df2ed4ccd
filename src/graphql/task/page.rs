//! A page of tasks in GraphQL: the Relay connection, its edges and page
//! info, answered in one pass, and what a page's selection shows.

use std::sync::Arc;

use async_graphql::{Context, Object, Result, ServerResult, Value};
use uuid::Uuid;

use super::{
    super::{
        errors::server_error,
        loaders::{self, CountOf},
        page_info::PageInfo,
        plain::{self, Plain, PlainList, PlainObject},
    },
    object::{Task, read, shown},
};
use crate::{
    error::AppError,
    tasks::{self, PageCursors, PageShows, Tasks, order::Position},
};

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
    fn is_plain(&self, ctx: &async_graphql::ContextSelectionSet<'_>) -> bool {
        !plain::selects_below(ctx, "node", &self.node.loaded_here())
    }

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
    /// The list a list's own `tasks` is of, or the task whose `subtasks`
    /// (counted with every parent's of the request in one statement).
    pub(super) scope: Option<(tasks::Scope, Uuid)>,
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
        let count = match self.scope {
            Some((scope, id)) => {
                let key = CountOf {
                    viewer: self.owner,
                    scope,
                    id,
                    filter: self.filter.clone(),
                };
                loaders::count(ctx, key).await?
            }
            None => {
                let tasks = ctx.data_unchecked::<Tasks>();
                tasks.count(self.owner, &self.filter).await?
            }
        };
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
pub fn page_cost(first: Option<i32>, last: Option<i32>) -> usize {
    let requested = first
        .or(last)
        .map_or(tasks::DEFAULT_PAGE, |n| u64::try_from(n).unwrap_or(0));
    usize::try_from(requested.min(tasks::MAX_PAGE)).unwrap_or(usize::MAX)
}
