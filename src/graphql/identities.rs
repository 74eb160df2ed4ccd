//! Sign-in with identity providers in GraphQL: the providers, a sign-in
//! started and finished, the viewer's linked identities, linking and
//! unlinking. The work is done in `crate::accounts::identities`.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use entity::identity;
use uuid::Uuid;

use super::{
    account::AuthPayload,
    errors::code_of,
    scalars::DateTime,
    viewer::{Viewer, client},
};
use crate::{
    accounts::{
        Accounts,
        identities::{ExternalSignIn as Started, Proof, ProviderAnswer},
    },
    error::AppError,
    metrics::Metrics,
};

/// A provider people may sign in with.
#[derive(SimpleObject)]
pub struct IdentityProvider {
    /// What `startExternalLogin` takes as `provider`.
    pub id: String,
    pub display_name: String,
}

/// A provider's identity linked to the viewer's account.
#[derive(SimpleObject)]
pub struct LinkedIdentity {
    pub id: ID,
    /// The provider's id.
    pub provider: String,
    /// The email the provider gave at the last sign-in.
    pub email: Option<String>,
    pub created_at: DateTime,
    pub last_used_at: Option<DateTime>,
}

impl From<identity::Model> for LinkedIdentity {
    fn from(identity: identity::Model) -> Self {
        Self {
            id: ID(identity.id.to_string()),
            provider: identity.provider,
            email: identity.email,
            created_at: DateTime(identity.created_at),
            last_used_at: identity.last_used_at.map(DateTime),
        }
    }
}

/// Where to send the browser, and the `state` its answer will carry.
#[derive(SimpleObject)]
pub struct ExternalSignIn {
    /// The provider's page: send the browser there.
    pub authorization_url: String,
    /// Comes back on the redirect URI; hand it to the finishing mutation.
    pub state: String,
}

impl From<Started> for ExternalSignIn {
    fn from(started: Started) -> Self {
        Self {
            authorization_url: started.authorization_url,
            state: started.state,
        }
    }
}

#[derive(InputObject)]
pub struct StartExternalLoginInput {
    /// An `identityProviders` id.
    pub provider: String,
    /// The app's page the provider answers to: one of
    /// `TASKQL_OIDC_REDIRECT_URIS`, exactly.
    pub redirect_uri: String,
}

#[derive(InputObject)]
pub struct FinishExternalLoginInput {
    /// The `state` parameter of the answer on the redirect URI.
    #[graphql(secret)]
    pub state: String,
    /// Its `code` parameter.
    #[graphql(secret)]
    pub code: String,
    /// Its `iss` parameter (RFC 9207), when the provider sent one.
    pub iss: Option<String>,
}

#[derive(InputObject)]
pub struct StartIdentityLinkInput {
    pub provider: String,
    pub redirect_uri: String,
    /// The account's password, when it has one.
    #[graphql(secret)]
    pub password: Option<String>,
    /// A current second-factor code, for an account that has a second factor.
    #[graphql(secret)]
    pub code: Option<String>,
}

impl FinishExternalLoginInput {
    fn answer(&self) -> ProviderAnswer<'_> {
        ProviderAnswer {
            state: &self.state,
            code: &self.code,
            iss: self.iss.as_deref(),
        }
    }
}

#[derive(Default)]
pub struct IdentityQuery;

#[Object]
impl IdentityQuery {
    /// The identity providers this server signs people in with.
    async fn identity_providers(&self, ctx: &Context<'_>) -> Vec<IdentityProvider> {
        ctx.data_unchecked::<Accounts>()
            .identity_providers()
            .into_iter()
            .map(|(id, display_name)| IdentityProvider { id, display_name })
            .collect()
    }

    /// The providers' identities linked to the viewer's account.
    async fn identities(&self, ctx: &Context<'_>) -> Result<Vec<LinkedIdentity>> {
        let viewer = Viewer::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        Ok(accounts
            .identities(viewer.user.id)
            .await?
            .into_iter()
            .map(LinkedIdentity::from)
            .collect())
    }
}

#[derive(Default)]
pub struct IdentityMutation;

#[Object]
impl IdentityMutation {
    /// Starts a sign-in with an identity provider (authorization code with
    /// PKCE): send the browser to `authorizationUrl`; the provider answers
    /// on `redirectUri` with `code`, `state` and `iss`, for
    /// `finishExternalLogin`. Ten minutes, once.
    async fn start_external_login(
        &self,
        ctx: &Context<'_>,
        input: StartExternalLoginInput,
    ) -> Result<ExternalSignIn> {
        let accounts = ctx.data_unchecked::<Accounts>();
        let started = accounts
            .start_external_login(client(ctx), &input.provider, &input.redirect_uri)
            .await?;
        Ok(started.into())
    }

    /// Finishes a sign-in with an identity provider: a session, as a login
    /// starts. `MFA_REQUIRED` with an `mfaToken` for an account with a
    /// second factor; `EMAIL_NOT_VERIFIED` when the provider does not vouch
    /// for the email of a new identity; `ACCOUNT_EXISTS` when an account has
    /// that email (sign in with its password, then link the provider).
    async fn finish_external_login(
        &self,
        ctx: &Context<'_>,
        input: FinishExternalLoginInput,
    ) -> Result<AuthPayload> {
        let accounts = ctx.data_unchecked::<Accounts>();
        let mut provider = None;
        let finished = accounts
            .finish_external_login(client(ctx), input.answer(), &mut provider)
            .await;
        let outcome = finished.as_ref().map_or_else(code_of, |_| "ok");
        let provider = provider.as_deref().unwrap_or("unknown");
        ctx.data_unchecked::<Metrics>()
            .external_login(provider, outcome);
        Ok(finished?.into())
    }

    /// Starts linking a provider to the viewer's account, after its
    /// password (when it has one) and code (with a second factor); finish
    /// with `finishIdentityLink`.
    async fn start_identity_link(
        &self,
        ctx: &Context<'_>,
        input: StartIdentityLinkInput,
    ) -> Result<ExternalSignIn> {
        let viewer = Viewer::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        let started = accounts
            .start_identity_link(
                &viewer.user,
                client(ctx),
                (&input.provider, &input.redirect_uri),
                Proof {
                    password: input.password.as_deref(),
                    code: input.code.as_deref(),
                    session: viewer.claimed.session,
                },
            )
            .await?;
        Ok(started.into())
    }

    /// Finishes a link the viewer started: the provider's identity signs
    /// in to this account from now on. One linked to another account is
    /// refused.
    async fn finish_identity_link(
        &self,
        ctx: &Context<'_>,
        input: FinishExternalLoginInput,
    ) -> Result<LinkedIdentity> {
        let viewer = Viewer::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        let linked = accounts
            .finish_identity_link(&viewer.user, client(ctx), input.answer())
            .await?;
        Ok(linked.into())
    }

    /// Unlinks a provider's identity from the viewer's account, never the
    /// last way to sign in; the password (when it has one) and code (with a
    /// second factor) first.
    async fn unlink_identity(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(secret)] password: Option<String>,
        #[graphql(secret)] code: Option<String>,
    ) -> Result<bool> {
        let viewer = Viewer::require(ctx).await?;
        let id = Uuid::parse_str(&id).map_err(|_| AppError::NotFound)?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .unlink_identity(
                &viewer.user,
                client(ctx),
                id,
                Proof {
                    password: password.as_deref(),
                    code: code.as_deref(),
                    session: viewer.claimed.session,
                },
            )
            .await?;
        Ok(true)
    }
}
