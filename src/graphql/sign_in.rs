//! Signing in, in GraphQL: `login` and its second step `completeLogin`,
//! `refreshToken` and `logout`. Both schemas have them: the public one,
//! and the admin listener's, whose GraphiQL signs its callers in itself.

use async_graphql::{Context, InputObject, Object, Result};

use super::{account::AuthPayload, errors::code_of, viewer::client};
use crate::{
    accounts::{Accounts, SignedIn},
    metrics::Metrics,
};

#[derive(InputObject)]
pub struct LoginInput {
    pub email: String,
    #[graphql(secret)]
    pub password: String,
}

#[derive(InputObject)]
pub struct CompleteLoginInput {
    /// The `extensions.mfaToken` of the `MFA_REQUIRED` answer to `login`.
    #[graphql(secret)]
    pub mfa_token: String,
    /// A current TOTP code, or a recovery code.
    #[graphql(secret)]
    pub code: String,
}

#[derive(Default)]
pub struct SignInMutation;

#[Object]
impl SignInMutation {
    /// Exchanges an email and password for an access and a refresh token,
    /// starting a session. An account with a second factor answers
    /// `MFA_REQUIRED` with `extensions.mfaToken` instead: finish with
    /// `completeLogin`.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> Result<AuthPayload> {
        let accounts = ctx.data_unchecked::<Accounts>();
        let signed_in = accounts
            .login(client(ctx), &input.email, &input.password)
            .await;
        counted_login(ctx, signed_in)
    }

    /// Exchanges a refresh token for a new pair; the one given stops working,
    /// and presenting it again ends the whole session.
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] refresh_token: String,
    ) -> Result<AuthPayload> {
        let accounts = ctx.data_unchecked::<Accounts>();
        let signed_in = accounts.refresh(client(ctx), &refresh_token).await?;
        Ok(signed_in.into())
    }

    /// Ends the session the refresh token belongs to. Always `true`.
    async fn logout(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] refresh_token: String,
    ) -> Result<bool> {
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts.logout(client(ctx), &refresh_token).await?;
        Ok(true)
    }

    /// The second step of a login for an account with a second factor:
    /// the `mfaToken` that `login` answered with, and a TOTP or recovery
    /// code. Five wrong codes end the `mfaToken`.
    async fn complete_login(
        &self,
        ctx: &Context<'_>,
        input: CompleteLoginInput,
    ) -> Result<AuthPayload> {
        let accounts = ctx.data_unchecked::<Accounts>();
        let signed_in = accounts
            .complete_login(client(ctx), &input.mfa_token, &input.code)
            .await;
        counted_login(ctx, signed_in)
    }
}

/// A login's answer (either step of one), counted by its outcome.
pub(super) fn counted_login(
    ctx: &Context<'_>,
    signed_in: crate::error::AppResult<SignedIn>,
) -> Result<AuthPayload> {
    let outcome = signed_in.as_ref().map_or_else(code_of, |_| "ok");
    ctx.data_unchecked::<Metrics>().login(outcome);
    Ok(signed_in?.into())
}
