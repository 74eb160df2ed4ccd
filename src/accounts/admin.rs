//! Administration: what the people who run the service may do to an
//! account, and who they are. An account is marked admin from the command
//! line (`taskql admin grant`); the admin listener reads the mark from the
//! account's row on every request, never from a token. Every action is a
//! security event of the account it touched and a line under
//! `taskql::audit` that names the admin and the reason. Nothing here reads
//! a list's or a task's content: counts only.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{
    list_member::{self, Entity as ListMembers},
    task::{self, Entity as Tasks},
    task_list::Entity as TaskLists,
    user::{self, Column, Entity as Users},
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
    sea_query::{Expr, ExprTrait, Func, LikeExpr},
};
use uuid::Uuid;

use super::{
    Accounts,
    audit::{self, Operator, SecurityEventKind},
    sessions::{self, Ending},
};
use crate::{
    auth::{Email, refresh},
    db,
    error::{AppError, AppResult},
    events::{Delivery, Notice, Pending},
    mail::outbox::Kind,
};

/// How long the reason for disabling an account may be, in characters.
const REASON_MAX_CHARS: usize = 500;
/// Most characters of a search.
const SEARCH_MAX_CHARS: usize = 200;

/// The service in figures.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub users: u64,
    pub verified_users: u64,
    pub disabled_users: u64,
    pub lists: u64,
    pub tasks: u64,
    pub signups_last_7_days: u64,
}

/// How much an account holds: the lists it is a member of, the tasks it
/// created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Holdings {
    pub lists: u64,
    pub tasks: u64,
}

/// Marks the account of `email` admin. `NOT_FOUND` when there is none.
pub async fn grant(db: &DatabaseConnection, email: &str) -> AppResult<()> {
    mark(db, email, true).await
}

/// Takes the mark off the account of `email`; its next admin request is
/// refused. `NOT_FOUND` when there is no such account.
pub async fn revoke(db: &DatabaseConnection, email: &str) -> AppResult<()> {
    mark(db, email, false).await
}

async fn mark(db: &DatabaseConnection, email: &str, admin: bool) -> AppResult<()> {
    let email = Email::parse(email)?;
    let txn = db.begin().await?;
    let marked = Users::update_many()
        .col_expr(Column::IsAdmin, Expr::value(admin))
        .filter(Column::Email.eq(email.as_str()))
        .exec_with_returning(&txn)
        .await?;
    let [user] = marked.as_slice() else {
        return Err(AppError::NotFound);
    };
    let kind = if admin {
        SecurityEventKind::AdminGranted
    } else {
        SecurityEventKind::AdminRevoked
    };
    audit::record_by(&txn, user.id, kind, &Operator::CommandLine, None).await?;
    txn.commit().await?;
    Ok(())
}

/// The admins' emails, in order.
pub async fn admins(db: &DatabaseConnection) -> AppResult<Vec<String>> {
    Ok(Users::find()
        .select_only()
        .column(Column::Email)
        .filter(Column::IsAdmin.eq(true))
        .order_by_asc(Column::Email)
        .into_tuple()
        .all(db)
        .await?)
}

impl Accounts {
    /// Accounts whose email or display name holds `search` (any case),
    /// newest first, after the account `after`; at most `limit`.
    pub async fn find_users(
        &self,
        search: Option<&str>,
        after: Option<Uuid>,
        limit: u64,
    ) -> AppResult<Vec<user::Model>> {
        let mut select = Users::find();
        if let Some(search) = search.map(str::trim).filter(|search| !search.is_empty()) {
            if search.chars().count() > SEARCH_MAX_CHARS {
                return Err(AppError::bad_input(
                    "search",
                    format!("a search is at most {SEARCH_MAX_CHARS} characters"),
                ));
            }
            let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
            let like = || LikeExpr::new(pattern.clone()).escape('\\');
            select = select.filter(
                Condition::any()
                    .add(Expr::expr(Func::lower(Expr::col(Column::Email))).like(like()))
                    .add(Expr::expr(Func::lower(Expr::col(Column::DisplayName))).like(like())),
            );
        }
        if let Some(after) = after {
            select = select.filter(Column::Id.lt(after));
        }
        Ok(select
            .order_by_desc(Column::Id)
            .limit(limit)
            .all(self.db())
            .await?)
    }

