//! OpenID Connect providers: discovery, the authorization URL of a sign-in
//! (code flow, PKCE S256, `state`, `nonce`), and the checks of its answer
//! (RFC 9207 `iss`, the code exchange, the ID token's signature, `iss`,
//! `aud`, `exp` and `nonce`). The JOSE and discovery work is the
//! `openidconnect` crate's; its HTTP client follows no redirects.
//!
//! A provider's discovery is read at start, in the background, and again
//! whenever a sign-in needs it and it is missing (at most every five
//! seconds); a background round retries the missing ones every [`RETRY`]. An ID
//! token signed with a key the provider's JWKS did not have when read sends
//! the server to read the JWKS again, once, before the token is refused.
//!
//! What a refused answer says is ours: the provider's own text never
//! reaches a client (it goes to the debug log).

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::Mutex;

use openidconnect::{
    AdditionalProviderMetadata, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret,
    CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, ProviderMetadata,
    RedirectUrl, Scope, TokenResponse,
    core::{
        CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod,
        CoreGrantType, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
        CoreJweKeyManagementAlgorithm, CoreResponseMode, CoreResponseType,
        CoreSubjectIdentifierType,
    },
    reqwest,
};
use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// How often the background round reads a missing provider's discovery.
pub const RETRY: Duration = Duration::from_secs(30);
/// Shortest time between two readings a sign-in asks for, so that many
/// sign-ins to a provider that is down do not each wait for it.
const RETRY_ON_DEMAND: Duration = Duration::from_secs(5);
/// Longest a request to a provider may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// One provider, as configured.
#[derive(Clone, Debug)]
pub struct ProviderSettings {
    /// Its id: the name in `TASKQL_OIDC_PROVIDERS`.
    pub id: String,
    pub display_name: String,
    pub issuer: IssuerUrl,
    pub client_id: String,
    pub client_secret: Secret,
}

/// Whether a provider says it puts `iss` on its answers (RFC 9207).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct IssParameter {
    #[serde(default)]
    authorization_response_iss_parameter_supported: Option<bool>,
}

impl AdditionalProviderMetadata for IssParameter {}

type Metadata = ProviderMetadata<
    IssParameter,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// Why a provider's sign-in cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("no identity provider has this id")]
    UnknownProvider,
    #[error("the identity provider cannot be reached for the moment; retry shortly")]
    Unavailable,
    /// The answer failed a check; the reason is ours to show.
    #[error("the identity provider's answer was refused: {0}")]
    Refused(&'static str),
}

/// A sign-in started: where to send the browser, and what to keep until
/// the answer comes.
pub struct Started {
    pub authorization_url: String,
    pub state: String,
    pub pkce_verifier: String,
    pub nonce: String,
}

/// What a provider vouched for in a checked ID token.
#[derive(Clone, Debug)]
pub struct Vouched {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    /// Whether the provider says the email is its holder's (`email_verified`
    /// in the same ID token; missing means no).
    pub email_verified: bool,
}

/// The configured providers; cheap to clone.
#[derive(Clone)]
pub struct Providers {
    inner: Arc<Inner>,
}

struct Inner {
    providers: BTreeMap<String, Provider>,
    http: reqwest::Client,
}

struct Provider {
    settings: ProviderSettings,
    /// Held while the discovery is read: one reading at a time, and a
    /// sign-in that needs it waits for the one in flight.
    state: Mutex<Discovery>,
}

#[derive(Default)]
struct Discovery {
    metadata: Option<Arc<Metadata>>,
    last_attempt: Option<Instant>,
}

impl Providers {
    pub fn new(settings: Vec<ProviderSettings>) -> Self {
        let http = reqwest::Client::builder()
            // Following redirects would let a provider's answer send the
            // server anywhere (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .build()
            .unwrap_or_default();
        let providers = settings
            .into_iter()
            .map(|settings| {
                let provider = Provider {
                    settings,
                    state: Mutex::default(),
                };
                (provider.settings.id.clone(), provider)
            })
            .collect();
        Self {
            inner: Arc::new(Inner { providers, http }),
        }
    }

    /// The providers' ids and display names, in order.
    pub fn list(&self) -> impl Iterator<Item = (&str, &str)> {
        self.inner.providers.values().map(|provider| {
            (
                provider.settings.id.as_str(),
                provider.settings.display_name.as_str(),
            )
        })
    }

    pub fn is_empty(&self) -> bool {
        self.inner.providers.is_empty()
    }

    /// Reads the discovery of every provider that has none yet.
    pub async fn discover_missing(&self) {
        for provider in self.inner.providers.values() {
            let missing = provider.state.lock().await.metadata.is_none();
            if missing {
                let _ = self.discover(provider, true).await;
            }
        }
    }

    fn provider(&self, id: &str) -> Result<&Provider, OidcError> {
        self.inner
            .providers
            .get(id)
            .ok_or(OidcError::UnknownProvider)
    }

