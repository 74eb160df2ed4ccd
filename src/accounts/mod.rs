//! The accounts service: signup, login, sessions, password change and
//! reset, verified email and email change, account deletion, the record of
//! security events, and who an access token belongs to. The GraphQL layer
//! only translates to and from these.

pub mod admin;
pub mod audit;
mod email;
pub mod identities;
mod mail;
mod passkeys;
mod reset;
mod second_factor;
mod sessions;

use std::{sync::Arc, time::Duration};

use entity::{
    email_token::{self, Entity as EmailTokens},
    password_reset::{self, Entity as PasswordResets},
    user::{self, Column, Entity as Users},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, IntoActiveModel, QueryFilter, SqlErr, TransactionTrait,
};
use uuid::Uuid;

pub use audit::{Client, SecurityEvent, SecurityEventKind};
pub use passkeys::PasskeyChallenge;
pub use second_factor::{TotpSetup, TwoFactor};
pub use sessions::{ActiveSession, SignedIn};

use crate::{
    auth::{
        Claimed, Email, Password, PasswordHasher, TokenKeys, Verification,
        counter::{self, Scope},
        oidc::Providers,
        refresh,
        sealed::DataKey,
    },
    config::{
        AccountPolicy, LimitSettings, LinkTemplate, OidcSettings, PasskeySettings, RateLimit,
    },
    db,
    db::write::Writer,
    error::{AppError, AppResult},
    events::{Delivery, Events, Notice, Pending},
    lists,
    mail::outbox::{Kind, Outbox},
};

/// How long a display name may be, in characters after trimming.
const DISPLAY_NAME_MAX_CHARS: usize = 64;

/// The rules accounts follow, from the configuration.
#[derive(Clone, Debug)]
pub struct AccountSettings {
    pub password_min_length: usize,
    pub refresh_token_ttl: Duration,
    pub limits: LimitSettings,
    pub policy: AccountPolicy,
    /// How long a reset token works once its mail is sent.
    pub reset_ttl: Duration,
    /// Makes the link of a reset mail, if the mail has one.
    pub reset_link: Option<LinkTemplate>,
    /// How long a verification token works once its mail is sent.
    pub verification_ttl: Duration,
    /// Makes the link of a verification mail, if the mail has one.
    pub verification_link: Option<LinkTemplate>,
    /// The relying party passkeys are made for.
    pub passkeys: PasskeySettings,
    /// The identity providers people may sign in with.
    pub oidc: OidcSettings,
}

/// Everything account operations need; cheap to clone.
/// An account about to be made.
struct NewAccount<'a> {
    email: &'a Email,
    /// Empty for an account without a password (see
    /// [`identities::has_password`]).
    password_hash: String,
    email_verified: bool,
}

/// Makes the account in `txn`, with its inbox and its `SIGNED_UP` event;
/// an email that has an account already is `taken`.
async fn create(
    txn: &DatabaseTransaction,
    new: NewAccount<'_>,
    client: &Client,
    taken: AppError,
) -> AppResult<user::Model> {
    let now = db::now();
    let user = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(new.email.as_str().to_owned()),
        password_hash: Set(new.password_hash),
        password_version: Set(0),
        password_changed_at: Set(now),
        email_verified: Set(new.email_verified),
        display_name: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let user = user
        .insert(txn)
        .await
        .map_err(|error| match error.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => taken,
            _ => error.into(),
        })?;
    lists::create_inbox(txn, user.id, now).await?;
    audit::record(txn, user.id, SecurityEventKind::SignedUp, client).await?;
    Ok(user)
}

#[derive(Clone)]
pub struct Accounts {
    inner: Arc<Inner>,
}

struct Inner {
    db: DatabaseConnection,
    /// Whose turn it is to write tasks and lists (deleting an account hands
    /// its lists on).
    writer: Writer,
    hasher: PasswordHasher,
    tokens: TokenKeys,
    /// Seals second-factor secrets at rest.
    data_key: DataKey,
    events: Events,
    outbox: Outbox,
    /// The identity providers, discovered.
    providers: Providers,
    settings: AccountSettings,
}

/// The keys accounts sign and seal with.
pub struct AccountKeys {
    pub tokens: TokenKeys,
    pub data: DataKey,
}

