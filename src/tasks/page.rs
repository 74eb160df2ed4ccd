//! Relay-style pages of tasks by keyset: each page is one range scan over an
//! index, however deep into the list it starts.

use std::sync::Arc;

use sea_orm::{DbBackend, Statement, Value, sea_query::SelectStatement};
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
        let shown = if shows.cursors {
            shows.tasks.with_key_of(order.field)
        } else {
            shows.tasks
        };
        let backend = self.backend();
        let page = |viewer| {
            let select = select_page(
                backend,
                viewer,
                filter,
                (order, walk, size),
                shown,
                (after.as_ref(), before.as_ref()),
            );
            backend.build(&select)
        };
        let statement = if after.is_none() && before.is_none() {
            // A first page: its statement is built once for its shape.
            let shape = PageShape {
                filter: filter.clone(),
                order,
                walk,
                size,
                shown,
                session: viewer.session.is_some(),
            };
            let built = self.page_statements.get(&shape).unwrap_or_else(|| {
                let built = Arc::new(page(stand_in::viewer(viewer)));
                let bytes = shape.bytes(&built);
                self.page_statements.put(shape, Arc::clone(&built), bytes);
                built
            });
            stand_in::bind(&built, viewer)
        } else {
            page(viewer)
        };
        let mut tasks = self
            .reads
            .run(&statement, |row| TaskRead::read(row, shown))
            .await?;
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

/// The statement of a page of `viewer`'s tasks passing `filter`, `size` + 1
/// of them (the one more tells whether there are more) in `order` walked
/// `walk`-wards, beyond the cursors `after` and `before`.
fn select_page(
    backend: DbBackend,
    viewer: Claimed,
    filter: &TaskFilter,
    (order, walk, size): (TaskOrder, Walk, u64),
    shown: Shown,
    (after, before): (Option<&Position>, Option<&Position>),
) -> SelectStatement {
    let owner = viewer.user_id;
    let mut window = filtered(filter);
    if let Some(after) = after {
        window = window.add(order.beyond(after, Walk::Forward, false));
    }
    if let Some(before) = before {
        window = window.add(order.beyond(before, Walk::Backward, false));
    }
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
            select.and_where(firsts_of_each(
                backend,
                owner,
                &within,
                window,
                order,
                walk,
                size + 1,
            ));
        }
    }
    select.and_where(viewer.live()).limit(size + 1);
    order.sort(&mut select, walk);
    select
}

/// What tells one page's statement from another's, but for its viewer: a
/// first page's statement is built once for its shape and bound to each
/// viewer ([`stand_in`]).
#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) struct PageShape {
    filter: TaskFilter,
    order: TaskOrder,
    walk: Walk,
    size: u64,
    shown: Shown,
    /// Whether the token belongs to a session (its test differs).
    session: bool,
}

impl PageShape {
    /// About what an entry of the cache keeps: this shape, whose filter
    /// holds a client's search pattern and label ids, and `statement`,
    /// whose values hold them again.
    fn bytes(&self, statement: &Statement) -> usize {
        use std::mem::size_of;
        let filter = &self.filter;
        let pattern = filter.search_pattern.as_ref().map_or(0, String::len);
        let values = statement
            .values
            .as_ref()
            .map_or(0, |values| values.0.len() * size_of::<Value>());
        size_of::<Self>()
            + pattern
            + filter.label_ids.len() * size_of::<Uuid>()
            + statement.sql.len()
            + values
            + pattern
            + filter.label_ids.len() * size_of::<Value>()
    }
}

/// The statements of first pages by shape, at most this many bytes of them.
pub(super) const PAGE_STATEMENTS_BYTES: usize = 256 * 1024;

/// A viewer that stands in for every viewer in a statement built once:
/// ids random for each process (so no id a client sends is one of them)
/// and a password version no account has, each replaced by the viewer's
/// own when the statement is bound. Building the page's statement was a
/// sixth of the page's instructions (bench/README.md).
mod stand_in {
    use std::sync::LazyLock;

    use sea_orm::{Statement, Value, Values};
    use uuid::Uuid;

    use crate::auth::Claimed;

    static IDS: LazyLock<(Uuid, Uuid)> = LazyLock::new(|| (Uuid::new_v4(), Uuid::new_v4()));

