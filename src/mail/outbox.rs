//! The queue of mail to send, kept in the database so it outlives an SMTP
//! outage and a restart, and shared by every instance.
//!
//! A sender takes rows with a lease: one statement marks the due rows it
//! takes as its own until the lease runs out, skipping rows another instance
//! holds (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite runs the statement
//! alone). So each mail is sent by one instance, and a mail whose sender died
//! is taken over once its lease has run out.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use entity::mail_outbox::{self, Column, Entity as MailOutbox};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType},
};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::{
    db::{self, StoredByName},
    error::AppResult,
};

/// How long a sender owns the rows it took; longer than sending can take.
const LEASE: Duration = Duration::from_secs(5 * 60);
/// A mail not sent within this time after it was asked for is given up.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
/// The wait before the first retry; it doubles with every failed attempt.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
const LONGEST_RETRY: Duration = Duration::from_secs(5 * 60);

/// What a queued mail is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A reset token, to the account's address.
    PasswordReset,
    /// A token that proves the account's address.
    VerifyEmail,
    /// A token that proves a new address, to that address.
    ChangeEmail,
    /// To the old address: a change to another was asked for.
    EmailChangeRequested,
    /// To the old address: the account's address is now another.
    EmailChanged,
    /// The password was changed or reset.
    PasswordChanged,
    /// A refresh token was presented twice: its session was ended.
    RefreshTokenReused,
    /// The second factor was turned off.
    TotpDisabled,
    /// A recovery code was used.
    RecoveryCodeUsed,
    /// An invitation to a list, with its token, to the invited address.
    Invitation,
    /// Not a mail: the moment a task's reminder fires, which then queues
    /// the [`Kind::Reminder`] mail (about: the reminder).
    ReminderDue,
    /// A task's reminder, to its assignee (or its creator).
    Reminder,
    /// An identity provider's sign-in was linked to the account.
    IdentityLinked,
    /// One was unlinked.
    IdentityUnlinked,
}

impl StoredByName for Kind {
    const NAMES: &'static [(Self, &'static str)] = &[
        (Self::PasswordReset, "password_reset"),
        (Self::VerifyEmail, "verify_email"),
        (Self::ChangeEmail, "change_email"),
        (Self::EmailChangeRequested, "email_change_requested"),
        (Self::EmailChanged, "email_changed"),
        (Self::PasswordChanged, "password_changed"),
        (Self::RefreshTokenReused, "refresh_token_reused"),
        (Self::TotpDisabled, "totp_disabled"),
        (Self::RecoveryCodeUsed, "recovery_code_used"),
        (Self::Invitation, "invitation"),
        (Self::ReminderDue, "reminder_due"),
        (Self::Reminder, "reminder"),
        (Self::IdentityLinked, "identity_linked"),
        (Self::IdentityUnlinked, "identity_unlinked"),
    ];
}

/// A queued mail taken by this instance's sender.
#[derive(Debug)]
pub struct Queued {
    pub id: Uuid,
    pub kind: Option<Kind>,
    pub recipient: String,
    /// The account it is about, when it is about one.
    pub user: Option<Uuid>,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When it was due (a reminder's time, for its timer).
    pub send_after: DateTime<Utc>,
    /// Attempts so far, this one included.
    pub attempts: u32,
    /// The trace of the request that asked for it, when it has one.
    pub traceparent: Option<String>,
    /// What else it is about (the invitation whose token it carries).
    pub about: Option<Uuid>,
}

/// The queue; cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    db: DatabaseConnection,
    wake: Arc<Notify>,
}

impl Outbox {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Queues a mail of `kind` to `recipient`, about the account `user`
    /// when it is about one, on `conn` (a transaction of the caller's);
    /// call [`Outbox::wake`] once it is committed.
    pub async fn enqueue(
        &self,
        conn: &impl ConnectionTrait,
        kind: Kind,
        recipient: &str,
        user: Option<Uuid>,
    ) -> AppResult<()> {
        self.enqueue_about(conn, kind, recipient, user, None).await
    }

    /// [`Outbox::enqueue`] for a mail about something beyond an account
    /// (`about`: the invitation whose token it carries).
    pub async fn enqueue_about(
        &self,
        conn: &impl ConnectionTrait,
        kind: Kind,
        recipient: &str,
        user: Option<Uuid>,
        about: Option<Uuid>,
    ) -> AppResult<()> {
        let row = queued(kind, recipient, user, about, db::now())?;
        MailOutbox::insert(row).exec(conn).await?;
        Ok(())
    }

