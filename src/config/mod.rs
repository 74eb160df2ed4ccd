//! Configuration from `TASKQL_*` variables: the process environment wins over
//! a `.env` file, which wins over the defaults of each section.
//!
//! Every value is read as text and parsed into its type, so an invalid value
//! stops the start with a message that names the variable it came from.

mod sections;
mod values;

use std::{collections::BTreeMap, time::Duration};

use figment::{Figment, providers::Serialized};
use serde::{
    Deserializer,
    de::{DeserializeOwned, Error as _, Visitor, value::Error as FieldsOnly},
};

pub use sections::{
    AccountPolicy, DatabaseSettings, HttpSettings, LimitSettings, LogSettings, MailSettings,
    OIDC_PROVIDER_FIELDS, OidcSettings, PasskeySettings, PasswordSettings, SyncSettings,
    TokenSettings, TraceSettings,
};
pub use values::{
    DocumentManifest, Environment, LinkTemplate, LogFilter, LogFormat, Origin, OtlpEndpoint,
    RateLimit, SecretKey, Smtp, SmtpTransport, document_hash,
};

const PREFIX: &str = "TASKQL_";

/// The longest password accepted, in characters.
pub const PASSWORD_MAX_LENGTH: usize = 128;
/// The shortest HS256 key accepted, in bytes.
pub const JWT_SECRET_MIN_BYTES: usize = 32;

/// The whole configuration, parsed: holding one means the server can start.
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
    pub accounts: AccountPolicy,
    pub sync: SyncSettings,
    pub log: LogSettings,
    pub traces: TraceSettings,
    pub passkeys: PasskeySettings,
    pub oidc: OidcSettings,
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
        Self::read(&mut Sections::new(Figment::from(Serialized::globals(
            fields,
        ))))
    }

    /// Every variable the configuration reads, as `.env.example` lists them.
    pub fn variables() -> Result<Vec<String>, ConfigError> {
        let mut sections = Sections::new(Figment::new());
        Self::read(&mut sections)?;
        Ok(sections
            .read
            .iter()
            .map(|field| format!("{PREFIX}{}", field.to_ascii_uppercase()))
            .collect())
    }

    fn read(sections: &mut Sections) -> Result<Self, ConfigError> {
        let config = Self {
            env: sections.read::<EnvironmentVariable>()?.env,
            database: sections.read()?,
            http: sections.read()?,
            tokens: sections.read()?,
            passwords: sections.read::<sections::PasswordVariables>()?.parse()?,
            limits: sections.read()?,
            mail: sections.read()?,
            accounts: sections.read()?,
            sync: sections.read()?,
            log: sections.read()?,
            traces: sections.read()?,
            passkeys: sections.read::<sections::PasskeyVariables>()?.parse()?,
            oidc: {
                let variables = sections.read::<sections::OidcVariables>()?;
                variables.parse(|field| sections.value(field))?
            },
        };
        if config.tokens.secret.is_none() && config.is_production() {
            return Err(ConfigError::new(
                "jwt_secret",
                "must be set in production (at least 32 random bytes)",
            ));
        }
        if let Some(admin) = config.http.admin_listen
            && admin.port() != 0
            && (admin == config.http.listen || Some(admin) == config.http.metrics_listen)
        {
            return Err(ConfigError::new(
                "admin_listen",
                "must be an address of its own, never TASKQL_LISTEN's or TASKQL_METRICS_LISTEN's",
            ));
        }
        Ok(config)
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

    /// How long a stopping server keeps serving with `/readyz` at 503, so
    /// that a balancer stops sending to it before it stops accepting.
    pub fn shutdown_drain(&self) -> Duration {
        self.http.shutdown_drain.unwrap_or(if self.is_production() {
            Duration::from_secs(5)
        } else {
            Duration::ZERO
        })
    }
}

/// Reads sections from the variables, noting which variables each reads.
struct Sections {
    figment: Figment,
    read: Vec<&'static str>,
}

impl Sections {
    fn new(figment: Figment) -> Self {
        Self {
            figment,
            read: Vec::new(),
        }
    }

    /// The text of one variable that no section declares (a provider's,
    /// named after it), if set.
    fn value(&self, field: &str) -> Option<String> {
        self.figment
            .find_value(field)
            .ok()
            .and_then(|value| value.into_string())
    }

    /// One section; a bad value names its variable.
    fn read<T: DeserializeOwned>(&mut self) -> Result<T, ConfigError> {
        self.read.extend_from_slice(fields_of::<T>());
        self.figment.extract_lossy().map_err(|error| {
            let field = error.path.first().cloned().unwrap_or_default();
            ConfigError::new(&field, error.kind.to_string())
        })
    }
}

