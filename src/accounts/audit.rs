//! The record of what happened to each account: a row per security event
//! (what, when, from which address and user agent), newest first by its
//! UUIDv7 id, kept `TASKQL_SECURITY_EVENT_RETENTION`, and the same event in
//! the log under the target `taskql::audit`. Never a password, token or
//! code, in either.

use std::{net::IpAddr, time::Duration};

use entity::{
    security_event::{self, Column, Entity as SecurityEvents},
    user,
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, Query},
};
use uuid::Uuid;

use crate::{
    db::{self, StoredByName},
    error::{AppError, AppResult},
};

/// Longest user agent kept; browsers send about 150 characters.
const USER_AGENT_MAX_CHARS: usize = 512;

/// Who made a request, as far as the transport could tell.
#[derive(Clone, Debug, Default)]
pub struct Client {
    /// The client's address (see `TASKQL_TRUSTED_PROXIES`).
    pub ip: Option<IpAddr>,
    /// Its `User-Agent`, cut to 512 characters.
    pub user_agent: Option<String>,
}

impl Client {
    pub fn new(ip: Option<IpAddr>, user_agent: Option<&str>) -> Self {
        Self {
            ip,
            user_agent: user_agent.map(|agent| agent.chars().take(USER_AGENT_MAX_CHARS).collect()),
        }
    }

    fn ip_text(&self) -> Option<String> {
        self.ip.map(|ip| ip.to_string())
    }
}

/// What happened to an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecurityEventKind {
    SignedUp,
    LoggedIn,
    LoginFailed,
    LoggedOut,
    PasswordChanged,
    PasswordResetRequested,
    PasswordReset,
    EmailVerified,
    EmailChangeRequested,
    EmailChanged,
    SessionRevoked,
    RefreshTokenReused,
    TotpEnabled,
    TotpDisabled,
    RecoveryCodeUsed,
    RecoveryCodesRegenerated,
    PasskeyAdded,
    PasskeyRemoved,
    /// An identity provider's sign-in was linked to the account, or
    /// unlinked.
    IdentityLinked,
    IdentityUnlinked,
    /// The people who run the service disabled the account.
    AdminDisabled,
    AdminEnabled,
    AdminSessionsRevoked,
    AdminPasswordResetSent,
    /// Only in the log: the account's record goes with it.
    AdminDeleted,
    /// The account was marked admin (`taskql admin grant`), or unmarked.
    AdminGranted,
    AdminRevoked,
}

impl StoredByName for SecurityEventKind {
    const NAMES: &'static [(Self, &'static str)] = &[
        (Self::SignedUp, "signed_up"),
        (Self::LoggedIn, "logged_in"),
        (Self::LoginFailed, "login_failed"),
        (Self::LoggedOut, "logged_out"),
        (Self::PasswordChanged, "password_changed"),
        (Self::PasswordResetRequested, "password_reset_requested"),
        (Self::PasswordReset, "password_reset"),
        (Self::EmailVerified, "email_verified"),
        (Self::EmailChangeRequested, "email_change_requested"),
        (Self::EmailChanged, "email_changed"),
        (Self::SessionRevoked, "session_revoked"),
        (Self::RefreshTokenReused, "refresh_token_reused"),
        (Self::TotpEnabled, "totp_enabled"),
        (Self::TotpDisabled, "totp_disabled"),
        (Self::RecoveryCodeUsed, "recovery_code_used"),
        (Self::RecoveryCodesRegenerated, "recovery_codes_regenerated"),
        (Self::PasskeyAdded, "passkey_added"),
        (Self::PasskeyRemoved, "passkey_removed"),
        (Self::IdentityLinked, "identity_linked"),
        (Self::IdentityUnlinked, "identity_unlinked"),
        (Self::AdminDisabled, "admin_disabled"),
        (Self::AdminEnabled, "admin_enabled"),
        (Self::AdminSessionsRevoked, "admin_sessions_revoked"),
        (Self::AdminPasswordResetSent, "admin_password_reset_sent"),
        (Self::AdminDeleted, "admin_deleted"),
        (Self::AdminGranted, "admin_granted"),
        (Self::AdminRevoked, "admin_revoked"),
    ];
}

