//! Sessions: what one login starts (the family of its refresh tokens),
//! renewed with a refresh token, listed for their owner and ended one by
//! one or all but the current. Access tokens carry their session (`sid`),
//! so an ended session's tokens are refused from their next request.

use chrono::{DateTime, Utc};
use entity::{
    session::{self, Column, Entity as Sessions},
    user::{self, Entity as Users},
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, TransactionTrait, sea_query::Expr,
};
use uuid::Uuid;

use super::{
    Accounts,
    audit::{self, Client, SecurityEventKind},
};
use crate::{
    auth::{
        Email, Password,
        counter::{self, Scope},
        refresh::{self, Rotation},
        token::AccessToken,
    },
    db,
    error::{AppError, AppResult},
    events::{Delivery, Notice, Pending},
    mail::outbox::Kind,
};

/// What signing in hands out: an access token, the refresh token that
/// renews it, and whose they are.
pub struct SignedIn {
    pub access: AccessToken,
    pub refresh_token: String,
    pub user: user::Model,
}

/// A live session, as its owner sees it.
#[derive(Clone, Debug)]
pub struct ActiveSession {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// The session of the token that asked.
    pub current: bool,
}

/// Whether a sign-in passed a second factor (a TOTP or recovery code, or a
/// passkey).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SecondFactor {
    Passed,
    None,
}

/// Which of a user's sessions end.
pub(super) enum Ending {
    One(Uuid),
    /// All but this one (all, with `None`).
    AllBut(Option<Uuid>),
}

/// Ends the live sessions of `user` that `ending` names, with their refresh
/// tokens; returns their ids.
pub(super) async fn end(
    conn: &impl ConnectionTrait,
    user: Uuid,
    ending: Ending,
) -> AppResult<Vec<Uuid>> {
    let mut which = Condition::all()
        .add(Column::UserId.eq(user))
        .add(Column::RevokedAt.is_null());
    match ending {
        Ending::One(id) => which = which.add(Column::Id.eq(id)),
        Ending::AllBut(Some(kept)) => which = which.add(Column::Id.ne(kept)),
        Ending::AllBut(None) => {}
    }
    let ended = Sessions::update_many()
        .col_expr(Column::RevokedAt, Expr::value(db::now()))
        .filter(which)
        .exec_with_returning(conn)
        .await?;
    let ended: Vec<Uuid> = ended.into_iter().map(|session| session.id).collect();
    refresh::revoke_families(conn, &ended).await?;
    Ok(ended)
}

/// Deletes sessions that ended or ran out.
pub(super) async fn sweep(conn: &impl ConnectionTrait) -> AppResult<()> {
    Sessions::delete_many()
        .filter(
            Condition::any()
                .add(Column::RevokedAt.is_not_null())
                .add(Column::ExpiresAt.lte(db::now())),
        )
        .exec(conn)
        .await?;
    Ok(())
}

impl Accounts {
    /// Logs in. Every attempt counts toward the email's lockout before the
    /// password is checked, so concurrent guesses cannot slip past the count;
    /// an unknown email costs one Argon2 verification like a known one.
    #[tracing::instrument(skip_all)]
    pub async fn login(&self, client: &Client, email: &str, password: &str) -> AppResult<SignedIn> {
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
        let user_id = user.id;
        let user = match self.check_password(user, &password).await {
            Err(AppError::InvalidCredentials) => {
                audit::record(self.db(), user_id, SecurityEventKind::LoginFailed, client).await?;
                return Err(AppError::InvalidCredentials);
            }
            checked => checked?,
        };
        if user.disabled_at.is_some() {
            counter::reset(self.db(), Scope::Login, email.as_str()).await?;
            return Err(AppError::AccountDisabled);
        }
        if self.inner.settings.policy.require_verified_email && !user.email_verified {
            counter::reset(self.db(), Scope::Login, email.as_str()).await?;
            self.queue_verification_within_limit(&user).await?;
            return Err(AppError::EmailNotVerified);
        }
        // With a second factor, the count goes on until a code checks out
        // too: wrong codes count toward the lockout.
        self.challenge(&user).await?;
        counter::reset(self.db(), Scope::Login, email.as_str()).await?;
        self.start_session(user, client, SecondFactor::None).await
    }