    /// The provider's discovery: as read before, or read now when it is
    /// missing and was not tried within [`RETRY_ON_DEMAND`] (or `force`).
    async fn discover(&self, provider: &Provider, force: bool) -> Result<Arc<Metadata>, OidcError> {
        let mut state = provider.state.lock().await;
        if let Some(metadata) = &state.metadata
            && !force
        {
            return Ok(Arc::clone(metadata));
        }
        let recent = state
            .last_attempt
            .is_some_and(|at| at.elapsed() < RETRY_ON_DEMAND);
        if recent && !force {
            return Err(OidcError::Unavailable);
        }
        state.last_attempt = Some(Instant::now());
        let issuer = provider.settings.issuer.clone();
        match Metadata::discover_async(issuer, &self.inner.http).await {
            Ok(metadata) => {
                let metadata = Arc::new(metadata);
                state.metadata = Some(Arc::clone(&metadata));
                tracing::info!(provider = %provider.settings.id, "identity provider discovered");
                Ok(metadata)
            }
            Err(error) => {
                tracing::warn!(
                    provider = %provider.settings.id,
                    error = %error,
                    "identity provider unreachable; its sign-in answers SERVICE_UNAVAILABLE until it answers"
                );
                Err(OidcError::Unavailable)
            }
        }
    }

    /// Starts a sign-in with `provider` that answers to `redirect_uri`.
    pub async fn start(&self, provider: &str, redirect_uri: &str) -> Result<Started, OidcError> {
        let provider = self.provider(provider)?;
        let metadata = self.discover(provider, false).await?;
        let client = provider
            .client((*metadata).clone())
            .set_redirect_uri(redirect(redirect_uri)?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".to_owned()))
            .add_scope(Scope::new("profile".to_owned()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(Started {
            authorization_url: url.to_string(),
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
        })
    }

    /// Checks the answer to a sign-in that `provider` sent to
    /// `redirect_uri`: its `iss` (RFC 9207), the code exchanged with the
    /// PKCE verifier, the ID token and its nonce.
    pub async fn finish(
        &self,
        provider: &str,
        redirect_uri: &str,
        answer: Answer<'_>,
    ) -> Result<Vouched, OidcError> {
        let provider = self.provider(provider)?;
        let metadata = self.discover(provider, false).await?;
        let expected = provider.settings.issuer.as_str();
        match answer.iss {
            Some(iss) if iss != expected => {
                return Err(OidcError::Refused("it names another issuer (iss)"));
            }
            None if metadata
                .additional_metadata()
                .authorization_response_iss_parameter_supported
                == Some(true) =>
            {
                return Err(OidcError::Refused(
                    "it carries no issuer (iss), which this provider always sends",
                ));
            }
            _ => {}
        }
        let client = provider
            .client((*metadata).clone())
            .set_redirect_uri(redirect(redirect_uri)?);
        let exchange = client
            .exchange_code(AuthorizationCode::new(answer.code.to_owned()))
            .map_err(|error| {
                tracing::debug!(%error, "no token endpoint");
                OidcError::Refused("the provider has no token endpoint")
            })?
            .set_pkce_verifier(PkceCodeVerifier::new(answer.pkce_verifier.to_owned()));
        let tokens = exchange
            .request_async(&self.inner.http)
            .await
            .map_err(|error| {
                tracing::debug!(error = %error, "code exchange refused");
                OidcError::Refused("the code was not accepted by the provider")
            })?;
        let id_token = tokens
            .id_token()
            .ok_or(OidcError::Refused("the provider sent no ID token"))?;
        let nonce = Nonce::new(answer.nonce.to_owned());
        let checked = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(claims) => Ok(vouched(claims)),
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(first)) => {
                // A key the JWKS did not have when read: read it again, once.
                tracing::debug!(error = %first, "ID token signature not verified; reading the keys again");
                let metadata = self.discover(provider, true).await?;
                let client = provider.client((*metadata).clone());
                id_token
                    .claims(&client.id_token_verifier(), &nonce)
                    .map(vouched)
                    .map_err(|error| refusal(&error))
            }
            Err(error) => Err(refusal(&error)),
        }?;
        Ok(checked)
    }
}

/// What the provider's answer brought to the app's page, and what the
/// server kept of the sign-in.
pub struct Answer<'a> {
    pub code: &'a str,
    pub iss: Option<&'a str>,
    pub pkce_verifier: &'a str,
    pub nonce: &'a str,
}

impl Provider {
    fn client(
        &self,
        metadata: Metadata,
    ) -> CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(
                self.settings.client_secret.expose().to_owned(),
            )),
        )
    }
}

fn redirect(uri: &str) -> Result<RedirectUrl, OidcError> {
    RedirectUrl::new(uri.to_owned()).map_err(|_| OidcError::Refused("the redirect URI is no URL"))
}

fn vouched(claims: &openidconnect::core::CoreIdTokenClaims) -> Vouched {
    Vouched {
        issuer: claims.issuer().as_str().to_owned(),
        subject: claims.subject().as_str().to_owned(),
        email: claims.email().map(|email| email.as_str().to_owned()),
        email_verified: claims.email_verified() == Some(true),
    }
}

fn refusal(error: &openidconnect::ClaimsVerificationError) -> OidcError {
    use openidconnect::ClaimsVerificationError as E;
    tracing::debug!(%error, "ID token refused");
    OidcError::Refused(match error {
        E::Expired(_) => "the ID token has expired",
        E::InvalidAudience(_) => "the ID token is for another client (aud)",
        E::InvalidIssuer(_) => "the ID token names another issuer",
        E::InvalidNonce(_) => "the ID token answers another sign-in (nonce)",
        E::SignatureVerification(_) => "the ID token's signature does not check out",
        _ => "the ID token does not check out",
    })
}
