//! Account operations: signup, login, sessions, password change and account
//! deletion. The GraphQL layer only translates to and from these.

use entity::user::{self, Column, Entity as Users};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    SqlErr, TransactionTrait,
};
use uuid::Uuid;

use crate::{
    auth::{Email, Password, Verification, refresh, throttle, token::AccessToken},
    db,
    error::{AppError, AppResult},
    server::AppState,
};

/// A logged-in session: an access token, the refresh token that renews it,
/// and whose they are.
pub struct Session {
    pub access: AccessToken,
    pub refresh_token: String,
    pub user: user::Model,
}

#[tracing::instrument(skip_all)]
pub async fn signup(state: &AppState, email: &str, password: &str) -> AppResult<user::Model> {
    let email = Email::parse(email)?;
    let password = Password::parse_new(password, "password", state.config.password_min_length)?;
    // Saves an Argon2 computation in the common case; the unique index below
    // is what decides between concurrent signups.
    if find_by_email(state, &email).await?.is_some() {
        return Err(AppError::EmailTaken);
    }
    let password_hash = state.hasher.hash(&password).await?;
    let now = db::now();
    let user = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email.as_str().to_owned()),
        password_hash: Set(password_hash),
        password_version: Set(0),
        password_changed_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let user = user
        .insert(&state.db)
        .await
        .map_err(|error| match error.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => AppError::EmailTaken,
            _ => error.into(),
        })?;
    tracing::info!(user = %user.id, "account created");
    Ok(user)
}

#[tracing::instrument(skip_all)]
pub async fn login(state: &AppState, email: &str, password: &str) -> AppResult<Session> {
    let email = Email::parse(email)?;
    let password = Password::parse_given(password, "password")?;
    let config = &state.config;
    throttle::admit_login(
        &state.db,
        &email,
        config.login_max_failures,
        config.login_lockout,
    )
    .await?;
    let Some(user) = find_by_email(state, &email).await? else {
        state.hasher.verify_dummy(&password).await?;
        return Err(AppError::InvalidCredentials);
    };
    let user = check_password(state, user, &password).await?;
    throttle::clear_login_failures(&state.db, &email).await?;
    start_session(state, user).await
}

#[tracing::instrument(skip_all)]
pub async fn refresh(state: &AppState, presented: &str) -> AppResult<Session> {
    let (user_id, refresh_token) =
        refresh::rotate(&state.db, presented, state.config.refresh_token_ttl).await?;
    let user = Users::find_by_id(user_id)
        .one(&state.db)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let access = state.tokens.issue(user.id, user.password_version)?;
    Ok(Session {
        access,
        refresh_token,
        user,
    })
}

pub async fn logout(state: &AppState, presented: &str) -> AppResult<()> {
    refresh::revoke_session(&state.db, presented).await
}

#[tracing::instrument(skip_all, fields(user = %user.id))]
pub async fn change_password(
    state: &AppState,
    user: &user::Model,
    current: &str,
    new: &str,
) -> AppResult<()> {
    let current = Password::parse_given(current, "currentPassword")?;
    let new = Password::parse_new(new, "newPassword", state.config.password_min_length)?;
    let user = check_password(state, user.clone(), &current).await?;
    let password_hash = state.hasher.hash(&new).await?;
    let txn = state.db.begin().await?;
    let now = db::now();
    let version = user.password_version.wrapping_add(1);
    let mut user = user.into_active_model();
    user.password_hash = Set(password_hash);
    user.password_version = Set(version);
    user.password_changed_at = Set(now);
    user.updated_at = Set(now);
    let user = user.update(&txn).await?;
    refresh::revoke_all(&txn, user.id).await?;
    txn.commit().await?;
    tracing::info!("password changed; all sessions ended");
    Ok(())
}

#[tracing::instrument(skip_all, fields(user = %user.id))]
pub async fn delete_account(state: &AppState, user: &user::Model, password: &str) -> AppResult<()> {
    let password = Password::parse_given(password, "password")?;
    let user = check_password(state, user.clone(), &password).await?;
    // Tasks and refresh tokens go with the user (foreign keys cascade).
    Users::delete_by_id(user.id).exec(&state.db).await?;
    tracing::info!("account deleted");
    Ok(())
}

/// `user` when `password` is theirs, re-hashed first if the stored hash uses
/// costs other than the configured ones.
async fn check_password(
    state: &AppState,
    user: user::Model,
    password: &Password,
) -> AppResult<user::Model> {
    match state.hasher.verify(password, &user.password_hash).await? {
        Verification::Invalid => Err(AppError::InvalidCredentials),
        Verification::Valid {
            needs_rehash: false,
        } => Ok(user),
        Verification::Valid { needs_rehash: true } => {
            let password_hash = state.hasher.hash(password).await?;
            let mut active = user.into_active_model();
            active.password_hash = Set(password_hash);
            let user = active.update(&state.db).await?;
            tracing::info!(user = %user.id, "password re-hashed with the configured costs");
            Ok(user)
        }
    }
}

async fn start_session(state: &AppState, user: user::Model) -> AppResult<Session> {
    let access = state.tokens.issue(user.id, user.password_version)?;
    let refresh_token =
        refresh::issue(&state.db, user.id, None, state.config.refresh_token_ttl).await?;
    Ok(Session {
        access,
        refresh_token,
        user,
    })
}

async fn find_by_email(state: &AppState, email: &Email) -> AppResult<Option<user::Model>> {
    Ok(Users::find()
        .filter(Column::Email.eq(email.as_str()))
        .one(&state.db)
        .await?)
}
