//! A page of tasks in GraphQL: the Relay connection, its edges and page
//! info, answered in one pass, and what a page's selection shows.

use std::sync::Arc;

use async_graphql::{Context, Lookahead, Object, Result, ServerResult, Value};

use super::{
    super::{
        errors::server_error,
        page_info::{Cursor, PageInfo},
        plain::{self, Plain, PlainList, PlainObject},
    },
    object::{Task, read, shown},
    preload::Preloaded,
};
use crate::{
    error::AppError,
    tasks::{self, Page, PageCursors, PageShows, order::Position},
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
        self.node
            .is_plain_with(|loaded| plain::selects_below(ctx, "node", loaded))
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
    edges: PlainList<TaskEdge>,
    page_info: Plain<PageInfo>,
    /// What the page's tasks loaded at once.
    preloaded: Arc<Preloaded>,
    /// Counted with the page, when its selection asks for `totalCount`.
    count: Option<u64>,
}

impl TaskConnection {
    /// `page`, its tasks answering from `preloaded`, with its count.
    pub(super) fn new(page: Page, preloaded: Arc<Preloaded>, count: Option<u64>) -> Self {
        let cursors = Arc::new(page.cursors);
        let at = |position: Option<&Position>| {
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
                node: Task(edge.task, Some(Arc::clone(&preloaded))),
                cursors: Arc::clone(&cursors),
            })
            .collect();
        Self {
            edges: PlainList(edges),
            page_info: Plain(page_info),
            preloaded,
            count,
        }
    }

    fn total(&self) -> Result<i64, AppError> {
        let count = self
            .count
            .ok_or_else(|| AppError::internal("totalCount was asked for but not counted"))?;
        Ok(i64::try_from(count).unwrap_or(i64::MAX))
    }
}

// The schema's view of the fields; their values come from `PlainObject`
// when the page's tasks answer in one pass.
#[Object]
impl TaskConnection {
    async fn edges(&self) -> &PlainList<TaskEdge> {
        &self.edges
    }

    async fn page_info(&self) -> &Plain<PageInfo> {
        &self.page_info
    }

    /// All the viewer's tasks that pass the filter; counted only when asked for.
    async fn total_count(&self) -> Result<i64> {
        Ok(self.total()?)
    }
}

impl PlainObject for TaskConnection {
    fn is_plain(&self, _ctx: &async_graphql::ContextSelectionSet<'_>) -> bool {
        self.preloaded.complete
    }

    fn field(&self, ctx: &Context<'_>) -> ServerResult<Value> {
        match ctx.item.node.name.node.as_str() {
            "edges" => Ok(plain::list(&self.edges.0, ctx)),
            "pageInfo" => Ok(plain::object(&self.page_info.0, ctx)),
            "totalCount" => self
                .total()
                .map(Value::from)
                .map_err(|error| server_error(error, Some(ctx.item.pos))),
            _ => plain::unknown(ctx),
        }
    }
}

/// What the `tasks` field's selection (`page`) shows of the page, so that
/// the page reads only that.
pub(super) fn shows(page: &Lookahead<'_>) -> PageShows {
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