    /// Whether a mail of `kind` to `recipient` was asked for after `since`
    /// and is still queued.
    pub async fn queued_since(
        &self,
        kind: Kind,
        recipient: &str,
        since: DateTime<Utc>,
    ) -> AppResult<bool> {
        let queued = MailOutbox::find()
            .filter(Column::Kind.eq(kind.stored_name()))
            .filter(Column::Recipient.eq(recipient))
            .filter(Column::CreatedAt.gt(since))
            .count(&self.db)
            .await?;
        Ok(queued > 0)
    }

    /// Whether a mail of `kind` about `user` was asked for after `since`
    /// and is still queued.
    pub async fn queued_for_since(
        &self,
        kind: Kind,
        user: Uuid,
        since: DateTime<Utc>,
    ) -> AppResult<bool> {
        let queued = MailOutbox::find()
            .filter(Column::Kind.eq(kind.stored_name()))
            .filter(Column::UserId.eq(user))
            .filter(Column::CreatedAt.gt(since))
            .count(&self.db)
            .await?;
        Ok(queued > 0)
    }

    /// Tells this instance's sender that there is mail to send.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Completes when [`Outbox::wake`] was called since the last time.
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Takes the next due mail for this instance's sender, if there is one.
    pub async fn take(&self) -> AppResult<Option<Queued>> {
        let now = db::now();
        let free = Condition::any()
            .add(Column::LeasedUntil.is_null())
            .add(Column::LeasedUntil.lte(now));
        let due = MailOutbox::find()
            .select_only()
            .column(Column::Id)
            .filter(Column::SendAfter.lte(now))
            .filter(Column::ExpiresAt.gt(now))
            .filter(free.clone())
            // Mail goes out in the order it was asked for, even within one
            // microsecond: ids are v7, made in order.
            .order_by_asc(Column::SendAfter)
            .order_by_asc(Column::Id)
            .limit(1)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .into_query();
        let taken = MailOutbox::update_many()
            .col_expr(Column::LeasedUntil, Expr::value(now + db::span(LEASE)?))
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
            .filter(Column::Id.in_subquery(due))
            .filter(free)
            .exec_with_returning(&self.db)
            .await?;
        Ok(taken.into_iter().next().map(|row| Queued {
            id: row.id,
            kind: Kind::from_stored_name(&row.kind),
            recipient: row.recipient,
            user: row.user_id,
            created_at: row.created_at,
            send_after: row.send_after,
            attempts: u32::try_from(row.attempts).unwrap_or(u32::MAX),
            traceparent: row.traceparent,
            about: row.about,
        }))
    }

    /// Removes a mail that was sent, or will never be.
    pub async fn done(&self, mail: &Queued) -> AppResult<()> {
        MailOutbox::delete_by_id(mail.id).exec(&self.db).await?;
        Ok(())
    }

    /// Gives a mail back to the queue, to be tried again after a wait that
    /// doubles with each attempt; returns the wait.
    pub async fn retry_later(&self, mail: &Queued) -> AppResult<Duration> {
        let wait = retry_wait(mail.attempts);
        MailOutbox::update_many()
            .col_expr(
                Column::LeasedUntil,
                Expr::value(None::<chrono::DateTime<chrono::Utc>>),
            )
            .col_expr(Column::SendAfter, Expr::value(db::now() + db::span(wait)?))
            .filter(Column::Id.eq(mail.id))
            .exec(&self.db)
            .await?;
        Ok(wait)
    }

    /// How long until the next queued mail is due, if one is queued.
    pub async fn next_due_in(&self) -> AppResult<Option<Duration>> {
        let next = MailOutbox::find()
            .filter(Column::LeasedUntil.is_null())
            .order_by_asc(Column::SendAfter)
            .one(&self.db)
            .await?;
        Ok(next.map(|row| (row.send_after - db::now()).to_std().unwrap_or_default()))
    }

    /// How many mails wait to be sent, and when the oldest was asked for.
    /// Reminders waiting for their time are not mail yet and not counted.
    pub async fn depth(&self) -> AppResult<(u64, Option<DateTime<Utc>>)> {
        let mail = Column::Kind.ne(Kind::ReminderDue.stored_name());
        let waiting = MailOutbox::find()
            .filter(mail.clone())
            .count(&self.db)
            .await?;
        let oldest = MailOutbox::find()
            .filter(mail)
            .order_by_asc(Column::CreatedAt)
            .one(&self.db)
            .await?;
        Ok((waiting, oldest.map(|row| row.created_at)))
    }

