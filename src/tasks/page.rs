//! Relay-style pages of tasks by keyset: each page is one range scan over an
//! index, however deep into the list it starts.

use entity::task::{self, Column};
use sea_orm::sea_query::{Expr, ExprTrait};
use uuid::Uuid;

use super::{
    Shown, TaskFilter, TaskRead, Tasks,
    cursor::CursorKey,
    filtered, listed,
    order::{OrderField, Position, TaskOrder, Walk},
    pages::{Within, firsts_of_each},
};
use crate::{
    auth::Claimed,
    error::{AppError, AppResult},
    lists::{Role, visible},
};

pub const DEFAULT_PAGE: u64 = 20;
pub const MAX_PAGE: u64 = 100;

/// The connection arguments, as the client sent them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

/// What a page shows: which fields of its tasks, and whether cursors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageShows {
    pub tasks: Shown,
    pub cursors: bool,
}

/// One page, in listing order, with what lies on either side.
#[derive(Clone)]
pub struct Page {
    pub edges: Vec<Edge>,
    pub has_previous_page: bool,
    pub has_next_page: bool,
    /// Makes the cursors of the page's edges, when they are asked for.
    pub cursors: PageCursors,
}

/// A task of a page and, when the page shows cursors, where it stands in
/// the listing.
#[derive(Clone)]
pub struct Edge {
    pub position: Option<Position>,
    pub task: TaskRead,
}

/// The cursors of one page: a cursor is signed (an HMAC), so it is made
/// only for the edges a client asks it of.
#[derive(Clone)]
pub struct PageCursors {
    pub(super) key: CursorKey,
    pub(super) owner: Uuid,
    pub(super) field: OrderField,
}

impl PageCursors {
    /// The cursor that points at `position`.
    pub fn cursor(&self, position: &Position) -> AppResult<String> {
        self.key.encode(self.owner, self.field, position)
    }
}

impl Tasks {
    /// The page of the viewer's tasks that `args` asks for. The page's query
    /// also checks the viewer's account, so an empty page is all a gone
    /// account or an outdated token can get; the caller tells those apart.
    pub async fn page(
        &self,
        viewer: Claimed,
        filter: &TaskFilter,
        order: TaskOrder,
        args: PageArgs,
        shows: PageShows,
    ) -> AppResult<Page> {
        let owner = viewer.user_id;
        let (walk, size) = walk_and_size(&args)?;
        let cursors = &self.cursors;
        let decode = |cursor: Option<String>, argument| {
            cursor
                .map(|cursor| cursors.decode(owner, order.field, &cursor, argument))
                .transpose()
        };
        let after = decode(args.after, "after")?;
        let before = decode(args.before, "before")?;

        let mut window = filtered(filter);
        if let Some(after) = &after {
            window = window.add(order.beyond(after, Walk::Forward, false));
        }
        if let Some(before) = &before {
            window = window.add(order.beyond(before, Walk::Backward, false));
        }
        let shown = if shows.cursors {
            shows.tasks.with_key_of(order.field)
        } else {
            shows.tasks
        };
        let mut select = shown.select();
        let parents;
        let within = match (filter.list_id, filter.parent_id) {
            // One list: a walk of its index.
            (Some(_), None) => None,
            // One task's subtasks: a walk of theirs.
            (_, Some(parent)) => {
                parents = [parent];
                Some(Within::Parents(&parents))
            }
            // Every list of the viewer's: the first of each, then of them all.
            (None, None) => Some(Within::Lists(None)),
        };
        match within {
            None => {
                select
                    .cond_where(window)
                    .and_where(visible::tasks(owner, Role::Viewer));
            }
            Some(within) => {
                let firsts = firsts_of_each(
                    self.db.get_database_backend(),
                    owner,
                    &within,
                    window,
                    order,
                    walk,
                    size + 1,
                );
                select.and_where(Expr::col((task::Entity, Column::Id)).in_subquery(firsts));
            }
        }
        select.and_where(viewer.live()).limit(size + 1);
        order.sort(&mut select, walk);
        let mut tasks = self.all(&select, shown).await?;
        let more = tasks.len() as u64 > size;
        tasks.truncate(usize::try_from(size).unwrap_or(usize::MAX));
        if walk == Walk::Backward {
            tasks.reverse();
        }
        let (has_previous_page, has_next_page) = match walk {
            Walk::Forward => (
                self.beyond(owner, filter, order, after, Walk::Backward)
                    .await?,
                more,
            ),
            Walk::Backward => (
                more,
                self.beyond(owner, filter, order, before, Walk::Forward)
                    .await?,
            ),
        };
        Ok(Page {
            edges: edges(tasks, order, shows),
            has_previous_page,
            has_next_page,
            cursors: PageCursors {
                key: cursors.clone(),
                owner,
                field: order.field,
            },
        })
    }

    /// Whether any of the owner's tasks lies beyond `cursor` on the `side`
    /// the walk came from.
    async fn beyond(
        &self,
        owner: uuid::Uuid,
        filter: &TaskFilter,
        order: TaskOrder,
        cursor: Option<Position>,
        side: Walk,
    ) -> AppResult<bool> {
        let Some(cursor) = cursor else {
            return Ok(false);
        };
        let mut select = Shown::ID.select();
        select
            .cond_where(listed(owner, filter).add(order.beyond(&cursor, side, true)))
            .limit(1);
        Ok(!self.all(&select, Shown::ID).await?.is_empty())
    }
}

/// The edges of a page of `tasks`, with their places in `order` when the
/// page shows cursors.
pub(super) fn edges(tasks: Vec<TaskRead>, order: TaskOrder, shows: PageShows) -> Vec<Edge> {
    tasks
        .into_iter()
        .map(|task| Edge {
            position: shows
                .cursors
                .then(|| order.field.key_of(&task))
                .flatten()
                .map(|key| Position { key, id: task.id }),
            task,
        })
        .collect()
}

/// Which way the page walks the order, and how many tasks it holds.
pub(super) fn walk_and_size(args: &PageArgs) -> AppResult<(Walk, u64)> {
    Ok(match (args.first, args.last) {
        (Some(_), Some(_)) => {
            return Err(AppError::bad_input(
                "last",
                "give either first or last, not both",
            ));
        }
        (None, Some(last)) => (Walk::Backward, page_size(last, "last")?),
        (first, None) => (
            Walk::Forward,
            first.map_or(Ok(DEFAULT_PAGE), |n| page_size(n, "first"))?,
        ),
    })
}

fn page_size(requested: i32, argument: &'static str) -> AppResult<u64> {
    let requested = u64::try_from(requested)
        .map_err(|_| AppError::bad_input(argument, format!("{argument} must not be negative")))?;
    Ok(std::cmp::Ord::min(requested, MAX_PAGE))
}
