//! A second factor: TOTP (RFC 6238) with ten recovery codes. Setting it up
//! makes a secret, pending for 10 minutes until a code confirms it; from
//! then on a login with the right password earns an `mfaToken` instead of
//! tokens, which `completeLogin` exchanges with a code for a session, and
//! the changes that matter ask for a current code again. Secrets are sealed
//! with the data key; recovery codes and `mfaToken`s are kept as digests.

use std::time::{Duration, SystemTime};

use entity::{
    mfa_challenge::{self, Entity as MfaChallenges},
    recovery_code::{self, Entity as RecoveryCodes},
    totp_secret::{self, Entity as TotpSecrets},
    user::{self, Entity as Users},
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    TransactionTrait,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use uuid::Uuid;

use super::{
    Accounts, SignedIn,
    audit::{self, Client, SecurityEventKind},
    sessions::SecondFactor,
};
use crate::{
    auth::{
        counter::{self, Scope},
        random, totp,
    },
    db,
    error::{AppError, AppResult},
    mail::outbox::Kind,
    secret::Secret,
};

/// How long a setup waits for its first code.
const SETUP_TTL: Duration = Duration::from_secs(10 * 60);
/// How long the second step of a login may wait.
const CHALLENGE_TTL: Duration = Duration::from_secs(5 * 60);
/// Wrong codes an `mfaToken` survives.
const CHALLENGE_FAILURES: i32 = 5;
/// Recovery codes made at once.
const RECOVERY_CODES: usize = 10;

/// A setup in progress, for the person to put in an authenticator app.
pub struct TotpSetup {
    /// The secret in base32, to type in.
    pub secret: String,
    pub otpauth_uri: String,
    /// The URI as an SVG QR code.
    pub qr_code_svg: String,
}

/// What an account's second factor is.
pub struct TwoFactor {
    pub totp: bool,
    pub recovery_codes_left: u64,
}

/// How a second-factor code was accepted.
enum Accepted {
    Totp,
    RecoveryCode,
}

impl Accounts {
    /// The second factor of `user`.
    pub async fn two_factor(&self, user: Uuid) -> AppResult<TwoFactor> {
        let totp = self.has_totp(user).await?;
        let recovery_codes_left = RecoveryCodes::find()
            .filter(recovery_code::Column::UserId.eq(user))
            .filter(recovery_code::Column::UsedAt.is_null())
            .count(self.db())
            .await?;
        Ok(TwoFactor {
            totp,
            recovery_codes_left,
        })
    }

    /// Starts setting up TOTP with a new secret, pending for 10 minutes;
    /// `BAD_USER_INPUT` while TOTP is on.
    pub async fn start_totp_setup(&self, user: &user::Model) -> AppResult<TotpSetup> {
        if self.has_totp(user.id).await? {
            return Err(AppError::bad_request(
                "TOTP is on already; turn it off first to set up another",
            ));
        }
        let secret = totp::new_secret()?;
        TotpSecrets::insert(totp_secret::ActiveModel {
            user_id: Set(user.id),
            sealed: Set(self.inner.data_key.seal(user.id, &secret)?),
            confirmed_at: Set(None),
            pending_until: Set(db::now() + db::span(SETUP_TTL)?),
            last_step: Set(None),
        })
        .on_conflict(
            OnConflict::column(totp_secret::Column::UserId)
                .update_columns([
                    totp_secret::Column::Sealed,
                    totp_secret::Column::ConfirmedAt,
                    totp_secret::Column::PendingUntil,
                    totp_secret::Column::LastStep,
                ])
                .to_owned(),
        )
        .exec(self.db())
        .await?;
        let otpauth_uri = totp::otpauth_uri(&secret, &user.email);
        Ok(TotpSetup {
            secret: totp::encode_secret(&secret),
            qr_code_svg: totp::qr_code_svg(&otpauth_uri)?,
            otpauth_uri,
        })
    }

    /// Confirms a pending setup with a current code: TOTP is on, and the
    /// ten recovery codes are answered, this once.
    pub async fn confirm_totp_setup(
        &self,
        user: &user::Model,
        client: &Client,
        code: &str,
    ) -> AppResult<Vec<String>> {
        self.limit_client(client).await?;
        let pending = TotpSecrets::find_by_id(user.id)
            .filter(totp_secret::Column::ConfirmedAt.is_null())
            .filter(totp_secret::Column::PendingUntil.gt(db::now()))
            .one(self.db())
            .await?
            .ok_or_else(|| AppError::bad_input("code", "no TOTP setup is waiting; start one"))?;
        let secret = self.inner.data_key.open(user.id, &pending.sealed)?;
        let Some(step) = totp::matching_step(&secret, code, totp::step_at(SystemTime::now()))
        else {
            return Err(AppError::bad_input(
                "code",
                "this code is not the current one",
            ));
        };
        let txn = self.db().begin().await?;
        let confirmed = TotpSecrets::update_many()
            .col_expr(totp_secret::Column::ConfirmedAt, Expr::value(db::now()))
            .col_expr(
                totp_secret::Column::LastStep,
                Expr::value(step_number(step)),
            )
            .filter(totp_secret::Column::UserId.eq(user.id))
            .filter(totp_secret::Column::ConfirmedAt.is_null())
            .exec(&txn)
            .await?;
        if confirmed.rows_affected != 1 {
            txn.rollback().await?;
            return Err(AppError::bad_input(
                "code",
                "no TOTP setup is waiting; start one",
            ));
        }
        let codes = replace_recovery_codes(&txn, user.id).await?;
        audit::record(&txn, user.id, SecurityEventKind::TotpEnabled, client).await?;
        txn.commit().await?;
        Ok(codes)
    }

    /// Turns TOTP off, with the password (when the account has one) and a
    /// current code (a recovery code will do, for someone who lost the
    /// phone).
    pub async fn disable_totp(
        &self,
        user: &user::Model,
        client: &Client,
        password: Option<&str>,
        code: &str,
    ) -> AppResult<()> {
        self.limit_client(client).await?;
        if !self.has_totp(user.id).await? {
            return Err(AppError::bad_request("TOTP is not on"));
        }
        // With TOTP on, an account without a password needs no fresh
        // sign-in: the code is asked for.
        self.confirm(user, client, password, Some(code), None)
            .await?;
        let user = user.clone();
        let txn = self.db().begin().await?;
        TotpSecrets::delete_by_id(user.id).exec(&txn).await?;
        RecoveryCodes::delete_many()
            .filter(recovery_code::Column::UserId.eq(user.id))
            .exec(&txn)
            .await?;
        audit::record(&txn, user.id, SecurityEventKind::TotpDisabled, client).await?;
        self.inner
            .outbox
            .enqueue(&txn, Kind::TotpDisabled, &user.email, Some(user.id))
            .await?;
        txn.commit().await?;
        self.inner.outbox.wake();
        Ok(())
    }

    /// Ten new recovery codes for a current code; the old ones stop working.
    pub async fn regenerate_recovery_codes(
        &self,
        user: &user::Model,
        client: &Client,
        code: &str,
    ) -> AppResult<Vec<String>> {
        self.limit_client(client).await?;
        if !self.has_totp(user.id).await? {
            return Err(AppError::bad_request("TOTP is not on"));
        }
        self.second_factor(user, client, Some(code)).await?;
        let txn = self.db().begin().await?;
        let codes = replace_recovery_codes(&txn, user.id).await?;
        audit::record(
            &txn,
            user.id,
            SecurityEventKind::RecoveryCodesRegenerated,
            client,
        )
        .await?;
        txn.commit().await?;
        Ok(codes)
    }

    /// What a change that matters asks of an account with a second factor:
    /// a current code. Missing: `MFA_REQUIRED`; wrong: `INVALID_CREDENTIALS`.
    /// Nothing for an account without one.
    pub(super) async fn second_factor(
        &self,
        user: &user::Model,
        client: &Client,
        code: Option<&str>,
    ) -> AppResult<()> {
        let Some(secret) = self.confirmed_totp(self.db(), user.id).await? else {
            return Ok(());
        };
        let Some(code) = code.filter(|code| !code.trim().is_empty()) else {
            return Err(AppError::MfaRequired { mfa_token: None });
        };
        self.accept_code(user, secret.as_deref(), client, code)
            .await?
            .ok_or(AppError::InvalidCredentials)?;
        Ok(())
    }

    /// After a correct password: `MFA_REQUIRED` with an `mfaToken` when
    /// `user` has a second factor, else nothing.
    pub(super) async fn challenge(&self, user: &user::Model) -> AppResult<()> {
        if !self.has_totp(user.id).await? {
            return Ok(());
        }
        let token = random::token()?;
        MfaChallenges::insert(mfa_challenge::ActiveModel {
            token_hash: Set(random::digest(&token)),
            user_id: Set(user.id),
            failures: Set(0),
            expires_at: Set(db::now() + db::span(CHALLENGE_TTL)?),
        })
        .exec(self.db())
        .await?;
        Err(AppError::MfaRequired {
            mfa_token: Some(Secret::new(token)),
        })
    }

    /// The second step of a login: an `mfaToken` and a TOTP or recovery
    /// code for a session. Wrong codes count toward the account's lockout,
    /// and five of them end the `mfaToken`.
    #[tracing::instrument(skip_all)]
    pub async fn complete_login(
        &self,
        client: &Client,
        mfa_token: &str,
        code: &str,
    ) -> AppResult<SignedIn> {
        self.limit_client(client).await?;
        let digest = random::digest(mfa_token);
        let refused = || {
            AppError::bad_input(
                "mfaToken",
                "this mfaToken is invalid or expired; log in again",
            )
        };
        let live = Condition::all()
            .add(mfa_challenge::Column::TokenHash.eq(digest.clone()))
            .add(mfa_challenge::Column::ExpiresAt.gt(db::now()))
            .add(mfa_challenge::Column::Failures.lt(CHALLENGE_FAILURES));
        let Some((challenge, Some(user))) = MfaChallenges::find()
            .filter(live.clone())
            .find_also_related(Users)
            .one(self.db())
            .await?
        else {
            return Err(refused());
        };
        let limits = &self.inner.settings.limits;
        let attempts =
            counter::record(self.db(), Scope::Login, &user.email, limits.login_lockout).await?;
        if attempts > limits.login_max_failures.get() {
            tracing::warn!("login locked after repeated failures");
            return Err(AppError::RateLimited);
        }
        let secret = self
            .confirmed_totp(self.db(), user.id)
            .await?
            .ok_or_else(refused)?;
        if self
            .accept_code(&user, secret.as_deref(), client, code)
            .await?
            .is_none()
        {
            MfaChallenges::update_many()
                .col_expr(
                    mfa_challenge::Column::Failures,
                    Expr::col(mfa_challenge::Column::Failures).add(1),
                )
                .filter(mfa_challenge::Column::TokenHash.eq(challenge.token_hash))
                .exec(self.db())
                .await?;
            audit::record(self.db(), user.id, SecurityEventKind::LoginFailed, client).await?;
            return Err(AppError::InvalidCredentials);
        }
        // Single use: of two uses of one token, one deletes it.
        let taken = MfaChallenges::delete_many()
            .filter(live)
            .exec(self.db())
            .await?;
        if taken.rows_affected != 1 {
            return Err(refused());
        }
        counter::reset(self.db(), Scope::Login, &user.email).await?;
        self.start_session(user, client, SecondFactor::Passed).await
    }

    /// Whether TOTP is on for `user` (the secret is not opened).
    pub(super) async fn has_totp(&self, user: Uuid) -> AppResult<bool> {
        let confirmed = TotpSecrets::find_by_id(user)
            .filter(totp_secret::Column::ConfirmedAt.is_not_null())
            .count(self.db())
            .await?;
        Ok(confirmed > 0)
    }

    /// The secret of `user`'s confirmed TOTP, if TOTP is on.
    ///
    /// The inner `None`: TOTP is on, but its secret does not open with the
    /// data key (the key changed). TOTP codes then fail, and recovery codes
    /// still work, so the person can turn it off and set it up again.
    async fn confirmed_totp(
        &self,
        conn: &impl ConnectionTrait,
        user: Uuid,
    ) -> AppResult<Option<Option<Vec<u8>>>> {
        let Some(row) = TotpSecrets::find_by_id(user)
            .filter(totp_secret::Column::ConfirmedAt.is_not_null())
            .one(conn)
            .await?
        else {
            return Ok(None);
        };
        match self.inner.data_key.open(user, &row.sealed) {
            Ok(secret) => Ok(Some(Some(secret))),
            Err(_) => {
                tracing::warn!(%user, "a TOTP secret does not open with the data key");
                Ok(Some(None))
            }
        }
    }

    /// Takes `code` for `user`: a TOTP code of the current step ±1 not
    /// accepted before, or an unused recovery code (used up now, and the
    /// owner told). `None` when it is neither.
    async fn accept_code(
        &self,
        user: &user::Model,
        secret: Option<&[u8]>,
        client: &Client,
        code: &str,
    ) -> AppResult<Option<Accepted>> {
        let now = totp::step_at(SystemTime::now());
        let step = secret.and_then(|secret| totp::matching_step(secret, code, now));
        if let Some(step) = step {
            // Once per step: a code seen (here or on another instance) is spent.
            let fresh = Condition::any()
                .add(totp_secret::Column::LastStep.is_null())
                .add(totp_secret::Column::LastStep.lt(step_number(step)));
            let taken = TotpSecrets::update_many()
                .col_expr(
                    totp_secret::Column::LastStep,
                    Expr::value(step_number(step)),
                )
                .filter(totp_secret::Column::UserId.eq(user.id))
                .filter(fresh)
                .exec(self.db())
                .await?;
            return Ok((taken.rows_affected == 1).then_some(Accepted::Totp));
        }
        let digest = random::digest(&normalise_recovery_code(code));
        let txn = self.db().begin().await?;
        let used = RecoveryCodes::update_many()
            .col_expr(recovery_code::Column::UsedAt, Expr::value(db::now()))
            .filter(recovery_code::Column::UserId.eq(user.id))
            .filter(recovery_code::Column::CodeHash.eq(digest))
            .filter(recovery_code::Column::UsedAt.is_null())
            .exec(&txn)
            .await?;
        if used.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(None);
        }
        audit::record(&txn, user.id, SecurityEventKind::RecoveryCodeUsed, client).await?;
        self.inner
            .outbox
            .enqueue(&txn, Kind::RecoveryCodeUsed, &user.email, Some(user.id))
            .await?;
        txn.commit().await?;
        self.inner.outbox.wake();
        Ok(Some(Accepted::RecoveryCode))
    }
}

