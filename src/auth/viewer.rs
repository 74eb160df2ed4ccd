//! The authenticated viewer of a request, and the guard resolvers call.
//!
//! The bearer token is only checked when a field needs it, so a bad token
//! does not stand in the way of `signup` or `login`. Once checked, the result
//! is kept for the rest of the request: one user lookup however many guarded
//! fields the operation has.
//!
//! A read can instead check the account inside its own statement
//! ([`Viewer::claimed`] and [`Claimed::live`]), which saves the lookup's
//! round trip on the hottest queries.

use async_graphql::Context;
use entity::user::{self, Entity as Users};
use sea_orm::{
    ColumnTrait, EntityTrait,
    sea_query::{Expr, Query},
};
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::{
    error::{AppError, AppResult},
    server::AppState,
};

/// What the HTTP layer knows about the caller: the bearer token, if any.
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

    /// Reads `Authorization: Bearer <token>`; any other scheme counts as none.
    pub fn from_header(value: Option<&str>) -> Self {
        let token = value
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim().to_owned());
        Self::bearer(token)
    }
}

/// A user proven by a valid access token.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub user: user::Model,
}

/// What a verified access token claims, before the account is looked up.
#[derive(Clone, Copy, Debug)]
pub struct Claimed {
    pub user_id: Uuid,
    password_version: i32,
}

impl Claimed {
    /// True, in SQL, while the account exists and its password has not
    /// changed since the token was issued: the guard's own test, for a query
    /// to apply in the same statement as its read.
    pub fn live(self) -> Expr {
        Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(Users)
                .and_where(user::Column::Id.eq(self.user_id))
                .and_where(user::Column::PasswordVersion.eq(self.password_version))
                .to_owned(),
        )
    }
}

impl Viewer {
    /// The token's claims, verified, or `UNAUTHENTICATED`. The account is not
    /// looked up: a caller must read with [`Claimed::live`], and answer an
    /// empty read with [`Viewer::require`], which tells a user with nothing
    /// to show from one whose token no longer counts.
    pub fn claimed(ctx: &Context<'_>) -> AppResult<Claimed> {
        let auth = authorization(ctx)?;
        if let Some(viewer) = auth.viewer.get() {
            return Ok(Claimed {
                user_id: viewer.user.id,
                password_version: viewer.user.password_version,
            });
        }
        auth.verify(ctx.data_unchecked::<AppState>())
    }

    /// The guard: the viewer, or `UNAUTHENTICATED`.
    pub async fn require<'a>(ctx: &'a Context<'_>) -> AppResult<&'a Viewer> {
        let state = ctx.data_unchecked::<AppState>();
        let auth = authorization(ctx)?;
        auth.viewer
            .get_or_try_init(|| async { Self::look_up(state, auth.verify(state)?).await })
            .await
    }

    async fn look_up(state: &AppState, claimed: Claimed) -> AppResult<Self> {
        let user = Users::find_by_id(claimed.user_id)
            .one(&state.db)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if user.password_version != claimed.password_version {
            return Err(AppError::Unauthenticated);
        }
        Ok(Self { user })
    }
}

impl Authorization {
    /// The bearer token's claims, verified.
    fn verify(&self, state: &AppState) -> AppResult<Claimed> {
        let token = self.bearer.as_deref().ok_or(AppError::Unauthenticated)?;
        let claims = state.tokens.verify(token)?;
        Ok(Claimed {
            user_id: claims.sub,
            password_version: claims.pwv,
        })
    }
}

fn authorization<'a>(ctx: &'a Context<'_>) -> AppResult<&'a Authorization> {
    ctx.data_opt::<Authorization>()
        .ok_or(AppError::Unauthenticated)
}
