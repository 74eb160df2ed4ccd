//! Configuration from `TASKQL_*` variables: the process environment wins over
//! a `.env` file, which wins over the defaults written here.
//!
//! Every value is read as text and parsed into its type, so an invalid value
//! stops the start with a message that names the variable it came from.

use std::{
    collections::BTreeMap,
    net::{IpAddr, SocketAddr},
    num::{NonZeroU32, NonZeroUsize},
    time::Duration,
};

use figment::{Figment, providers::Serialized};
use serde::{Deserialize, Deserializer};

use crate::secret::Secret;

const PREFIX: &str = "TASKQL_";

/// The whole configuration, validated: holding one means the server can start.
#[derive(Clone, Debug, Deserialize)]
pub struct Config {
    /// `sqlite://…` or `postgres://…`; a secret because it may hold a password.
    #[serde(default = "default_database_url")]
    pub database_url: Secret,
    /// Address the HTTP server binds.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// `development` or `production`; production turns the developer aids off.
    #[serde(default)]
    pub env: Environment,
    /// HS256 key for access tokens, at least 32 bytes.
    #[serde(default)]
    pub jwt_secret: Option<Secret>,
    /// `iss` claim written into and required of every access token.
    #[serde(default = "default_taskql")]
    pub jwt_issuer: String,
    /// `aud` claim written into and required of every access token.
    #[serde(default = "default_taskql")]
    pub jwt_audience: String,
    /// Lifetime of an access token.
    #[serde(default = "default_access_ttl", deserialize_with = "humane")]
    pub access_token_ttl: Duration,
    /// Lifetime of a refresh token.
    #[serde(default = "default_refresh_ttl", deserialize_with = "humane")]
    pub refresh_token_ttl: Duration,
    /// Argon2id memory cost in KiB (OWASP: 19456).
    #[serde(default = "default_argon2_m")]
    pub argon2_m_kib: u32,
    /// Argon2id iterations (OWASP: 2).
    #[serde(default = "default_argon2_t")]
    pub argon2_t: u32,
    /// Argon2id parallelism (OWASP: 1).
    #[serde(default = "default_argon2_p")]
    pub argon2_p: u32,
    /// How many Argon2 computations may run at once; the number of cores when unset.
    #[serde(default)]
    pub hash_workers: Option<NonZeroUsize>,
    /// Minimum password length in characters (the maximum is 128).
    #[serde(default = "default_password_min")]
    pub password_min_length: usize,
    /// Serve introspection queries; on in development unless set.
    #[serde(default)]
    pub introspection: Option<bool>,
    /// Serve GraphiQL to browsers; on in development unless set.
    #[serde(default)]
    pub graphiql: Option<bool>,
    /// Longest a request may run before it is answered with 503.
    #[serde(default = "default_request_timeout", deserialize_with = "humane")]
    pub request_timeout: Duration,
    /// Signup, login and refreshToken requests allowed per client IP, as
    /// `30/min` (also `/s`, `/h`); `off` disables the limit.
    #[serde(default = "default_auth_rate_limit", deserialize_with = "rate_limit")]
    pub auth_rate_limit: Option<RateLimit>,
    /// Addresses of reverse proxies whose `X-Forwarded-For` names the client;
    /// comma-separated. Without them, the client is the socket's peer.
    #[serde(default, deserialize_with = "ip_list")]
    pub trusted_proxies: Vec<IpAddr>,
    /// Failed logins for one email within `login_lockout` before that email
    /// is locked for the rest of the window.
    #[serde(default = "default_login_max_failures")]
    pub login_max_failures: u32,
    #[serde(default = "default_login_lockout", deserialize_with = "humane")]
    pub login_lockout: Duration,
    /// Browser origins allowed to call the API (CORS); comma-separated.
    #[serde(default, deserialize_with = "origin_list")]
    pub cors_origins: Vec<String>,
    /// Tracing filter, in `RUST_LOG` syntax.
    #[serde(default = "default_log")]
    pub log: String,
    /// `pretty` for people, `json` for machines.
    #[serde(default)]
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    #[default]
    Development,
    Production,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

/// A number of events allowed per period, as in `30/min`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub count: NonZeroU32,
    pub per: Duration,
}

