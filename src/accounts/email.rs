//! Verified email and email change. Signup queues a verification mail; a
//! change of address mails a token to the new address and a notice to the
//! old one, and changes nothing until the token is used. Each token is
//! drawn when its mail is sent and stored only as a digest, one live token
//! per account and purpose, so a newer mail voids an older one.

use std::time::Duration;

use entity::{
    email_token::{self, Column, Entity as EmailTokens},
    user::{self, Entity as Users},
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, SqlErr, TransactionTrait,
    sea_query::{Expr, OnConflict},
};
use uuid::Uuid;

use super::{
    Accounts,
    audit::{self, Client, SecurityEventKind},
};
use crate::{
    auth::{
        Email,
        counter::{self, Scope},
        random,
    },
    db,
    error::{AppError, AppResult},
    mail::{
        Mail, letters,
        outbox::{Kind, Queued},
    },
};

/// Verification mails one account may be sent within [`VERIFY_MAIL_WINDOW`].
const VERIFY_MAILS_PER_WINDOW: u32 = 3;
const VERIFY_MAIL_WINDOW: Duration = Duration::from_secs(60 * 60);

/// What a token proves.
const VERIFY: &str = "verify";
const CHANGE: &str = "change";

/// The one answer to a token that does not work, whatever the reason.
fn token_refused() -> AppError {
    AppError::bad_input(
        "token",
        "this token is invalid, used or expired; ask for a new one",
    )
}

impl Accounts {
    /// Queues a verification mail for `user` on `conn`, counted toward the
    /// account's limit.
    pub(super) async fn queue_verification(
        &self,
        conn: &impl ConnectionTrait,
        user: &user::Model,
    ) -> AppResult<bool> {
        let key = user.id.to_string();
        let sent = counter::record(conn, Scope::VerifyMail, &key, VERIFY_MAIL_WINDOW).await?;
        if sent > VERIFY_MAILS_PER_WINDOW {
            return Ok(false);
        }
        self.inner
            .outbox
            .enqueue(conn, Kind::VerifyEmail, &user.email, Some(user.id))
            .await?;
        Ok(true)
    }

    /// Queues a verification mail unless the account had its share.
    pub(super) async fn queue_verification_within_limit(
        &self,
        user: &user::Model,
    ) -> AppResult<()> {
        if self.queue_verification(self.db(), user).await? {
            self.inner.outbox.wake();
        }
        Ok(())
    }

    /// Sends `user` a new verification mail, voiding older tokens; nothing
    /// when the address is verified. `RATE_LIMITED` past 3 mails an hour.
    pub async fn resend_verification(&self, user: &user::Model) -> AppResult<()> {
        if user.email_verified {
            return Ok(());
        }
        if !self.queue_verification(self.db(), user).await? {
            return Err(AppError::RateLimited);
        }
        self.inner.outbox.wake();
        Ok(())
    }

    /// Asks for the address of `user` to become `new_email`: a token to the
    /// new address, a notice to the old one, nothing changed yet. A newer
    /// request voids the older.
    #[tracing::instrument(skip_all, fields(user = %user.id))]
    pub async fn change_email(
        &self,
        user: &user::Model,
        client: &Client,
        new_email: &str,
        proof: super::identities::Proof<'_>,
    ) -> AppResult<()> {
        self.limit_client(client).await?;
        let new_email = Email::parse(new_email)
            .map_err(|_| AppError::bad_input("newEmail", "not a valid email address"))?;
        self.confirm(user, client, proof.password, proof.code, proof.session)
            .await?;
        let user = user.clone();
        if new_email.as_str() == user.email {
            return Err(AppError::bad_input(
                "newEmail",
                "this is the account's address already",
            ));
        }
        if self.find_by_email(&new_email).await?.is_some() {
            return Err(AppError::EmailTaken);
        }
        let txn = self.db().begin().await?;
        EmailTokens::delete_many()
            .filter(Column::UserId.eq(user.id))
            .filter(Column::Purpose.eq(CHANGE))
            .exec(&txn)
            .await?;
        let outbox = &self.inner.outbox;
        outbox
            .enqueue(&txn, Kind::ChangeEmail, new_email.as_str(), Some(user.id))
            .await?;
        outbox
            .enqueue(&txn, Kind::EmailChangeRequested, &user.email, Some(user.id))
            .await?;
        audit::record(
            &txn,
            user.id,
            SecurityEventKind::EmailChangeRequested,
            client,
        )
        .await?;
        txn.commit().await?;
        outbox.wake();
        Ok(())
    }

