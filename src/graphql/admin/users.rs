//! Accounts as the admin schema shows them, and what an admin may do to
//! one. An account's sessions and counts are loaded for every account of a
//! page at once ([`AdminLoaders`]); its security events page by page.

use std::{collections::HashMap, sync::Arc};

use async_graphql::{Context, ID, Object, Result, SimpleObject, dataloader::Loader};
use entity::user;
use uuid::Uuid;

use super::Admin;
use crate::{
    accounts::{
        Accounts, ActiveSession,
        admin::{Holdings, Stats as Figures},
    },
    error::AppError,
    graphql::{
        loaders::{Shared, load_with},
        page_info::{Cursor, PageInfo},
        plain::Plain,
        scalars::DateTime,
        security::{self, SecurityEventConnection},
        sessions::Session,
    },
    lists,
};

/// Accounts in one page unless `first` says otherwise, and at most.
const DEFAULT_PAGE: u64 = 20;
const MAX_PAGE: u64 = 100;

/// The loaders of the admin schema.
pub struct AdminLoaders {
    sessions: SessionsOf,
    holdings: HoldingsOf,
}

impl AdminLoaders {
    pub fn new(accounts: &Accounts) -> Self {
        Self {
            sessions: SessionsOf(accounts.clone()),
            holdings: HoldingsOf(accounts.clone()),
        }
    }
}

struct SessionsOf(Accounts);

impl Loader<Uuid> for SessionsOf {
    type Value = Vec<ActiveSession>;
    type Error = Shared;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Shared> {
        self.0.sessions_of(keys, None).await.map_err(Arc::new)
    }
}

struct HoldingsOf(Accounts);

impl Loader<Uuid> for HoldingsOf {
    type Value = Holdings;
    type Error = Shared;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Holdings>, Shared> {
        self.0.holdings(keys).await.map_err(Arc::new)
    }
}

pub struct AdminUser(user::Model);

/// An account, as the people who run the service see it: who, since when,
/// in what state, signed in where, and how much it holds.
#[Object]
impl AdminUser {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn email(&self) -> &str {
        &self.0.email
    }

    async fn display_name(&self) -> String {
        lists::display_name(self.0.display_name.clone(), &self.0.email)
    }

    async fn email_verified(&self) -> bool {
        self.0.email_verified
    }

    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }

    /// Whether every way in is refused (`disableUser`).
    async fn disabled(&self) -> bool {
        self.0.disabled_at.is_some()
    }

    /// Why, as the admin who disabled it wrote.
    async fn disabled_reason(&self) -> Option<&str> {
        self.0.disabled_reason.as_deref()
    }

    /// When a session of it last started.
    async fn last_login_at(&self) -> Option<DateTime> {
        self.0.last_login_at.map(DateTime)
    }

    /// Its live sessions, newest first.
    async fn sessions(&self, ctx: &Context<'_>) -> Result<Vec<Session>> {
        let loaders = ctx.data_unchecked::<AdminLoaders>();
        let sessions = load_with(ctx, &loaders.sessions, self.0.id).await?;
        Ok(sessions
            .unwrap_or_default()
            .into_iter()
            .map(Session::from)
            .collect())
    }

    /// What happened to it, newest first.
    async fn security_events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<SecurityEventConnection> {
        let accounts = ctx.data_unchecked::<Accounts>();
        security::events_of(accounts, self.0.id, first, after).await
    }

    /// The lists it is a member of.
    async fn lists(&self, ctx: &Context<'_>) -> Result<i32> {
        Ok(count(self.holdings(ctx).await?.lists))
    }

    /// The tasks it created.
    async fn tasks(&self, ctx: &Context<'_>) -> Result<i32> {
        Ok(count(self.holdings(ctx).await?.tasks))
    }
}

impl AdminUser {
    async fn holdings(&self, ctx: &Context<'_>) -> Result<Holdings> {
        let loaders = ctx.data_unchecked::<AdminLoaders>();
        Ok(load_with(ctx, &loaders.holdings, self.0.id)
            .await?
            .unwrap_or_default())
    }
}

