//! Passkeys (WebAuthn, SPEC §5.4) with webauthn-rs: a signed-in person
//! registers, names, lists and removes them; anyone signs in with one
//! alone, by email or with a discoverable credential. User verification is
//! required, so a passkey sign-in counts as both factors.
//!
//! Each ceremony's state lives in the database for five minutes and is
//! taken once (deleted as it is read), so any instance finishes what
//! another started and no challenge is answered twice. The account's id is
//! the WebAuthn user handle. A sign-in by an email without passkeys (or
//! without an account) gets options of the same shape, with a credential id
//! derived from the email under the data key: the same every time, and
//! finishing it is refused like any credential of another account.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use entity::{
    passkey::{self, Column, Entity as Passkeys},
    passkey_challenge::{self, Entity as PasskeyChallenges},
    user::{self, Entity as Users},
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, SqlErr,
    TransactionTrait, sea_query::Expr,
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, WebauthnError,
};

use super::{
    Accounts, SignedIn,
    audit::{self, Client, SecurityEventKind},
    sessions::SecondFactor,
};
use crate::{
    auth::Email,
    db::{self, StoredByName},
    error::{AppError, AppResult},
};

/// How long a ceremony may take.
const CHALLENGE_TTL: Duration = Duration::from_secs(5 * 60);
/// The longest name of a passkey, in characters.
const NAME_MAX_CHARS: usize = 64;

/// A ceremony started: its id, and the options for
/// `navigator.credentials.create` or `.get` in the browser API's JSON form.
pub struct PasskeyChallenge {
    pub id: Uuid,
    pub options: Value,
}

/// What a stored ceremony is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    Registration,
    /// A sign-in without an email: any account's discoverable credential.
    Login,
    /// A sign-in by email: only the account the row names (none when the
    /// email has no passkeys) may finish it.
    LoginByEmail,
}

impl StoredByName for Purpose {
    const NAMES: &'static [(Self, &'static str)] = &[
        (Self::Registration, "registration"),
        (Self::Login, "login"),
        (Self::LoginByEmail, "login_by_email"),
    ];
}

/// A ceremony taken from the database.
struct Taken<S> {
    purpose: Purpose,
    user: Option<Uuid>,
    state: S,
}

/// Why webauthn-rs refused a ceremony, as a person can act on it.
fn refused(error: &WebauthnError) -> AppError {
    AppError::PasskeyRefused(match error {
        WebauthnError::InvalidRPOrigin | WebauthnError::CredentialCrossOrigin => {
            "it was made on a page whose origin this server does not allow"
        }
        WebauthnError::InvalidRPIDHash => "it is bound to another relying party id",
        WebauthnError::MismatchedChallenge => "it answers another challenge",
        WebauthnError::CredentialPossibleCompromise => {
            "its signature counter went backwards: the authenticator may have been cloned"
        }
        WebauthnError::UserNotVerified | WebauthnError::UserNotPresent => {
            "the authenticator did not verify its user"
        }
        WebauthnError::CredentialExcludedFromRequest => "it is registered already",
        _ => "it does not verify",
    })
}

fn parse_credential<T: DeserializeOwned>(credential: Value) -> AppResult<T> {
    serde_json::from_value(credential).map_err(|_| {
        AppError::bad_input(
            "credential",
            "not a WebAuthn credential in its JSON form (PublicKeyCredential.toJSON())",
        )
    })
}

fn stored_passkey(row: &passkey::Model) -> AppResult<Passkey> {
    serde_json::from_str(&row.credential).map_err(AppError::internal)
}

/// A passkey's name: trimmed, 1 to 64 characters.
fn passkey_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX_CHARS {
        return Err(AppError::bad_input(
            "name",
            format!("a passkey's name has 1 to {NAME_MAX_CHARS} characters"),
        ));
    }
    Ok(name.to_owned())
}

impl Accounts {
    fn relying_party(&self) -> &webauthn_rs::Webauthn {
        &self.inner.settings.passkeys.relying_party
    }

