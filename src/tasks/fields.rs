//! What a task is to its clients: each of its fields declared once, in
//! [`task_fields!`], and what is made of that declaration here: [`Shown`]
//! (which fields a read fills), [`TaskRead`] (a task as a read left it, and
//! as events carry it), the columns a read selects and how a row of either
//! database is read by position. The GraphQL object, the names the page's
//! look-ahead looks for and the values of its plain fields are made from
//! the same declaration in `graphql::task`.
//!
//! A page that shows ids and titles reads two columns, not nine: converting
//! and copying columns nobody asked for (three times, the search text) cost
//! more than the rest of reading a row.
//!
//! Adding a field: a migration, the entity's column, one line of
//! [`task_fields!`], and the input rules if clients may set it. A link to
//! another object (the assignee, the author) is declared the same way, with
//! the column that holds the other's id; its GraphQL field loads the object.
//! The list a task is in is read with every task, as its id is: who hears
//! of a change and what a client may do with it depend on it.

use entity::task::{self, Column};
use sea_orm::{
    DbErr,
    sea_query::{Query, SelectStatement},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::{Columns, FromColumn};

/// Every field of a task a client can be shown, but the id and the list,
/// which every read reads: `name: type = Column as "graphqlName"`. The name
/// is the entity's field, the type its Rust type (`Option` when the column
/// is nullable). `values` are answered as they are; `links` hold the id of
/// another object, which their field loads as the GraphQL type named after
/// `=>`. Hands both to the macro `$then`.
macro_rules! task_fields {
    ($then:ident) => {
        $then! {
            values {
                title: String = Title as "title",
                description: Option<String> = Description as "description",
                completed: bool = Completed as "completed",
                due_at: Option<chrono::DateTime<chrono::Utc>> = DueAt as "dueAt",
                due_on: Option<chrono::NaiveDate> = DueOn as "dueOn",
                time_zone: String = TimeZone as "timeZone",
                recurrence: Option<String> = Recurrence as "recurrence",
                repeat_from: crate::tasks::RepeatFrom = RepeatFrom as "repeatFrom",
                priority: crate::tasks::Priority = Priority as "priority",
                position: String = Position as "position",
                created_at: chrono::DateTime<chrono::Utc> = CreatedAt as "createdAt",
                updated_at: chrono::DateTime<chrono::Utc> = UpdatedAt as "updatedAt",
                version: i32 = Version as "version",
            }
            links {
                assignee_id: Option<uuid::Uuid> = AssigneeId as "assignee" => Person,
                created_by: Option<uuid::Uuid> = CreatedBy as "createdBy" => Person,
                parent_id: Option<uuid::Uuid> = ParentId as "parent" => Task,
            }
        }
    };
}
pub(crate) use task_fields;

macro_rules! shape {
    (
        values { $($value:ident: $value_ty:ty = $value_column:ident as $value_graphql:tt),* $(,)? }
        links { $($link:ident: $link_ty:ty = $link_column:ident as $link_graphql:tt => $object:ident),* $(,)? }
    ) => {
        shape! { @all $($value: $value_ty = $value_column,)* $($link: $link_ty = $link_column,)* }
    };
    (@all $($name:ident: $ty:ty = $column:ident,)*) => {
        /// Which of a task's fields a read fills; the id always.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct Shown {
            $(pub $name: bool,)*
        }

        impl Shown {
            /// Every field a client can be shown.
            pub const ALL: Self = Self { $($name: true,)* };

            /// The id alone.
            pub const ID: Self = Self { $($name: false,)* };

            /// How many columns [`Shown::select`] reads.
            pub fn columns(self) -> usize {
                2 $(+ usize::from(self.$name))*
            }

            /// `SELECT` of the columns read, in the order [`TaskRead::read`]
            /// reads them, from the tasks table.
            pub fn select(self) -> SelectStatement {
                let mut select = Query::select();
                select
                    .column((task::Entity, Column::Id))
                    .column((task::Entity, Column::ListId));
                $(
                    if self.$name {
                        select.column((task::Entity, Column::$column));
                    }
                )*
                select.from(task::Entity);
                select
            }
        }

        /// A task as a read left it: each field `None` when it was not read
        /// (`Some(None)`: read, and there is none). Events carry it whole.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        pub struct TaskRead {
            pub id: Uuid,
            pub list_id: Uuid,
            $(
                #[serde(default, skip_serializing_if = "Option::is_none", with = "present")]
                pub $name: Option<$ty>,
            )*
        }

        impl TaskRead {
            /// Reads a row of a statement that selected `shown`
            /// ([`Shown::select`]).
            pub fn read(row: &impl Columns, shown: Shown) -> Result<Self, DbErr> {
                let mut at = 1;
                Ok(Self {
                    id: row.uuid(0)?,
                    list_id: row.uuid(1)?,
                    $(
                        $name: if shown.$name {
                            at += 1;
                            Some(<$ty as FromColumn>::read(row, at, stringify!($name))?)
                        } else {
                            None
                        },
                    )*
                })
            }
        }

        /// A whole row, as a write made it.
        impl From<task::Model> for TaskRead {
            fn from(task: task::Model) -> Self {
                Self {
                    id: task.id,
                    list_id: task.list_id,
                    $($name: Some(converted(task.$name)),)*
                }
            }
        }
    };
}
task_fields!(shape);

/// A column's value as the field holds it (a priority from its level; the
/// others as they are).
fn converted<U, T: From<U>>(value: U) -> T {
    value.into()
}

/// A field that is there when it was read, and absent when not: `null` is
/// a value read (no description), never "not read".
mod present {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[allow(clippy::ref_option)]
    pub fn serialize<T: Serialize, S: Serializer>(
        value: &Option<T>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => value.serialize(serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<T>, D::Error> {
        T::deserialize(deserializer).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_travels_as_it_was_read() {
        let now = crate::db::now();
        let whole = TaskRead {
            id: Uuid::now_v7(),
            list_id: Uuid::now_v7(),
            title: Some("Title".into()),
            description: Some(None),
            completed: Some(false),
            due_at: Some(Some(now)),
            due_on: Some(None),
            time_zone: Some("Europe/Berlin".into()),
            recurrence: Some(Some("FREQ=DAILY".into())),
            repeat_from: Some(crate::tasks::RepeatFrom::Completion),
            priority: Some(crate::tasks::Priority::High),
            position: Some("a0".into()),
            parent_id: Some(None),
            created_at: Some(now),
            updated_at: Some(now),
            version: Some(3),
            assignee_id: Some(Some(Uuid::now_v7())),
            created_by: Some(None),
        };
        let partial = TaskRead {
            description: None,
            due_at: Some(None),
            ..whole.clone()
        };
        for task in [whole, partial] {
            let text = serde_json::to_string(&task).expect("encodes");
            assert_eq!(
                serde_json::from_str::<TaskRead>(&text).ok(),
                Some(task),
                "{text}"
            );
        }
    }
}
