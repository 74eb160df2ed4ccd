//! Accounts in GraphQL: `User`, `AuthPayload`, `me`, and the signup, login,
//! token, password, reset and email mutations. The work is done in
//! `crate::accounts`.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use entity::user;

use super::{
    scalars::DateTime,
    viewer::{Viewer, client},
};
use crate::{
    accounts::{Accounts, SignedIn, identities::Proof},
    lists,
};

#[derive(InputObject)]
pub struct UpdateProfileInput {
    /// 1 to 64 characters after trimming.
    pub display_name: String,
}

/// A person with an account. Never carries a password or its hash.
#[derive(SimpleObject)]
pub struct User {
    pub id: ID,
    pub email: String,
    /// Whether the person proved the address is theirs, with a mailed token.
    pub email_verified: bool,
    /// The name the people one shares lists with see: the email's local
    /// part until set with `updateProfile`.
    pub display_name: String,
    pub created_at: DateTime,
}

impl From<user::Model> for User {
    fn from(user: user::Model) -> Self {
        Self {
            id: ID(user.id.to_string()),
            display_name: lists::display_name(user.display_name, &user.email),
            email: user.email,
            email_verified: user.email_verified,
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

impl From<SignedIn> for AuthPayload {
    fn from(signed_in: SignedIn) -> Self {
        Self {
            access_token: signed_in.access.token,
            token_type: "Bearer".into(),
            expires_in: i32::try_from(signed_in.access.expires_in.as_secs()).unwrap_or(i32::MAX),
            refresh_token: signed_in.refresh_token,
            user: signed_in.user.into(),
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
pub struct ChangePasswordInput {
    #[graphql(secret)]
    pub current_password: String,
    #[graphql(secret)]
    pub new_password: String,
    /// A current second-factor code, for an account that has a second factor.
    #[graphql(secret)]
    pub code: Option<String>,
}

#[derive(InputObject)]
pub struct ResetPasswordInput {
    /// The token from the reset mail.
    #[graphql(secret)]
    pub token: String,
    #[graphql(secret)]
    pub new_password: String,
}

#[derive(InputObject)]
pub struct ChangeEmailInput {
    /// The address the account should have.
    pub new_email: String,
    /// The current password (an account without one leaves it out: see
    /// `deleteAccount`).
    #[graphql(secret)]
    pub password: Option<String>,
    /// A current second-factor code, for an account that has a second factor.
    #[graphql(secret)]
    pub code: Option<String>,
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
    /// Sets the viewer's display name.
    async fn update_profile(&self, ctx: &Context<'_>, input: UpdateProfileInput) -> Result<User> {
        let viewer = Viewer::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        let user = accounts
            .update_display_name(&viewer.user, &input.display_name)
            .await?;
        Ok(user.into())
    }

    /// Creates an account and mails a token that verifies its address. Log
    /// in afterwards to get tokens.
    async fn signup(&self, ctx: &Context<'_>, input: SignupInput) -> Result<User> {
        let accounts = ctx.data_unchecked::<Accounts>();
        let user = accounts
            .signup(client(ctx), &input.email, &input.password)
            .await?;
        Ok(user.into())
    }

    /// Changes the viewer's password and ends all of its sessions.
    async fn change_password(&self, ctx: &Context<'_>, input: ChangePasswordInput) -> Result<bool> {
        let viewer = Viewer::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .change_password(
                &viewer.user,
                client(ctx),
                &input.current_password,
                &input.new_password,
                input.code.as_deref(),
            )
            .await?;
        Ok(true)
    }

    /// Mails a password-reset token to `email` if it has an account. Always
    /// `true`, in the same time either way; at most 3 mails an hour per email.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> Result<bool> {
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts.request_password_reset(client(ctx), &email).await?;
        Ok(true)
    }

    /// Sets a new password with the token from a reset mail and ends every
    /// session of the account. The token works once.
    async fn reset_password(&self, ctx: &Context<'_>, input: ResetPasswordInput) -> Result<bool> {
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .reset_password(client(ctx), &input.token, &input.new_password)
            .await?;
        Ok(true)
    }

    /// Deletes the viewer's account with its tasks and sessions. An account
    /// with a second factor needs a current `code` too. An account without
    /// a password (made by an identity provider's sign-in) leaves
    /// `password` out and needs its `code`, or, without a second factor, a
    /// sign-in of the last ten minutes.
    async fn delete_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] password: Option<String>,
        #[graphql(secret)] code: Option<String>,
    ) -> Result<bool> {
        let viewer = Viewer::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .delete_account(
                &viewer.user,
                client(ctx),
                password.as_deref(),
                code.as_deref(),
                viewer.claimed.session,
            )
            .await?;
        Ok(true)
    }

    /// Uses the token of a verification or email-change mail: the address
    /// is verified, or the new address becomes the account's. No access
    /// token needed: the mailed token is the proof. Works once.
    async fn verify_email(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] token: String,
    ) -> Result<bool> {
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts.verify_email(client(ctx), &token).await?;
        Ok(true)
    }

    /// Mails a new verification token, voiding older ones; `true` and no
    /// mail when the address is verified already. At most 3 an hour.
    async fn resend_verification_email(&self, ctx: &Context<'_>) -> Result<bool> {
        let viewer = Viewer::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts.resend_verification(&viewer.user).await?;
        Ok(true)
    }

    /// Asks to change the viewer's address: mails a token to the new one
    /// and a notice to the current one, and changes nothing until the token
    /// is used with `verifyEmail`. A newer request voids the older.
    async fn change_email(&self, ctx: &Context<'_>, input: ChangeEmailInput) -> Result<bool> {
        let viewer = Viewer::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .change_email(
                &viewer.user,
                client(ctx),
                &input.new_email,
                Proof {
                    password: input.password.as_deref(),
                    code: input.code.as_deref(),
                    session: viewer.claimed.session,
                },
            )
            .await?;
        Ok(true)
    }
}
