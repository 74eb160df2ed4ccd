//! `PageInfo`, the one page-info type of every connection, answered in one
//! pass.

use std::sync::Arc;

use async_graphql::{Context, Object, Result, ServerResult, Value};

use super::{
    errors::server_error,
    plain::{self, PlainObject},
};
use crate::{
    error::AppError,
    tasks::{PageCursors, order::Position},
};

/// Where a page starts or ends, for a client to page on from.
pub enum Cursor {
    /// A task's place in its listing, signed only when a client asks.
    Task(Position, Arc<PageCursors>),
    /// A cursor made already.
    Text(String),
}

impl Cursor {
    fn text(&self) -> Result<String, AppError> {
        match self {
            Self::Task(position, cursors) => cursors.cursor(position),
            Self::Text(text) => Ok(text.clone()),
        }
    }
}

/// The page info of every connection (Relay).
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start: Option<Cursor>,
    pub end: Option<Cursor>,
}

impl PageInfo {
    fn cursor(at: Option<&Cursor>) -> Result<Option<String>, AppError> {
        at.map(Cursor::text).transpose()
    }

    /// The edges of a page of a task's comments or completions, each made
    /// by `edge` of a row and its cursor, and the page's info.
    pub fn of_child_page<T, E>(
        page: crate::tasks::ChildPage<T>,
        edge: impl Fn(T, String) -> E,
    ) -> (Vec<E>, Self) {
        let start = page.items.first().map(|(_, cursor)| cursor.clone());
        let end = page.items.last().map(|(_, cursor)| cursor.clone());
        let info = Self {
            has_next_page: page.has_next_page,
            has_previous_page: page.has_previous_page,
            start: start.map(Cursor::Text),
            end: end.map(Cursor::Text),
        };
        let edges = page
            .items
            .into_iter()
            .map(|(item, cursor)| edge(item, cursor))
            .collect();
        (edges, info)
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
        Ok(Self::cursor(self.start.as_ref())?)
    }

    async fn end_cursor(&self) -> Result<Option<String>> {
        Ok(Self::cursor(self.end.as_ref())?)
    }
}

impl PlainObject for PageInfo {
    fn field(&self, ctx: &Context<'_>) -> ServerResult<Value> {
        let cursor = |at: Option<&Cursor>| {
            Self::cursor(at)
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
