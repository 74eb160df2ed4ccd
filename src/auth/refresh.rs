//! Refresh tokens: 256 random bits, handed out once, stored as a SHA-256
//! digest, exchanged exactly once. Every exchange stays in the family of the
//! login it descends from; presenting a token a second time means it leaked,
//! so the whole family is revoked.

use std::time::Duration;

use entity::refresh_token::{self, Column, Entity as RefreshTokens};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    TransactionTrait, sea_query::Expr,
};
use uuid::Uuid;

use super::random::{self, digest};
use crate::{db, error::AppResult};

/// What presenting a refresh token came to.
pub enum Rotation {
    /// Exchanged for `token`, in the same family (session).
    Rotated {
        user_id: Uuid,
        session: Uuid,
        token: String,
    },
    /// Presented again after it was exchanged: it leaked, and its whole
    /// family is revoked.
    Reused { user_id: Uuid, session: Uuid },
    /// Unknown or expired.
    Refused,
}

/// Stores a new refresh token for `user_id` in the family (the session)
/// `family_id` and returns its value.
pub async fn issue(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    family_id: Uuid,
    ttl: Duration,
) -> AppResult<String> {
    let token = random::token()?;
    let now = db::now();
    let ttl = db::span(ttl)?;
    RefreshTokens::insert(refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        family_id: Set(family_id),
        token_hash: Set(digest(&token)),
        expires_at: Set(now + ttl),
        created_at: Set(now),
        used_at: Set(None),
        revoked_at: Set(None),
    })
    .exec(db)
    .await?;
    Ok(token)
}

/// Exchanges `presented` for a new token of the same family.
pub async fn rotate(
    db: &DatabaseConnection,
    presented: &str,
    ttl: Duration,
) -> AppResult<Rotation> {
    let Some(stored) = find(db, presented).await? else {
        return Ok(Rotation::Refused);
    };
    let reused = Rotation::Reused {
        user_id: stored.user_id,
        session: stored.family_id,
    };
    if stored.used_at.is_some() {
        tracing::warn!(family = %stored.family_id, "refresh token reused: revoking its family");
        revoke_family(db, stored.family_id).await?;
        return Ok(reused);
    }
    // Revoked (logged out, session ended) but never exchanged: no leak.
    if stored.revoked_at.is_some() || stored.expires_at <= db::now() {
        return Ok(Rotation::Refused);
    }
    let txn = db.begin().await?;
    // Compare-and-set: of two concurrent exchanges of one token, one wins.
    let claimed = RefreshTokens::update_many()
        .col_expr(Column::UsedAt, Expr::value(db::now()))
        .filter(Column::Id.eq(stored.id))
        .filter(Column::UsedAt.is_null())
        .filter(Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected == 0 {
        txn.rollback().await?;
        revoke_family(db, stored.family_id).await?;
        return Ok(reused);
    }
    let token = issue(&txn, stored.user_id, stored.family_id, ttl).await?;
    txn.commit().await?;
    Ok(Rotation::Rotated {
        user_id: stored.user_id,
        session: stored.family_id,
        token,
    })
}

/// The session (family) `presented` belongs to, with its user, if known.
pub async fn session_of(
    db: &DatabaseConnection,
    presented: &str,
) -> AppResult<Option<(Uuid, Uuid)>> {
    Ok(find(db, presented)
        .await?
        .map(|stored| (stored.user_id, stored.family_id)))
}

/// Ends every session of a user, as after a password change.
pub async fn revoke_all(db: &impl ConnectionTrait, user_id: Uuid) -> AppResult<()> {
    revoke_where(db, Column::UserId.eq(user_id)).await
}

/// Ends one session's refresh tokens.
pub async fn revoke_family(db: &impl ConnectionTrait, family_id: Uuid) -> AppResult<()> {
    revoke_where(db, Column::FamilyId.eq(family_id)).await
}

/// Ends the refresh tokens of these sessions, in one statement.
pub async fn revoke_families(db: &impl ConnectionTrait, families: &[Uuid]) -> AppResult<()> {
    if families.is_empty() {
        return Ok(());
    }
    revoke_where(db, Column::FamilyId.is_in(families.iter().copied())).await
}

async fn revoke_where(
    db: &impl ConnectionTrait,
    which: sea_orm::sea_query::SimpleExpr,
) -> AppResult<()> {
    RefreshTokens::update_many()
        .col_expr(Column::RevokedAt, Expr::value(db::now()))
        .filter(which)
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

async fn find(db: &DatabaseConnection, presented: &str) -> AppResult<Option<refresh_token::Model>> {
    Ok(RefreshTokens::find()
        .filter(Column::TokenHash.eq(digest(presented)))
        .one(db)
        .await?)
}