impl Accounts {
    pub fn new(
        writer: Writer,
        hasher: PasswordHasher,
        keys: AccountKeys,
        events: Events,
        outbox: Outbox,
        settings: AccountSettings,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db: writer.db().clone(),
                writer,
                hasher,
                tokens: keys.tokens,
                data_key: keys.data,
                events,
                outbox,
                providers: Providers::new(settings.oidc.providers.clone()),
                settings,
            }),
        }
    }

    fn db(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    /// The claims of a valid access token, or `UNAUTHENTICATED`; the account
    /// is not looked up (see [`Claimed::live`] and [`Accounts::holder`]).
    pub fn verify_token(&self, token: &str) -> AppResult<Claimed> {
        self.inner.tokens.verify(token)
    }

    /// The account a verified token speaks for, if it still does: the user
    /// exists, has not changed the password since the token was issued, and
    /// the token's session has not ended.
    pub async fn holder(&self, claimed: Claimed) -> AppResult<user::Model> {
        Users::find()
            .filter(claimed.holds())
            .one(self.db())
            .await?
            .ok_or(AppError::Unauthenticated)
    }

    /// Counts one authentication attempt from `client`; `RATE_LIMITED` past
    /// the per-IP limit. A request without a known client is not counted.
    async fn limit_client(&self, client: &Client) -> AppResult<()> {
        let (RateLimit::Allow { count, per }, Some(ip)) =
            (self.inner.settings.limits.auth_rate_limit, client.ip)
        else {
            return Ok(());
        };
        let attempts = counter::record(self.db(), Scope::Client, &ip.to_string(), per).await?;
        if attempts > count.get() {
            tracing::warn!(client = %ip, "authentication rate limit reached");
            return Err(AppError::RateLimited);
        }
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn signup(
        &self,
        client: &Client,
        email: &str,
        password: &str,
    ) -> AppResult<user::Model> {
        self.limit_client(client).await?;
        let email = Email::parse(email)?;
        let min_length = self.inner.settings.password_min_length;
        let password = Password::parse_new(password, "password", min_length)?;
        // Saves an Argon2 computation in the common case; the unique index below
        // is what decides between concurrent signups.
        if self.find_by_email(&email).await?.is_some() {
            return Err(AppError::EmailTaken);
        }
        let password_hash = self.inner.hasher.hash(&password).await?;
        let txn = self.db().begin().await?;
        let new = NewAccount {
            email: &email,
            password_hash,
            email_verified: false,
        };
        let user = create(&txn, new, client, AppError::EmailTaken).await?;
        self.queue_verification(&txn, &user).await?;
        txn.commit().await?;
        self.inner.outbox.wake();
        tracing::info!(user = %user.id, "account created");
        Ok(user)
    }

    #[tracing::instrument(skip_all, fields(user = %user.id))]
    pub async fn change_password(
        &self,
        user: &user::Model,
        client: &Client,
        current: &str,
        new: &str,
        code: Option<&str>,
    ) -> AppResult<()> {
        if !identities::has_password(user) {
            return Err(AppError::bad_input(
                "currentPassword",
                "this account has no password (it signs in with an identity provider): \
                 set one with the link of a reset mail (requestPasswordReset)",
            ));
        }
        let current = Password::parse_given(current, "currentPassword")?;
        let min_length = self.inner.settings.password_min_length;
        let new = Password::parse_new(new, "newPassword", min_length)?;
        let user = self.check_password(user.clone(), &current).await?;
        self.second_factor(&user, client, code).await?;
        let password_hash = self.inner.hasher.hash(&new).await?;
        let txn = self.db().begin().await?;
        let now = db::now();
        let version = user.password_version.wrapping_add(1);
        let mut user = user.into_active_model();
        user.password_hash = Set(password_hash);
        user.password_version = Set(version);
        user.password_changed_at = Set(now);
        user.updated_at = Set(now);
        let user = user.update(&txn).await?;
        audit::record(&txn, user.id, SecurityEventKind::PasswordChanged, client).await?;
        self.inner
            .outbox
            .enqueue(&txn, Kind::PasswordChanged, &user.email, Some(user.id))
            .await?;
        self.commit_ending_sessions(txn, user.id).await?;
        tracing::info!("password changed; all sessions ended");
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(user = %user.id))]
    pub async fn delete_account(
        &self,
        user: &user::Model,
        client: &Client,
        password: Option<&str>,
        code: Option<&str>,
        session: Option<Uuid>,
    ) -> AppResult<()> {
        self.confirm(user, client, password, code, session).await?;
        self.remove(user.id).await?;
        tracing::info!("account deleted");
        Ok(())
    }

    /// Deletes the account `user`, as [`Accounts::delete_account`] does
    /// once the owner proved who they are, or an admin asked.
    async fn remove(&self, user: Uuid) -> AppResult<()> {
        // Its shared lists are handed on and those it owned alone deleted;
        // memberships, sessions, tokens and events go with the user
        // (foreign keys cascade), its tasks in lists that live on stay.
        let write = self.inner.writer.begin_together().await?;
        let Some(txn) = write.transaction() else {
            return Err(AppError::internal("an account is deleted in a transaction"));
        };
        // A write first: on SQLite a transaction that reads before it
        // writes cannot wait for a writer that commits meanwhile (the mail
        // sender, say) and fails; one that writes first waits its turn.
        Users::update_many()
            .col_expr(
                Column::UpdatedAt,
                sea_orm::sea_query::Expr::value(db::now()),
            )
            .filter(Column::Id.eq(user))
            .exec(txn)
            .await?;
        let mut told = lists::hand_over(&write, user).await?;
        let deleted = Users::delete_by_id(user).exec(txn).await?;
        if deleted.rows_affected != 1 {
            return Err(AppError::NotFound);
        }
        sessions::end(txn, user, sessions::Ending::AllBut(None)).await?;
        refresh::revoke_all(txn, user).await?;
        told.push(Delivery::to(user, Notice::SessionsEnded { except: None }));
        self.inner.events.commit_write(write, told).await?;
        self.inner.outbox.wake();
        Ok(())
    }

    /// Sets the name the people `user` shares lists with see: 1 to 64
    /// characters after trimming.
    #[tracing::instrument(skip_all, fields(user = %user.id))]
    pub async fn update_display_name(
        &self,
        user: &user::Model,
        name: &str,
    ) -> AppResult<user::Model> {
        let name = name.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > DISPLAY_NAME_MAX_CHARS {
            return Err(AppError::bad_input(
                "displayName",
                format!("a display name is 1 to {DISPLAY_NAME_MAX_CHARS} characters"),
            ));
        }
        let mut active = user.clone().into_active_model();
        active.display_name = Set(Some(name.to_owned()));
        active.updated_at = Set(db::now());
        Ok(active.update(self.db()).await?)
    }

    /// Ends every session of `user` within `txn`, commits it, and tells the
    /// connections authenticated as the user, on every instance, to close;
    /// the mail queued within it is woken.
    async fn commit_ending_sessions(&self, txn: DatabaseTransaction, user: Uuid) -> AppResult<()> {
        sessions::end(&txn, user, sessions::Ending::AllBut(None)).await?;
        refresh::revoke_all(&txn, user).await?;
        let ended = Delivery::to(user, Notice::SessionsEnded { except: None });
        self.inner
            .events
            .commit(Pending::Transaction(txn), vec![ended])
            .await?;
        self.inner.outbox.wake();
        Ok(())
    }

    /// `user` when `password` is theirs, re-hashed first if the stored hash
    /// uses costs other than the configured ones.
    async fn check_password(
        &self,
        user: user::Model,
        password: &Password,
    ) -> AppResult<user::Model> {
        let hasher = &self.inner.hasher;
        if !identities::has_password(&user) {
            // As long as a real check, so that it tells nothing.
            hasher.verify_dummy(password).await?;
            return Err(AppError::InvalidCredentials);
        }
        match hasher.verify(password, &user.password_hash).await? {
            Verification::Invalid => Err(AppError::InvalidCredentials),
            Verification::Valid {
                needs_rehash: false,
            } => Ok(user),
            Verification::Valid { needs_rehash: true } => {
                let password_hash = hasher.hash(password).await?;
                let mut active = user.into_active_model();
                active.password_hash = Set(password_hash);
                let user = active.update(self.db()).await?;
                tracing::info!(user = %user.id, "password re-hashed with the configured costs");
                Ok(user)
            }
        }
    }

    async fn find_by_email(&self, email: &Email) -> AppResult<Option<user::Model>> {
        Ok(Users::find()
            .filter(Column::Email.eq(email.as_str()))
            .one(self.db())
            .await?)
    }

    /// The events of `user`, newest first, after `after`; at most `limit`.
    pub async fn security_events(
        &self,
        user: Uuid,
        after: Option<Uuid>,
        limit: u64,
    ) -> AppResult<Vec<SecurityEvent>> {
        audit::list(self.db(), user, after, limit).await
    }

    /// Deletes what has run out: counters whose window has ended, reset and
    /// verification tokens past their time, ended sessions, second-factor
    /// setups and login steps past their time, security events past their
    /// retention, mail given up on.
    pub async fn sweep(&self) -> AppResult<()> {
        let db = self.db();
        counter::sweep(db).await?;
        PasswordResets::delete_many()
            .filter(password_reset::Column::ExpiresAt.lte(db::now()))
            .exec(db)
            .await?;
        EmailTokens::delete_many()
            .filter(email_token::Column::ExpiresAt.lte(db::now()))
            .exec(db)
            .await?;
        sessions::sweep(db).await?;
        second_factor::sweep(db).await?;
        passkeys::sweep(db).await?;
        self.sweep_external_logins().await?;
        audit::sweep(db, self.inner.settings.policy.security_event_retention).await?;
        self.inner.outbox.sweep().await?;
        Ok(())
    }
}
