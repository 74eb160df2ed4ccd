//! The GraphQL layer: the schema, with root types merged from one module per
//! feature, the [`Gateway`](gateway::Gateway) every transport runs operations
//! through, the viewer guard, and the transports themselves.

mod account;
pub mod admin;
mod comments;
mod dates;
pub mod errors;
mod events;
pub mod gateway;
pub mod graphiql;
pub mod http;
mod identities;
mod labels;
pub mod limits;
mod lists;
mod loaders;
mod page_info;
mod passkeys;
pub mod persisted;
mod plain;
mod rounds;
mod scalars;
mod second_factor;
mod security;
mod sessions;
mod sign_in;
mod sync;
mod task;
pub mod viewer;
pub mod ws;

use async_graphql::{
    MergedObject, MergedSubscription, SDLExportOptions, Schema, SchemaBuilder, ValidationMode,
};

use crate::{accounts::Accounts, events::Events, lists::Lists, metrics::Metrics, tasks::Tasks};

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    account::AccountQuery,
    sessions::SessionQuery,
    security::SecurityQuery,
    second_factor::SecondFactorQuery,
    identities::IdentityQuery,
    lists::ListQuery,
    task::TaskQuery,
    dates::DateQuery,
    sync::SyncQuery,
);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    account::AccountMutation,
    sign_in::SignInMutation,
    sessions::SessionMutation,
    second_factor::SecondFactorMutation,
    passkeys::PasskeyMutation,
    identities::IdentityMutation,
    lists::ListMutation,
    task::TaskMutation,
    labels::LabelMutation,
    comments::CommentMutation,
    dates::DateMutation,
);

#[derive(MergedSubscription, Default)]
#[graphql(name = "Subscription")]
pub struct SubscriptionRoot(events::TaskSubscription);

/// Most costly operation accepted. Fields cost 1 and a task page multiplies
/// what it selects by its size: a full page of 100 tasks with every field
/// costs about 1,600.
pub const MAX_COMPLEXITY: usize = 2_000;

pub type TaskqlSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// How the schema presents itself, from the configuration.
#[derive(Clone, Debug)]
pub struct SchemaSettings {
    pub introspection: bool,
    /// Whether "did you mean …" suggestions may name fields.
    pub suggestions: bool,
    /// The documents of `TASKQL_TRUSTED_DOCUMENTS`.
    pub trusted_documents: Option<crate::config::DocumentManifest>,
    /// Whether only the trusted documents run (production).
    pub only_trusted: bool,
    /// The base of the links the server makes (`TASKQL_PUBLIC_URL`).
    pub public_url: PublicUrl,
}

/// The base of the links the server makes, such as a calendar feed's:
/// `TASKQL_PUBLIC_URL`, or `http://` and the address it listens on.
#[derive(Clone, Debug)]
pub struct PublicUrl(pub String);

fn builder() -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
    .limit_complexity(MAX_COMPLEXITY)
    .limit_recursive_depth(limits::MAX_RECURSION)
}

/// The gateway to the schema served to clients, over the services it
/// resolves with.
pub fn gateway(
    accounts: Accounts,
    lists: Lists,
    tasks: Tasks,
    events: Events,
    metrics: Metrics,
    settings: SchemaSettings,
) -> gateway::Gateway {
    let persisted =
        persisted::PersistedQueries::new(settings.trusted_documents.clone(), settings.only_trusted);
    let counted = metrics.clone();
    let schema = move |validation| {
        let mut builder = builder().validation_mode(validation);
        if !settings.introspection {
            builder = builder.disable_introspection();
        }
        if !settings.suggestions {
            builder = builder.disable_suggestions();
        }
        builder
            .data(accounts.clone())
            .data(loaders::Loaders::new(&lists, &tasks))
            .data(tasks.change_log().clone())
            .data(lists.clone())
            .data(tasks.clone())
            .data(events.clone())
            .data(metrics.clone())
            .data(settings.public_url.clone())
            .finish()
    };
    gateway::Gateway::new(schema(ValidationMode::Strict), persisted, counted)
        .revalidating_only_once(move || schema(ValidationMode::Fast))
}

/// The schema in SDL, as `taskql schema` prints it and `schema.graphql` holds it.
/// `DateTime` carries `@specifiedBy`, so code generators map it to a string
/// type instead of `any`.
pub fn sdl() -> String {
    let options = SDLExportOptions::new().include_specified_by();
    builder().finish().sdl_with_options(options)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_schema_tells_code_generators_what_a_date_time_is() {
        let sdl = super::sdl();
        assert!(
            sdl.contains(
                r#"scalar DateTime @specifiedBy(url: "https://datatracker.ietf.org/doc/html/rfc3339")"#
            ),
            "{sdl}"
        );
    }
}
