//! Windowed counters kept in the database: how many times something happened
//! for one key (an email, a client IP) since its window opened. Every limit
//! counts here, so a limit holds across all instances of a deployment.
//!
//! Counting is one atomic upsert that returns the new count, so concurrent
//! attempts cannot slip past a limit between a read and a write.

use std::time::Duration;

use entity::rate_counter::{self, Column, Entity as RateCounters};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{CaseStatement, Expr, ExprTrait, OnConflict},
};

use crate::{db, error::AppResult};

/// What a counter counts; one scope per limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Failed logins per email.
    Login,
    /// Authentication attempts per client IP.
    Client,
    /// Password-reset mails asked for, per email.
    ResetMail,
    /// Verification mails queued, per account.
    VerifyMail,
    /// List invitations sent, per inviter.
    Invitation,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Client => "client",
            Self::ResetMail => "reset_mail",
            Self::VerifyMail => "verify_mail",
            Self::Invitation => "invitation",
        }
    }
}

/// Counts one event for `key` and returns the events of its current window,
/// this one included. The first event after a window ended opens a new one
/// of length `window`.
pub async fn record(
    db: &impl ConnectionTrait,
    scope: Scope,
    key: &str,
    window: Duration,
) -> AppResult<u32> {
    let now = db::now();
    let ends_at = now + db::span(window)?;
    let ended = Expr::col((RateCounters, Column::WindowEndsAt)).lte(now);
    let count = CaseStatement::new()
        .case(ended.clone(), Expr::val(1))
        .finally(Expr::col((RateCounters, Column::Count)).add(1));
    let window_ends_at = CaseStatement::new()
        .case(ended, Expr::val(ends_at))
        .finally(Expr::col((RateCounters, Column::WindowEndsAt)));
    let counted = RateCounters::insert(rate_counter::ActiveModel {
        scope: Set(scope.as_str().to_owned()),
        key: Set(key.to_owned()),
        count: Set(1),
        window_ends_at: Set(ends_at),
    })
    .on_conflict(
        OnConflict::columns([Column::Scope, Column::Key])
            .value(Column::Count, count)
            .value(Column::WindowEndsAt, window_ends_at)
            .to_owned(),
    )
    .exec_with_returning(db)
    .await?;
    Ok(u32::try_from(counted.count).unwrap_or(u32::MAX))
}

/// Forgets the events of `key`, as a successful login does for its email.
pub async fn reset(db: &impl ConnectionTrait, scope: Scope, key: &str) -> AppResult<()> {
    RateCounters::delete_by_id((scope.as_str().to_owned(), key.to_owned()))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes the counters whose window has ended; returns how many.
pub async fn sweep(db: &impl ConnectionTrait) -> AppResult<u64> {
    let swept = RateCounters::delete_many()
        .filter(Column::WindowEndsAt.lte(db::now()))
        .exec(db)
        .await?;
    Ok(swept.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_per_scope_and_key_until_reset() {
        let (_dir, db) = db::scratch().await;
        let hour = Duration::from_secs(3600);
        for expected in 1..=3 {
            let count = record(&db, Scope::Login, "ada@example.com", hour).await;
            assert_eq!(count.expect("counted"), expected);
        }
        let other_key = record(&db, Scope::Login, "bob@example.com", hour).await;
        assert_eq!(other_key.expect("counted"), 1, "another key");
        let other_scope = record(&db, Scope::Client, "ada@example.com", hour).await;
        assert_eq!(other_scope.expect("counted"), 1, "another scope");
        reset(&db, Scope::Login, "ada@example.com")
            .await
            .expect("reset");
        let again = record(&db, Scope::Login, "ada@example.com", hour).await;
        assert_eq!(again.expect("counted"), 1, "starts again after a reset");
    }

    #[tokio::test]
    async fn an_ended_window_starts_afresh_and_is_swept() {
        let (_dir, db) = db::scratch().await;
        for _ in 0..2 {
            let count = record(&db, Scope::Client, "10.0.0.1", Duration::ZERO).await;
            assert_eq!(count.expect("counted"), 1, "each window has ended at once");
        }
        let open = record(&db, Scope::Client, "10.0.0.2", Duration::from_secs(3600)).await;
        assert_eq!(open.expect("counted"), 1);
        assert_eq!(sweep(&db).await.expect("swept"), 1, "only the ended one");
        let kept = record(&db, Scope::Client, "10.0.0.2", Duration::from_secs(3600)).await;
        assert_eq!(kept.expect("counted"), 2, "the open window was kept");
    }
}