fn count(value: u64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

#[derive(SimpleObject)]
pub struct AdminUserEdge {
    /// Points at this edge, for `after`.
    pub cursor: String,
    pub node: AdminUser,
}

/// A page of accounts (Relay cursor connection), newest first.
#[derive(SimpleObject)]
pub struct AdminUserConnection {
    pub edges: Vec<AdminUserEdge>,
    pub page_info: Plain<PageInfo>,
}

/// The service in figures.
#[derive(SimpleObject)]
pub struct Stats {
    pub users: i32,
    /// Accounts whose address is verified.
    pub verified_users: i32,
    pub disabled_users: i32,
    pub lists: i32,
    pub tasks: i32,
    /// Accounts created in the last seven days.
    pub signups_last_7_days: i32,
}

impl From<Figures> for Stats {
    fn from(figures: Figures) -> Self {
        Self {
            users: count(figures.users),
            verified_users: count(figures.verified_users),
            disabled_users: count(figures.disabled_users),
            lists: count(figures.lists),
            tasks: count(figures.tasks),
            signups_last_7_days: count(figures.signups_last_7_days),
        }
    }
}

/// An account's id, or `NOT_FOUND` (as for an account that does not exist).
fn account_id(id: &ID) -> Result<Uuid, AppError> {
    Uuid::parse_str(id).map_err(|_| AppError::NotFound)
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// Accounts whose email or display name contains `search` (any case),
    /// newest first.
    async fn users(
        &self,
        ctx: &Context<'_>,
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<AdminUserConnection> {
        Admin::require(ctx).await?;
        let size = match first {
            None => DEFAULT_PAGE,
            Some(first) => u64::try_from(first)
                .map_err(|_| AppError::bad_input("first", "first must not be negative"))?
                .min(MAX_PAGE),
        };
        let after_id = after.as_deref().map(security::position).transpose()?;
        let accounts = ctx.data_unchecked::<Accounts>();
        let mut users = accounts
            .find_users(search.as_deref(), after_id, size + 1)
            .await?;
        let has_next_page = users.len() as u64 > size;
        users.truncate(usize::try_from(size).unwrap_or(usize::MAX));
        let page_info = PageInfo {
            has_next_page,
            has_previous_page: after.is_some(),
            start: users
                .first()
                .map(|user| Cursor::Text(security::cursor(user.id))),
            end: users
                .last()
                .map(|user| Cursor::Text(security::cursor(user.id))),
        };
        let edges = users
            .into_iter()
            .map(|user| AdminUserEdge {
                cursor: security::cursor(user.id),
                node: AdminUser(user),
            })
            .collect();
        Ok(AdminUserConnection {
            edges,
            page_info: Plain(page_info),
        })
    }

    /// The account `id`, if there is one.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> Result<Option<AdminUser>> {
        Admin::require(ctx).await?;
        let Ok(id) = Uuid::parse_str(&id) else {
            return Ok(None);
        };
        let accounts = ctx.data_unchecked::<Accounts>();
        Ok(accounts.find_user(id).await?.map(AdminUser))
    }

    /// The service in figures.
    async fn stats(&self, ctx: &Context<'_>) -> Result<Stats> {
        Admin::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        Ok(accounts.stats().await?.into())
    }

    /// The admin making the request.
    async fn me(&self, ctx: &Context<'_>) -> Result<AdminUser> {
        let admin = Admin::require(ctx).await?;
        Ok(AdminUser(admin.viewer.user.clone()))
    }
}

#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Disables the account: every way in is refused with
    /// `ACCOUNT_DISABLED` (once the credentials check out), its sessions
    /// end and its subscriptions close on every instance. Its lists stay
    /// with their members. `reason` (1 to 500 characters) is kept and
    /// written to the audit log.
    async fn disable_user(&self, ctx: &Context<'_>, id: ID, reason: String) -> Result<AdminUser> {
        let admin = Admin::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        let user = accounts
            .disable_user(&admin.operator(ctx), account_id(&id)?, &reason)
            .await?;
        Ok(AdminUser(user))
    }

    /// Lets a disabled account in again.
    async fn enable_user(&self, ctx: &Context<'_>, id: ID) -> Result<AdminUser> {
        let admin = Admin::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        let user = accounts
            .enable_user(&admin.operator(ctx), account_id(&id)?)
            .await?;
        Ok(AdminUser(user))
    }

    /// Ends every session of the account; answers how many there were.
    async fn revoke_user_sessions(&self, ctx: &Context<'_>, id: ID) -> Result<i32> {
        let admin = Admin::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        let ended = accounts
            .revoke_user_sessions(&admin.operator(ctx), account_id(&id)?)
            .await?;
        Ok(i32::try_from(ended).unwrap_or(i32::MAX))
    }

    /// Mails the account a password reset, as if its owner had asked.
    async fn send_password_reset(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let admin = Admin::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .send_password_reset(&admin.operator(ctx), account_id(&id)?)
            .await?;
        Ok(true)
    }

    /// Deletes the account as `deleteAccount` does: its shared lists are
    /// handed on, those it alone was in deleted. Answers its id.
    async fn delete_user(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let admin = Admin::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .delete_user(&admin.operator(ctx), account_id(&id)?)
            .await?;
        Ok(id)
    }
}