/// The fields a derived `Deserialize` of a struct asks for: a deserializer
/// that notes them and reads nothing.
fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Fields<'a>(&'a mut &'static [&'static str]);

    impl<'de> Deserializer<'de> for Fields<'_> {
        type Error = FieldsOnly;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, FieldsOnly> {
            Err(FieldsOnly::custom("a struct's fields only"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, FieldsOnly> {
            *self.0 = fields;
            Err(FieldsOnly::custom("a struct's fields only"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Fields(&mut fields));
    fields
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
        assert_eq!(config.database.url.expose(), "sqlite://taskql.db?mode=rwc");
        assert_eq!(config.http.listen.to_string(), "127.0.0.1:8000");
        assert_eq!(config.tokens.access_token_ttl, Duration::from_secs(1800));
        assert_eq!(
            config.tokens.refresh_token_ttl,
            Duration::from_secs(30 * 86_400)
        );
        let argon2 = &config.passwords.argon2;
        assert_eq!(
            (argon2.m_cost(), argon2.t_cost(), argon2.p_cost()),
            (19_456, 2, 1)
        );
        assert_eq!(config.passwords.min_length, 8);
        assert_eq!(
            config.limits.auth_rate_limit,
            "30/min".parse().expect("a rate"),
            "on by default"
        );
        assert_eq!(
            (
                config.limits.login_max_failures.get(),
                config.limits.login_lockout
            ),
            (10, Duration::from_secs(900))
        );
        assert_eq!(config.http.request_timeout, Duration::from_secs(10));
        assert!(config.http.trusted_proxies.is_empty() && config.http.cors_origins.is_empty());
        assert!(config.introspection_enabled() && config.graphiql_enabled());
        assert!(config.mail.smtp.is_none() && config.mail.reset_link.is_none());
        assert_eq!(config.mail.from.to_string(), "taskql <no-reply@localhost>");
        assert_eq!(config.mail.reset_ttl, Duration::from_secs(1800));
        assert_eq!(config.log.filter.directives().count(), 1);
    }

    #[test]
    fn every_form_of_smtp_url_is_accepted() {
        for url in [
            "smtps://user:pass@mail.example.com:465",
            "smtp://user:pass@mail.example.com:587?tls=required",
            "smtp://localhost:25",
        ] {
            let config = load(&[("TASKQL_SMTP_URL", url)]).expect(url);
            assert!(config.mail.smtp.is_some(), "{url}");
        }
    }

    #[test]
    fn values_are_parsed_from_text() {
        let config = load(&[
            ("TASKQL_ARGON2_T", "3"),
            ("TASKQL_ACCESS_TOKEN_TTL", "90s"),
            ("TASKQL_GRAPHIQL", "false"),
            ("TASKQL_LOG", "warn, taskql=debug,"),
            (
                "TASKQL_PASSWORD_RESET_URL",
                "https://app.example.com/reset?token={token}",
            ),
            ("TASKQL_AUTH_RATE_LIMIT", "off"),
            (
                "TASKQL_CORS_ORIGINS",
                "https://a.example, http://localhost:3000",
            ),
            ("TASKQL_TRUSTED_PROXIES", "10.0.0.1, ::1"),
            ("TASKQL_OTLP_ENDPOINT", "http://collector:4318/"),
            ("TASKQL_JWT_SECRET", "12345678901234567890123456789012"),
            ("UNRELATED", "ignored"),
        ])
        .expect("valid");
        assert_eq!(config.passwords.argon2.t_cost(), 3);
        assert_eq!(config.tokens.access_token_ttl, Duration::from_secs(90));
        assert!(!config.graphiql_enabled());
        assert_eq!(config.limits.auth_rate_limit, RateLimit::Off);
        assert_eq!(
            config.http.cors_origins,
            ["https://a.example", "http://localhost:3000"].map(|o| o.parse().expect("origin"))
        );
        assert_eq!(config.http.trusted_proxies.len(), 2);
        assert_eq!(
            config
                .traces
                .otlp_endpoint
                .as_ref()
                .map(OtlpEndpoint::traces_url),
            Some("http://collector:4318/v1/traces")
        );
        assert_eq!(config.log.filter.directives().count(), 2);
        let link = config.mail.reset_link.as_ref().expect("a template");
        assert_eq!(link.link("abc"), "https://app.example.com/reset?token=abc");
        assert_eq!(
            config.tokens.secret.expect("set").expose(),
            b"12345678901234567890123456789012"
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
            (("TASKQL_LOG", "taskql=loud"), "TASKQL_LOG", "bad filter"),
            (
                ("TASKQL_OTLP_ENDPOINT", "collector:4318"),
                "TASKQL_OTLP_ENDPOINT",
                "no scheme",
            ),
            (
                ("TASKQL_OTLP_ENDPOINT", "https://collector:4318"),
                "TASKQL_OTLP_ENDPOINT",
                "TLS",
            ),
            (
                ("TASKQL_OTLP_ENDPOINT", "http://user:hunter2@collector:4318"),
                "TASKQL_OTLP_ENDPOINT",
                "credentials in the URL",
            ),
            (
                ("TASKQL_LOGIN_MAX_FAILURES", "0"),
                "TASKQL_LOGIN_MAX_FAILURES",
                "no failures",
            ),
            (
                ("TASKQL_REQUEST_TIMEOUT", "0s"),
                "TASKQL_REQUEST_TIMEOUT",
                "zero timeout",
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
    fn an_endpoint_with_credentials_is_refused_without_repeating_them() {
        let error = load(&[("TASKQL_OTLP_ENDPOINT", "http://user:hunter2@collector:4318")])
            .expect_err("credentials");
        let said = error.to_string();
        assert!(said.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{said}");
        assert!(!said.contains("hunter2"), "{said}");
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
    fn identity_providers_are_read_by_their_names_and_a_missing_value_is_named() {
        let base = [
            ("TASKQL_OIDC_PROVIDERS", "acme,Google"),
            (
                "TASKQL_OIDC_ACME_ISSUER",
                "https://id.acme.example/realms/staff",
            ),
            ("TASKQL_OIDC_ACME_CLIENT_ID", "taskql"),
            ("TASKQL_OIDC_ACME_CLIENT_SECRET", "acme-client-secret"),
            ("TASKQL_OIDC_GOOGLE_ISSUER", "https://accounts.google.com"),
            (
                "TASKQL_OIDC_GOOGLE_CLIENT_ID",
                "123.apps.googleusercontent.com",
            ),
            ("TASKQL_OIDC_GOOGLE_CLIENT_SECRET", "google-client-secret"),
            ("TASKQL_OIDC_GOOGLE_DISPLAY_NAME", "Google"),
            (
                "TASKQL_OIDC_REDIRECT_URIS",
                "https://app.example.com/callback",
            ),
        ];
        let config = load(&base).expect("valid");
        let providers: Vec<(&str, &str)> = config
            .oidc
            .providers
            .iter()
            .map(|provider| (provider.id.as_str(), provider.display_name.as_str()))
            .collect();
        assert_eq!(providers, [("acme", "acme"), ("Google", "Google")]);
        assert_eq!(
            config.oidc.redirect_uris,
            ["https://app.example.com/callback"]
        );
        let printed = format!("{config:?}");
        assert!(!printed.contains("client-secret"), "{printed}");
        let without = |name: &str| {
            let vars: Vec<(&str, &str)> =
                base.iter().copied().filter(|(n, _)| *n != name).collect();
            load(&vars).expect_err(name).variable
        };
        assert_eq!(
            without("TASKQL_OIDC_ACME_ISSUER"),
            "TASKQL_OIDC_ACME_ISSUER"
        );
        assert_eq!(
            without("TASKQL_OIDC_GOOGLE_CLIENT_SECRET"),
            "TASKQL_OIDC_GOOGLE_CLIENT_SECRET"
        );
        assert_eq!(
            without("TASKQL_OIDC_REDIRECT_URIS"),
            "TASKQL_OIDC_REDIRECT_URIS"
        );
        let mut bad = base.to_vec();
        bad[1] = ("TASKQL_OIDC_ACME_ISSUER", "not a url");
        assert_eq!(
            load(&bad).expect_err("bad").variable,
            "TASKQL_OIDC_ACME_ISSUER"
        );
    }

    #[test]
    fn env_example_is_valid_and_lists_exactly_the_variables_read() {
        let example = include_str!("../../.env.example");
        let listed: Vec<(&str, &str)> = example
            .lines()
            .map(|line| line.trim_start_matches("# "))
            .filter(|line| line.starts_with(PREFIX))
            .filter_map(|line| line.split_once('='))
            .collect();
        let set = example
            .lines()
            .filter(|line| line.starts_with(PREFIX))
            .filter_map(|line| line.split_once('='));
        Config::from_vars(set).expect(".env.example is valid");
        let read = Config::variables().expect("the defaults are valid");
        for variable in &read {
            assert!(
                listed.iter().any(|(name, _)| name == variable),
                ".env.example lacks {variable}"
            );
        }
        // A provider's own variables, named after it.
        let of_a_provider = |name: &str| {
            name.strip_prefix("TASKQL_OIDC_").is_some_and(|rest| {
                OIDC_PROVIDER_FIELDS
                    .iter()
                    .any(|field| rest.to_ascii_lowercase().ends_with(&format!("_{field}")))
            })
        };
        for (name, _) in &listed {
            assert!(
                of_a_provider(name) || read.iter().any(|variable| variable == name),
                ".env.example lists {name}, which nothing reads"
            );
        }
        assert!(read.len() >= 27, "{read:?}");
    }
}
