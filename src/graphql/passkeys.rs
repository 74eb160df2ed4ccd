//! Passkeys in GraphQL: registering, listing (under `twoFactor`) and
//! removing them, and signing in with one. WebAuthn options and credentials
//! travel as `JSON`, in the browser API's JSON form (binary fields
//! base64url): a page hands the options to
//! `PublicKeyCredential.parseCreationOptionsFromJSON` (or
//! `parseRequestOptionsFromJSON`) and sends back the credential's `toJSON()`.

use async_graphql::{Context, ID, InputObject, Json, Object, Result, SimpleObject};
use entity::passkey;
use uuid::Uuid;

use super::{
    account::AuthPayload,
    scalars::DateTime,
    sign_in::counted_login,
    viewer::{Viewer, client},
};
use crate::{accounts::Accounts, error::AppError};

/// A passkey of the viewer's account.
#[derive(SimpleObject)]
pub struct Passkey {
    pub id: ID,
    /// The name its owner gave it.
    pub name: String,
    pub created_at: DateTime,
    /// The last sign-in with it.
    pub last_used_at: Option<DateTime>,
}

impl From<passkey::Model> for Passkey {
    fn from(row: passkey::Model) -> Self {
        Self {
            id: ID(row.id.to_string()),
            name: row.name,
            created_at: DateTime(row.created_at),
            last_used_at: row.last_used_at.map(DateTime),
        }
    }
}

/// A passkey ceremony started: finish it within 5 minutes, once.
#[derive(SimpleObject)]
pub struct PasskeyChallenge {
    pub challenge_id: ID,
    /// The options for `navigator.credentials.create` (registration) or
    /// `.get` (sign-in), in the browser API's JSON form.
    pub options: Json<serde_json::Value>,
}

impl From<crate::accounts::PasskeyChallenge> for PasskeyChallenge {
    fn from(challenge: crate::accounts::PasskeyChallenge) -> Self {
        Self {
            challenge_id: ID(challenge.id.to_string()),
            options: Json(challenge.options),
        }
    }
}

#[derive(InputObject)]
pub struct FinishPasskeyRegistrationInput {
    pub challenge_id: ID,
    /// The new credential's `toJSON()`.
    pub credential: Json<serde_json::Value>,
    /// What to call it (1 to 64 characters), such as "Laptop".
    pub name: String,
}

#[derive(InputObject)]
pub struct FinishPasskeyLoginInput {
    pub challenge_id: ID,
    /// The assertion's `toJSON()`.
    pub credential: Json<serde_json::Value>,
}

/// The viewer's passkeys, for `twoFactor.passkeys`.
pub async fn of_viewer(ctx: &Context<'_>, user: Uuid) -> Result<Vec<Passkey>> {
    let accounts = ctx.data_unchecked::<Accounts>();
    let rows = accounts.passkeys(user).await?;
    Ok(rows.into_iter().map(Passkey::from).collect())
}

#[derive(Default)]
pub struct PasskeyMutation;

#[Object]
impl PasskeyMutation {
    /// Starts registering a passkey for the viewer.
    async fn start_passkey_registration(&self, ctx: &Context<'_>) -> Result<PasskeyChallenge> {
        let viewer = Viewer::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        Ok(accounts
            .start_passkey_registration(&viewer.user)
            .await?
            .into())
    }

    /// Finishes a registration with the credential the browser made.
    async fn finish_passkey_registration(
        &self,
        ctx: &Context<'_>,
        input: FinishPasskeyRegistrationInput,
    ) -> Result<Passkey> {
        let viewer = Viewer::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        let row = accounts
            .finish_passkey_registration(
                &viewer.user,
                client(ctx),
                &input.challenge_id,
                input.credential.0,
                &input.name,
            )
            .await?;
        Ok(row.into())
    }

    /// Removes one of the viewer's passkeys; with TOTP on, `code` is a
    /// current TOTP or recovery code.
    async fn remove_passkey(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(secret)] code: Option<String>,
    ) -> Result<bool> {
        let viewer = Viewer::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        let id = Uuid::parse_str(&id).map_err(|_| AppError::NotFound)?;
        accounts
            .remove_passkey(&viewer.user, client(ctx), id, code.as_deref())
            .await?;
        Ok(true)
    }

    /// Starts a sign-in with a passkey of the account of `email`, or,
    /// without one, with a discoverable credential of any account.
    async fn start_passkey_login(
        &self,
        ctx: &Context<'_>,
        email: Option<String>,
    ) -> Result<PasskeyChallenge> {
        let accounts = ctx.data_unchecked::<Accounts>();
        Ok(accounts
            .start_passkey_login(client(ctx), email.as_deref())
            .await?
            .into())
    }

    /// Finishes a passkey sign-in: a new session. User verification is
    /// required, so no second factor is asked for.
    async fn finish_passkey_login(
        &self,
        ctx: &Context<'_>,
        input: FinishPasskeyLoginInput,
    ) -> Result<AuthPayload> {
        let accounts = ctx.data_unchecked::<Accounts>();
        let signed_in = accounts
            .finish_passkey_login(client(ctx), &input.challenge_id, input.credential.0)
            .await;
        counted_login(ctx, signed_in)
    }
}
