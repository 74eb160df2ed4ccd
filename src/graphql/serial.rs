//! Objects whose fields are resolved one after another.
//!
//! async-graphql resolves the fields of an object concurrently, which costs a
//! set of futures, a task and a waker per field. Objects whose fields only
//! read what is already in memory, such as the tasks of a page, gain nothing
//! from that: wrapped in [`Serial`] they resolve their fields in order with
//! the same results, errors and paths.

use std::borrow::Cow;

use async_graphql::{
    ContainerType, ContextSelectionSet, OutputType, Positioned, ServerResult, Value,
    parser::types::Field, registry::Registry, resolver_utils::resolve_container_serial,
};

/// The object `T`, presented as itself, with fields resolved in order.
pub struct Serial<T>(pub T);

impl<T: ContainerType> OutputType for Serial<T> {
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
        resolve_container_serial(ctx, &self.0).await
    }
}
