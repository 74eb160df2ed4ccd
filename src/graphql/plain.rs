//! Objects whose fields are values already in memory, resolved in one pass.
//!
//! async-graphql resolves every field of an object as a boxed future of its
//! own, with its own context and error handling, and grows the object's map
//! one field at a time. For the tasks of a page, whose fields are all in
//! memory, that machinery was most of what the page cost. A [`PlainObject`]
//! answers each field from a plain function instead; its type in the schema
//! still comes from the derived `ContainerType`, and its selection set is
//! resolved here with async-graphql's rules: fields in the order asked,
//! aliases, fragments and inline fragments by type condition, `__typename`,
//! the same key merged, and a field that fails reported with its path and
//! left out. (`@skip` and `@include` are applied before execution starts.)
//!
//! The schema has no extensions and no custom directives, which would see
//! none of these fields.
//!
//! A field whose value must be loaded cannot be answered in one pass
//! unless the page loaded it for all its tasks (`task::preload`): an
//! object whose selection asks for another ([`PlainObject::is_plain`]) is
//! resolved the ordinary way instead, field by field, each loaded field
//! through its loader.
//!
//! Measured gain (bench/README.md): 563,392 → 495,109 instructions per
//! page of 20 tasks; with the preload, the nested query of 10 lists × 20
//! tasks with subtasks 9,124 → 3,351 µs of CPU.

use std::borrow::Cow;

use async_graphql::{
    Context, ContextSelectionSet, Name, OutputType, Positioned, ServerError, ServerResult, Value,
    indexmap::{IndexMap, map::Entry},
    parser::types::{Field, Selection},
    registry::Registry,
    resolver_utils::{ContainerType, resolve_container, resolve_list},
};

use super::errors::server_error;
use crate::error::AppError;

/// An object whose fields are answered without a future each.
pub trait PlainObject: ContainerType {
    /// The value of the field that `ctx` is at (never `__typename`).
    fn field(&self, ctx: &Context<'_>) -> ServerResult<Value>;

    /// Whether the selection of `ctx` asks only for fields [`field`]
    /// answers; when not, the object is resolved the ordinary way.
    ///
    /// [`field`]: PlainObject::field
    fn is_plain(&self, _ctx: &ContextSelectionSet<'_>) -> bool {
        true
    }
}

/// Whether the selection of `ctx`, through its fragments, asks at this
/// level for a field named in `names`.
pub fn selects_any(ctx: &ContextSelectionSet<'_>, names: &[&str]) -> bool {
    selection_asks(ctx, &ctx.item.node, &mut |field| {
        names.contains(&field.name.node.as_str())
    })
}

/// Whether the selection of `ctx` asks, below a field named `field`, for a
/// field named in `names`.
pub fn selects_below(ctx: &ContextSelectionSet<'_>, field: &str, names: &[&str]) -> bool {
    selection_asks(ctx, &ctx.item.node, &mut |asked| {
        asked.name.node == field
            && selection_asks(ctx, &asked.selection_set.node, &mut |below| {
                names.contains(&below.name.node.as_str())
            })
    })
}

fn selection_asks(
    ctx: &ContextSelectionSet<'_>,
    set: &async_graphql::parser::types::SelectionSet,
    wanted: &mut dyn FnMut(&Field) -> bool,
) -> bool {
    set.items.iter().any(|selection| match &selection.node {
        Selection::Field(field) => wanted(&field.node),
        Selection::FragmentSpread(spread) => ctx
            .query_env
            .fragments
            .get(&spread.node.fragment_name.node)
            .is_some_and(|fragment| selection_asks(ctx, &fragment.node.selection_set.node, wanted)),
        Selection::InlineFragment(fragment) => {
            selection_asks(ctx, &fragment.node.selection_set.node, wanted)
        }
    })
}

/// The object `T`, presented as itself, resolved in one pass.
pub struct Plain<T>(pub T);

/// A list of plain objects, resolved in one pass.
pub struct PlainList<T>(pub Vec<T>);

/// The value of a field that is itself a plain object: `object` with the
/// field's selection set.
pub fn object<T: PlainObject>(object: &T, ctx: &Context<'_>) -> Value {
    resolve(
        object,
        &ctx.with_selection_set(&ctx.item.node.selection_set),
    )
}

/// The value of a field that is a list of plain objects: each of `items`
/// with the field's selection set.
pub fn list<T: PlainObject>(items: &[T], ctx: &Context<'_>) -> Value {
    each(items, &ctx.with_selection_set(&ctx.item.node.selection_set))
}

fn each<T: PlainObject>(items: &[T], ctx: &ContextSelectionSet<'_>) -> Value {
    let items = items
        .iter()
        .enumerate()
        .map(|(index, item)| resolve(item, &ctx.with_index(index)))
        .collect();
    Value::List(items)
}

/// The answer for a field a plain object does not know: the schema and the
/// object's [`PlainObject::field`] disagree, which is ours to fix.
pub fn unknown(ctx: &Context<'_>) -> ServerResult<Value> {
    let name = &ctx.item.node.name.node;
    let error = AppError::internal(format!("a plain object has no value for its field {name}"));
    Err(server_error(error, Some(ctx.item.pos)))
}

impl<T: PlainObject> OutputType for Plain<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        if self.0.is_plain(ctx) {
            Ok(resolve(&self.0, ctx))
        } else {
            resolve_container(ctx, &self.0).await
        }
    }
}

