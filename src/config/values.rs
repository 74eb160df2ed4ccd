//! The value types of the configuration that are more than a number, a
//! string or a duration, each parsed from the text of its variable.

use std::{
    collections::HashMap, fmt, marker::PhantomData, num::NonZeroU32, str::FromStr, sync::Arc,
    time::Duration,
};

use lettre::{AsyncSmtpTransport, Tokio1Executor};
use serde::{Deserialize, Deserializer, de::Error as _};
use serde_with::DeserializeAs;
use tracing_subscriber::filter::Directive;

use super::JWT_SECRET_MIN_BYTES;
use crate::secret::Secret;

/// The SMTP client, as lettre runs it on tokio.
pub type SmtpTransport = AsyncSmtpTransport<Tokio1Executor>;

/// Longest wait for the SMTP server at each step of sending a mail.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

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

/// A number of events allowed per period, as in `30/min`, or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateLimit {
    Off,
    Allow { count: NonZeroU32, per: Duration },
}

impl FromStr for RateLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(Self::Off);
        }
        let expected =
            || format!("`{text}` is not a rate such as `30/min`, `5/s`, `100/h` or `off`");
        let (count, unit) = text.split_once('/').ok_or_else(expected)?;
        let count = count.trim().parse().map_err(|_| expected())?;
        let per = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(expected()),
        };
        Ok(Self::Allow { count, per })
    }
}

/// A browser origin: scheme, host and port, as in `https://app.example.com`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Origin {
    type Err = String;

    fn from_str(origin: &str) -> Result<Self, String> {
        let valid = (origin.starts_with("https://") || origin.starts_with("http://"))
            && !origin.ends_with('/')
            && origin.is_ascii()
            && !origin.contains(char::is_whitespace);
        if valid {
            Ok(Self(origin.to_owned()))
        } else {
            Err(format!(
                "`{origin}` is not an origin such as `https://app.example.com`"
            ))
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where traces are sent: an OpenTelemetry collector's OTLP/HTTP base URL,
/// as in `http://127.0.0.1:4318`; traces go to `<base>/v1/traces`, as with
/// `OTEL_EXPORTER_OTLP_ENDPOINT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtlpEndpoint(String);

impl OtlpEndpoint {
    /// The URL spans are posted to.
    pub fn traces_url(&self) -> &str {
        &self.0
    }
}

impl FromStr for OtlpEndpoint {
    type Err = String;

    fn from_str(base: &str) -> Result<Self, String> {
        let base = base.trim().trim_end_matches('/');
        let authority = base.split_once("://").map_or(base, |(_, rest)| rest);
        if authority
            .split('/')
            .next()
            .is_some_and(|host| host.contains('@'))
        {
            // Said without the value: it holds a password.
            return Err(
                "holds credentials, which would show wherever the endpoint is \
                        printed; give them in OTEL_EXPORTER_OTLP_HEADERS"
                    .to_owned(),
            );
        }
        if base.starts_with("https://") {
            return Err(format!(
                "`{base}`: traces are sent over plain HTTP, to a collector on the host \
                 or beside the server (such as `http://127.0.0.1:4318`)"
            ));
        }
        let uri: axum::http::Uri = base
            .parse()
            .map_err(|error| format!("`{base}` is not a URL: {error}"))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() || uri.query().is_some() {
            return Err(format!(
                "`{base}` is not a collector's base URL such as `http://127.0.0.1:4318`"
            ));
        }
        Ok(Self(format!("{base}/v1/traces")))
    }
}

/// A key of at least 32 bytes (the HS256 key of access tokens, the data
/// key), never printed.
#[derive(Clone, Debug)]
pub struct SecretKey(Secret);

impl SecretKey {
    pub fn expose(&self) -> &[u8] {
        self.0.expose().as_bytes()
    }
}

impl FromStr for SecretKey {
    type Err = String;

    fn from_str(secret: &str) -> Result<Self, String> {
        if secret.len() < JWT_SECRET_MIN_BYTES {
            return Err(format!(
                "must be at least {JWT_SECRET_MIN_BYTES} bytes long"
            ));
        }
        Ok(Self(Secret::new(secret)))
    }
}

/// The SMTP transport a `TASKQL_SMTP_URL` describes, built once; its URL
/// may hold a password, so it never prints.
#[derive(Clone)]
pub struct Smtp(pub SmtpTransport);

impl FromStr for Smtp {
    type Err = &'static str;

    fn from_str(url: &str) -> Result<Self, &'static str> {
        // lettre's own error may quote the URL, which can hold a password.
        let transport = SmtpTransport::from_url(url).map_err(|_| {
            "must be smtps://user:pass@host:465, smtp://user:pass@host:587?tls=required \
             or smtp://host:25"
        })?;
        Ok(Self(transport.timeout(Some(SMTP_TIMEOUT)).build()))
    }
}

impl fmt::Debug for Smtp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Smtp([redacted])")
    }
}

/// A link template such as `https://app.example.com/reset?token={token}`:
/// an http(s) URL with the place the token goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkTemplate(String);

impl LinkTemplate {
    /// What a template holds where the token goes.
    pub const PLACEHOLDER: &str = "{token}";