/// A recorded event, as its account sees it.
#[derive(Clone, Debug)]
pub struct SecurityEvent {
    pub id: Uuid,
    pub kind: SecurityEventKind,
    pub at: chrono::DateTime<chrono::Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Records that `kind` happened to the account `user`, on `conn` (the
/// change's transaction, when there is one).
pub async fn record(
    conn: &impl ConnectionTrait,
    user: Uuid,
    kind: SecurityEventKind,
    client: &Client,
) -> AppResult<()> {
    insert(
        conn,
        user,
        kind,
        client.ip_text(),
        client.user_agent.clone(),
    )
    .await?;
    log(user, kind, client);
    Ok(())
}

/// The row of an event.
async fn insert(
    conn: &impl ConnectionTrait,
    user: Uuid,
    kind: SecurityEventKind,
    ip: Option<String>,
    user_agent: Option<String>,
) -> AppResult<()> {
    SecurityEvents::insert(security_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user),
        kind: Set(kind.stored_name().to_owned()),
        at: Set(db::now()),
        ip: Set(ip),
        user_agent: Set(user_agent),
    })
    .exec(conn)
    .await?;
    Ok(())
}

/// Records `kind` for the account of `email`, if there is one, in one
/// statement that runs the same whether or not there is: the answer to the
/// request takes the same time either way.
pub async fn record_for_email(
    conn: &impl ConnectionTrait,
    email: &str,
    kind: SecurityEventKind,
    client: &Client,
) -> AppResult<()> {
    let mut select = Query::select();
    select
        .expr(Expr::val(Uuid::now_v7()))
        .column(user::Column::Id)
        .expr(Expr::val(kind.stored_name()))
        .expr(Expr::val(db::now()))
        .expr(Expr::val(client.ip_text()))
        .expr(Expr::val(client.user_agent.clone()))
        .from(user::Entity)
        .and_where(user::Column::Email.eq(email));
    let mut insert = Query::insert();
    insert
        .into_table(SecurityEvents)
        .columns([
            Column::Id,
            Column::UserId,
            Column::Kind,
            Column::At,
            Column::Ip,
            Column::UserAgent,
        ])
        .select_from(select)
        .map_err(AppError::internal)?
        .returning_col(Column::UserId);
    let backend = conn.get_database_backend();
    for row in conn.query_all_raw(backend.build(&insert)).await? {
        log(row.try_get_by_index(0)?, kind, client);
    }
    Ok(())
}

/// Who acted on an account from outside it: an admin through the admin
/// listener (their id and address), or the command line.
#[derive(Clone, Debug)]
pub enum Operator<'a> {
    Admin { id: Uuid, client: &'a Client },
    CommandLine,
}

/// Records that `kind` was done to the account `user` by `operator`, with
/// the reason given, if any. The account's record keeps what and when
/// (the operator's address is not the account's); the log line under
/// `taskql::audit` also says who, from where, and why.
pub async fn record_by(
    conn: &impl ConnectionTrait,
    user: Uuid,
    kind: SecurityEventKind,
    operator: &Operator<'_>,
    reason: Option<&str>,
) -> AppResult<()> {
    insert(conn, user, kind, None, None).await?;
    log_by(user, kind, operator, reason);
    Ok(())
}

/// Writes an operator's action on `user` to `taskql::audit`, as
/// [`record_by`] does; alone, for an account that is gone with it.
pub fn log_by(user: Uuid, kind: SecurityEventKind, operator: &Operator<'_>, reason: Option<&str>) {
    let (admin, client) = match operator {
        Operator::Admin { id, client } => (Some(id), Some(client)),
        Operator::CommandLine => (None, None),
    };
    tracing::info!(
        target: "taskql::audit",
        %user,
        event = kind.stored_name(),
        admin = admin.map(tracing::field::display),
        by = if admin.is_some() { "admin listener" } else { "command line" },
        reason,
        ip = client.and_then(|client| client.ip_text()),
        user_agent = client.and_then(|client| client.user_agent.as_deref()),
        "security event"
    );
}

fn log(user: Uuid, kind: SecurityEventKind, client: &Client) {
    tracing::info!(
        target: "taskql::audit",
        %user,
        event = kind.stored_name(),
        ip = client.ip_text(),
        user_agent = client.user_agent.as_deref(),
        "security event"
    );
}

/// `user`'s events, newest first, after the event `after` (exclusive);
/// at most `limit`.
pub async fn list(
    conn: &impl ConnectionTrait,
    user: Uuid,
    after: Option<Uuid>,
    limit: u64,
) -> AppResult<Vec<SecurityEvent>> {
    let mut select = SecurityEvents::find().filter(Column::UserId.eq(user));
    if let Some(after) = after {
        select = select.filter(Column::Id.lt(after));
    }
    let rows = select
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            Some(SecurityEvent {
                id: row.id,
                kind: SecurityEventKind::from_stored_name(&row.kind)?,
                at: row.at,
                ip: row.ip,
                user_agent: row.user_agent,
            })
        })
        .collect())
}

