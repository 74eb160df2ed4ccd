//! Configuration from `TASKQL_*` variables: the process environment wins over
//! a `.env` file, which wins over the defaults of each section.
//!
//! Every value is read as text and parsed into its type, so an invalid value
//! stops the start with a message that names the variable it came from.

mod sections;
mod values;

use std::{collections::BTreeMap, time::Duration};

use figment::{Figment, providers::Serialized};
use serde::de::DeserializeOwned;

pub use sections::{
    DatabaseSettings, HttpSettings, LimitSettings, LogSettings, MailSettings, PasswordSettings,
    SmtpTransport, TOKEN_PLACEHOLDER, TokenSettings,
};
pub use values::{Environment, LogFormat, Origin, RateLimit};

const PREFIX: &str = "TASKQL_";

/// The longest password accepted, in characters.
pub const PASSWORD_MAX_LENGTH: usize = 128;
/// The shortest HS256 key accepted, in bytes.
pub const JWT_SECRET_MIN_BYTES: usize = 32;

/// The whole configuration, validated: holding one means the server can start.
#[derive(Clone, Debug)]
pub struct Config {
    /// `development` or `production`; production turns the developer aids off.
    pub env: Environment,
    pub database: DatabaseSettings,
    pub http: HttpSettings,
    pub tokens: TokenSettings,
    pub passwords: PasswordSettings,
    pub limits: LimitSettings,
    pub mail: MailSettings,
    pub log: LogSettings,
}

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

/// The `env` variable alone, read like a section.
#[derive(serde::Deserialize)]
struct EnvironmentVariable {
    #[serde(default)]
    env: Environment,
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
        let figment = Figment::from(Serialized::globals(fields));
        let config = Self {
            env: section::<EnvironmentVariable>(&figment)?.env,
            database: section(&figment)?,
            http: section(&figment)?,
            tokens: section(&figment)?,
            passwords: section(&figment)?,
            limits: section(&figment)?,
            mail: section(&figment)?,
            log: section(&figment)?,
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let tokens = &self.tokens;
        if let Some(secret) = &tokens.jwt_secret
            && secret.expose().len() < JWT_SECRET_MIN_BYTES
        {
            return Err(ConfigError::new(
                "jwt_secret",
                format!("must be at least {JWT_SECRET_MIN_BYTES} bytes long"),
            ));
        }
        if tokens.jwt_secret.is_none() && self.is_production() {
            return Err(ConfigError::new(
                "jwt_secret",
                "must be set in production (at least 32 random bytes)",
            ));
        }
        self.passwords.argon2_params().map_err(|error| {
            ConfigError::new("argon2_m_kib", format!("invalid Argon2 cost: {error}"))
        })?;
        if !(1..=PASSWORD_MAX_LENGTH).contains(&self.passwords.password_min_length) {
            return Err(ConfigError::new(
                "password_min_length",
                format!("must be between 1 and {PASSWORD_MAX_LENGTH}"),
            ));
        }
        if self.limits.login_max_failures == 0 {
            return Err(ConfigError::new("login_max_failures", "must be at least 1"));
        }
        if self.http.request_timeout.is_zero() {
            return Err(ConfigError::new(
                "request_timeout",
                "must be longer than zero",
            ));
        }
        for (field, ttl) in [
            ("access_token_ttl", tokens.access_token_ttl),
            ("refresh_token_ttl", tokens.refresh_token_ttl),
            ("login_lockout", self.limits.login_lockout),
            ("password_reset_ttl", self.mail.password_reset_ttl),
        ] {
            if ttl < Duration::from_secs(1) {
                return Err(ConfigError::new(field, "must be at least one second"));
            }
        }
        self.mail.validate()?;
        tracing_subscriber::EnvFilter::try_new(&self.log.log)
            .map_err(|error| ConfigError::new("log", error.to_string()))?;
        Ok(())
    }

    pub fn is_production(&self) -> bool {
        self.env == Environment::Production
    }

    pub fn introspection_enabled(&self) -> bool {
        self.http.introspection.unwrap_or(!self.is_production())
    }

    pub fn graphiql_enabled(&self) -> bool {
        self.http.graphiql.unwrap_or(!self.is_production())
    }
}

