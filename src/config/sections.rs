//! One section of the configuration per subsystem, each read from the same
//! flat `TASKQL_*` variables and parsed into the types its subsystem uses.
//! A field is read from the variable it is renamed to (without the
//! prefix), so an error names that variable. Missing fields take the
//! section's `Default`. A section whose values only make sense together
//! (Argon2's three costs) is read as it is written, then parsed once.

use std::{
    net::{IpAddr, SocketAddr},
    num::{NonZeroU32, NonZeroUsize},
    time::Duration,
};

use lettre::{Address, message::Mailbox};
use serde::Deserialize;
use serde_with::{DisplayFromStr, serde_as};

use super::{
    ConfigError, PASSWORD_MAX_LENGTH,
    values::{
        CommaList, DocumentManifest, LinkTemplate, LogFilter, LogFormat, Origin, OtlpEndpoint,
        RateLimit, SecretKey, Smtp, at_least_a_second, longer_than_zero,
    },
};
use crate::secret::Secret;

/// Where the data lives.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// `sqlite://…` or `postgres://…`; a secret because it may hold a password.
    #[serde(rename = "database_url")]
    pub url: Secret,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: Secret::new("sqlite://taskql.db?mode=rwc"),
        }
    }
}

/// The HTTP server and what browsers and clients may do with it.
#[serde_as]
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct HttpSettings {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Longest a request may run before it is answered with 503.
    #[serde(deserialize_with = "longer_than_zero")]
    pub request_timeout: Duration,
    /// The base of the links the server makes (a calendar feed's), as
    /// clients reach it: `https://tasks.example.com`; `http://` and the
    /// listening address when unset.
    #[serde_as(as = "Option<DisplayFromStr>")]
    pub public_url: Option<Origin>,
    /// Browser origins allowed to call the API (CORS); comma-separated.
    #[serde_as(as = "CommaList<DisplayFromStr>")]
    pub cors_origins: Vec<Origin>,
    /// Addresses of reverse proxies whose `X-Forwarded-For` names the client;
    /// comma-separated. Without them, the client is the socket's peer.
    #[serde_as(as = "CommaList<DisplayFromStr>")]
    pub trusted_proxies: Vec<IpAddr>,
    /// Serve introspection queries; on in development unless set.
    pub introspection: Option<bool>,
    /// Serve GraphiQL to browsers; on in development unless set.
    pub graphiql: Option<bool>,
    /// After SIGTERM, how long `/readyz` answers 503 while requests are
    /// still served; `0s` in development and `5s` in production unless set.
    #[serde(with = "humantime_serde::option")]
    pub shutdown_drain: Option<Duration>,
    /// Address of a second listener for `GET /metrics` and the health
    /// routes; none when unset.
    pub metrics_listen: Option<SocketAddr>,
    /// Address of the admin listener (its own schema and GraphiQL at
    /// `/graphql`, for the people who run the service); none when unset.
    /// Never to be reachable from the internet.
    pub admin_listen: Option<SocketAddr>,
    /// The trusted documents (a client preset's manifest file); in
    /// production only they run.
    #[serde_as(as = "Option<DisplayFromStr>")]
    pub trusted_documents: Option<DocumentManifest>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            request_timeout: Duration::from_secs(10),
            public_url: None,
            cors_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            introspection: None,
            graphiql: None,
            shutdown_drain: None,
            metrics_listen: None,
            admin_listen: None,
            trusted_documents: None,
        }
    }
}

/// Access and refresh tokens.
#[serde_as]
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct TokenSettings {
    /// HS256 key for access tokens, at least 32 bytes.
    #[serde_as(as = "Option<DisplayFromStr>")]
    #[serde(rename = "jwt_secret")]
    pub secret: Option<SecretKey>,
    /// `iss` claim written into and required of every access token.
    #[serde(rename = "jwt_issuer")]
    pub issuer: String,
    /// `aud` claim written into and required of every access token.
    #[serde(rename = "jwt_audience")]
    pub audience: String,
    /// The key that seals second-factor secrets at rest; derived from the
    /// JWT secret when unset.
    #[serde_as(as = "Option<DisplayFromStr>")]
    pub data_key: Option<SecretKey>,
    /// Lifetime of an access token.
    #[serde(deserialize_with = "at_least_a_second")]
    pub access_token_ttl: Duration,
    /// Lifetime of a refresh token.
    #[serde(deserialize_with = "at_least_a_second")]
    pub refresh_token_ttl: Duration,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            secret: None,
            data_key: None,
            issuer: "taskql".into(),
            audience: "taskql".into(),
            access_token_ttl: Duration::from_secs(30 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 60 * 60),
        }
    }
}