    /// The passkeys of `user`, oldest first.
    pub async fn passkeys(&self, user: Uuid) -> AppResult<Vec<passkey::Model>> {
        Ok(Passkeys::find()
            .filter(Column::UserId.eq(user))
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id)
            .all(self.db())
            .await?)
    }

    /// Starts registering a passkey for `user`; those it has already are
    /// excluded, so one authenticator is not registered twice.
    #[tracing::instrument(skip_all, fields(user = %user.id))]
    pub async fn start_passkey_registration(
        &self,
        user: &user::Model,
    ) -> AppResult<PasskeyChallenge> {
        let existing = self
            .passkeys(user.id)
            .await?
            .iter()
            .map(|row| stored_passkey(row).map(|passkey| passkey.cred_id().clone()))
            .collect::<AppResult<Vec<_>>>()?;
        let (options, state) = self
            .relying_party()
            .start_passkey_registration(user.id, &user.email, &user.email, Some(existing))
            .map_err(AppError::internal)?;
        let mut options = serde_json::to_value(options.public_key).map_err(AppError::internal)?;
        // A discoverable credential where the authenticator can keep one,
        // so that signing in needs no email.
        options["authenticatorSelection"]["residentKey"] = json!("preferred");
        options["authenticatorSelection"]["requireResidentKey"] = json!(false);
        self.keep(Purpose::Registration, Some(user.id), &state, options)
            .await
    }

    /// Finishes a registration `user` started, naming the passkey.
    #[tracing::instrument(skip_all, fields(user = %user.id))]
    pub async fn finish_passkey_registration(
        &self,
        user: &user::Model,
        client: &Client,
        challenge: &str,
        credential: Value,
        name: &str,
    ) -> AppResult<passkey::Model> {
        let name = passkey_name(name)?;
        let credential: RegisterPublicKeyCredential = parse_credential(credential)?;
        let taken: Taken<PasskeyRegistration> = self.take(challenge).await?;
        if taken.purpose != Purpose::Registration || taken.user != Some(user.id) {
            return Err(AppError::PasskeyRefused(
                "it answers a challenge of another ceremony",
            ));
        }
        let passkey = self
            .relying_party()
            .finish_passkey_registration(&credential, &taken.state)
            .map_err(|error| refused(&error))?;
        let row = passkey::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(user.id),
            credential_id: Set(URL_SAFE_NO_PAD.encode(passkey.cred_id())),
            name: Set(name),
            credential: Set(serde_json::to_string(&passkey).map_err(AppError::internal)?),
            created_at: Set(db::now()),
            last_used_at: Set(None),
        };
        let txn = self.db().begin().await?;
        let row = Passkeys::insert(row)
            .exec_with_returning(&txn)
            .await
            .map_err(|error| match error.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => {
                    AppError::PasskeyRefused("it is registered already")
                }
                _ => error.into(),
            })?;
        audit::record(&txn, user.id, SecurityEventKind::PasskeyAdded, client).await?;
        txn.commit().await?;
        tracing::info!(passkey = %row.id, "passkey added");
        Ok(row)
    }

    /// Removes a passkey of `user`; with TOTP on, a current code is asked
    /// for as for any change that matters.
    #[tracing::instrument(skip_all, fields(user = %user.id))]
    pub async fn remove_passkey(
        &self,
        user: &user::Model,
        client: &Client,
        id: Uuid,
        code: Option<&str>,
    ) -> AppResult<()> {
        self.second_factor(user, client, code).await?;
        let txn = self.db().begin().await?;
        let removed = Passkeys::delete_many()
            .filter(Column::Id.eq(id))
            .filter(Column::UserId.eq(user.id))
            .exec(&txn)
            .await?;
        if removed.rows_affected == 0 {
            return Err(AppError::NotFound);
        }
        audit::record(&txn, user.id, SecurityEventKind::PasskeyRemoved, client).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Starts a sign-in with a passkey: of the account of `email`, or, with
    /// no email, whichever account the authenticator's discoverable
    /// credential belongs to.
    #[tracing::instrument(skip_all)]
    pub async fn start_passkey_login(
        &self,
        client: &Client,
        email: Option<&str>,
    ) -> AppResult<PasskeyChallenge> {
        self.limit_client(client).await?;
        let email = email.map(Email::parse).transpose()?;
        let (options, state) = self
            .relying_party()
            .start_discoverable_authentication()
            .map_err(AppError::internal)?;
        let mut options = serde_json::to_value(options.public_key).map_err(AppError::internal)?;
        let Some(email) = email else {
            return self.keep(Purpose::Login, None, &state, options).await;
        };
        // The same statements and work whether the email has passkeys,
        // an account without any, or no account.
        let user = self.find_by_email(&email).await?.map(|user| user.id);
        let rows = self.passkeys(user.unwrap_or_else(Uuid::nil)).await?;
        let stand_in = self
            .inner
            .data_key
            .tag(b"passkey sign-in", email.as_str().as_bytes());
        let expected = user.filter(|_| !rows.is_empty());
        let mut allowed: Vec<Value> = rows
            .into_iter()
            .map(|row| json!({ "type": "public-key", "id": row.credential_id }))
            .collect();
        if allowed.is_empty() {
            allowed.push(json!({ "type": "public-key", "id": URL_SAFE_NO_PAD.encode(stand_in) }));
        }
        options["allowCredentials"] = Value::Array(allowed);
        self.keep(Purpose::LoginByEmail, expected, &state, options)
            .await
    }

    /// Finishes a passkey sign-in: a session, as a login with a password and
    /// a second factor would start.
    #[tracing::instrument(skip_all)]
    pub async fn finish_passkey_login(
        &self,
        client: &Client,
        challenge: &str,
        credential: Value,
    ) -> AppResult<SignedIn> {
        self.limit_client(client).await?;
        let credential: PublicKeyCredential = parse_credential(credential)?;
        let taken: Taken<DiscoverableAuthentication> = self.take(challenge).await?;
        if taken.purpose == Purpose::Registration {
            return Err(AppError::PasskeyRefused(
                "it answers a challenge of another ceremony",
            ));
        }
        let relying_party = self.relying_party();
        let (handle, credential_id) = relying_party
            .identify_discoverable_authentication(&credential)
            .map_err(|error| refused(&error))?;
        let row = Passkeys::find()
            .filter(Column::CredentialId.eq(URL_SAFE_NO_PAD.encode(credential_id)))
            .one(self.db())
            .await?
            .ok_or(AppError::PasskeyRefused("it is not registered here"))?;
        let expected = match taken.purpose {
            Purpose::LoginByEmail => taken.user,
            _ => Some(row.user_id),
        };
        if handle != row.user_id || expected != Some(row.user_id) {
            return Err(AppError::PasskeyRefused("it belongs to another account"));
        }
        let mut passkey = stored_passkey(&row)?;
        let result = relying_party
            .finish_discoverable_authentication_v2(&credential, taken.state, &passkey)
            .map_err(|error| refused(&error))?;
        passkey.update_credential(&result);
        Passkeys::update_many()
            .col_expr(
                Column::Credential,
                Expr::value(serde_json::to_string(&passkey).map_err(AppError::internal)?),
            )
            .col_expr(Column::LastUsedAt, Expr::value(db::now()))
            .filter(Column::Id.eq(row.id))
            .exec(self.db())
            .await?;
        let user = Users::find_by_id(row.user_id)
            .one(self.db())
            .await?
            .ok_or(AppError::PasskeyRefused("it belongs to no account"))?;
        tracing::info!(user = %user.id, passkey = %row.id, "signed in with a passkey");
        self.start_session(user, client, SecondFactor::Passed).await
    }

    /// Keeps a ceremony's state for [`CHALLENGE_TTL`]; answers its id and
    /// the options to hand to the browser.
    async fn keep(
        &self,
        purpose: Purpose,
        user: Option<Uuid>,
        state: &impl Serialize,
        options: Value,
    ) -> AppResult<PasskeyChallenge> {
        let id = Uuid::now_v7();
        PasskeyChallenges::insert(passkey_challenge::ActiveModel {
            id: Set(id),
            purpose: Set(purpose.stored_name().to_owned()),
            user_id: Set(user),
            state: Set(serde_json::to_string(state).map_err(AppError::internal)?),
            expires_at: Set(db::now() + db::span(CHALLENGE_TTL)?),
        })
        .exec(self.db())
        .await?;
        Ok(PasskeyChallenge { id, options })
    }

    /// Takes the ceremony `id` out of the database: it answers once.
    async fn take<S: DeserializeOwned>(&self, id: &str) -> AppResult<Taken<S>> {
        let id =
            Uuid::parse_str(id).map_err(|_| AppError::bad_input("challengeId", "not an id"))?;
        let taken = PasskeyChallenges::delete_many()
            .filter(passkey_challenge::Column::Id.eq(id))
            .exec_with_returning(self.db())
            .await?;
        let Some(row) = taken
            .into_iter()
            .next()
            .filter(|row| row.expires_at > db::now())
        else {
            return Err(AppError::PasskeyRefused(
                "its challenge was used already or has expired",
            ));
        };
        let purpose = Purpose::from_stored_name(&row.purpose)
            .ok_or_else(|| AppError::internal("a passkey challenge of no known purpose"))?;
        Ok(Taken {
            purpose,
            user: row.user_id,
            state: serde_json::from_str(&row.state).map_err(AppError::internal)?,
        })
    }
}

/// Deletes ceremonies past their time.
pub(super) async fn sweep(conn: &impl ConnectionTrait) -> AppResult<()> {
    PasskeyChallenges::delete_many()
        .filter(passkey_challenge::Column::ExpiresAt.lte(db::now()))
        .exec(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Purpose;

    #[test]
    fn every_purpose_is_stored_under_a_name_of_its_own() {
        // A new purpose goes in both: the match fails to compile without it.
        let every = [Purpose::Registration, Purpose::Login, Purpose::LoginByEmail];
        crate::db::assert_stored_names(&every, |purpose| match purpose {
            Purpose::Registration => "registration",
            Purpose::Login => "login",
            Purpose::LoginByEmail => "login_by_email",
        });
    }
}