/// Deletes the events older than `retention`.
pub async fn sweep(conn: &impl ConnectionTrait, retention: Duration) -> AppResult<u64> {
    let deleted = SecurityEvents::delete_many()
        .filter(Column::At.lt(db::now() - db::span(retention)?))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_past_their_retention_are_swept_and_the_rest_kept() {
        let (_dir, db) = db::scratch().await;
        let user = Uuid::now_v7();
        let now = db::now();
        entity::user::Entity::insert(entity::user::ActiveModel {
            id: Set(user),
            email: Set("ada@example.com".into()),
            password_hash: Set("x".into()),
            password_version: Set(0),
            password_changed_at: Set(now),
            email_verified: Set(false),
            display_name: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .exec(&db)
        .await
        .expect("user");
        let client = Client::new(None, Some("Test/1.0"));
        record(&db, user, SecurityEventKind::SignedUp, &client)
            .await
            .expect("recorded");
        record(&db, user, SecurityEventKind::LoggedIn, &client)
            .await
            .expect("recorded");
        let old = now - chrono::Duration::days(91);
        SecurityEvents::update_many()
            .col_expr(Column::At, Expr::value(old))
            .filter(Column::Kind.eq("signed_up"))
            .exec(&db)
            .await
            .expect("aged");
        let ninety_days = Duration::from_secs(90 * 24 * 60 * 60);
        assert_eq!(sweep(&db, ninety_days).await.expect("swept"), 1);
        let left = list(&db, user, None, 10).await.expect("listed");
        assert_eq!(
            left.iter().map(|event| event.kind).collect::<Vec<_>>(),
            [SecurityEventKind::LoggedIn]
        );
        assert_eq!(left[0].user_agent.as_deref(), Some("Test/1.0"));
    }

    #[test]
    fn every_kind_is_stored_under_a_name_of_its_own() {
        use SecurityEventKind as K;
        // A new kind goes in both: the match fails to compile without it.
        let every = [
            K::SignedUp,
            K::LoggedIn,
            K::LoginFailed,
            K::LoggedOut,
            K::PasswordChanged,
            K::PasswordResetRequested,
            K::PasswordReset,
            K::EmailVerified,
            K::EmailChangeRequested,
            K::EmailChanged,
            K::SessionRevoked,
            K::RefreshTokenReused,
            K::TotpEnabled,
            K::TotpDisabled,
            K::RecoveryCodeUsed,
            K::RecoveryCodesRegenerated,
            K::PasskeyAdded,
            K::PasskeyRemoved,
            K::IdentityLinked,
            K::IdentityUnlinked,
            K::AdminDisabled,
            K::AdminEnabled,
            K::AdminSessionsRevoked,
            K::AdminPasswordResetSent,
            K::AdminDeleted,
            K::AdminGranted,
            K::AdminRevoked,
        ];
        crate::db::assert_stored_names(&every, |kind| match kind {
            K::SignedUp => "signed_up",
            K::LoggedIn => "logged_in",
            K::LoginFailed => "login_failed",
            K::LoggedOut => "logged_out",
            K::PasswordChanged => "password_changed",
            K::PasswordResetRequested => "password_reset_requested",
            K::PasswordReset => "password_reset",
            K::EmailVerified => "email_verified",
            K::EmailChangeRequested => "email_change_requested",
            K::EmailChanged => "email_changed",
            K::SessionRevoked => "session_revoked",
            K::RefreshTokenReused => "refresh_token_reused",
            K::TotpEnabled => "totp_enabled",
            K::TotpDisabled => "totp_disabled",
            K::RecoveryCodeUsed => "recovery_code_used",
            K::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            K::PasskeyAdded => "passkey_added",
            K::PasskeyRemoved => "passkey_removed",
            K::IdentityLinked => "identity_linked",
            K::IdentityUnlinked => "identity_unlinked",
            K::AdminDisabled => "admin_disabled",
            K::AdminEnabled => "admin_enabled",
            K::AdminSessionsRevoked => "admin_sessions_revoked",
            K::AdminPasswordResetSent => "admin_password_reset_sent",
            K::AdminDeleted => "admin_deleted",
            K::AdminGranted => "admin_granted",
            K::AdminRevoked => "admin_revoked",
        });
    }
}