/// Password rules and the cost of hashing them.
#[derive(Clone, Debug)]
pub struct PasswordSettings {
    /// The Argon2id cost.
    pub argon2: argon2::Params,
    /// How many Argon2 computations may run at once.
    pub hash_workers: NonZeroUsize,
    /// Minimum password length in characters.
    pub min_length: usize,
}

/// [`PasswordSettings`] as the variables write them.
#[derive(Deserialize)]
#[serde(default)]
pub(super) struct PasswordVariables {
    /// Argon2id memory cost in KiB (OWASP: 19456).
    argon2_m_kib: u32,
    /// Argon2id iterations (OWASP: 2).
    argon2_t: u32,
    /// Argon2id parallelism (OWASP: 1).
    argon2_p: u32,
    /// The number of cores when unset.
    hash_workers: Option<NonZeroUsize>,
    /// At least 1 and at most the maximum, 128.
    password_min_length: usize,
}

impl Default for PasswordVariables {
    fn default() -> Self {
        Self {
            argon2_m_kib: 19_456,
            argon2_t: 2,
            argon2_p: 1,
            hash_workers: None,
            password_min_length: 8,
        }
    }
}

impl PasswordVariables {
    pub(super) fn parse(self) -> Result<PasswordSettings, ConfigError> {
        let argon2 = argon2::Params::new(self.argon2_m_kib, self.argon2_t, self.argon2_p, None)
            .map_err(|error| {
                ConfigError::new("argon2_m_kib", format!("invalid Argon2 cost: {error}"))
            })?;
        if !(1..=PASSWORD_MAX_LENGTH).contains(&self.password_min_length) {
            return Err(ConfigError::new(
                "password_min_length",
                format!("must be between 1 and {PASSWORD_MAX_LENGTH}"),
            ));
        }
        let cores = || std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
        Ok(PasswordSettings {
            argon2,
            hash_workers: self.hash_workers.unwrap_or_else(cores),
            min_length: self.password_min_length,
        })
    }
}

/// Brakes on guessing, counted in the database so they hold across instances.
#[serde_as]
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct LimitSettings {
    /// Authentication requests allowed per client IP, as `30/min` (also
    /// `/s`, `/h`); `off` disables the limit.
    #[serde_as(as = "DisplayFromStr")]
    pub auth_rate_limit: RateLimit,
    /// Failed logins for one email within `login_lockout` before that email
    /// is locked for the rest of the window.
    pub login_max_failures: NonZeroU32,
    #[serde(deserialize_with = "at_least_a_second")]
    pub login_lockout: Duration,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            auth_rate_limit: RateLimit::Allow {
                count: NonZeroU32::new(30).unwrap_or(NonZeroU32::MIN),
                per: Duration::from_secs(60),
            },
            login_max_failures: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            login_lockout: Duration::from_secs(15 * 60),
        }
    }
}

/// Mail, and password reset by mail.
#[serde_as]
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct MailSettings {
    /// The SMTP server mail goes through, built from `smtps://…`,
    /// `smtp://…?tls=required` or `smtp://…`. Without it, development
    /// writes mail to the log and production sends none.
    #[serde_as(as = "Option<DisplayFromStr>")]
    #[serde(rename = "smtp_url")]
    pub smtp: Option<Smtp>,
    /// Sender of the mail, as `Name <address>` or a bare address.
    #[serde_as(as = "DisplayFromStr")]
    #[serde(rename = "mail_from")]
    pub from: Mailbox,
    /// Makes the link of a reset mail from its token.
    #[serde_as(as = "Option<DisplayFromStr>")]
    #[serde(rename = "password_reset_url")]
    pub reset_link: Option<LinkTemplate>,
    /// How long a reset token works once its mail is sent.
    #[serde(rename = "password_reset_ttl", deserialize_with = "at_least_a_second")]
    pub reset_ttl: Duration,
    /// Makes the link of a verification (or email-change) mail from its token.
    #[serde_as(as = "Option<DisplayFromStr>")]
    #[serde(rename = "email_verification_url")]
    pub verification_link: Option<LinkTemplate>,
    /// How long a verification token works once its mail is sent.
    #[serde(
        rename = "email_verification_ttl",
        deserialize_with = "at_least_a_second"
    )]
    pub verification_ttl: Duration,
    /// Makes the link of a list invitation from its token.
    #[serde_as(as = "Option<DisplayFromStr>")]
    #[serde(rename = "invitation_url")]
    pub invitation_link: Option<LinkTemplate>,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp: None,
            from: Mailbox::new(
                Some("taskql".into()),
                Address::new("no-reply", "localhost").expect("a valid address"),
            ),
            reset_link: None,
            reset_ttl: Duration::from_secs(30 * 60),
            verification_link: None,
            verification_ttl: Duration::from_secs(24 * 60 * 60),
            invitation_link: None,
        }
    }
}

