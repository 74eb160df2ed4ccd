//! The `Task` object, made from the one declaration of a task's fields
//! (`tasks::fields::task_fields!`): its schema (through `#[Object]`), the
//! names the page's look-ahead looks for, and the value of each field,
//! answered in one pass ([`PlainObject`]). Its links (the assignee, the
//! author) and its list are loaded, batched across the request, through the
//! loaders, which apply the lists' rule.

use async_graphql::{
    Context, ContextSelectionSet, ID, Lookahead, Object, OutputType, Result, ScalarType,
    ServerResult, Value,
};

use super::preload::Preloaded;
use super::{
    super::{
        comments::CommentConnection,
        dates::{CompletionConnection, Reminder},
        errors::server_error,
        labels::Label,
        lists::{Person, TaskList},
        loaders::{self, Linked},
        plain::{self, Plain, PlainObject},
        scalars::{Date, DateTime},
    },
    TaskConnection,
    input::{Direction, OrderField, Priority, RepeatFrom, TaskOrderInput},
    page_cost,
};
use crate::{
    error::AppError,
    tasks::{self, PageArgs, Scope, Shown, TaskRead, fields::task_fields, order::TaskOrder},
};
use std::{collections::HashMap, sync::Arc};
use uuid::Uuid;

/// A task as it was read: on a page, only the fields the page shows, and
/// what was loaded for the whole page at once (see [`super::preload`]).
pub struct Task(pub TaskRead, pub Option<Arc<Preloaded>>);

/// A field of the task; the read that made it always reads the fields a
/// client asks for (see [`shown`]).
pub(super) fn read<T>(field: Option<T>) -> Result<T, AppError> {
    field.ok_or_else(|| AppError::internal("a task field was asked for that was not read"))
}

/// How a field's Rust type answers in GraphQL.
trait Answer {
    /// Its type in the schema.
    type Output: OutputType;
    fn output(&self) -> Self::Output;
    fn value(&self) -> Value;
}

impl Answer for String {
    type Output = String;

    fn output(&self) -> String {
        self.clone()
    }

    fn value(&self) -> Value {
        Value::String(self.clone())
    }
}

impl Answer for bool {
    type Output = bool;

    fn output(&self) -> bool {
        *self
    }

    fn value(&self) -> Value {
        Value::Boolean(*self)
    }
}

impl Answer for i32 {
    type Output = i32;

    fn output(&self) -> i32 {
        *self
    }

    fn value(&self) -> Value {
        Value::from(*self)
    }
}

impl Answer for chrono::DateTime<chrono::Utc> {
    type Output = DateTime;

    fn output(&self) -> DateTime {
        DateTime(*self)
    }

    fn value(&self) -> Value {
        DateTime(*self).to_value()
    }
}

impl Answer for chrono::NaiveDate {
    type Output = Date;

    fn output(&self) -> Date {
        Date(*self)
    }

    fn value(&self) -> Value {
        Date(*self).to_value()
    }
}

impl Answer for tasks::RepeatFrom {
    type Output = RepeatFrom;

    fn output(&self) -> RepeatFrom {
        (*self).into()
    }

    fn value(&self) -> Value {
        async_graphql::InputType::to_value(&RepeatFrom::from(*self))
    }
}

impl Answer for tasks::Priority {
    type Output = Priority;

    fn output(&self) -> Priority {
        (*self).into()
    }

    fn value(&self) -> Value {
        async_graphql::InputType::to_value(&Priority::from(*self))
    }
}

impl<T: Answer> Answer for Option<T> {
    type Output = Option<T::Output>;

    fn output(&self) -> Self::Output {
        self.as_ref().map(T::output)
    }

    fn value(&self) -> Value {
        self.as_ref().map_or(Value::Null, T::value)
    }
}