impl<T: PlainObject> OutputType for PlainList<T> {
    fn type_name() -> Cow<'static, str> {
        Vec::<T>::type_name()
    }

    fn qualified_type_name() -> String {
        Vec::<T>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Vec::<T>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        if !self.0.iter().all(|item| item.is_plain(ctx)) {
            return resolve_list(ctx, field, &self.0, Some(self.0.len())).await;
        }
        Ok(each(&self.0, ctx))
    }
}

/// `object` with the selection set of `ctx`; `null` when no field could be
/// answered, as async-graphql does.
fn resolve<T: PlainObject>(object: &T, ctx: &ContextSelectionSet<'_>) -> Value {
    let mut fields = IndexMap::with_capacity(ctx.item.node.items.len());
    collect(object, ctx, &mut fields);
    if fields.is_empty() {
        Value::Null
    } else {
        Value::Object(fields)
    }
}

fn collect<T: PlainObject>(
    object: &T,
    ctx: &ContextSelectionSet<'_>,
    fields: &mut IndexMap<Name, Value>,
) {
    for selection in &ctx.item.node.items {
        let (condition, selection_set) = match &selection.node {
            Selection::Field(field) => {
                let ctx_field = ctx.with_field(field);
                let value = if field.node.name.node == "__typename" {
                    Ok(Value::String(object.introspection_type_name().into_owned()))
                } else {
                    object.field(&ctx_field)
                };
                match value {
                    Ok(value) => insert(fields, field.node.response_key().node.clone(), value),
                    Err(error) if error.path.is_empty() => {
                        ctx.add_error(ctx_field.set_error_path(error));
                    }
                    Err(error) => ctx.add_error(error),
                }
                continue;
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                let Some(fragment) = ctx.query_env.fragments.get(name) else {
                    ctx.add_error(ServerError::new(
                        format!(r#"Unknown fragment "{name}"."#),
                        Some(spread.pos),
                    ));
                    continue;
                };
                (
                    Some(&fragment.node.type_condition.node.on.node),
                    &fragment.node.selection_set,
                )
            }
            Selection::InlineFragment(fragment) => (
                fragment
                    .node
                    .type_condition
                    .as_ref()
                    .map(|condition| &condition.node.on.node),
                &fragment.node.selection_set,
            ),
        };
        if condition.is_none_or(|condition| applies(object, ctx, condition)) {
            collect(object, &ctx.with_selection_set(selection_set), fields);
        }
    }
}

/// Whether a fragment on `condition` applies to `object`: its own type or an
/// interface it implements.
fn applies<T: PlainObject>(object: &T, ctx: &ContextSelectionSet<'_>, condition: &str) -> bool {
    let type_name = object.introspection_type_name();
    type_name == condition
        || ctx
            .schema_env
            .registry
            .implements
            .get(type_name.as_ref())
            .is_some_and(|interfaces| interfaces.contains(condition))
}

/// Puts `value` under `name`, merging it into what is there already (the
/// same field selected twice, with different sub-selections).
fn insert(fields: &mut IndexMap<Name, Value>, name: Name, value: Value) {
    let present = match fields.entry(name) {
        Entry::Vacant(vacant) => {
            vacant.insert(value);
            return;
        }
        Entry::Occupied(occupied) => occupied.into_mut(),
    };
    match (present, value) {
        (Value::Object(present), Value::Object(more)) => {
            for (name, value) in more {
                insert(present, name, value);
            }
        }
        (Value::List(present), Value::List(more)) => {
            for (present, more) in present.iter_mut().zip(more) {
                if let (Value::Object(present), Value::Object(more)) = (present, more) {
                    for (name, value) in more {
                        insert(present, name, value);
                    }
                }
            }
        }
        _ => {}
    }
}