/// What an account must do, and what is kept of it.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct AccountPolicy {
    /// Whether `login` of an account whose address is not verified answers
    /// `EMAIL_NOT_VERIFIED` (once the password checked out).
    pub require_verified_email: bool,
    /// How long security events are kept.
    #[serde(deserialize_with = "at_least_a_second")]
    pub security_event_retention: Duration,
}

impl Default for AccountPolicy {
    fn default() -> Self {
        Self {
            require_verified_email: false,
            security_event_retention: Duration::from_secs(90 * 24 * 60 * 60),
        }
    }
}

/// Offline clients' change log.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct SyncSettings {
    /// How long a sync cursor works, and removals are remembered.
    #[serde(deserialize_with = "at_least_a_second")]
    pub sync_horizon: Duration,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            sync_horizon: Duration::from_secs(30 * 24 * 60 * 60),
        }
    }
}

/// What the log shows, and how.
#[serde_as]
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct LogSettings {
    /// Which events are written, in `RUST_LOG` syntax.
    #[serde_as(as = "DisplayFromStr")]
    #[serde(rename = "log")]
    pub filter: LogFilter,
    /// `pretty` for people, `json` for machines.
    #[serde(rename = "log_format")]
    pub format: LogFormat,
}

/// Where traces go.
#[serde_as]
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct TraceSettings {
    /// The collector spans are exported to over OTLP/HTTP; none when unset.
    #[serde_as(as = "Option<DisplayFromStr>")]
    pub otlp_endpoint: Option<OtlpEndpoint>,
}

/// Passkeys: the relying party browsers sign for.
#[derive(Clone)]
pub struct PasskeySettings {
    /// Checks ceremonies against the relying party id and the origins.
    pub relying_party: std::sync::Arc<webauthn_rs::Webauthn>,
}

impl std::fmt::Debug for PasskeySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeySettings")
            .field("origins", &self.relying_party.get_allowed_origins())
            .finish_non_exhaustive()
    }
}

/// [`PasskeySettings`] as the variables write them.
#[serde_as]
#[derive(Deserialize)]
#[serde(default)]
pub(super) struct PasskeyVariables {
    /// The relying party id: the registrable domain passkeys are bound to.
    webauthn_rp_id: String,
    /// The page origins allowed to use them, comma-separated.
    #[serde_as(as = "CommaList<DisplayFromStr>")]
    webauthn_origins: Vec<webauthn_rs::prelude::Url>,
}

impl Default for PasskeyVariables {
    fn default() -> Self {
        Self {
            webauthn_rp_id: "localhost".to_owned(),
            webauthn_origins: vec![
                webauthn_rs::prelude::Url::parse("http://localhost:8000").expect("a URL"),
            ],
        }
    }
}

