//! Pages of the rows that belong to tasks (comments, completions), for many
//! tasks in one statement: the rows are numbered per task by time and id
//! (`ROW_NUMBER() OVER (PARTITION BY task …)`), and each task's first
//! page plus one (to tell whether another follows) is kept. The cursor is
//! the time and id of a row, signed for the viewer as a task cursor is.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, QueryResult,
    sea_query::{
        Alias, Asterisk, Condition, DynIden, Expr, ExprTrait, Func, IntoIden, Order, Query,
        WindowStatement,
    },
};
use uuid::Uuid;

use super::{
    DEFAULT_PAGE, MAX_PAGE, Tasks,
    order::{OrderField, Position, SortKey},
};
use crate::{
    db,
    error::{AppError, AppResult},
};

/// A page of one task's rows, with each row's cursor.
#[derive(Clone, Debug)]
pub struct ChildPage<T> {
    pub items: Vec<(T, String)>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl<T> Default for ChildPage<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            has_next_page: false,
            has_previous_page: false,
        }
    }
}

/// What a child table's pages are made of.
pub(super) struct Children {
    pub table: DynIden,
    /// The column of the task a row belongs to.
    pub task: DynIden,
    /// The time rows are ordered by, then their `id`.
    pub time: DynIden,
    pub id: DynIden,
    /// The columns read, in the order the reader reads them.
    pub columns: Vec<DynIden>,
    pub newest_first: bool,
    /// Which rows the viewer may see (through their task).
    pub seen: Condition,
}

/// A row as read: its task, its time and id, and itself.
pub(super) struct Child<T> {
    pub task: Uuid,
    pub time: DateTime<Utc>,
    pub id: Uuid,
    pub item: T,
}

impl Tasks {
    /// The page `first`/`after` asks for of each of `tasks`' rows.
    pub(super) async fn child_pages<T>(
        &self,
        viewer: Uuid,
        children: Children,
        tasks: &[Uuid],
        first: Option<i32>,
        after: Option<&str>,
        read: impl Fn(&QueryResult) -> AppResult<Child<T>>,
    ) -> AppResult<HashMap<Uuid, ChildPage<T>>> {
        let size = match first {
            None => DEFAULT_PAGE,
            Some(n) => std::cmp::Ord::min(
                u64::try_from(n)
                    .map_err(|_| AppError::bad_input("first", "first must not be negative"))?,
                MAX_PAGE,
            ),
        };
        let after = after
            .map(|cursor| {
                self.cursors
                    .decode(viewer, OrderField::CreatedAt, cursor, "after")
            })
            .transpose()?;
        let table = children.table.clone();
        let column = |name: &DynIden| Expr::col((table.clone(), name.clone()));
        let mut window = Condition::all()
            .add(db::one_of(self.backend(), column(&children.task), tasks))
            .add(children.seen);
        if let Some(after) = &after {
            let SortKey::Time(time) = after.key else {
                return Err(AppError::bad_input("after", "invalid cursor"));
            };
            let row = Expr::tuple([column(&children.time), column(&children.id)]);
            let key = Expr::tuple([Expr::val(time), Expr::val(after.id)]);
            window = window.add(if children.newest_first {
                row.lt(key)
            } else {
                row.gt(key)
            });
        }
        let order = if children.newest_first {
            Order::Desc
        } else {
            Order::Asc
        };
        let number = Alias::new("place");
        let mut by_task = WindowStatement::partition_by((table.clone(), children.task.clone()));
        by_task
            .order_by((table.clone(), children.time.clone()), order.clone())
            .order_by((table.clone(), children.id.clone()), order);
        let mut numbered = Query::select();
        for name in &children.columns {
            numbered.column((table.clone(), name.clone()));
        }
        numbered
            .expr_window_as(Func::cust("ROW_NUMBER"), by_task, number.clone())
            .from(table.clone())
            .cond_where(window);
        let select = Query::select()
            .column(Asterisk)
            .from_subquery(numbered, Alias::new("numbered"))
            .and_where(Expr::col(number.clone()).lte(size + 1))
            .order_by(children.task.clone().into_iden(), Order::Asc)
            .order_by(number, Order::Asc)
            .to_owned();
        let mut pages: HashMap<Uuid, ChildPage<T>> = HashMap::new();
        for row in self.writer().db().query_all(&select).await? {
            let child = read(&row)?;
            let cursor = self.cursors.encode(
                viewer,
                OrderField::CreatedAt,
                &Position {
                    key: SortKey::Time(child.time),
                    id: child.id,
                },
            )?;
            pages
                .entry(child.task)
                .or_default()
                .items
                .push((child.item, cursor));
        }
        let limit = usize::try_from(size).unwrap_or(usize::MAX);
        for page in pages.values_mut() {
            page.has_next_page = page.items.len() > limit;
            page.items.truncate(limit);
            page.has_previous_page = after.is_some();
        }
        Ok(pages)
    }
}