    /// Below every password version an account can have (they start at 1).
    const PASSWORD_VERSION: i32 = i32::MIN;

    /// The stand-in for `viewer`: the same kind of token (with a session or
    /// without), none of its values.
    pub fn viewer(viewer: Claimed) -> Claimed {
        let (user, session) = *IDS;
        Claimed {
            user_id: user,
            password_version: PASSWORD_VERSION,
            session: viewer.session.map(|_| session),
            ..viewer
        }
    }

    /// `built` (made for [`viewer`]'s stand-in) with `viewer`'s own values.
    pub fn bind(built: &Statement, viewer: Claimed) -> Statement {
        let (user, session) = *IDS;
        let values = built.values.as_ref().map(|values| {
            Values(
                values
                    .0
                    .iter()
                    .map(|value| match value {
                        Value::Uuid(Some(id)) if *id == user => Value::Uuid(Some(viewer.user_id)),
                        Value::Uuid(Some(id)) if *id == session => Value::Uuid(viewer.session),
                        Value::Int(Some(PASSWORD_VERSION)) => {
                            Value::Int(Some(viewer.password_version))
                        }
                        other => other.clone(),
                    })
                    .collect(),
            )
        });
        Statement {
            sql: built.sql.clone(),
            values,
            db_backend: built.db_backend,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::{Priority, order::OrderField};

    /// A first page's statement is counted with what a client put in its
    /// filter, twice (the shape and the statement's values), so that large
    /// filters cannot hold more memory than the cache's budget.
    #[test]
    fn a_cached_statement_counts_its_filter() {
        let filter = TaskFilter {
            search_pattern: Some("%x%".repeat(70)),
            label_ids: (0..50).map(|_| Uuid::now_v7()).collect(),
            ..TaskFilter::default()
        };
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            let viewer = Claimed {
                user_id: Uuid::now_v7(),
                password_version: 1,
                session: None,
                expires_at: 0,
                second_factor_at: None,
            };
            let order = TaskOrder::default();
            let statement = backend.build(&select_page(
                backend,
                viewer,
                &filter,
                (order, Walk::Forward, 20),
                Shown::ALL,
                (None, None),
            ));
            let shape = PageShape {
                filter: filter.clone(),
                order,
                walk: Walk::Forward,
                size: 20,
                shown: Shown::ALL,
                session: false,
            };
            let held = 2 * (210 + 50 * std::mem::size_of::<Uuid>()) + statement.sql.len();
            assert!(shape.bytes(&statement) >= held, "{backend:?}");
        }
    }

    /// A page's statement built for the stand-in and bound to a viewer is
    /// the one built for that viewer, for every kind of token, filter and
    /// order, on both databases.
    #[test]
    fn a_statement_built_once_binds_to_each_viewer_as_if_built_for_it() {
        let tokens = [None, Some(Uuid::now_v7())];
        let filters = [
            TaskFilter::default(),
            TaskFilter {
                list_id: Some(Uuid::now_v7()),
                completed: Some(false),
                priority_at_least: Some(Priority::High),
                ..TaskFilter::default()
            },
            TaskFilter {
                parent_id: Some(Uuid::now_v7()),
                assignee_id: Some(Uuid::now_v7()),
                label_ids: vec![Uuid::now_v7()],
                search_pattern: Some("%milk%".into()),
                ..TaskFilter::default()
            },
        ];
        let orders = [
            TaskOrder::default(),
            TaskOrder {
                field: OrderField::DueAt,
                ..TaskOrder::default()
            },
        ];
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            for session in tokens {
                let viewer = Claimed {
                    user_id: Uuid::now_v7(),
                    password_version: 3,
                    session,
                    expires_at: 0,
                    second_factor_at: None,
                };
                for filter in &filters {
                    for order in orders {
                        for walk in [Walk::Forward, Walk::Backward] {
                            let page = |viewer| {
                                backend.build(&select_page(
                                    backend,
                                    viewer,
                                    filter,
                                    (order, walk, 20),
                                    Shown::ALL,
                                    (None, None),
                                ))
                            };
                            let built = page(stand_in::viewer(viewer));
                            assert_ne!(built, page(viewer), "the stand-in is not the viewer");
                            assert_eq!(stand_in::bind(&built, viewer), page(viewer));
                        }
                    }
                }
            }
        }
    }
}
