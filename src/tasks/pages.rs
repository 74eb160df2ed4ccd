//! The pages of several lists at once, for `lists { tasks(…) }`: one
//! statement reads every list's page, numbering each list's tasks in the
//! listing order with a window function (`ROW_NUMBER() OVER (PARTITION BY
//! list_id …)`) and keeping the first `size + 1` of each, so a request
//! costs the same number of statements for 2 lists as for 50. Whether a
//! page has tasks before it (only asked with a cursor) is one more
//! statement for all of them, and so is counting.

use std::collections::{HashMap, HashSet};

use entity::task::{self, Column};
use sea_orm::{
    ColumnTrait, ConnectionTrait,
    sea_query::{Alias, Asterisk, Expr, ExprTrait, Func, Order, Query, WindowStatement},
};
use uuid::Uuid;

use super::{
    Page, PageArgs, PageCursors, PageShows, TaskFilter, TaskRead, Tasks, listed,
    order::{Position, TaskOrder, Walk},
    page::{edges, walk_and_size},
};
use crate::error::AppResult;

impl Tasks {
    /// The page `args` asks for of each of `lists` that the viewer sees,
    /// keyed by list; a list the viewer does not see has none.
    pub async fn pages(
        &self,
        viewer: Uuid,
        lists: &[Uuid],
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
        let mut window = listed(viewer, filter).add(Column::ListId.is_in(lists.iter().copied()));
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
        let number = Alias::new("place");
        let mut numbered = shown.select();
        let mut by_list = WindowStatement::partition_by((task::Entity, Column::ListId));
        order.sort(&mut by_list, walk);
        numbered
            .expr_window_as(Func::cust("ROW_NUMBER"), by_list, number.clone())
            .cond_where(window);
        let select = Query::select()
            .column(Asterisk)
            .from_subquery(numbered, Alias::new("numbered"))
            .and_where(Expr::col(number.clone()).lte(size + 1))
            .order_by(Column::ListId, Order::Asc)
            .order_by(number, Order::Asc)
            .to_owned();
        let mut tasks: HashMap<Uuid, Vec<TaskRead>> = HashMap::new();
        for task in self.all(&select, shown).await? {
            tasks.entry(task.list_id).or_default().push(task);
        }
        // Tasks on the other side of a cursor the walk came from.
        let behind = match (walk, &after, &before) {
            (Walk::Forward, Some(cursor), _) => {
                self.beyond_in(viewer, lists, filter, order, cursor, Walk::Backward)
                    .await?
            }
            (Walk::Backward, _, Some(cursor)) => {
                self.beyond_in(viewer, lists, filter, order, cursor, Walk::Forward)
                    .await?
            }
            _ => HashSet::new(),
        };
        let mut pages = HashMap::new();
        for &list in lists {
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

    /// The lists among `lists` with a task beyond `cursor` on `side`.
    async fn beyond_in(
        &self,
        viewer: Uuid,
        lists: &[Uuid],
        filter: &TaskFilter,
        order: TaskOrder,
        cursor: &Position,
        side: Walk,
    ) -> AppResult<HashSet<Uuid>> {
        let select = Query::select()
            .column(Column::ListId)
            .from(task::Entity)
            .cond_where(
                listed(viewer, filter)
                    .add(Column::ListId.is_in(lists.iter().copied()))
                    .add(order.beyond(cursor, side, true)),
            )
            .group_by_col(Column::ListId)
            .to_owned();
        let rows = self.db.query_all(&select).await?;
        rows.iter()
            .map(|row| Ok(row.try_get_by_index::<Uuid>(0)?))
            .collect()
    }

    /// How many of the viewer's tasks in each of `lists` pass `filter`.
    pub async fn counts(
        &self,
        viewer: Uuid,
        lists: &[Uuid],
        filter: &TaskFilter,
    ) -> AppResult<HashMap<Uuid, u64>> {
        let select = Query::select()
            .column(Column::ListId)
            .expr(Expr::col(Column::Id).count())
            .from(task::Entity)
            .cond_where(listed(viewer, filter).add(Column::ListId.is_in(lists.iter().copied())))
            .group_by_col(Column::ListId)
            .to_owned();
        let rows = self.db.query_all(&select).await?;
        let mut counts: HashMap<Uuid, u64> = lists.iter().map(|list| (*list, 0)).collect();
        for row in rows {
            let count: i64 = row.try_get_by_index(1)?;
            counts.insert(row.try_get_by_index(0)?, u64::try_from(count).unwrap_or(0));
        }
        Ok(counts)
    }
}
