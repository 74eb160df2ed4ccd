//! Sign-in with identity providers (OpenID Connect), over
//! [`auth::oidc`](crate::auth::oidc): a sign-in started and finished on any
//! instance (its PKCE verifier and nonce kept sealed under the digest of its
//! `state`, single use, ten minutes), the identities linked to an account,
//! and the rules that keep an account from being taken over through them.
//!
//! An identity is its issuer and `sub`, never its email. A first sign-in
//! with an identity makes an account only for an email the provider vouches
//! for in the same ID token (`email_verified`) and that no account has;
//! linking to an existing account happens only while signed in to it, after
//! its password (and code). The last way in cannot be unlinked.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use entity::{
    external_login::{self, Entity as ExternalLogins},
    identity::{self, Entity as Identities},
    passkey::{self, Entity as Passkeys},
    session::Entity as Sessions,
    user::{self, Entity as Users},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, SqlErr, TransactionTrait, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use uuid::Uuid;

use super::{
    Accounts, SignedIn,
    audit::{self, Client, SecurityEventKind},
    sessions::SecondFactor,
};
use crate::{
    auth::{
        Email,
        oidc::{Answer, Vouched},
        random,
    },
    db,
    error::{AppError, AppResult},
    mail::outbox::Kind,
};

/// How long a sign-in with a provider may take, from start to finish.
const FLOW_TTL: Duration = Duration::from_secs(10 * 60);
/// How recent the sign-in of a session must be for an account without a
/// password or second factor to be deleted.
pub const FRESH_SIGN_IN: Duration = Duration::from_secs(10 * 60);

/// A sign-in (or a link) started: where the app sends the browser, and the
/// `state` the answer will carry.
pub struct ExternalSignIn {
    pub authorization_url: String,
    pub state: String,
}

/// What the answer to a sign-in brought to the app's page.
pub struct ProviderAnswer<'a> {
    pub state: &'a str,
    pub code: &'a str,
    pub iss: Option<&'a str>,
}

/// What a change that matters is asked with: the password, a second-factor
/// code, and the session asking (see `Accounts::confirm`).
#[derive(Clone, Copy, Default)]
pub struct Proof<'a> {
    pub password: Option<&'a str>,
    pub code: Option<&'a str>,
    pub session: Option<Uuid>,
}

/// What a sign-in keeps, sealed, until its answer.
#[derive(Serialize, Deserialize)]
struct Kept {
    verifier: String,
    nonce: String,
}

/// Whether the account has a password: one made by a provider's sign-in has
/// none until a reset sets one.
pub fn has_password(user: &user::Model) -> bool {
    !user.password_hash.is_empty()
}

impl Accounts {
    /// The configured providers: id and display name.
    pub fn identity_providers(&self) -> Vec<(String, String)> {
        self.inner
            .providers
            .list()
            .map(|(id, name)| (id.to_owned(), name.to_owned()))
            .collect()
    }

    /// Reads the discovery of every provider that has none yet.
    pub async fn discover_providers(&self) {
        self.inner.providers.discover_missing().await;
    }

    /// Starts a sign-in with `provider` that answers to `redirect_uri` (one
    /// of `TASKQL_OIDC_REDIRECT_URIS`, exactly).
    #[tracing::instrument(skip_all, fields(provider))]
    pub async fn start_external_login(
        &self,
        client: &Client,
        provider: &str,
        redirect_uri: &str,
    ) -> AppResult<ExternalSignIn> {
        self.limit_client(client).await?;
        self.start_flow(provider, redirect_uri, None).await
    }

