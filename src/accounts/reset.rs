//! Password reset by mail. A request only queues a mail: the reset token is
//! drawn when the mail is sent, and only its digest is stored, one live token
//! per account. The token works once, for the reset TTL, and only while the
//! password is the one it was issued under.

use std::time::Duration;

use entity::{
    password_reset::{self, Column, Entity as PasswordResets},
    user::{self, Entity as Users},
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, EntityTrait, QueryFilter, TransactionTrait,
    sea_query::{Expr, OnConflict},
};

use super::{
    Accounts,
    audit::{self, Client, SecurityEventKind},
};
use crate::{
    auth::{
        Email, Password,
        counter::{self, Scope},
        random,
    },
    db,
    error::{AppError, AppResult},
    mail::{Mail, letters, outbox::Kind},
};

/// Reset mails one email may be sent within [`RESET_MAIL_WINDOW`].
const RESET_MAILS_PER_WINDOW: u32 = 3;
const RESET_MAIL_WINDOW: Duration = Duration::from_secs(60 * 60);

/// The one answer to a token that does not work, whatever the reason.
fn token_refused() -> AppError {
    AppError::bad_input(
        "token",
        "this reset token is invalid, used or expired; ask for a new one",
    )
}

impl Accounts {
    /// Queues a reset mail for `email`. The same statements run whether or
    /// not an account has that email (the sender finds out), so the answer
    /// and its timing tell nothing; past the mail limit nothing is queued.
    /// The queued request voids the account's older token at once (see
    /// [`Accounts::reset_password`]); its mail will carry a new one.
    #[tracing::instrument(skip_all)]
    pub async fn request_password_reset(&self, client: &Client, email: &str) -> AppResult<()> {
        self.limit_client(client).await?;
        let email = Email::parse(email)?;
        let asked = counter::record(
            self.db(),
            Scope::ResetMail,
            email.as_str(),
            RESET_MAIL_WINDOW,
        )
        .await?;
        if asked > RESET_MAILS_PER_WINDOW {
            tracing::info!("reset mail limit reached for an email: nothing queued");
            return Ok(());
        }
        let outbox = &self.inner.outbox;
        outbox
            .enqueue(self.db(), Kind::PasswordReset, email.as_str(), None)
            .await?;
        let kind = SecurityEventKind::PasswordResetRequested;
        audit::record_for_email(self.db(), email.as_str(), kind, client).await?;
        outbox.wake();
        Ok(())
    }

    /// Sets a new password with a reset token, ending every session. A
    /// refused new password leaves the token as it was.
    #[tracing::instrument(skip_all)]
    pub async fn reset_password(
        &self,
        client: &Client,
        token: &str,
        new_password: &str,
    ) -> AppResult<()> {
        self.limit_client(client).await?;
        let min_length = self.inner.settings.password_min_length;
        let new = Password::parse_new(new_password, "newPassword", min_length)?;
        let digest = random::digest(token);
        let live = PasswordResets::find()
            .filter(Column::TokenHash.eq(digest.clone()))
            .filter(Column::ExpiresAt.gt(db::now()))
            .find_also_related(Users)
            .one(self.db())
            .await?;
        // A password changed since the token was issued voids it.
        let Some((live, Some(user))) = live else {
            return Err(token_refused());
        };
        if user.password_version != live.password_version {
            return Err(token_refused());
        }
        // So does a request made after it was issued.
        let outbox = &self.inner.outbox;
        if outbox
            .queued_since(Kind::PasswordReset, &user.email, live.created_at)
            .await?
        {
            return Err(token_refused());
        }
        let password_hash = self.inner.hasher.hash(&new).await?;
        let txn = self.db().begin().await?;
        // Compare-and-set twice, for what may have happened while hashing:
        // of two uses of one token, one deletes it; a password changed
        // meanwhile voids it.
        let taken = PasswordResets::delete_many()
            .filter(Column::TokenHash.eq(digest))
            .filter(Column::ExpiresAt.gt(db::now()))
            .exec(&txn)
            .await?;
        let now = db::now();
        let changed = Users::update_many()
            .col_expr(user::Column::PasswordHash, Expr::value(password_hash))
            .col_expr(
                user::Column::PasswordVersion,
                Expr::value(live.password_version.wrapping_add(1)),
            )
            .col_expr(user::Column::PasswordChangedAt, Expr::value(now))
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .filter(user::Column::Id.eq(live.user_id))
            .filter(user::Column::PasswordVersion.eq(live.password_version))
            .exec_with_returning(&txn)
            .await?;
        let (1, Some(user)) = (taken.rows_affected, changed.into_iter().next()) else {
            txn.rollback().await?;
            return Err(token_refused());
        };
        // Whoever reset the password may log in at once.
        counter::reset(&txn, Scope::Login, &user.email).await?;
        audit::record(&txn, user.id, SecurityEventKind::PasswordReset, client).await?;
        self.inner
            .outbox
            .enqueue(&txn, Kind::PasswordChanged, &user.email, Some(user.id))
            .await?;
        self.commit_ending_sessions(txn, user.id).await?;
        tracing::info!(user = %user.id, "password reset; all sessions ended");
        Ok(())
    }

    /// The reset mail for the account of `email`, with a new token that
    /// replaces any earlier one; `None` without such an account.
    pub(super) async fn reset_mail(&self, email: &str) -> AppResult<Option<Mail>> {
        let Some(user) = self.find_by_email(&Email::parse(email)?).await? else {
            return Ok(None);
        };
        let settings = &self.inner.settings;
        let token = random::token()?;
        let now = db::now();
        PasswordResets::insert(password_reset::ActiveModel {
            user_id: Set(user.id),
            token_hash: Set(random::digest(&token)),
            password_version: Set(user.password_version),
            expires_at: Set(now + db::span(settings.reset_ttl)?),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(Column::UserId)
                .update_columns([
                    Column::TokenHash,
                    Column::PasswordVersion,
                    Column::ExpiresAt,
                    Column::CreatedAt,
                ])
                .to_owned(),
        )
        .exec(self.db())
        .await?;
        let link = settings.reset_link.as_ref().map(|link| link.link(&token));
        letters::token(
            &letters::PASSWORD_RESET,
            user.email,
            &token,
            link.as_deref(),
            settings.reset_ttl,
        )
        .map(Some)
    }
}
