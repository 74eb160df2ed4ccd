//! The pages of several lists at once, for `lists { tasks(…) }`, and the
//! root page that spans every list of the viewer: both are made of
//! [`firsts_of_each`], one statement that walks each list's own index (or
//! each parent's, for subtasks) in the listing order and stops after a
//! page's worth, so a request costs the same number of statements for 2
//! lists as for 50, and a page the same whether a list holds 100 tasks or
//! 100,000. Whether a page has tasks
//! before it (only asked with a cursor) is one more statement for all of
//! them, and so is counting.

use std::collections::{HashMap, HashSet};

use entity::{
    list_member,
    task::{self, Column},
};
use sea_orm::{
    Condition, DbBackend,
    sea_query::{Alias, Expr, ExprTrait, JoinType, Order, Query},
};
use uuid::Uuid;

use super::{
    Page, PageArgs, PageCursors, PageShows, TaskFilter, TaskRead, Tasks, filtered, listed,
    order::{Position, TaskOrder, Walk},
    page::{edges, walk_and_size},
};
use crate::{
    db::{self, Columns},
    error::AppResult,
    lists::{Role, visible},
};

/// What a nested page is a page of: a list's tasks, or a task's subtasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    List,
    Parent,
}

impl Scope {
    /// The column of a task that names its scope.
    fn column(self) -> Column {
        match self {
            Self::List => Column::ListId,
            Self::Parent => Column::ParentId,
        }
    }

    /// The scope `task` is in, when it was read.
    fn of(self, task: &TaskRead) -> Option<Uuid> {
        match self {
            Self::List => Some(task.list_id),
            Self::Parent => task.parent_id.flatten(),
        }
    }
}