    /// Uses a mailed token: the account's address is verified, or becomes
    /// the new one it was mailed to (verified). `BAD_USER_INPUT` on `token`
    /// when it does not work; `EMAIL_TAKEN` when the new address has been
    /// taken meanwhile.
    #[tracing::instrument(skip_all)]
    pub async fn verify_email(&self, client: &Client, token: &str) -> AppResult<()> {
        self.limit_client(client).await?;
        let digest = random::digest(token);
        let found = EmailTokens::find()
            .filter(Column::TokenHash.eq(digest.clone()))
            .filter(Column::ExpiresAt.gt(db::now()))
            .find_also_related(Users)
            .one(self.db())
            .await?;
        let Some((live, Some(user))) = found else {
            return Err(token_refused());
        };
        let txn = self.db().begin().await?;
        // Of two uses of one token, one deletes it.
        let taken = EmailTokens::delete_many()
            .filter(Column::TokenHash.eq(digest))
            .exec(&txn)
            .await?;
        if taken.rows_affected != 1 || (live.purpose == VERIFY && live.email != user.email) {
            txn.rollback().await?;
            return Err(token_refused());
        }
        let changed = Users::update_many()
            .col_expr(user::Column::Email, Expr::value(live.email.clone()))
            .col_expr(user::Column::EmailVerified, Expr::value(true))
            .col_expr(user::Column::UpdatedAt, Expr::value(db::now()))
            .filter(user::Column::Id.eq(user.id))
            .exec(&txn)
            .await;
        if let Err(error) = changed {
            txn.rollback().await?;
            return Err(match error.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => AppError::EmailTaken,
                _ => error.into(),
            });
        }
        let kind = if live.purpose == CHANGE {
            self.inner
                .outbox
                .enqueue(&txn, Kind::EmailChanged, &user.email, Some(user.id))
                .await?;
            SecurityEventKind::EmailChanged
        } else {
            SecurityEventKind::EmailVerified
        };
        audit::record(&txn, user.id, kind, client).await?;
        txn.commit().await?;
        self.inner.outbox.wake();
        tracing::info!(user = %user.id, "address verified");
        Ok(())
    }

    /// The verification mail `queued` stands for, with a new token; `None`
    /// when the address is verified or no longer the account's.
    pub(super) async fn verification_mail(&self, queued: &Queued) -> AppResult<Option<Mail>> {
        let Some(user) = self.account_of(queued).await? else {
            return Ok(None);
        };
        if user.email_verified || user.email != queued.recipient {
            return Ok(None);
        }
        let token = self.draw_token(user.id, VERIFY, &user.email).await?;
        self.token_mail(&letters::VERIFY_EMAIL, user.email, &token)
            .map(Some)
    }

    /// The mail that confirms a new address, with a new token; `None` when
    /// a newer change was asked for since.
    pub(super) async fn change_mail(&self, queued: &Queued) -> AppResult<Option<Mail>> {
        let Some(user) = self.account_of(queued).await? else {
            return Ok(None);
        };
        let outbox = &self.inner.outbox;
        if outbox
            .queued_for_since(Kind::ChangeEmail, user.id, queued.created_at)
            .await?
        {
            return Ok(None);
        }
        let token = self.draw_token(user.id, CHANGE, &queued.recipient).await?;
        self.token_mail(&letters::CHANGE_EMAIL, queued.recipient.clone(), &token)
            .map(Some)
    }

    /// The account a queued mail is about, if it still exists.
    pub(super) async fn account_of(&self, queued: &Queued) -> AppResult<Option<user::Model>> {
        let Some(id) = queued.user else {
            return Ok(None);
        };
        Ok(Users::find_by_id(id).one(self.db()).await?)
    }

    /// A new token for `user` that proves `email` for `purpose`, replacing
    /// any earlier one of that purpose.
    async fn draw_token(&self, user: Uuid, purpose: &str, email: &str) -> AppResult<String> {
        let token = random::token()?;
        let now = db::now();
        let ttl = self.inner.settings.verification_ttl;
        EmailTokens::insert(email_token::ActiveModel {
            user_id: Set(user),
            purpose: Set(purpose.to_owned()),
            token_hash: Set(random::digest(&token)),
            email: Set(email.to_owned()),
            expires_at: Set(now + db::span(ttl)?),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([Column::UserId, Column::Purpose])
                .update_columns([
                    Column::TokenHash,
                    Column::Email,
                    Column::ExpiresAt,
                    Column::CreatedAt,
                ])
                .to_owned(),
        )
        .exec(self.db())
        .await?;
        Ok(token)
    }

    fn token_mail(&self, words: &letters::TokenWords, to: String, token: &str) -> AppResult<Mail> {
        let settings = &self.inner.settings;
        let link = settings
            .verification_link
            .as_ref()
            .map(|link| link.link(token));
        letters::token(words, to, token, link.as_deref(), settings.verification_ttl)
    }
}
