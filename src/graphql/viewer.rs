//! Who is asking, as a request sees it: the bearer token and client address
//! a transport found, and the guard resolvers call.
//!
//! The bearer token is only checked when a field needs it, so a bad token
//! does not stand in the way of `signup` or `login`. Once checked, the result
//! is kept for the rest of the request: one user lookup however many guarded
//! fields the operation has.
//!
//! A read can instead check the account inside its own statement
//! ([`Viewer::read`]), which saves the lookup's round trip on the hottest
//! queries.

use async_graphql::Context;
use entity::user;
use tokio::sync::OnceCell;

use crate::{
    accounts::{Accounts, Client},
    auth::Claimed,
    error::{AppError, AppResult},
};

/// What the transport knows about the caller: the bearer token, if any.
#[derive(Default)]
pub struct Authorization {
    bearer: Option<String>,
    viewer: OnceCell<Viewer>,
}

impl Authorization {
    pub fn bearer(token: Option<String>) -> Self {
        Self {
            bearer: token,
            viewer: OnceCell::new(),
        }
    }

    /// Reads `Bearer <token>`, as in an `Authorization` header; any other
    /// scheme counts as none.
    pub fn from_header(value: Option<&str>) -> Self {
        let token = value
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim().to_owned());
        Self::bearer(token)
    }

    /// A caller already proven, as a WebSocket connection is once its
    /// `connection_init` passed.
    pub fn proven(viewer: Viewer) -> Self {
        Self {
            bearer: None,
            viewer: OnceCell::new_with(Some(viewer)),
        }
    }

    /// The bearer token's claims, verified.
    fn verify(&self, accounts: &Accounts) -> AppResult<Claimed> {
        let token = self.bearer.as_deref().ok_or(AppError::Unauthenticated)?;
        accounts.verify_token(token)
    }
}

/// Who made the request `ctx` belongs to, as far as its transport could
/// tell (nothing, over WebSocket).
pub fn client<'a>(ctx: &'a Context<'_>) -> &'a Client {
    static UNKNOWN: Client = Client {
        ip: None,
        user_agent: None,
    };
    ctx.data_opt::<Client>().unwrap_or(&UNKNOWN)
}

/// A user proven by a valid access token.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub user: user::Model,
    /// What the token claimed.
    pub claimed: Claimed,
}

impl Viewer {
    /// The guard: the viewer, or `UNAUTHENTICATED`.
    pub async fn require<'a>(ctx: &'a Context<'_>) -> AppResult<&'a Viewer> {
        let accounts = ctx.data_unchecked::<Accounts>();
        let auth = authorization(ctx)?;
        auth.viewer
            .get_or_try_init(|| async { Self::prove(accounts, auth.verify(accounts)?).await })
            .await
    }

    /// Runs `read` for the token's claims without looking the account up
    /// first: `read` must apply [`Claimed::live`] in its own statement. What
    /// it finds proves the account; when it finds nothing (`is_empty`), the
    /// full guard runs, which tells a user with nothing to show from one
    /// whose token no longer counts.
    pub async fn read<T>(
        ctx: &Context<'_>,
        read: impl AsyncFnOnce(Claimed) -> AppResult<T>,
        is_empty: impl FnOnce(&T) -> bool,
    ) -> AppResult<T> {
        let claimed = Self::claimed(ctx)?;
        let found = read(claimed).await?;
        if is_empty(&found) {
            Self::require(ctx).await?;
        }
        Ok(found)
    }

    /// The viewer a verified token speaks for, if it still does.
    pub async fn prove(accounts: &Accounts, claimed: Claimed) -> AppResult<Self> {
        let user = accounts.holder(claimed).await?;
        Ok(Self { user, claimed })
    }

    fn claimed(ctx: &Context<'_>) -> AppResult<Claimed> {
        let auth = authorization(ctx)?;
        if let Some(viewer) = auth.viewer.get() {
            return Ok(viewer.claimed);
        }
        auth.verify(ctx.data_unchecked::<Accounts>())
    }
}

/// Who a nested field answers for: the viewer its parent field proved
/// (the token's subject, checked once by the parent).
pub fn viewer_id(ctx: &Context<'_>) -> AppResult<uuid::Uuid> {
    Ok(Viewer::claimed(ctx)?.user_id)
}

fn authorization<'a>(ctx: &'a Context<'_>) -> AppResult<&'a Authorization> {
    ctx.data_opt::<Authorization>()
        .ok_or(AppError::Unauthenticated)
}