/// One section, read from all the variables; a bad value names its variable.
fn section<T: DeserializeOwned>(figment: &Figment) -> Result<T, ConfigError> {
    figment.extract_lossy().map_err(|error| {
        let field = error.path.first().cloned().unwrap_or_default();
        ConfigError::new(&field, error.kind.to_string())
    })
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
        assert_eq!(
            config.database.database_url.expose(),
            "sqlite://taskql.db?mode=rwc"
        );
        assert_eq!(config.http.listen.to_string(), "127.0.0.1:8000");
        assert_eq!(config.tokens.access_token_ttl, Duration::from_secs(1800));
        assert_eq!(
            config.tokens.refresh_token_ttl,
            Duration::from_secs(30 * 86_400)
        );
        assert_eq!(
            (
                config.passwords.argon2_m_kib,
                config.passwords.argon2_t,
                config.passwords.argon2_p
            ),
            (19_456, 2, 1)
        );
        assert_eq!(config.passwords.password_min_length, 8);
        assert_eq!(
            config.limits.auth_rate_limit,
            "30/min".parse().expect("a rate"),
            "on by default"
        );
        assert_eq!(
            (
                config.limits.login_max_failures,
                config.limits.login_lockout
            ),
            (10, Duration::from_secs(900))
        );
        assert_eq!(config.http.request_timeout, Duration::from_secs(10));
        assert!(config.http.trusted_proxies.is_empty() && config.http.cors_origins.is_empty());
        assert!(config.introspection_enabled() && config.graphiql_enabled());
        assert!(config.mail.smtp_url.is_none() && config.mail.password_reset_url.is_none());
        assert_eq!(
            config.mail.mail_from.to_string(),
            "taskql <no-reply@localhost>"
        );
        assert_eq!(config.mail.password_reset_ttl, Duration::from_secs(1800));
    }

    #[test]
    fn every_form_of_smtp_url_is_accepted() {
        for url in [
            "smtps://user:pass@mail.example.com:465",
            "smtp://user:pass@mail.example.com:587?tls=required",
            "smtp://localhost:25",
        ] {
            let config = load(&[("TASKQL_SMTP_URL", url)]).expect(url);
            let transport = config.mail.smtp_transport().expect(url);
            assert!(transport.is_some(), "{url}");
        }
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
        assert_eq!(config.passwords.argon2_t, 3);
        assert_eq!(config.tokens.access_token_ttl, Duration::from_secs(90));
        assert!(!config.graphiql_enabled());
        assert_eq!(config.limits.auth_rate_limit, RateLimit::Off);
        assert_eq!(
            config.http.cors_origins,
            ["https://a.example", "http://localhost:3000"].map(|o| o.parse().expect("origin"))
        );
        assert_eq!(config.http.trusted_proxies.len(), 2);
        assert_eq!(
            config.tokens.jwt_secret.expect("set").expose(),
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
            (
                ("TASKQL_SMTP_URL", "https://mail.example.com"),
                "TASKQL_SMTP_URL",
                "not SMTP",
            ),
            (
                ("TASKQL_MAIL_FROM", "not an address"),
                "TASKQL_MAIL_FROM",
                "not a mailbox",
            ),
            (
                ("TASKQL_PASSWORD_RESET_URL", "https://app.example.com/reset"),
                "TASKQL_PASSWORD_RESET_URL",
                "no {token}",
            ),
            (
                ("TASKQL_PASSWORD_RESET_TTL", "0s"),
                "TASKQL_PASSWORD_RESET_TTL",
                "zero ttl",
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
            (
                "TASKQL_SMTP_URL",
                "smtps://mailer:swordfish@mail.example.com",
            ),
        ])
        .expect("valid");
        let printed = format!("{config:?}");
        assert!(!printed.contains("swordfish"), "{printed}");
        assert!(!printed.contains("super-secret"), "{printed}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("[redacted]"), "{printed}");
    }

    #[test]
    fn env_example_is_valid_and_lists_every_variable() {
        let example = include_str!("../../.env.example");
        let set = example
            .lines()
            .filter(|line| line.starts_with(PREFIX))
            .filter_map(|line| line.split_once('='));
        let config = Config::from_vars(set).expect(".env.example is valid");
        let debug = format!("{config:#?}");
        // The fields of each section, and the top-level ones that are not
        // sections: every one of them is a variable.
        let indent = |line: &str| line.len() - line.trim_start().len();
        let fields = debug
            .lines()
            .filter(|line| {
                indent(line) == 8 || (indent(line) == 4 && !line.trim_end().ends_with('{'))
            })
            .filter_map(|line| line.trim().split_once(':'))
            .map(|(field, _)| field.to_owned())
            .filter(|field| {
                field
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            });
        let mut checked = 0;
        for field in fields {
            let variable = format!("{PREFIX}{}", field.to_ascii_uppercase());
            assert!(example.contains(&variable), ".env.example lacks {variable}");
            checked += 1;
        }
        assert_eq!(checked, 27, "every field of every section: {debug}");
    }
}