/// Whose tasks [`firsts_of_each`] walks.
pub(super) enum Within<'a> {
    /// Each of the viewer's lists, or of these among them.
    Lists(Option<&'a [Uuid]>),
    /// The subtasks of each of these tasks.
    Parents(&'a [Uuid]),
}

impl Tasks {
    /// The page `args` asks for of each of `scopes` (lists, or tasks whose
    /// subtasks) that the viewer sees, keyed by its id; one the viewer does
    /// not see has none.
    #[allow(clippy::too_many_arguments)]
    pub async fn pages(
        &self,
        viewer: Uuid,
        scope: Scope,
        scopes: &[Uuid],
        filter: &TaskFilter,
        order: TaskOrder,
        args: PageArgs,
        shows: PageShows,
    ) -> AppResult<HashMap<Uuid, Page>> {
        let (walk, size) = walk_and_size(&args)?;
        let cursors = &self.cursors;
        let decode = |cursor: Option<String>, argument| {
            cursor
                .map(|cursor| cursors.decode(viewer, order.field, &cursor, argument))
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
        let mut shown = if shows.cursors {
            shows.tasks.with_key_of(order.field)
        } else {
            shows.tasks
        };
        shown.parent_id |= scope == Scope::Parent;
        let within = match scope {
            Scope::List => Within::Lists(Some(scopes)),
            Scope::Parent => Within::Parents(scopes),
        };
        let firsts = firsts_of_each(
            self.db.get_database_backend(),
            viewer,
            &within,
            window,
            order,
            walk,
            size + 1,
        );
        let mut select = shown.select();
        select
            .and_where(firsts)
            .order_by((task::Entity, scope.column()), Order::Asc);
        order.sort(&mut select, walk);
        let mut tasks: HashMap<Uuid, Vec<TaskRead>> = HashMap::new();
        for task in self.all(&select, shown).await? {
            if let Some(id) = scope.of(&task) {
                tasks.entry(id).or_default().push(task);
            }
        }
        // Tasks on the other side of a cursor the walk came from.
        let behind = match (walk, &after, &before) {
            (Walk::Forward, Some(cursor), _) => {
                self.beyond_in(viewer, scope, scopes, filter, order, cursor, Walk::Backward)
                    .await?
            }
            (Walk::Backward, _, Some(cursor)) => {
                self.beyond_in(viewer, scope, scopes, filter, order, cursor, Walk::Forward)
                    .await?
            }
            _ => HashSet::new(),
        };
        let mut pages = HashMap::new();
        for &list in scopes {
            let mut found = tasks.remove(&list).unwrap_or_default();
            let more = found.len() as u64 > size;
            found.truncate(usize::try_from(size).unwrap_or(usize::MAX));
            if walk == Walk::Backward {
                found.reverse();
            }
            let behind = behind.contains(&list);
            let (has_previous_page, has_next_page) = match walk {
                Walk::Forward => (behind, more),
                Walk::Backward => (more, behind),
            };
            pages.insert(
                list,
                Page {
                    edges: edges(found, order, shows),
                    has_previous_page,
                    has_next_page,
                    cursors: PageCursors {
                        key: cursors.clone(),
                        owner: viewer,
                        field: order.field,
                    },
                },
            );
        }
        Ok(pages)
    }

    /// The scopes among `scopes` with a task beyond `cursor` on `side`.
    #[allow(clippy::too_many_arguments)]
    async fn beyond_in(
        &self,
        viewer: Uuid,
        scope: Scope,
        scopes: &[Uuid],
        filter: &TaskFilter,
        order: TaskOrder,
        cursor: &Position,
        side: Walk,
    ) -> AppResult<HashSet<Uuid>> {
        let select = Query::select()
            .column(scope.column())
            .from(task::Entity)
            .cond_where(
                listed(viewer, filter)
                    .add(db::one_of(
                        self.backend(),
                        Expr::col((task::Entity, scope.column())),
                        scopes,
                    ))
                    .add(order.beyond(cursor, side, true)),
            )
            .group_by_col(scope.column())
            .to_owned();
        let scopes = self.reads.all(&select, |row| row.get::<Uuid>(0)).await?;
        Ok(scopes.into_iter().collect())
    }

    /// How many of the viewer's tasks in each of `scopes` pass `filter`.
    pub async fn counts(
        &self,
        viewer: Uuid,
        scope: Scope,
        scopes: &[Uuid],
        filter: &TaskFilter,
    ) -> AppResult<HashMap<Uuid, u64>> {
        let select = Query::select()
            .column(scope.column())
            .expr(Expr::col(Column::Id).count())
            .from(task::Entity)
            .cond_where(listed(viewer, filter).add(db::one_of(
                self.backend(),
                Expr::col((task::Entity, scope.column())),
                scopes,
            )))
            .group_by_col(scope.column())
            .to_owned();
        let rows = self
            .reads
            .all(&select, |row| Ok((row.get::<Uuid>(0)?, row.get::<i64>(1)?)))
            .await?;
        let mut counts: HashMap<Uuid, u64> = scopes.iter().map(|id| (*id, 0)).collect();
        for (scope, count) in rows {
            counts.insert(scope, u64::try_from(count).unwrap_or(0));
        }
        Ok(counts)
    }
}

/// That a task is among the first `size` tasks passing `window`, in
/// `order` walked `walk`-wards, of each list of the viewer's (or each
/// parent) `within` names: for each, a walk of an index for the order (its
/// list's, or its parent's for the manual order) that stops after `size`
/// rows. A query that sorted the viewer's tasks of every list instead would
/// read them all, for each page.
///
/// PostgreSQL says it with a lateral join; SQLite, which has none, with a
/// subquery correlated to the list or parent, which it runs once for each.
/// SQLite picks the tasks by rowid: the walk's index holds it, and each
/// pick is then one seek of the table, where an id is a seek of the id's
/// index and then of the table (the page's statement 33 → 27 µs in Python's
/// `sqlite3`, bench/README.md).
/// `window` names the tasks table as `tasks` (as [`super::filtered`]
/// does); the walk reads it under that name, and the caller reads the rows
/// it picks by it. The walk applies the lists' rule, not `window`: a walk
/// from each of the viewer's memberships reads only lists the viewer sees
/// (the rule again in each step of the walk cost SQLite five times the
/// page's statement), a walk of a task's subtasks checks each.
pub(super) fn firsts_of_each(
    backend: DbBackend,
    viewer: Uuid,
    within: &Within<'_>,
    window: Condition,
    order: TaskOrder,
    walk: Walk,
    size: u64,
) -> Expr {
    let scope = Alias::new("scope");
    let picked = Alias::new("picked");
    let key = Alias::new(if backend == DbBackend::Postgres {
        "id"
    } else {
        "rowid"
    });
    let (walked_by, scope_id) = match within {
        Within::Lists(_) => (
            Column::ListId,
            Expr::col((scope.clone(), list_member::Column::ListId)),
        ),
        Within::Parents(_) => (Column::ParentId, Expr::col((scope.clone(), Column::Id))),
    };
    let mut walk_scope = Query::select();
    walk_scope
        .column((task::Entity, key.clone()))
        .from(task::Entity)
        .and_where(Expr::col((task::Entity, walked_by)).eq(scope_id.clone()))
        .cond_where(window)
        .limit(size);
    if let Within::Parents(_) = within {
        walk_scope.and_where(visible::tasks(viewer, Role::Viewer));
    }
    order.sort(&mut walk_scope, walk);
    let mut firsts = Query::select();
    firsts.column((picked.clone(), key.clone()));
    match within {
        Within::Lists(lists) => {
            visible::from_memberships(&mut firsts, scope, viewer);
            if let Some(lists) = lists {
                firsts.and_where(db::one_of(backend, scope_id, lists));
            }
        }
        Within::Parents(parents) => {
            firsts
                .from_as(task::Entity, scope)
                .and_where(db::one_of(backend, scope_id, parents));
        }
    }
    if backend == DbBackend::Postgres {
        firsts.join_lateral(JoinType::InnerJoin, walk_scope, picked, Expr::val(true));
    } else {
        firsts.join_as(
            JoinType::InnerJoin,
            task::Entity,
            picked.clone(),
            Expr::col((picked, key.clone())).in_subquery(walk_scope),
        );
    }
    Expr::col((task::Entity, key)).in_subquery(firsts)
}