/// Deletes setups never confirmed and login steps past their time.
pub(super) async fn sweep(conn: &impl ConnectionTrait) -> AppResult<()> {
    let now = db::now();
    TotpSecrets::delete_many()
        .filter(totp_secret::Column::ConfirmedAt.is_null())
        .filter(totp_secret::Column::PendingUntil.lte(now))
        .exec(conn)
        .await?;
    MfaChallenges::delete_many()
        .filter(mfa_challenge::Column::ExpiresAt.lte(now))
        .exec(conn)
        .await?;
    Ok(())
}

/// A step as the database stores it.
fn step_number(step: u64) -> i64 {
    i64::try_from(step).unwrap_or(i64::MAX)
}

/// A recovery code as it is stored: lower case, without spaces or dashes.
fn normalise_recovery_code(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Ten new recovery codes for `user` in place of the old ones; returns them
/// as people type them (`xxxxx-xxxxx`, 50 random bits each).
async fn replace_recovery_codes(conn: &impl ConnectionTrait, user: Uuid) -> AppResult<Vec<String>> {
    RecoveryCodes::delete_many()
        .filter(recovery_code::Column::UserId.eq(user))
        .exec(conn)
        .await?;
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let bytes = random::bytes::<10>()?;
        let text = data_encoding::BASE32_NOPAD
            .encode(&bytes)
            .to_ascii_lowercase();
        let code = format!("{}-{}", &text[..5], &text[5..10]);
        RecoveryCodes::insert(recovery_code::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(user),
            code_hash: Set(random::digest(&normalise_recovery_code(&code))),
            used_at: Set(None),
        })
        .exec(conn)
        .await?;
        codes.push(code);
    }
    Ok(codes)
}