    /// The account `id`, if there is one.
    pub async fn find_user(&self, id: Uuid) -> AppResult<Option<user::Model>> {
        Ok(Users::find_by_id(id).one(self.db()).await?)
    }

    /// What each of `users` holds, in two statements however many.
    pub async fn holdings(&self, users: &[Uuid]) -> AppResult<HashMap<Uuid, Holdings>> {
        #[derive(FromQueryResult)]
        struct Count {
            user: Uuid,
            count: i64,
        }
        let lists = ListMembers::find()
            .select_only()
            .column_as(list_member::Column::UserId, "user")
            .column_as(list_member::Column::ListId.count(), "count")
            .filter(list_member::Column::UserId.is_in(users.iter().copied()))
            .group_by(list_member::Column::UserId)
            .into_model::<Count>()
            .all(self.db())
            .await?;
        let tasks = Tasks::find()
            .select_only()
            .column_as(task::Column::CreatedBy, "user")
            .column_as(task::Column::Id.count(), "count")
            .filter(task::Column::CreatedBy.is_in(users.iter().copied()))
            .group_by(task::Column::CreatedBy)
            .into_model::<Count>()
            .all(self.db())
            .await?;
        let mut found: HashMap<Uuid, Holdings> = users
            .iter()
            .map(|user| (*user, Holdings::default()))
            .collect();
        for row in lists {
            found.entry(row.user).or_default().lists = row.count.unsigned_abs();
        }
        for row in tasks {
            found.entry(row.user).or_default().tasks = row.count.unsigned_abs();
        }
        Ok(found)
    }

    /// The service in figures, each counted in its own statement.
    pub async fn stats(&self) -> AppResult<Stats> {
        let db = self.db();
        let week_ago = db::now() - chrono::Duration::days(7);
        Ok(Stats {
            users: Users::find().count(db).await?,
            verified_users: Users::find()
                .filter(Column::EmailVerified.eq(true))
                .count(db)
                .await?,
            disabled_users: Users::find()
                .filter(Column::DisabledAt.is_not_null())
                .count(db)
                .await?,
            lists: TaskLists::find().count(db).await?,
            tasks: Tasks::find().count(db).await?,
            signups_last_7_days: Users::find()
                .filter(Column::CreatedAt.gt(week_ago))
                .count(db)
                .await?,
        })
    }

    /// Disables the account `id`: every way in is refused from now on
    /// (`ACCOUNT_DISABLED` once the credentials check out), its sessions
    /// end and its connections close on every instance. Its lists stay
    /// with their members. An admin cannot disable their own account.
    pub async fn disable_user(
        &self,
        admin: &Operator<'_>,
        id: Uuid,
        reason: &str,
    ) -> AppResult<user::Model> {
        let reason = reason.trim();
        let chars = reason.chars().count();
        if chars == 0 || chars > REASON_MAX_CHARS {
            return Err(AppError::bad_input(
                "reason",
                format!("a reason is 1 to {REASON_MAX_CHARS} characters"),
            ));
        }
        if matches!(admin, Operator::Admin { id: own, .. } if *own == id) {
            return Err(AppError::bad_input(
                "id",
                "you cannot disable your own account",
            ));
        }
        let now = db::now();
        let txn = self.db().begin().await?;
        // The row first: a sign-in that starts a session meanwhile waits
        // for it, and then sees the account disabled (see `start_session`).
        let user = set_disabled(&txn, id, Some((now, reason))).await?;
        audit::record_by(
            &txn,
            id,
            SecurityEventKind::AdminDisabled,
            admin,
            Some(reason),
        )
        .await?;
        self.commit_ending_sessions(txn, id).await?;
        Ok(user)
    }

