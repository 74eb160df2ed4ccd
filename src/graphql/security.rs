//! Security events in GraphQL: the record of what happened to the viewer's
//! account, as a Relay connection, newest first.

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use uuid::Uuid;

use super::{
    page_info::{Cursor, PageInfo},
    plain::Plain,
    scalars::DateTime,
    viewer::Viewer,
};
use crate::{
    accounts::{self, Accounts},
    error::AppError,
};

/// Events in one page unless `first` says otherwise, and at most.
const DEFAULT_PAGE: u64 = 20;
const MAX_PAGE: u64 = 100;

/// What happened to an account.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "accounts::SecurityEventKind")]
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
    IdentityLinked,
    IdentityUnlinked,
    AdminDisabled,
    AdminEnabled,
    AdminSessionsRevoked,
    AdminPasswordResetSent,
    AdminDeleted,
    AdminGranted,
    AdminRevoked,
}

/// A security-relevant change to the account, or an attempt at one. Never
/// holds a password, token or code.
#[derive(SimpleObject)]
pub struct SecurityEvent {
    pub id: ID,
    pub kind: SecurityEventKind,
    pub at: DateTime,
    /// The client's address.
    pub ip: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
}

#[derive(SimpleObject)]
pub struct SecurityEventEdge {
    /// Points at this edge, for `after`.
    pub cursor: String,
    pub node: SecurityEvent,
}

/// A page of the viewer's security events (Relay cursor connection).
#[derive(SimpleObject)]
pub struct SecurityEventConnection {
    pub edges: Vec<SecurityEventEdge>,
    pub page_info: Plain<PageInfo>,
}

pub(super) fn cursor(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

pub(super) fn position(cursor: &str) -> Result<Uuid, AppError> {
    let invalid = || AppError::bad_input("after", "invalid cursor");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    Uuid::from_slice(&bytes).map_err(|_| invalid())
}

#[derive(Default)]
pub struct SecurityQuery;

#[Object]
impl SecurityQuery {
    /// What happened to the viewer's account, newest first: sign-ins and
    /// failed attempts, password and address changes, sessions ended.
    async fn security_events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<SecurityEventConnection> {
        let viewer = Viewer::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        events_of(accounts, viewer.user.id, first, after).await
    }
}

/// A page of `user`'s security events, newest first (Relay).
pub(super) async fn events_of(
    accounts: &Accounts,
    user: Uuid,
    first: Option<i32>,
    after: Option<String>,
) -> Result<SecurityEventConnection> {
    let size = match first {
        None => DEFAULT_PAGE,
        Some(first) => u64::try_from(first)
            .map_err(|_| AppError::bad_input("first", "first must not be negative"))?
            .min(MAX_PAGE),
    };
    let after_id = after.as_deref().map(position).transpose()?;
    let mut events = accounts.security_events(user, after_id, size + 1).await?;
    let has_next_page = events.len() as u64 > size;
    events.truncate(usize::try_from(size).unwrap_or(usize::MAX));
    let page_info = PageInfo {
        has_next_page,
        has_previous_page: after.is_some(),
        start: events.first().map(|event| Cursor::Text(cursor(event.id))),
        end: events.last().map(|event| Cursor::Text(cursor(event.id))),
    };
    let edges = events
        .into_iter()
        .map(|event| SecurityEventEdge {
            cursor: cursor(event.id),
            node: SecurityEvent {
                id: ID(event.id.to_string()),
                kind: event.kind.into(),
                at: DateTime(event.at),
                ip: event.ip,
                user_agent: event.user_agent,
            },
        })
        .collect();
    Ok(SecurityEventConnection {
        edges,
        page_info: Plain(page_info),
    })
}