/// The longest password accepted, in characters.
pub const PASSWORD_MAX_LENGTH: usize = 128;
/// The shortest HS256 key accepted, in bytes.
pub const JWT_SECRET_MIN_BYTES: usize = 32;

/// A configuration problem, worded for the person starting the server.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: String,
    pub message: String,
}

impl ConfigError {
    fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            variable: format!("{PREFIX}{}", field.to_ascii_uppercase()),
            message: message.into(),
        }
    }
}

impl Config {
    /// Reads `.env` (when present) and the process environment.
    pub fn load() -> Result<Self, ConfigError> {
        let mut vars = BTreeMap::new();
        if let Ok(iter) = dotenvy::dotenv_iter() {
            for (key, value) in iter.flatten() {
                vars.insert(key, value);
            }
        }
        vars.extend(std::env::vars());
        Self::from_vars(vars)
    }

    /// Builds the configuration from variable names and values; names without
    /// the `TASKQL_` prefix are ignored. Tests use this to start servers with
    /// settings of their own without touching the process environment.
    pub fn from_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Result<Self, ConfigError>
    where
        K: AsRef<str>,
        V: Into<String>,
    {
        let fields: BTreeMap<String, String> = vars
            .into_iter()
            .filter_map(|(key, value)| {
                let field = key.as_ref().strip_prefix(PREFIX)?.to_ascii_lowercase();
                Some((field, value.into()))
            })
            .collect();
        let config: Self = Figment::from(Serialized::globals(fields))
            .extract_lossy()
            .map_err(|error| {
                let field = error.path.first().cloned().unwrap_or_default();
                ConfigError::new(&field, error.kind.to_string())
            })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(secret) = &self.jwt_secret
            && secret.expose().len() < JWT_SECRET_MIN_BYTES
        {
            return Err(ConfigError::new(
                "jwt_secret",
                format!("must be at least {JWT_SECRET_MIN_BYTES} bytes long"),
            ));
        }
        if self.jwt_secret.is_none() && self.env == Environment::Production {
            return Err(ConfigError::new(
                "jwt_secret",
                "must be set in production (at least 32 random bytes)",
            ));
        }
        self.argon2_params().map_err(|error| {
            ConfigError::new("argon2_m_kib", format!("invalid Argon2 cost: {error}"))
        })?;
        if !(1..=PASSWORD_MAX_LENGTH).contains(&self.password_min_length) {
            return Err(ConfigError::new(
                "password_min_length",
                format!("must be between 1 and {PASSWORD_MAX_LENGTH}"),
            ));
        }
        if self.login_max_failures == 0 {
            return Err(ConfigError::new("login_max_failures", "must be at least 1"));
        }
        if self.request_timeout.is_zero() {
            return Err(ConfigError::new(
                "request_timeout",
                "must be longer than zero",
            ));
        }
        for (field, ttl) in [
            ("access_token_ttl", self.access_token_ttl),
            ("refresh_token_ttl", self.refresh_token_ttl),
            ("login_lockout", self.login_lockout),
        ] {
            if ttl < Duration::from_secs(1) {
                return Err(ConfigError::new(field, "must be at least one second"));
            }
        }
        tracing_subscriber::EnvFilter::try_new(&self.log)
            .map_err(|error| ConfigError::new("log", error.to_string()))?;
        Ok(())
    }

    /// The Argon2id cost; always `Ok` once the configuration has loaded.
    pub fn argon2_params(&self) -> Result<argon2::Params, argon2::Error> {
        argon2::Params::new(self.argon2_m_kib, self.argon2_t, self.argon2_p, None)
    }

    pub fn is_production(&self) -> bool {
        self.env == Environment::Production
    }

    pub fn introspection_enabled(&self) -> bool {
        self.introspection.unwrap_or(!self.is_production())
    }

    pub fn graphiql_enabled(&self) -> bool {
        self.graphiql.unwrap_or(!self.is_production())
    }

    pub fn hash_workers(&self) -> NonZeroUsize {
        self.hash_workers
            .unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN))
    }
}