    /// Exchanges a refresh token for a new pair. A token presented again
    /// ends its session and tells the owner by mail.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, client: &Client, presented: &str) -> AppResult<SignedIn> {
        self.limit_client(client).await?;
        let ttl = self.inner.settings.refresh_token_ttl;
        let (user_id, session, refresh_token) =
            match refresh::rotate(self.db(), presented, ttl).await? {
                Rotation::Rotated {
                    user_id,
                    session,
                    token,
                } => (user_id, session, token),
                Rotation::Reused { user_id, session } => {
                    self.end_reused(user_id, session, client).await?;
                    return Err(AppError::Unauthenticated);
                }
                Rotation::Refused => return Err(AppError::Unauthenticated),
            };
        let now = db::now();
        let renewed = Sessions::update_many()
            .col_expr(Column::LastUsedAt, Expr::value(now))
            .col_expr(Column::ExpiresAt, Expr::value(now + db::span(ttl)?))
            .filter(Column::Id.eq(session))
            .filter(Column::RevokedAt.is_null())
            .exec_with_returning(self.db())
            .await?;
        let [renewed] = renewed.as_slice() else {
            return Err(AppError::Unauthenticated);
        };
        let user = Users::find_by_id(user_id)
            .one(self.db())
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if user.disabled_at.is_some() {
            return Err(AppError::AccountDisabled);
        }
        // The token keeps the time its session passed a second factor.
        let access = self.inner.tokens.issue(
            user.id,
            user.password_version,
            session,
            renewed.second_factor_at,
        )?;
        Ok(SignedIn {
            access,
            refresh_token,
            user,
        })
    }

    /// A refresh token came back after it was used: it leaked. Its session
    /// ends, and the owner hears of it.
    async fn end_reused(&self, user: Uuid, session: Uuid, client: &Client) -> AppResult<()> {
        let Some(owner) = Users::find_by_id(user).one(self.db()).await? else {
            return Ok(());
        };
        let txn = self.db().begin().await?;
        end(&txn, user, Ending::One(session)).await?;
        audit::record(&txn, user, SecurityEventKind::RefreshTokenReused, client).await?;
        self.inner
            .outbox
            .enqueue(&txn, Kind::RefreshTokenReused, &owner.email, Some(user))
            .await?;
        self.commit_notice(txn, user, Notice::SessionEnded { session })
            .await
    }

    /// Ends the session `presented` belongs to. Unknown tokens are ignored,
    /// so logging out twice is harmless.
    pub async fn logout(&self, client: &Client, presented: &str) -> AppResult<()> {
        let Some((user, session)) = refresh::session_of(self.db(), presented).await? else {
            return Ok(());
        };
        let txn = self.db().begin().await?;
        if end(&txn, user, Ending::One(session)).await?.is_empty() {
            // Ended already; its tokens may predate sessions.
            refresh::revoke_family(&txn, session).await?;
            return Ok(txn.commit().await?);
        }
        audit::record(&txn, user, SecurityEventKind::LoggedOut, client).await?;
        self.commit_notice(txn, user, Notice::SessionEnded { session })
            .await
    }

    /// The live sessions of `user`, newest first; `current` is the one
    /// asking.
    pub async fn sessions(
        &self,
        user: Uuid,
        current: Option<Uuid>,
    ) -> AppResult<Vec<ActiveSession>> {
        let mut found = self.sessions_of(&[user], current).await?;
        Ok(found.remove(&user).unwrap_or_default())
    }

    /// The live sessions of each of `users`, newest first, in one
    /// statement; `current` is the one asking, if any.
    pub async fn sessions_of(
        &self,
        users: &[Uuid],
        current: Option<Uuid>,
    ) -> AppResult<std::collections::HashMap<Uuid, Vec<ActiveSession>>> {
        let rows = Sessions::find()
            .filter(Column::UserId.is_in(users.iter().copied()))
            .filter(Column::RevokedAt.is_null())
            .filter(Column::ExpiresAt.gt(db::now()))
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id)
            .all(self.db())
            .await?;
        let mut found: std::collections::HashMap<Uuid, Vec<ActiveSession>> =
            users.iter().map(|user| (*user, Vec::new())).collect();
        for row in rows {
            found.entry(row.user_id).or_default().push(ActiveSession {
                current: Some(row.id) == current,
                id: row.id,
                created_at: row.created_at,
                last_used_at: row.last_used_at,
                user_agent: row.user_agent,
                ip: row.ip,
            });
        }
        Ok(found)
    }

    /// Ends the session `id` of `user`: its refresh tokens stop working and
    /// its access tokens are refused from their next request. Another
    /// user's session is `NOT_FOUND`, like one that does not exist.
    pub async fn revoke_session(&self, user: Uuid, client: &Client, id: Uuid) -> AppResult<()> {
        let txn = self.db().begin().await?;
        if end(&txn, user, Ending::One(id)).await?.is_empty() {
            txn.rollback().await?;
            return Err(AppError::NotFound);
        }
        audit::record(&txn, user, SecurityEventKind::SessionRevoked, client).await?;
        self.commit_notice(txn, user, Notice::SessionEnded { session: id })
            .await
    }

    /// Ends every session of `user` but `current`; returns how many.
    pub async fn revoke_other_sessions(
        &self,
        user: Uuid,
        client: &Client,
        current: Option<Uuid>,
    ) -> AppResult<usize> {
        let txn = self.db().begin().await?;
        let ended = end(&txn, user, Ending::AllBut(current)).await?;
        for _ in &ended {
            audit::record(&txn, user, SecurityEventKind::SessionRevoked, client).await?;
        }
        let notice = Notice::SessionsEnded { except: current };
        self.commit_notice(txn, user, notice).await?;
        Ok(ended.len())
    }

    /// Commits `txn`, a change of `user`'s sessions, telling their
    /// connections on every instance; wakes the mail it queued.
    async fn commit_notice(
        &self,
        txn: sea_orm::DatabaseTransaction,
        user: Uuid,
        notice: Notice,
    ) -> AppResult<()> {
        self.inner
            .events
            .commit(Pending::Transaction(txn), vec![Delivery::to(user, notice)])
            .await?;
        self.inner.outbox.wake();
        Ok(())
    }

    /// Starts a session for `user`, who just proved who they are (with a
    /// second factor, as `second_factor` says). A disabled account gets
    /// none: the account's row is written first, so that a disabling that
    /// commits meanwhile is either seen here or ends this session too.
    pub(super) async fn start_session(
        &self,
        user: user::Model,
        client: &Client,
        second_factor: SecondFactor,
    ) -> AppResult<SignedIn> {
        let ttl = self.inner.settings.refresh_token_ttl;
        let now = db::now();
        let session = Uuid::now_v7();
        let second_factor_at = match second_factor {
            SecondFactor::Passed => Some(now),
            SecondFactor::None => None,
        };
        let txn = self.db().begin().await?;
        let enabled = Users::update_many()
            .col_expr(user::Column::LastLoginAt, Expr::value(now))
            .filter(user::Column::Id.eq(user.id))
            .filter(user::Column::DisabledAt.is_null())
            .exec(&txn)
            .await?;
        if enabled.rows_affected != 1 {
            txn.rollback().await?;
            return Err(AppError::AccountDisabled);
        }
        Sessions::insert(session::ActiveModel {
            id: Set(session),
            user_id: Set(user.id),
            created_at: Set(now),
            last_used_at: Set(now),
            expires_at: Set(now + db::span(ttl)?),
            revoked_at: Set(None),
            user_agent: Set(client.user_agent.clone()),
            ip: Set(client.ip.map(|ip| ip.to_string())),
            second_factor_at: Set(second_factor_at),
        })
        .exec(&txn)
        .await?;
        let refresh_token = refresh::issue(&txn, user.id, session, ttl).await?;
        audit::record(&txn, user.id, SecurityEventKind::LoggedIn, client).await?;
        txn.commit().await?;
        let access =
            self.inner
                .tokens
                .issue(user.id, user.password_version, session, second_factor_at)?;
        Ok(SignedIn {
            access,
            refresh_token,
            user,
        })
    }
}