impl PasskeyVariables {
    pub(super) fn parse(self) -> Result<PasskeySettings, ConfigError> {
        let Some((first, others)) = self.webauthn_origins.split_first() else {
            return Err(ConfigError::new("webauthn_origins", "must name an origin"));
        };
        let refused = |origin: &webauthn_rs::prelude::Url| {
            ConfigError::new(
                "webauthn_origins",
                format!(
                    "{origin} is not an origin of the relying party id `{}` \
                     (TASKQL_WEBAUTHN_RP_ID): its host must be that domain or below it",
                    self.webauthn_rp_id
                ),
            )
        };
        // One rule for every origin: its host is the RP id or below it.
        for origin in &self.webauthn_origins {
            let host = origin.host_str().unwrap_or_default();
            let within =
                host == self.webauthn_rp_id || host.ends_with(&format!(".{}", self.webauthn_rp_id));
            if !within {
                return Err(refused(origin));
            }
        }
        let mut builder = webauthn_rs::WebauthnBuilder::new(&self.webauthn_rp_id, first)
            .map_err(|_| refused(first))?
            .rp_name("taskql");
        for origin in others {
            builder = builder.append_allowed_origin(origin);
        }
        let relying_party = builder.build().map_err(|error| {
            ConfigError::new("webauthn_rp_id", format!("not a relying party: {error}"))
        })?;
        Ok(PasskeySettings {
            relying_party: std::sync::Arc::new(relying_party),
        })
    }
}

/// Sign-in with OpenID Connect providers: `TASKQL_OIDC_PROVIDERS` names
/// them, each is read from `TASKQL_OIDC_<NAME>_*` ([`OIDC_PROVIDER_FIELDS`]).
#[derive(Clone, Debug, Default)]
pub struct OidcSettings {
    pub providers: Vec<crate::auth::oidc::ProviderSettings>,
    /// The app's pages a provider may answer to; a redirect URI must be one
    /// of them exactly.
    pub redirect_uris: Vec<String>,
}

/// What each provider is read from, after `oidc_<name>_`.
pub const OIDC_PROVIDER_FIELDS: [&str; 4] =
    ["issuer", "client_id", "client_secret", "display_name"];

/// The variables of the providers, as written.
#[serde_as]
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct OidcVariables {
    /// The providers' ids, comma-separated.
    #[serde_as(as = "CommaList<DisplayFromStr>")]
    oidc_providers: Vec<String>,
    /// The app's pages that may receive a provider's answer.
    #[serde_as(as = "CommaList<DisplayFromStr>")]
    oidc_redirect_uris: Vec<openidconnect::url::Url>,
}

impl OidcVariables {
    /// Each provider from its own variables, read by `value`.
    pub(super) fn parse(
        self,
        value: impl Fn(&str) -> Option<String>,
    ) -> Result<OidcSettings, ConfigError> {
        let mut providers = Vec::with_capacity(self.oidc_providers.len());
        for id in &self.oidc_providers {
            let name = id.to_ascii_lowercase();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(ConfigError::new(
                    "oidc_providers",
                    format!("{id:?} is no provider name: letters, digits and _ only"),
                ));
            }
            if providers
                .iter()
                .any(|known: &crate::auth::oidc::ProviderSettings| known.id == *id)
            {
                return Err(ConfigError::new(
                    "oidc_providers",
                    format!("{id} is named twice"),
                ));
            }
            let field = |suffix: &str| format!("oidc_{name}_{suffix}");
            let required = |suffix: &str| {
                value(&field(suffix))
                    .filter(|text| !text.trim().is_empty())
                    .ok_or_else(|| {
                        ConfigError::new(&field(suffix), "must be set for this provider")
                    })
            };
            let issuer_text = required("issuer")?;
            let issuer = openidconnect::IssuerUrl::new(issuer_text.trim().to_owned())
                .ok()
                .filter(|url| matches!(url.url().scheme(), "https" | "http"))
                .ok_or_else(|| ConfigError::new(&field("issuer"), "must be an https:// URL"))?;
            providers.push(crate::auth::oidc::ProviderSettings {
                id: id.clone(),
                display_name: value(&field("display_name"))
                    .filter(|text| !text.trim().is_empty())
                    .unwrap_or_else(|| id.clone()),
                issuer,
                client_id: required("client_id")?,
                client_secret: Secret::new(required("client_secret")?),
            });
        }
        if !providers.is_empty() && self.oidc_redirect_uris.is_empty() {
            return Err(ConfigError::new(
                "oidc_redirect_uris",
                "must name the app's pages a provider answers to",
            ));
        }
        Ok(OidcSettings {
            providers,
            redirect_uris: self
                .oidc_redirect_uris
                .iter()
                .map(|url| url.as_str().to_owned())
                .collect(),
        })
    }
}