    /// The link for `token`.
    pub fn link(&self, token: &str) -> String {
        self.0.replace(Self::PLACEHOLDER, token)
    }
}

impl FromStr for LinkTemplate {
    type Err = String;

    fn from_str(template: &str) -> Result<Self, String> {
        let web = template.starts_with("https://") || template.starts_with("http://");
        if web && template.contains(Self::PLACEHOLDER) {
            Ok(Self(template.to_owned()))
        } else {
            Err(format!(
                "must be an http(s) link holding {}",
                Self::PLACEHOLDER
            ))
        }
    }
}

/// A tracing filter in `RUST_LOG` syntax (`info,taskql=debug`), read into
/// its directives once.
#[derive(Clone, Debug)]
pub struct LogFilter(Vec<Directive>);

impl LogFilter {
    pub fn directives(&self) -> impl Iterator<Item = Directive> + '_ {
        self.0.iter().cloned()
    }
}

impl Default for LogFilter {
    fn default() -> Self {
        Self(vec![tracing::Level::INFO.into()])
    }
}

impl FromStr for LogFilter {
    type Err = String;

    fn from_str(filter: &str) -> Result<Self, String> {
        filter
            .split(',')
            .map(str::trim)
            .filter(|directive| !directive.is_empty())
            .map(|directive| {
                directive
                    .parse()
                    .map_err(|error| format!("`{directive}`: {error}"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// A duration of at least a second, as in `90s`, `30m`, `12h`.
pub fn at_least_a_second<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let duration: Duration = humantime_serde::deserialize(deserializer)?;
    if duration < Duration::from_secs(1) {
        return Err(D::Error::custom("must be at least one second"));
    }
    Ok(duration)
}

/// A duration longer than zero.
pub fn longer_than_zero<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let duration: Duration = humantime_serde::deserialize(deserializer)?;
    if duration.is_zero() {
        return Err(D::Error::custom("must be longer than zero"));
    }
    Ok(duration)
}

/// A comma-separated list, each item trimmed and read as `As` reads it;
/// empty items are skipped, so `a, b,` is `[a, b]`.
pub struct CommaList<As>(PhantomData<As>);

impl<'de, T, As> DeserializeAs<'de, Vec<T>> for CommaList<As>
where
    As: for<'a> DeserializeAs<'a, T>,
{
    fn deserialize_as<D: Deserializer<'de>>(deserializer: D) -> Result<Vec<T>, D::Error> {
        use serde::de::{IntoDeserializer, value::StrDeserializer};
        let text = String::deserialize(deserializer)?;
        text.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                let item: StrDeserializer<'_, serde::de::value::Error> = item.into_deserializer();
                As::deserialize_as(item).map_err(D::Error::custom)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_written() {
        let every = |count, secs| RateLimit::Allow {
            count: NonZeroU32::new(count).expect("non-zero"),
            per: Duration::from_secs(secs),
        };
        assert_eq!("30/min".parse(), Ok(every(30, 60)));
        assert_eq!(" 5 / s ".parse(), Ok(every(5, 1)));
        assert_eq!("100/h".parse(), Ok(every(100, 3600)));
        assert_eq!("OFF".parse(), Ok(RateLimit::Off));
        for bad in ["0/min", "30", "30/day", "many/min"] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
    }
}

/// A trusted-documents manifest, as GraphQL Code Generator's client preset
/// writes it with `persistedDocuments: true`: a JSON object from each
/// document's id (`sha256:<hex>`, or the bare hex) to its text. Read from
/// the file the variable names, each id checked against its text's SHA-256.
#[derive(Clone)]
pub struct DocumentManifest(Arc<HashMap<[u8; 32], Arc<str>>>);

impl DocumentManifest {
    /// The text of the document whose SHA-256 is `hash`.
    pub fn get(&self, hash: &[u8; 32]) -> Option<&Arc<str>> {
        self.0.get(hash)
    }
}

/// The SHA-256 a document id names: `sha256:<64 hex digits>`, or the 64
/// digits alone.
pub fn document_hash(id: &str) -> Option<[u8; 32]> {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    let mut hash = [0u8; 32];
    hex::decode_to_slice(hex, &mut hash).ok()?;
    Some(hash)
}

impl fmt::Debug for DocumentManifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocumentManifest({} documents)", self.0.len())
    }
}

impl FromStr for DocumentManifest {
    type Err = String;

    fn from_str(path: &str) -> Result<Self, String> {
        use sha2::{Digest, Sha256};
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read the manifest {path}: {error}"))?;
        let entries: HashMap<String, String> = serde_json::from_str(&text).map_err(|error| {
            format!(
                "{path} is not a manifest (a JSON object from document ids to documents): {error}"
            )
        })?;
        let mut documents = HashMap::with_capacity(entries.len());
        for (id, document) in entries {
            let hash = document_hash(&id).ok_or_else(|| {
                format!(
                    "{path}: `{id}` is not a SHA-256 document id (sha256:<hex>; \
                     set the client preset's hashAlgorithm to sha256)"
                )
            })?;
            if Sha256::digest(document.as_bytes()).as_slice() != hash {
                return Err(format!("{path}: `{id}` is not the SHA-256 of its document"));
            }
            documents.insert(hash, Arc::from(document));
        }
        Ok(Self(Arc::new(documents)))
    }
}