    /// Finishes a sign-in: a session for the account the identity is
    /// linked to, or for a new account when nobody has the identity nor the
    /// email it vouches for. `MFA_REQUIRED` for an account with a second
    /// factor, as after a password.
    /// `provider` is set to the sign-in's provider as soon as it is known
    /// (for the metrics, whatever the outcome).
    #[tracing::instrument(skip_all)]
    pub async fn finish_external_login(
        &self,
        client: &Client,
        answer: ProviderAnswer<'_>,
        provider: &mut Option<String>,
    ) -> AppResult<SignedIn> {
        self.limit_client(client).await?;
        let flow = self.take_flow(answer.state).await?;
        if flow.user_id.is_some() {
            return Err(state_refused());
        }
        *provider = Some(flow.provider.clone());
        let provider = flow.provider.clone();
        let vouched = self.check_answer(&flow, &answer).await?;
        let linked = Identities::find()
            .filter(identity::Column::Issuer.eq(&vouched.issuer))
            .filter(identity::Column::Subject.eq(&vouched.subject))
            .find_also_related(Users)
            .one(self.db())
            .await?;
        let user = match linked {
            Some((identity, Some(user))) => {
                Identities::update_many()
                    .col_expr(identity::Column::LastUsedAt, Expr::value(db::now()))
                    .col_expr(identity::Column::Email, Expr::value(vouched.email.clone()))
                    .filter(identity::Column::Id.eq(identity.id))
                    .exec(self.db())
                    .await?;
                user
            }
            _ => self.sign_up_with(&provider, &vouched, client).await?,
        };
        if user.disabled_at.is_some() {
            return Err(AppError::AccountDisabled);
        }
        self.challenge(&user).await?;
        self.start_session(user, client, SecondFactor::None).await
    }

    /// A new account for what a provider vouched for, with the identity
    /// linked: only for an email it says is its holder's, that no account
    /// has (checked in this order, so a refusal reveals no account).
    async fn sign_up_with(
        &self,
        provider: &str,
        vouched: &Vouched,
        client: &Client,
    ) -> AppResult<user::Model> {
        let email = vouched
            .email
            .as_deref()
            .filter(|_| vouched.email_verified)
            .and_then(|email| Email::parse(email).ok())
            .ok_or(AppError::EmailNotVerified)?;
        if self.find_by_email(&email).await?.is_some() {
            return Err(AppError::AccountExists);
        }
        let txn = self.db().begin().await?;
        let new = super::NewAccount {
            email: &email,
            // No password: a reset mail sets one.
            password_hash: String::new(),
            email_verified: true,
        };
        let user = super::create(&txn, new, client, AppError::AccountExists).await?;
        link(&txn, user.id, provider, vouched).await?;
        txn.commit().await?;
        tracing::info!(user = %user.id, provider, "account created with an identity provider");
        Ok(user)
    }

    /// Starts linking `provider` to `user`'s account: the password when the
    /// account has one, and the code when it has a second factor, first.
    #[tracing::instrument(skip_all, fields(user = %user.id))]
    pub async fn start_identity_link(
        &self,
        user: &user::Model,
        client: &Client,
        link: (&str, &str),
        proof: Proof<'_>,
    ) -> AppResult<ExternalSignIn> {
        self.limit_client(client).await?;
        let (provider, redirect_uri) = link;
        self.confirm(user, client, proof.password, proof.code, proof.session)
            .await?;
        self.start_flow(provider, redirect_uri, Some(user.id)).await
    }

    /// Finishes a link that `user` started: the identity is theirs from now
    /// on. One linked to another account is refused (`BAD_USER_INPUT`).
    #[tracing::instrument(skip_all, fields(user = %user.id))]
    pub async fn finish_identity_link(
        &self,
        user: &user::Model,
        client: &Client,
        answer: ProviderAnswer<'_>,
    ) -> AppResult<identity::Model> {
        self.limit_client(client).await?;
        let flow = self.take_flow(answer.state).await?;
        if flow.user_id != Some(user.id) {
            return Err(state_refused());
        }
        let vouched = self.check_answer(&flow, &answer).await?;
        let existing = Identities::find()
            .filter(identity::Column::Issuer.eq(&vouched.issuer))
            .filter(identity::Column::Subject.eq(&vouched.subject))
            .one(self.db())
            .await?;
        if let Some(existing) = existing {
            return if existing.user_id == user.id {
                Ok(existing)
            } else {
                Err(linked_elsewhere())
            };
        }
        let txn = self.db().begin().await?;
        let linked = link(&txn, user.id, &flow.provider, &vouched)
            .await
            .map_err(|error| match error {
                AppError::BadUserInput { .. } => linked_elsewhere(),
                other => other,
            })?;
        audit::record(&txn, user.id, SecurityEventKind::IdentityLinked, client).await?;
        self.inner
            .outbox
            .enqueue(&txn, Kind::IdentityLinked, &user.email, Some(user.id))
            .await?;
        txn.commit().await?;
        self.inner.outbox.wake();
        Ok(linked)
    }

