//! Sessions: logging in, renewing with a refresh token, logging out.

use std::net::IpAddr;

use entity::user::{self, Entity as Users};
use sea_orm::EntityTrait;

use super::Accounts;
use crate::{
    auth::{
        Email, Password,
        counter::{self, Scope},
        refresh,
        token::AccessToken,
    },
    error::{AppError, AppResult},
};

/// A logged-in session: an access token, the refresh token that renews it,
/// and whose they are.
pub struct Session {
    pub access: AccessToken,
    pub refresh_token: String,
    pub user: user::Model,
}

impl Accounts {
    /// Logs in. Every attempt counts toward the email's lockout before the
    /// password is checked, so concurrent guesses cannot slip past the count;
    /// an unknown email costs one Argon2 verification like a known one.
    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        client: Option<IpAddr>,
        email: &str,
        password: &str,
    ) -> AppResult<Session> {
        self.limit_client(client).await?;
        let email = Email::parse(email)?;
        let password = Password::parse_given(password, "password")?;
        let limits = &self.inner.settings.limits;
        let attempts = counter::record(
            self.db(),
            Scope::Login,
            email.as_str(),
            limits.login_lockout,
        )
        .await?;
        if attempts > limits.login_max_failures.get() {
            tracing::warn!("login locked after repeated failures");
            return Err(AppError::RateLimited);
        }
        let Some(user) = self.find_by_email(&email).await? else {
            self.inner.hasher.verify_dummy(&password).await?;
            return Err(AppError::InvalidCredentials);
        };
        let user = self.check_password(user, &password).await?;
        counter::reset(self.db(), Scope::Login, email.as_str()).await?;
        self.start_session(user).await
    }

    /// Exchanges a refresh token for a new pair.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, client: Option<IpAddr>, presented: &str) -> AppResult<Session> {
        self.limit_client(client).await?;
        let ttl = self.inner.settings.refresh_token_ttl;
        let (user_id, refresh_token) = refresh::rotate(self.db(), presented, ttl).await?;
        let user = Users::find_by_id(user_id)
            .one(self.db())
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let access = self.inner.tokens.issue(user.id, user.password_version)?;
        Ok(Session {
            access,
            refresh_token,
            user,
        })
    }

    /// Ends the session `presented` belongs to.
    pub async fn logout(&self, presented: &str) -> AppResult<()> {
        refresh::revoke_session(self.db(), presented).await
    }

    async fn start_session(&self, user: user::Model) -> AppResult<Session> {
        let access = self.inner.tokens.issue(user.id, user.password_version)?;
        let ttl = self.inner.settings.refresh_token_ttl;
        let refresh_token = refresh::issue(self.db(), user.id, None, ttl).await?;
        Ok(Session {
            access,
            refresh_token,
            user,
        })
    }
}
