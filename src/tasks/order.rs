//! Listing orders and the keyset conditions that page through them.
//!
//! Every order is total: the sort key, then the id. Tasks without a due date
//! come last when ordering by due date, in both directions, so the order is
//! a sequence of two runs: tasks with a due date by (due date, id), then tasks
//! without by id.

use chrono::{DateTime, Utc};
use entity::task::{self, Column};
use sea_orm::{
    ColumnTrait, Condition, Order,
    sea_query::{Expr, ExprTrait, NullOrdering, OrderedStatement},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Shown, TaskRead};

/// What a listing is ordered by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OrderField {
    #[default]
    CreatedAt,
    UpdatedAt,
    DueAt,
    Title,
    Priority,
    /// The manual order: the position among siblings.
    Position,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Direction {
    Asc,
    #[default]
    Desc,
}

/// An order of tasks; the default is newest first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TaskOrder {
    pub field: OrderField,
    pub direction: Direction,
}

/// Where a page starts or ends: the sort key of a task and its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    pub key: SortKey,
    pub id: Uuid,
}

/// A task's place in one order, but for the id that breaks ties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SortKey {
    Time(DateTime<Utc>),
    Text(String),
    Number(i64),
    /// A task without a due date, ordering by due date.
    Missing,
}

/// Which way a query walks the order.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Walk {
    /// From the start of the order towards its end.
    Forward,
    /// From the end towards the start (for `last`).
    Backward,
}

impl OrderField {
    fn column(self) -> Column {
        match self {
            Self::CreatedAt => Column::CreatedAt,
            Self::UpdatedAt => Column::UpdatedAt,
            // The timed due date, or the start of an all-day one's day.
            Self::DueAt => Column::Due,
            Self::Title => Column::Title,
            Self::Priority => Column::Priority,
            Self::Position => Column::Position,
        }
    }

    /// The sort key of `task` in this order, if the field was read.
    pub fn key_of(self, task: &TaskRead) -> Option<SortKey> {
        Some(match self {
            Self::CreatedAt => SortKey::Time(task.created_at?),
            Self::UpdatedAt => SortKey::Time(task.updated_at?),
            Self::DueAt => {
                let zone = crate::dates::Zone::stored(task.time_zone.as_deref()?);
                crate::dates::Due::of(task.due_at?, task.due_on?)
                    .map_or(SortKey::Missing, |due| SortKey::Time(due.instant(zone)))
            }
            Self::Title => SortKey::Text(task.title.as_ref()?.clone()),
            Self::Priority => SortKey::Number(task.priority?.level().into()),
            Self::Position => SortKey::Text(task.position.as_ref()?.clone()),
        })
    }
}

impl Shown {
    /// These fields and the one `field` orders by, which a task's place in
    /// the listing (its cursor) is made of.
    #[must_use]
    pub fn with_key_of(mut self, field: OrderField) -> Self {
        match field {
            OrderField::CreatedAt => self.created_at = true,
            OrderField::UpdatedAt => self.updated_at = true,
            OrderField::DueAt => {
                self.due_at = true;
                self.due_on = true;
                self.time_zone = true;
            }
            OrderField::Title => self.title = true,
            OrderField::Priority => self.priority = true,
            OrderField::Position => self.position = true,
        }
        self
    }
}

impl TaskOrder {
    /// Sorts `select` (a query, or the window of a page per list) for a
    /// walk through this order.
    pub fn sort(self, select: &mut impl OrderedStatement, walk: Walk) {
        let ascending = (self.direction == Direction::Asc) == (walk == Walk::Forward);
        let order = if ascending { Order::Asc } else { Order::Desc };
        let column = (task::Entity, self.field.column());
        if self.field == OrderField::DueAt {
            let nulls = if walk == Walk::Forward {
                NullOrdering::Last
            } else {
                NullOrdering::First
            };
            select.order_by_with_nulls(column, order.clone(), nulls);
        } else {
            select.order_by(column, order.clone());
        }
        select.order_by((task::Entity, Column::Id), order);
    }

    /// Tasks strictly beyond `position` when walking this order `walk`-wards,
    /// or also the task at `position` when `inclusive`.
    pub fn beyond(self, position: &Position, walk: Walk, inclusive: bool) -> Condition {
        let greater = (self.direction == Direction::Asc) == (walk == Walk::Forward);
        let compare = |lhs: Expr, rhs: Expr| match (greater, inclusive) {
            (true, false) => lhs.gt(rhs),
            (true, true) => lhs.gte(rhs),
            (false, false) => lhs.lt(rhs),
            (false, true) => lhs.lte(rhs),
        };
        let keyed = |key: Expr| {
            let row = Expr::tuple([Expr::col(self.field.column()), Expr::col(Column::Id)]);
            compare(row, Expr::tuple([key, Expr::val(position.id)]))
        };
        let by_id = || compare(Expr::col(Column::Id), Expr::val(position.id));
        let has_due = || Column::Due.is_not_null();
        let no_due = || Column::Due.is_null();
        match (&position.key, walk) {
            (SortKey::Text(text), _) => Condition::all().add(keyed(Expr::val(text.clone()))),
            (SortKey::Number(number), _) => Condition::all().add(keyed(Expr::val(*number))),
            (SortKey::Time(time), _) if self.field != OrderField::DueAt => {
                Condition::all().add(keyed(Expr::val(*time)))
            }
            // By due date: the run with a due date, then the run without.
            (SortKey::Time(time), Walk::Forward) => Condition::any()
                .add(Condition::all().add(has_due()).add(keyed(Expr::val(*time))))
                .add(no_due()),
            (SortKey::Time(time), Walk::Backward) => {
                Condition::all().add(has_due()).add(keyed(Expr::val(*time)))
            }
            (SortKey::Missing, Walk::Forward) => Condition::all().add(no_due()).add(by_id()),
            (SortKey::Missing, Walk::Backward) => Condition::any()
                .add(has_due())
                .add(Condition::all().add(no_due()).add(by_id())),
        }
    }
}