    /// The identities linked to `user`'s account, oldest first.
    pub async fn identities(&self, user: Uuid) -> AppResult<Vec<identity::Model>> {
        Ok(Identities::find()
            .filter(identity::Column::UserId.eq(user))
            .order_by_asc(identity::Column::CreatedAt)
            .order_by_asc(identity::Column::Id)
            .all(self.db())
            .await?)
    }

    /// Unlinks the identity `id` from `user`'s account, never its last way
    /// in: the password when it has one, and the code with a second factor,
    /// first.
    #[tracing::instrument(skip_all, fields(user = %user.id))]
    pub async fn unlink_identity(
        &self,
        user: &user::Model,
        client: &Client,
        id: Uuid,
        proof: Proof<'_>,
    ) -> AppResult<()> {
        self.limit_client(client).await?;
        self.confirm(user, client, proof.password, proof.code, proof.session)
            .await?;
        let txn = self.db().begin().await?;
        let identities = Identities::find()
            .filter(identity::Column::UserId.eq(user.id))
            .count(&txn)
            .await?;
        let passkeys = Passkeys::find()
            .filter(passkey::Column::UserId.eq(user.id))
            .count(&txn)
            .await?;
        let others = identities.saturating_sub(1) + passkeys + u64::from(has_password(user));
        let removed = Identities::delete_many()
            .filter(identity::Column::Id.eq(id))
            .filter(identity::Column::UserId.eq(user.id))
            .exec(&txn)
            .await?;
        if removed.rows_affected == 0 {
            return Err(AppError::NotFound);
        }
        if others == 0 {
            return Err(AppError::bad_input(
                "id",
                "this is the account's last way to sign in: set a password (a reset mail) or \
                 add a passkey first",
            ));
        }
        audit::record(&txn, user.id, SecurityEventKind::IdentityUnlinked, client).await?;
        self.inner
            .outbox
            .enqueue(&txn, Kind::IdentityUnlinked, &user.email, Some(user.id))
            .await?;
        txn.commit().await?;
        self.inner.outbox.wake();
        Ok(())
    }

    /// What a change that matters asks: the password when the account has
    /// one (missing or wrong: `INVALID_CREDENTIALS`); for one without (made
    /// by a provider's sign-in) and without a second factor, a `session`
    /// that signed in within [`FRESH_SIGN_IN`]; then the second factor.
    pub(super) async fn confirm(
        &self,
        user: &user::Model,
        client: &Client,
        password: Option<&str>,
        code: Option<&str>,
        session: Option<Uuid>,
    ) -> AppResult<()> {
        if has_password(user) {
            let given =
                crate::auth::Password::parse_given(password.unwrap_or_default(), "password")?;
            self.check_password(user.clone(), &given).await?;
        } else if !self.has_totp(user.id).await? && !self.freshly_signed_in(session).await? {
            return Err(AppError::bad_input(
                "password",
                "this account has no password: sign in again with your identity provider, then \
                 do this within ten minutes",
            ));
        }
        self.second_factor(user, client, code).await
    }

    /// Whether `session` began within [`FRESH_SIGN_IN`].
    pub(super) async fn freshly_signed_in(&self, session: Option<Uuid>) -> AppResult<bool> {
        let Some(session) = session else {
            return Ok(false);
        };
        let since = db::now() - db::span(FRESH_SIGN_IN)?;
        let fresh = Sessions::find_by_id(session)
            .filter(entity::session::Column::CreatedAt.gt(since))
            .count(self.db())
            .await?;
        Ok(fresh == 1)
    }

    async fn start_flow(
        &self,
        provider: &str,
        redirect_uri: &str,
        user: Option<Uuid>,
    ) -> AppResult<ExternalSignIn> {
        let redirect_uri = self.allowed_redirect(redirect_uri)?;
        if !self.inner.providers.list().any(|(id, _)| id == provider) {
            return Err(AppError::bad_input(
                "provider",
                "no identity provider has this id",
            ));
        }
        let started = self.inner.providers.start(provider, &redirect_uri).await?;
        let kept = serde_json::to_vec(&Kept {
            verifier: started.pkce_verifier,
            nonce: started.nonce,
        })
        .map_err(AppError::internal)?;
        let sealed = self.inner.data_key.seal(Uuid::nil(), &kept)?;
        ExternalLogins::insert(external_login::ActiveModel {
            state_hash: Set(random::digest_text(&started.state)),
            provider: Set(provider.to_owned()),
            redirect_uri: Set(redirect_uri),
            secrets: Set(URL_SAFE_NO_PAD.encode(sealed)),
            user_id: Set(user),
            expires_at: Set(db::now() + db::span(FLOW_TTL)?),
        })
        .exec(self.db())
        .await?;
        Ok(ExternalSignIn {
            authorization_url: started.authorization_url,
            state: started.state,
        })
    }