macro_rules! object {
    (
        values { $($name:ident: $ty:ty = $column:ident as $graphql:tt),* $(,)? }
        links { $($link:ident: $link_ty:ty = $link_column:ident as $link_graphql:tt => $object:ident),* $(,)? }
    ) => {
        /// Something to do, in one of the viewer's lists.
        #[Object]
        impl Task {
            // The schema's view of the fields; their values come from
            // `PlainObject`, but for the loaded ones.
            async fn id(&self) -> ID {
                ID(self.0.id.to_string())
            }

            $(
                #[graphql(name = $graphql)]
                async fn $name(&self) -> Result<<$ty as Answer>::Output> {
                    Ok(read(self.0.$name.as_ref())?.output())
                }
            )*

            /// The list the task is in.
            async fn list(&self, ctx: &Context<'_>) -> Result<TaskList> {
                Ok(loaders::list(ctx, self.0.list_id).await?)
            }

            $(
                #[graphql(name = $link_graphql)]
                async fn $link(&self, ctx: &Context<'_>) -> Result<Option<$object>> {
                    match *read(self.0.$link.as_ref())? {
                        Some(id) => Ok(<$object as Linked>::linked(ctx, id).await?),
                        None => Ok(None),
                    }
                }
            )*

            /// The labels it carries, by name.
            async fn labels(&self, ctx: &Context<'_>) -> Result<Vec<Label>> {
                let labels = loaders::task_labels(ctx, self.0.id).await?;
                Ok(labels.into_iter().map(Into::into).collect())
            }

            /// Its reminders, oldest first.
            async fn reminders(&self, ctx: &Context<'_>) -> Result<Vec<Reminder>> {
                let reminders = loaders::task_reminders(ctx, self.0.id).await?;
                Ok(reminders.into_iter().map(Reminder).collect())
            }

            /// How many comments it has.
            async fn comment_count(&self, ctx: &Context<'_>) -> Result<i32> {
                let count = loaders::comment_count(ctx, self.0.id).await?;
                Ok(i32::try_from(count).unwrap_or(i32::MAX))
            }

            /// Its comments, oldest first.
            #[graphql(complexity = "1 + page_cost(first, None) * child_complexity")]
            async fn comments(
                &self,
                ctx: &Context<'_>,
                first: Option<i32>,
                after: Option<String>,
            ) -> Result<CommentConnection> {
                let key = loaders::ChildrenOf {
                    viewer: super::super::viewer::viewer_id(ctx)?,
                    task: self.0.id,
                    first,
                    after,
                };
                Ok(loaders::comments(ctx, key).await?.into())
            }

            /// The occurrences of it that were completed, newest first.
            #[graphql(complexity = "1 + page_cost(first, None) * child_complexity")]
            async fn completions(
                &self,
                ctx: &Context<'_>,
                first: Option<i32>,
                after: Option<String>,
            ) -> Result<CompletionConnection> {
                let key = loaders::ChildrenOf {
                    viewer: super::super::viewer::viewer_id(ctx)?,
                    task: self.0.id,
                    first,
                    after,
                };
                Ok(loaders::completions(ctx, key).await?.into())
            }

            /// Its subtasks, in the manual order.
            #[graphql(complexity = "1 + page_cost(first, None) * child_complexity")]
            async fn subtasks(
                &self,
                ctx: &Context<'_>,
                first: Option<i32>,
                after: Option<String>,
            ) -> Result<Plain<TaskConnection>> {
                let args = PageArgs {
                    first,
                    after,
                    ..PageArgs::default()
                };
                let page = super::connection(ctx, Some((Scope::Parent, self.0.id)), None, Some(subtask_order_input()), args);
                // Boxed, so that every field of a task does not take its room.
                Ok(Box::pin(page).await?)
            }
        }

        impl Task {
            /// Whether the task answers its selection in one pass: when
            /// its page loaded every loaded field the selection asks for
            /// (see [`super::preload`]), or else when `asks` says that it
            /// asks for none.
            pub fn is_plain_with(&self, asks: impl FnOnce(&[&str]) -> bool) -> bool {
                match self.1.as_deref() {
                    Some(loaded) => loaded.complete,
                    None => !asks(Self::LOADED),
                }
            }
        }

        impl Task {
            /// The fields whose values are loaded.
            pub const LOADED: &[&str] = &[
                "list",
                "subtasks",
                "labels",
                "commentCount",
                "comments",
                "completions",
                "reminders",
                $($link_graphql),*
            ];
        }

        impl PlainObject for Task {
            fn field(&self, ctx: &Context<'_>) -> ServerResult<Value> {
                let task = &self.0;
                let value = match ctx.item.node.name.node.as_str() {
                    "id" => Ok(Value::String(task.id.to_string())),
                    $($graphql => read(task.$name.as_ref()).map(Answer::value),)*
                    $($link_graphql => {
                        let loaded = self.1.as_deref().and_then(<$object as AtOnce>::loaded);
                        match (loaded, read(task.$link.as_ref())) {
                            (Some(loaded), Ok(Some(id))) => Ok(loaded
                                .get(id)
                                .map_or(Value::Null, |object| plain::object(object, ctx))),
                            (Some(_), Ok(None)) => Ok(Value::Null),
                            (_, Err(error)) => Err(error),
                            (None, _) => return plain::unknown(ctx),
                        }
                    })*
                    "labels" => match self.1.as_deref().and_then(|preloaded| preloaded.labels.as_ref()) {
                        Some(labels) => Ok(Value::List(
                            labels
                                .get(&task.id)
                                .map(Vec::as_slice)
                                .unwrap_or_default()
                                .iter()
                                .map(|label| plain::object(&Label::from(label.clone()), ctx))
                                .collect(),
                        )),
                        None => return plain::unknown(ctx),
                    },
                    "commentCount" => match self.1.as_deref().and_then(|preloaded| preloaded.comment_counts.as_ref()) {
                        Some(counts) => Ok(Value::from(
                            i32::try_from(counts.get(&task.id).copied().unwrap_or(0)).unwrap_or(i32::MAX),
                        )),
                        None => return plain::unknown(ctx),
                    },
                    "subtasks" => match self.1.as_deref().and_then(|preloaded| preloaded.subtasks.as_ref()?.get(&task.id)) {
                        Some(subtasks) => Ok(plain::object(subtasks, ctx)),
                        None => return plain::unknown(ctx),
                    },
                    _ => return plain::unknown(ctx),
                };
                value.map_err(|error| server_error(error, Some(ctx.item.pos)))
            }

            fn is_plain(&self, ctx: &ContextSelectionSet<'_>) -> bool {
                self.is_plain_with(|loaded| plain::selects_any(ctx, loaded))
            }
        }

        /// The task as `CONFLICT` errors show it (`extensions.task`): every
        /// field that is a value, and the ids of its list and links
        /// (`listId`, `assigneeId`, …).
        pub fn conflict_value(task: &TaskRead) -> Value {
            let mut fields = async_graphql::indexmap::IndexMap::new();
            fields.insert(async_graphql::Name::new("id"), Value::String(task.id.to_string()));
            fields.insert(async_graphql::Name::new("listId"), Value::String(task.list_id.to_string()));
            $(
                if let Some(value) = task.$name.as_ref() {
                    fields.insert(async_graphql::Name::new($graphql), value.value());
                }
            )*
            $(
                if let Some(link) = task.$link.as_ref() {
                    fields.insert(
                        async_graphql::Name::new(concat!($link_graphql, "Id")),
                        link.map_or(Value::Null, |id| Value::String(id.to_string())),
                    );
                }
            )*
            Value::Object(fields)
        }

        /// The fields a selection of a task (`node`) shows, looked for by
        /// name through every fragment, which can only ask for more than is
        /// shown, never less.
        pub(super) fn shown(node: &Lookahead<'_>) -> Shown {
            Shown {
                $($name: node.field($graphql).exists(),)*
                $($link: node.field($link_graphql).exists(),)*
            }
        }
    };
}
task_fields!(object);

/// Objects a task links to that its page loads for all its tasks at once.
trait AtOnce: Sized {
    fn loaded(preloaded: &Preloaded) -> Option<&HashMap<Uuid, Self>>;
}

impl AtOnce for Person {
    fn loaded(preloaded: &Preloaded) -> Option<&HashMap<Uuid, Self>> {
        preloaded.people.as_ref()
    }
}

impl AtOnce for Task {
    fn loaded(preloaded: &Preloaded) -> Option<&HashMap<Uuid, Self>> {
        preloaded.parents.as_ref()
    }
}

/// The order of a task's subtasks: the manual one.
fn subtask_order_input() -> TaskOrderInput {
    TaskOrderInput {
        field: OrderField::Position,
        direction: Direction::Asc,
    }
}

/// The order of a task's subtasks, as a page reads it.
pub(super) fn subtask_order() -> TaskOrder {
    subtask_order_input().parse()
}

impl From<TaskRead> for Task {
    fn from(task: TaskRead) -> Self {
        Self(task, None)
    }
}
