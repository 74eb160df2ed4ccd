//! The admin listener's schema (`TASKQL_ADMIN_LISTEN`), for the people who
//! run the service: find an account and see its sessions, security events
//! and how much it holds (never a list's or a task's content), the service
//! in figures, and disable, enable, sign out, mail a reset to or delete an
//! account. None of it is in the public schema.
//!
//! Every field passes [`Admin::require`]: a valid access token
//! (`UNAUTHENTICATED` otherwise) of an account marked admin, the mark read
//! from the account's row on every request, whose session passed a second
//! factor in the last 15 minutes (`FORBIDDEN` otherwise). Signing in is
//! the public schema's own `login` and `completeLogin`, served here too so
//! that this listener's GraphiQL signs its callers in itself.

mod users;

use std::time::Duration;

use async_graphql::{Context, EmptySubscription, MergedObject, SDLExportOptions, Schema};

use super::{
    MAX_COMPLEXITY,
    gateway::Gateway,
    limits,
    persisted::PersistedQueries,
    sign_in::SignInMutation,
    viewer::{Viewer, client},
};
use crate::{
    accounts::{Accounts, audit::Operator},
    error::{AppError, AppResult},
    metrics::Metrics,
};

/// How recent the second factor of an admin's session must be.
pub const SECOND_FACTOR_WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct AdminQuery(users::UserQuery);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct AdminMutation(users::UserMutation, SignInMutation);

/// The gateway to the admin schema.
pub type AdminGateway = Gateway<AdminQuery, AdminMutation, EmptySubscription>;

fn builder() -> async_graphql::SchemaBuilder<AdminQuery, AdminMutation, EmptySubscription> {
    Schema::build(
        AdminQuery::default(),
        AdminMutation::default(),
        EmptySubscription,
    )
    .limit_complexity(MAX_COMPLEXITY)
    .limit_recursive_depth(limits::MAX_RECURSION)
}

/// The gateway to the admin schema, over the accounts service; the same
/// limits, metrics and traces as the public one. Introspection is on: the
/// listener is for the people who run the service, and its GraphiQL needs
/// it.
pub fn gateway(accounts: Accounts, metrics: Metrics) -> AdminGateway {
    let schema = builder()
        .data(users::AdminLoaders::new(&accounts))
        .data(accounts)
        .data(metrics.clone())
        .finish();
    Gateway::new(schema, PersistedQueries::new(None, false), metrics)
}

/// The admin schema in SDL, as `taskql schema --admin` prints it and
/// `admin.graphql` holds it.
pub fn sdl() -> String {
    let options = SDLExportOptions::new().include_specified_by();
    builder().finish().sdl_with_options(options)
}

/// The caller of an admin field, proven.
pub struct Admin<'a> {
    pub viewer: &'a Viewer,
}

impl<'a> Admin<'a> {
    /// The guard of every admin field: the caller's account (read now), if
    /// it is marked admin and its session passed a second factor lately.
    pub async fn require(ctx: &'a Context<'_>) -> AppResult<Self> {
        let viewer = Viewer::require(ctx).await?;
        if !viewer.user.is_admin {
            return Err(AppError::AdminRequired(
                "this account is not an admin (taskql admin grant)",
            ));
        }
        if !viewer.claimed.second_factor_within(SECOND_FACTOR_WINDOW) {
            return Err(AppError::AdminRequired(
                "sign in again with your second factor (a TOTP or recovery code, or a passkey): \
                 admin requests need one from the last 15 minutes",
            ));
        }
        Ok(Self { viewer })
    }

    /// Who acts, for the record of what they do.
    pub fn operator(&self, ctx: &'a Context<'_>) -> Operator<'a> {
        Operator::Admin {
            id: self.viewer.user.id,
            client: client(ctx),
        }
    }
}
