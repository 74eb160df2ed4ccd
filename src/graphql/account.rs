//! Accounts in GraphQL: `User`, `AuthPayload`, `me`, and the signup, login,
//! session, password and reset mutations. The work is done in `crate::accounts`.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use entity::user;

use super::{
    scalars::DateTime,
    viewer::{Viewer, client_ip},
};
use crate::accounts::{Accounts, Session};

/// A person with an account. Never carries a password or its hash.
#[derive(SimpleObject)]
pub struct User {
    pub id: ID,
    pub email: String,
    pub created_at: DateTime,
}

impl From<user::Model> for User {
    fn from(user: user::Model) -> Self {
        Self {
            id: ID(user.id.to_string()),
            email: user.email,
            created_at: DateTime(user.created_at),
        }
    }
}

/// What a login or a token refresh hands out.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// A JWT to send as `Authorization: Bearer <accessToken>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i32,
    /// Single use: exchange it with `refreshToken` for a new pair.
    pub refresh_token: String,
    pub user: User,
}

impl From<Session> for AuthPayload {
    fn from(session: Session) -> Self {
        Self {
            access_token: session.access.token,
            token_type: "Bearer".into(),
            expires_in: i32::try_from(session.access.expires_in.as_secs()).unwrap_or(i32::MAX),
            refresh_token: session.refresh_token,
            user: session.user.into(),
        }
    }
}

#[derive(InputObject)]
pub struct SignupInput {
    pub email: String,
    #[graphql(secret)]
    pub password: String,
}

#[derive(InputObject)]
pub struct LoginInput {
    pub email: String,
    #[graphql(secret)]
    pub password: String,
}

#[derive(InputObject)]
pub struct ChangePasswordInput {
    #[graphql(secret)]
    pub current_password: String,
    #[graphql(secret)]
    pub new_password: String,
}

#[derive(InputObject)]
pub struct ResetPasswordInput {
    /// The token from the reset mail.
    #[graphql(secret)]
    pub token: String,
    #[graphql(secret)]
    pub new_password: String,
}

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The user the access token belongs to.
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        Ok(Viewer::require(ctx).await?.user.clone().into())
    }
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates an account. Log in afterwards to get tokens.
    async fn signup(&self, ctx: &Context<'_>, input: SignupInput) -> Result<User> {
        let accounts = ctx.data_unchecked::<Accounts>();
        let user = accounts
            .signup(client_ip(ctx), &input.email, &input.password)
            .await?;
        Ok(user.into())
    }

    /// Exchanges an email and password for an access and a refresh token.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> Result<AuthPayload> {
        let accounts = ctx.data_unchecked::<Accounts>();
        let session = accounts
            .login(client_ip(ctx), &input.email, &input.password)
            .await?;
        Ok(session.into())
    }

    /// Exchanges a refresh token for a new pair; the one given stops working,
    /// and presenting it again ends the whole session.
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] refresh_token: String,
    ) -> Result<AuthPayload> {
        let accounts = ctx.data_unchecked::<Accounts>();
        let session = accounts.refresh(client_ip(ctx), &refresh_token).await?;
        Ok(session.into())
    }

    /// Ends the session the refresh token belongs to. Always `true`.
    async fn logout(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] refresh_token: String,
    ) -> Result<bool> {
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts.logout(&refresh_token).await?;
        Ok(true)
    }

    /// Changes the viewer's password and ends all of its sessions.
    async fn change_password(&self, ctx: &Context<'_>, input: ChangePasswordInput) -> Result<bool> {
        let viewer = Viewer::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .change_password(&viewer.user, &input.current_password, &input.new_password)
            .await?;
        Ok(true)
    }

    /// Mails a password-reset token to `email` if it has an account. Always
    /// `true`, in the same time either way; at most 3 mails an hour per email.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> Result<bool> {
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .request_password_reset(client_ip(ctx), &email)
            .await?;
        Ok(true)
    }

    /// Sets a new password with the token from a reset mail and ends every
    /// session of the account. The token works once.
    async fn reset_password(&self, ctx: &Context<'_>, input: ResetPasswordInput) -> Result<bool> {
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .reset_password(client_ip(ctx), &input.token, &input.new_password)
            .await?;
        Ok(true)
    }

    /// Deletes the viewer's account with its tasks and sessions.
    async fn delete_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] password: String,
    ) -> Result<bool> {
        let viewer = Viewer::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts.delete_account(&viewer.user, &password).await?;
        Ok(true)
    }
}