    /// How many reminders wait for their time, and when the earliest is
    /// due.
    pub async fn reminders(&self) -> AppResult<(u64, Option<DateTime<Utc>>)> {
        let timer = Column::Kind.eq(Kind::ReminderDue.stored_name());
        let waiting = MailOutbox::find()
            .filter(timer.clone())
            .count(&self.db)
            .await?;
        let earliest = MailOutbox::find()
            .filter(timer)
            .order_by_asc(Column::SendAfter)
            .one(&self.db)
            .await?;
        Ok((waiting, earliest.map(|row| row.send_after)))
    }

    /// Deletes the mails given up on; returns how many, logging them.
    pub async fn sweep(&self) -> AppResult<u64> {
        let expired = MailOutbox::delete_many()
            .filter(Column::ExpiresAt.lte(db::now()))
            .exec(&self.db)
            .await?
            .rows_affected;
        if expired > 0 {
            tracing::error!(mails = expired, "mail given up: not sent within a day");
        }
        Ok(expired)
    }
}

/// The row of a mail of `kind` to `recipient` (about the account `user`
/// and the thing `about`), due at `send_after`; given up a day after that.
pub fn queued(
    kind: Kind,
    recipient: &str,
    user: Option<Uuid>,
    about: Option<Uuid>,
    send_after: DateTime<Utc>,
) -> AppResult<mail_outbox::ActiveModel> {
    let now = db::now();
    Ok(mail_outbox::ActiveModel {
        id: Set(Uuid::now_v7()),
        kind: Set(kind.stored_name().to_owned()),
        recipient: Set(recipient.to_owned()),
        user_id: Set(user),
        attempts: Set(0),
        send_after: Set(send_after),
        leased_until: Set(None),
        created_at: Set(now),
        expires_at: Set(Ord::max(now, send_after) + db::span(GIVE_UP_AFTER)?),
        traceparent: Set(crate::telemetry::current_traceparent()),
        about: Set(about),
    })
}

/// The wait after the `attempts`-th failed attempt.
fn retry_wait(attempts: u32) -> Duration {
    let doublings = Ord::min(attempts.saturating_sub(1), 16);
    Ord::min(FIRST_RETRY.saturating_mul(1 << doublings), LONGEST_RETRY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_mail_is_taken_once_and_one_past_its_time_is_swept() {
        let (_dir, db) = db::scratch().await;
        let outbox = Outbox::new(db.clone());
        outbox
            .enqueue(&db, Kind::PasswordReset, "ada@example.com", None)
            .await
            .expect("queued");
        let taken = outbox.take().await.expect("read").expect("due");
        assert_eq!((taken.kind, taken.attempts), (Some(Kind::PasswordReset), 1));
        assert!(outbox.take().await.expect("read").is_none(), "leased");
        assert_eq!(outbox.sweep().await.expect("swept"), 0, "not expired");

        MailOutbox::update_many()
            .col_expr(Column::ExpiresAt, Expr::value(db::now()))
            .exec(&db)
            .await
            .expect("expire");
        assert_eq!(outbox.sweep().await.expect("swept"), 1);
        assert!(outbox.next_due_in().await.expect("read").is_none(), "empty");
    }

    #[test]
    fn every_kind_is_stored_under_a_name_of_its_own() {
        // A new kind goes in both: the match fails to compile without it.
        let every = [
            Kind::PasswordReset,
            Kind::VerifyEmail,
            Kind::ChangeEmail,
            Kind::EmailChangeRequested,
            Kind::EmailChanged,
            Kind::PasswordChanged,
            Kind::RefreshTokenReused,
            Kind::TotpDisabled,
            Kind::RecoveryCodeUsed,
            Kind::Invitation,
            Kind::ReminderDue,
            Kind::Reminder,
            Kind::IdentityLinked,
            Kind::IdentityUnlinked,
        ];
        db::assert_stored_names(&every, |kind| match kind {
            Kind::PasswordReset => "password_reset",
            Kind::VerifyEmail => "verify_email",
            Kind::ChangeEmail => "change_email",
            Kind::EmailChangeRequested => "email_change_requested",
            Kind::EmailChanged => "email_changed",
            Kind::PasswordChanged => "password_changed",
            Kind::RefreshTokenReused => "refresh_token_reused",
            Kind::TotpDisabled => "totp_disabled",
            Kind::RecoveryCodeUsed => "recovery_code_used",
            Kind::Invitation => "invitation",
            Kind::ReminderDue => "reminder_due",
            Kind::Reminder => "reminder",
            Kind::IdentityLinked => "identity_linked",
            Kind::IdentityUnlinked => "identity_unlinked",
        });
    }

    #[test]
    fn the_wait_between_attempts_doubles_up_to_five_minutes() {
        let waits: Vec<u64> = (1..=11).map(|n| retry_wait(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(retry_wait(u32::MAX), LONGEST_RETRY);
    }
}
