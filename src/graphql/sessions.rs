//! Sessions in GraphQL: where the viewer is signed in, and ending them.

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use uuid::Uuid;

use super::{
    scalars::DateTime,
    viewer::{Viewer, client},
};
use crate::{
    accounts::{Accounts, ActiveSession},
    error::AppError,
};

/// Where the viewer is signed in: what one login started.
#[derive(SimpleObject)]
pub struct Session {
    pub id: ID,
    pub created_at: DateTime,
    /// The last time its refresh token was exchanged (or the login).
    pub last_used_at: DateTime,
    /// The client's `User-Agent` at login.
    pub user_agent: Option<String>,
    /// The client's address at login.
    pub ip: Option<String>,
    /// Whether the access token of this request belongs to it.
    pub current: bool,
}

impl From<ActiveSession> for Session {
    fn from(session: ActiveSession) -> Self {
        Self {
            id: ID(session.id.to_string()),
            created_at: DateTime(session.created_at),
            last_used_at: DateTime(session.last_used_at),
            user_agent: session.user_agent,
            ip: session.ip,
            current: session.current,
        }
    }
}

#[derive(Default)]
pub struct SessionQuery;

#[Object]
impl SessionQuery {
    /// The viewer's live sessions, newest first.
    async fn sessions(&self, ctx: &Context<'_>) -> Result<Vec<Session>> {
        let viewer = Viewer::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        let sessions = accounts
            .sessions(viewer.user.id, viewer.claimed.session)
            .await?;
        Ok(sessions.into_iter().map(Session::from).collect())
    }
}

#[derive(Default)]
pub struct SessionMutation;

#[Object]
impl SessionMutation {
    /// Ends one of the viewer's sessions at once: its refresh token stops
    /// working, its access tokens are refused from their next request and
    /// its subscriptions close.
    async fn revoke_session(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let viewer = Viewer::require(ctx).await?;
        let id = Uuid::parse_str(&id)
            .map_err(|_| AppError::bad_input("id", "not a valid session id"))?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .revoke_session(viewer.user.id, client(ctx), id)
            .await?;
        Ok(true)
    }

    /// Ends every session of the viewer but the current one; answers how
    /// many ended.
    async fn revoke_other_sessions(&self, ctx: &Context<'_>) -> Result<i32> {
        let viewer = Viewer::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        let ended = accounts
            .revoke_other_sessions(viewer.user.id, client(ctx), viewer.claimed.session)
            .await?;
        Ok(i32::try_from(ended).unwrap_or(i32::MAX))
    }
}