fn humane<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(&text).map_err(|error| {
        serde::de::Error::custom(format!(
            "{error}: expected a duration such as `90s`, `30m`, `12h` or `30d`"
        ))
    })
}

fn rate_limit<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<RateLimit>, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_rate_limit(&text).map_err(serde::de::Error::custom)
}

fn parse_rate_limit(text: &str) -> Result<Option<RateLimit>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let expected = || format!("`{text}` is not a rate such as `30/min`, `5/s`, `100/h` or `off`");
    let (count, unit) = text.split_once('/').ok_or_else(expected)?;
    let count = count.trim().parse::<NonZeroU32>().map_err(|_| expected())?;
    let per = match unit.trim() {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "m" | "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        _ => return Err(expected()),
    };
    Ok(Some(RateLimit { count, per }))
}

fn comma_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let text = String::deserialize(deserializer)?;
    Ok(text
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect())
}

fn ip_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<IpAddr>, D::Error> {
    comma_list(deserializer)?
        .iter()
        .map(|ip| {
            ip.parse()
                .map_err(|_| serde::de::Error::custom(format!("`{ip}` is not an IP address")))
        })
        .collect()
}

fn origin_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let origins = comma_list(deserializer)?;
    for origin in &origins {
        let valid = (origin.starts_with("https://") || origin.starts_with("http://"))
            && !origin.ends_with('/')
            && origin.is_ascii()
            && !origin.contains(char::is_whitespace);
        if !valid {
            return Err(serde::de::Error::custom(format!(
                "`{origin}` is not an origin such as `https://app.example.com`"
            )));
        }
    }
    Ok(origins)
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_auth_rate_limit() -> Option<RateLimit> {
    parse_rate_limit("30/min").ok().flatten()
}
fn default_login_max_failures() -> u32 {
    10
}
fn default_login_lockout() -> Duration {
    Duration::from_secs(15 * 60)
}
fn default_database_url() -> Secret {
    Secret::new("sqlite://taskql.db?mode=rwc")
}
fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8000))
}
fn default_taskql() -> String {
    "taskql".into()
}
fn default_access_ttl() -> Duration {
    Duration::from_secs(30 * 60)
}
fn default_refresh_ttl() -> Duration {
    Duration::from_secs(30 * 24 * 60 * 60)
}
fn default_argon2_m() -> u32 {
    19_456
}
fn default_argon2_t() -> u32 {
    2
}
fn default_argon2_p() -> u32 {
    1
}
fn default_password_min() -> usize {
    8
}
fn default_log() -> String {
    "info".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(vars.iter().copied())
    }

    #[test]
    fn defaults_match_the_specification() {
        let config = load(&[]).expect("defaults are valid");
        assert_eq!(config.database_url.expose(), "sqlite://taskql.db?mode=rwc");
        assert_eq!(config.listen.to_string(), "127.0.0.1:8000");
        assert_eq!(config.access_token_ttl, Duration::from_secs(1800));
        assert_eq!(config.refresh_token_ttl, Duration::from_secs(30 * 86_400));
        assert_eq!(
            (config.argon2_m_kib, config.argon2_t, config.argon2_p),
            (19_456, 2, 1)
        );
        assert_eq!(config.password_min_length, 8);
        let limit = config.auth_rate_limit.expect("on by default");
        assert_eq!(
            (limit.count.get(), limit.per),
            (30, Duration::from_secs(60))
        );
        assert_eq!(
            (config.login_max_failures, config.login_lockout),
            (10, Duration::from_secs(900))
        );
        assert_eq!(config.request_timeout, Duration::from_secs(10));
        assert!(config.trusted_proxies.is_empty() && config.cors_origins.is_empty());
        assert!(config.introspection_enabled() && config.graphiql_enabled());
    }

    #[test]
    fn values_are_parsed_from_text() {
        let config = load(&[
            ("TASKQL_ARGON2_T", "3"),
            ("TASKQL_ACCESS_TOKEN_TTL", "90s"),
            ("TASKQL_GRAPHIQL", "false"),
            ("TASKQL_AUTH_RATE_LIMIT", "off"),
            (
                "TASKQL_CORS_ORIGINS",
                "https://a.example, http://localhost:3000",
            ),
            ("TASKQL_TRUSTED_PROXIES", "10.0.0.1, ::1"),
            ("TASKQL_JWT_SECRET", "12345678901234567890123456789012"),
            ("UNRELATED", "ignored"),
        ])
        .expect("valid");
        assert_eq!(config.argon2_t, 3);
        assert_eq!(config.access_token_ttl, Duration::from_secs(90));
        assert!(!config.graphiql_enabled());
        assert!(config.auth_rate_limit.is_none());
        assert_eq!(
            config.cors_origins,
            ["https://a.example", "http://localhost:3000"]
        );
        assert_eq!(config.trusted_proxies.len(), 2);
        assert_eq!(
            config.jwt_secret.expect("set").expose(),
            "12345678901234567890123456789012"
        );
    }

    #[test]
    fn invalid_values_name_their_variable() {
        let cases = [
            (
                ("TASKQL_LISTEN", "nowhere"),
                "TASKQL_LISTEN",
                "not an address",
            ),
            (
                ("TASKQL_ARGON2_T", "two"),
                "TASKQL_ARGON2_T",
                "not a number",
            ),
            (
                ("TASKQL_ARGON2_T", "0"),
                "TASKQL_ARGON2_M_KIB",
                "invalid cost",
            ),
            (
                ("TASKQL_ACCESS_TOKEN_TTL", "soon"),
                "TASKQL_ACCESS_TOKEN_TTL",
                "not a duration",
            ),
            (
                ("TASKQL_ENV", "staging"),
                "TASKQL_ENV",
                "unknown environment",
            ),
            (
                ("TASKQL_JWT_SECRET", "short"),
                "TASKQL_JWT_SECRET",
                "too short",
            ),
            (
                ("TASKQL_PASSWORD_MIN_LENGTH", "129"),
                "TASKQL_PASSWORD_MIN_LENGTH",
                "over max",
            ),
            (
                ("TASKQL_HASH_WORKERS", "0"),
                "TASKQL_HASH_WORKERS",
                "zero workers",
            ),
            (
                ("TASKQL_LOG_FORMAT", "xml"),
                "TASKQL_LOG_FORMAT",
                "unknown format",
            ),
        ];
        for ((name, value), expected, why) in cases {
            let error = load(&[(name, value)]).expect_err(why);
            assert_eq!(error.variable, expected, "{why}: {error}");
        }
    }

    #[test]
    fn production_requires_a_secret() {
        let error = load(&[("TASKQL_ENV", "production")]).expect_err("no secret");
        assert_eq!(error.variable, "TASKQL_JWT_SECRET");
        let config = load(&[
            ("TASKQL_ENV", "production"),
            ("TASKQL_JWT_SECRET", "abcdefghijklmnopqrstuvwxyz0123456789"),
        ])
        .expect("valid");
        assert!(!config.introspection_enabled() && !config.graphiql_enabled());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let config = load(&[
            ("TASKQL_JWT_SECRET", "super-secret-key-that-is-long-enough!"),
            ("TASKQL_DATABASE_URL", "postgres://app:hunter2@db/taskql"),
        ])
        .expect("valid");
        let printed = format!("{config:?}");
        assert!(!printed.contains("super-secret"), "{printed}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("[redacted]"), "{printed}");
    }

    #[test]
    fn env_example_is_valid_and_lists_every_variable() {
        let example = include_str!("../.env.example");
        let set = example
            .lines()
            .filter(|line| line.starts_with(PREFIX))
            .filter_map(|line| line.split_once('='));
        let config = Config::from_vars(set).expect(".env.example is valid");
        let debug = format!("{config:#?}");
        let fields = debug
            .lines()
            // Top-level fields only: nested values are indented further.
            .filter(|line| line.starts_with("    ") && !line.starts_with("     "))
            .filter_map(|line| line.trim().split_once(':'))
            .map(|(field, _)| field.to_owned())
            .filter(|field| field.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        for field in fields {
            let variable = format!("{PREFIX}{}", field.to_ascii_uppercase());
            assert!(example.contains(&variable), ".env.example lacks {variable}");
        }
    }
}