    /// `uri` when it is one of the configured redirect URIs, exactly (as a
    /// URL: `https://app.example.com` and `https://app.example.com/` are
    /// the same page).
    fn allowed_redirect(&self, uri: &str) -> AppResult<String> {
        let refused = || {
            AppError::bad_input(
                "redirectUri",
                "this redirect URI is not one of TASKQL_OIDC_REDIRECT_URIS",
            )
        };
        let normal = openidconnect::url::Url::parse(uri)
            .map_err(|_| refused())?
            .to_string();
        self.inner
            .settings
            .oidc
            .redirect_uris
            .iter()
            .find(|allowed| **allowed == normal)
            .cloned()
            .ok_or_else(refused)
    }

    /// The sign-in `state` names, taken: it works once.
    async fn take_flow(&self, state: &str) -> AppResult<external_login::Model> {
        let digest = random::digest_text(state);
        let live = || {
            sea_orm::Condition::all()
                .add(external_login::Column::StateHash.eq(digest.clone()))
                .add(external_login::Column::ExpiresAt.gt(db::now()))
        };
        let flow = ExternalLogins::find()
            .filter(live())
            .one(self.db())
            .await?
            .ok_or_else(state_refused)?;
        let taken = ExternalLogins::delete_many()
            .filter(live())
            .exec(self.db())
            .await?;
        if taken.rows_affected != 1 {
            return Err(state_refused());
        }
        Ok(flow)
    }

    /// The provider's answer to `flow`, checked.
    async fn check_answer(
        &self,
        flow: &external_login::Model,
        answer: &ProviderAnswer<'_>,
    ) -> AppResult<Vouched> {
        let sealed = URL_SAFE_NO_PAD
            .decode(&flow.secrets)
            .map_err(AppError::internal)?;
        let kept: Kept = serde_json::from_slice(&self.inner.data_key.open(Uuid::nil(), &sealed)?)
            .map_err(AppError::internal)?;
        let vouched = self
            .inner
            .providers
            .finish(
                &flow.provider,
                &flow.redirect_uri,
                Answer {
                    code: answer.code,
                    iss: answer.iss,
                    pkce_verifier: &kept.verifier,
                    nonce: &kept.nonce,
                },
            )
            .await?;
        Ok(vouched)
    }

    /// Deletes the sign-ins that were never finished.
    pub(super) async fn sweep_external_logins(&self) -> AppResult<()> {
        ExternalLogins::delete_many()
            .filter(external_login::Column::ExpiresAt.lte(db::now()))
            .exec(self.db())
            .await?;
        Ok(())
    }
}

/// Links what `vouched` says to `user` in `conn`; an identity linked
/// already (a race) is `BAD_USER_INPUT`.
async fn link(
    conn: &impl sea_orm::ConnectionTrait,
    user: Uuid,
    provider: &str,
    vouched: &Vouched,
) -> AppResult<identity::Model> {
    let now = db::now();
    identity::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user),
        provider: Set(provider.to_owned()),
        issuer: Set(vouched.issuer.clone()),
        subject: Set(vouched.subject.clone()),
        email: Set(vouched.email.clone()),
        created_at: Set(now),
        last_used_at: Set(Some(now)),
    }
    .insert(conn)
    .await
    .map_err(|error| match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => linked_elsewhere(),
        _ => error.into(),
    })
}

fn state_refused() -> AppError {
    AppError::bad_input(
        "state",
        "this state is unknown, used or expired: start the sign-in again",
    )
}

fn linked_elsewhere() -> AppError {
    AppError::bad_input(
        "state",
        "this identity is linked to another account already",
    )
}
