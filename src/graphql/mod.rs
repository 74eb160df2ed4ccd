//! The GraphQL schema: root types merged from one module per feature, the
//! operation limits, and the SDL that `schema.graphql` holds.

mod account;
pub mod errors;
pub mod http;
pub mod limits;
mod scalars;
mod task;

use async_graphql::{EmptySubscription, MergedObject, Request, Response, Schema, SchemaBuilder};

use crate::server::AppState;

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(account::AccountQuery, task::TaskQuery);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(account::AccountMutation, task::TaskMutation);

/// Most costly operation accepted. Fields cost 1 and a task page multiplies
/// what it selects by its size: a full page of 100 tasks with every field
/// costs about 1,600.
pub const MAX_COMPLEXITY: usize = 2_000;

pub type TaskqlSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

fn builder() -> SchemaBuilder<QueryRoot, MutationRoot, EmptySubscription> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
    .limit_complexity(MAX_COMPLEXITY)
    .limit_directives(limits::MAX_DIRECTIVES)
    .limit_recursive_depth(limits::MAX_RECURSION)
}

/// The schema served to clients, configured for the environment.
pub fn build_schema(state: AppState) -> TaskqlSchema {
    let mut builder = builder();
    if !state.config.introspection_enabled() {
        builder = builder.disable_introspection();
    }
    if state.config.is_production() {
        builder = builder.disable_suggestions();
    }
    builder.data(state).finish()
}

/// Runs one operation the way every transport must: the shape limits on
/// the parsed document, then the schema, then a code on every error.
///
/// These are not schema extensions because any extension sends every
/// resolved field through the extension chain, a cost paid per field.
pub async fn execute(schema: &TaskqlSchema, mut request: Request, request_id: &str) -> Response {
    let response = match limits::check_request(&mut request) {
        Ok(()) => schema.execute(request).await,
        Err(error) => Response::from_errors(vec![error]),
    };
    errors::give_codes(response, request_id)
}

/// The schema in SDL, as `taskql schema` prints it and `schema.graphql` holds it.
pub fn sdl() -> String {
    builder().finish().sdl()
}