    /// Lets the account `id` in again; its password, second factor and
    /// passkeys are as they were.
    pub async fn enable_user(&self, admin: &Operator<'_>, id: Uuid) -> AppResult<user::Model> {
        let txn = self.db().begin().await?;
        let user = set_disabled(&txn, id, None).await?;
        audit::record_by(&txn, id, SecurityEventKind::AdminEnabled, admin, None).await?;
        txn.commit().await?;
        Ok(user)
    }

    /// Ends every session of the account `id`; returns how many there were.
    pub async fn revoke_user_sessions(&self, admin: &Operator<'_>, id: Uuid) -> AppResult<usize> {
        let txn = self.db().begin().await?;
        if Users::find_by_id(id).count(&txn).await? == 0 {
            return Err(AppError::NotFound);
        }
        let ended = sessions::end(&txn, id, Ending::AllBut(None)).await?;
        refresh::revoke_all(&txn, id).await?;
        let kind = SecurityEventKind::AdminSessionsRevoked;
        audit::record_by(&txn, id, kind, admin, None).await?;
        let ended_all = Delivery::to(id, Notice::SessionsEnded { except: None });
        self.inner
            .events
            .commit(Pending::Transaction(txn), vec![ended_all])
            .await?;
        Ok(ended.len())
    }

    /// Mails the account `id` a password reset, as if its owner had asked.
    pub async fn send_password_reset(&self, admin: &Operator<'_>, id: Uuid) -> AppResult<()> {
        let user = self.find_user(id).await?.ok_or(AppError::NotFound)?;
        let txn = self.db().begin().await?;
        self.inner
            .outbox
            .enqueue(&txn, Kind::PasswordReset, &user.email, Some(user.id))
            .await?;
        let kind = SecurityEventKind::AdminPasswordResetSent;
        audit::record_by(&txn, id, kind, admin, None).await?;
        txn.commit().await?;
        self.inner.outbox.wake();
        Ok(())
    }

    /// Deletes the account `id` as `deleteAccount` does: its shared lists
    /// handed on, those it alone was in deleted. An admin deletes their own
    /// account with `deleteAccount`, not here.
    pub async fn delete_user(&self, admin: &Operator<'_>, id: Uuid) -> AppResult<()> {
        if matches!(admin, Operator::Admin { id: own, .. } if *own == id) {
            return Err(AppError::bad_input(
                "id",
                "delete your own account with deleteAccount",
            ));
        }
        self.remove(id).await?;
        // The account's record went with it: the log keeps the action.
        audit::log_by(id, SecurityEventKind::AdminDeleted, admin, None);
        Ok(())
    }
}

/// Sets or clears the account's disabling; `NOT_FOUND` when it does not
/// exist.
async fn set_disabled(
    conn: &impl ConnectionTrait,
    id: Uuid,
    disabled: Option<(DateTime<Utc>, &str)>,
) -> AppResult<user::Model> {
    let (at, reason) = disabled.unzip();
    let changed = Users::update_many()
        .col_expr(Column::DisabledAt, Expr::value(at))
        .col_expr(
            Column::DisabledReason,
            Expr::value(reason.map(str::to_owned)),
        )
        .col_expr(Column::UpdatedAt, Expr::value(db::now()))
        .filter(Column::Id.eq(id))
        .exec_with_returning(conn)
        .await?;
    changed.into_iter().next().ok_or(AppError::NotFound)
}

/// `text` with LIKE's wildcards and its escape character taken literally.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn a_search_matches_its_wildcards_literally() {
        assert_eq!(escape_like("ada"), "ada");
        assert_eq!(escape_like("100%_\\x"), "100\\%\\_\\\\x");
    }
}
