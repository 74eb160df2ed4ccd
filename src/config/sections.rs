//! One section of the configuration per subsystem, each read from the same
//! flat `TASKQL_*` variables: a field is named after its variable, without
//! the prefix, so an error names the variable it came from. Missing fields
//! take the section's `Default`.

use std::{
    net::{IpAddr, SocketAddr},
    num::{NonZeroU32, NonZeroUsize},
    time::Duration,
};

use lettre::{Address, AsyncSmtpTransport, Tokio1Executor, message::Mailbox};
use serde::Deserialize;
use serde_with::{DisplayFromStr, serde_as};

use super::{
    ConfigError,
    values::{CommaList, LogFormat, Origin, RateLimit},
};
use crate::secret::Secret;

/// The SMTP client, as lettre runs it on tokio.
pub type SmtpTransport = AsyncSmtpTransport<Tokio1Executor>;

/// What `TASKQL_PASSWORD_RESET_URL` holds where the token goes.
pub const TOKEN_PLACEHOLDER: &str = "{token}";

/// Longest wait for the SMTP server at each step of sending a mail.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Where the data lives.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// `sqlite://…` or `postgres://…`; a secret because it may hold a password.
    pub database_url: Secret,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            database_url: Secret::new("sqlite://taskql.db?mode=rwc"),
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
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
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
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            request_timeout: Duration::from_secs(10),
            cors_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            introspection: None,
            graphiql: None,
        }
    }
}

/// Access and refresh tokens.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct TokenSettings {
    /// HS256 key for access tokens, at least 32 bytes.
    pub jwt_secret: Option<Secret>,
    /// `iss` claim written into and required of every access token.
    pub jwt_issuer: String,
    /// `aud` claim written into and required of every access token.
    pub jwt_audience: String,
    /// Lifetime of an access token.
    #[serde(with = "humantime_serde")]
    pub access_token_ttl: Duration,
    /// Lifetime of a refresh token.
    #[serde(with = "humantime_serde")]
    pub refresh_token_ttl: Duration,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            jwt_issuer: "taskql".into(),
            jwt_audience: "taskql".into(),
            access_token_ttl: Duration::from_secs(30 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 60 * 60),
        }
    }
}

/// Password rules and the cost of hashing them.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct PasswordSettings {
    /// Argon2id memory cost in KiB (OWASP: 19456).
    pub argon2_m_kib: u32,
    /// Argon2id iterations (OWASP: 2).
    pub argon2_t: u32,
    /// Argon2id parallelism (OWASP: 1).
    pub argon2_p: u32,
    /// How many Argon2 computations may run at once; the number of cores when unset.
    pub hash_workers: Option<NonZeroUsize>,
    /// Minimum password length in characters (the maximum is 128).
    pub password_min_length: usize,
}

impl Default for PasswordSettings {
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

impl PasswordSettings {
    /// The Argon2id cost; always `Ok` once the configuration has loaded.
    pub fn argon2_params(&self) -> Result<argon2::Params, argon2::Error> {
        argon2::Params::new(self.argon2_m_kib, self.argon2_t, self.argon2_p, None)
    }

    pub fn hash_workers(&self) -> NonZeroUsize {
        self.hash_workers
            .unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN))
    }
}

/// Brakes on guessing, counted in the database so they hold across instances.
#[serde_as]
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct LimitSettings {
    /// Signup, login, refreshToken, requestPasswordReset and resetPassword
    /// requests allowed per client IP, as
    /// `30/min` (also `/s`, `/h`); `off` disables the limit.
    #[serde_as(as = "DisplayFromStr")]
    pub auth_rate_limit: RateLimit,
    /// Failed logins for one email within `login_lockout` before that email
    /// is locked for the rest of the window.
    pub login_max_failures: u32,
    #[serde(with = "humantime_serde")]
    pub login_lockout: Duration,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            auth_rate_limit: RateLimit::Allow {
                count: NonZeroU32::new(30).expect("30 is not zero"),
                per: Duration::from_secs(60),
            },
            login_max_failures: 10,
            login_lockout: Duration::from_secs(15 * 60),
        }
    }
}

/// Mail, and password reset by mail.
#[serde_as]
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct MailSettings {
    /// SMTP server the mail goes through (`smtps://…`, `smtp://…?tls=required`
    /// or `smtp://…`); a secret because it may hold a password. Without it,
    /// development writes mail to the log and production sends none.
    pub smtp_url: Option<Secret>,
    /// Sender of the mail, as `Name <address>` or a bare address.
    #[serde_as(as = "DisplayFromStr")]
    pub mail_from: Mailbox,
    /// Link template for reset mail: `{token}` is replaced by the token.
    pub password_reset_url: Option<String>,
    /// How long a reset token works once its mail is sent.
    #[serde(with = "humantime_serde")]
    pub password_reset_ttl: Duration,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            mail_from: Mailbox::new(
                Some("taskql".into()),
                Address::new("no-reply", "localhost").expect("a valid address"),
            ),
            password_reset_url: None,
            password_reset_ttl: Duration::from_secs(30 * 60),
        }
    }
}

impl MailSettings {
    /// The SMTP transport `smtp_url` describes, when it is set; the one place
    /// the URL is read, so a bad one stops the start.
    pub fn smtp_transport(&self) -> Result<Option<SmtpTransport>, ConfigError> {
        let Some(url) = &self.smtp_url else {
            return Ok(None);
        };
        // lettre's own error may quote the URL, which can hold a password.
        let transport = SmtpTransport::from_url(url.expose()).map_err(|_| {
            ConfigError::new(
                "smtp_url",
                "must be smtps://user:pass@host:465, smtp://user:pass@host:587?tls=required \
                 or smtp://host:25",
            )
        })?;
        Ok(Some(transport.timeout(Some(SMTP_TIMEOUT)).build()))
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        self.smtp_transport()?;
        if let Some(template) = &self.password_reset_url
            && !((template.starts_with("https://") || template.starts_with("http://"))
                && template.contains(TOKEN_PLACEHOLDER))
        {
            return Err(ConfigError::new(
                "password_reset_url",
                format!("must be an http(s) link holding {TOKEN_PLACEHOLDER}"),
            ));
        }
        Ok(())
    }
}

/// What the log shows, and how.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct LogSettings {
    /// Tracing filter, in `RUST_LOG` syntax.
    pub log: String,
    /// `pretty` for people, `json` for machines.
    pub log_format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            log: "info".into(),
            log_format: LogFormat::default(),
        }
    }
}
