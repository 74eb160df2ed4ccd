//! Reading tasks: only the fields a caller shows, by column position, from
//! either database.
//!
//! A page that shows ids and titles reads two columns, not nine: converting
//! and copying columns nobody asked for (three times, the search text) cost
//! more than the rest of reading a row. Which fields a read fills is a
//! [`Shown`]; what it gives is a [`TaskRead`], whose fields that were not
//! read are `None`.

use chrono::{DateTime, Utc};
use entity::task::{self, Column};
use sea_orm::{
    DbErr,
    sea_query::{Query, SelectStatement},
};
use uuid::Uuid;

use super::{fields::search_text, order::OrderField};
use crate::db::Columns;

/// Which of a task's fields a read fills; the id always.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shown {
    pub title: bool,
    pub description: bool,
    pub completed: bool,
    pub due_at: bool,
    pub created_at: bool,
    pub updated_at: bool,
}

impl Shown {
    /// Every field a client can be shown.
    pub const ALL: Self = Self {
        title: true,
        description: true,
        completed: true,
        due_at: true,
        created_at: true,
        updated_at: true,
    };

    /// The id alone.
    pub const ID: Self = Self {
        title: false,
        description: false,
        completed: false,
        due_at: false,
        created_at: false,
        updated_at: false,
    };

    /// These fields and the one `field` orders by, which a task's place in
    /// the listing (its cursor) is made of.
    #[must_use]
    pub fn with_key_of(mut self, field: OrderField) -> Self {
        match field {
            OrderField::CreatedAt => self.created_at = true,
            OrderField::UpdatedAt => self.updated_at = true,
            OrderField::DueAt => self.due_at = true,
            OrderField::Title => self.title = true,
        }
        self
    }

    /// `SELECT` of the columns read, in the order [`TaskRead::read`] reads
    /// them, from the tasks table.
    pub fn select(self) -> SelectStatement {
        let columns = [
            (true, Column::Id),
            (self.title, Column::Title),
            (self.description, Column::Description),
            (self.completed, Column::Completed),
            (self.due_at, Column::DueAt),
            (self.created_at, Column::CreatedAt),
            (self.updated_at, Column::UpdatedAt),
        ];
        let mut select = Query::select();
        for (read, column) in columns {
            if read {
                select.column((task::Entity, column));
            }
        }
        select.from(task::Entity);
        select
    }
}

/// A task as a read left it: each field `None` when it was not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskRead {
    pub id: Uuid,
    pub title: Option<String>,
    /// `Some(None)`: read, and there is none.
    pub description: Option<Option<String>>,
    pub completed: Option<bool>,
    pub due_at: Option<Option<DateTime<Utc>>>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl TaskRead {
    /// Reads a row of a statement that selected `shown` ([`Shown::select`]).
    pub fn read(row: &impl Columns, shown: Shown) -> Result<Self, DbErr> {
        let mut at = 0;
        let mut next = |read: bool| {
            read.then(|| {
                at += 1;
                at
            })
        };
        let (title, description, completed) = (
            next(shown.title),
            next(shown.description),
            next(shown.completed),
        );
        let (due_at, created_at, updated_at) = (
            next(shown.due_at),
            next(shown.created_at),
            next(shown.updated_at),
        );
        Ok(Self {
            id: row.uuid(0)?,
            title: title
                .map(|at| required(row.text(at)?, "title"))
                .transpose()?,
            description: description.map(|at| row.text(at)).transpose()?,
            completed: completed
                .map(|at| required(row.boolean(at)?, "completed"))
                .transpose()?,
            due_at: due_at.map(|at| row.time(at)).transpose()?,
            created_at: created_at
                .map(|at| required(row.time(at)?, "created_at"))
                .transpose()?,
            updated_at: updated_at
                .map(|at| required(row.time(at)?, "updated_at"))
                .transpose()?,
        })
    }
}

impl TaskRead {
    /// The whole row of `owner`'s task, when every field was read; the
    /// search text is made again from the title and description, as every
    /// write makes it.
    pub fn into_model(self, owner: Uuid) -> Option<task::Model> {
        let title = self.title?;
        let description = self.description?;
        Some(task::Model {
            id: self.id,
            user_id: owner,
            search_text: search_text(&title, description.as_deref()),
            title,
            description,
            completed: self.completed?,
            due_at: self.due_at?,
            created_at: self.created_at?,
            updated_at: self.updated_at?,
        })
    }
}

/// The value of a column that is never null.
fn required<T>(value: Option<T>, column: &str) -> Result<T, DbErr> {
    value.ok_or_else(|| DbErr::Type(format!("tasks.{column} is null")))
}

impl From<task::Model> for TaskRead {
    fn from(task: task::Model) -> Self {
        Self {
            id: task.id,
            title: Some(task.title),
            description: Some(task.description),
            completed: Some(task.completed),
            due_at: Some(task.due_at),
            created_at: Some(task.created_at),
            updated_at: Some(task.updated_at),
        }
    }
}
