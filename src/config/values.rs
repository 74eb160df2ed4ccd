//! The value types of the configuration that are more than a number, a
//! string or a duration, each parsed from the text of its variable.

use std::{fmt, marker::PhantomData, num::NonZeroU32, str::FromStr, time::Duration};

use serde::{Deserialize, Deserializer};
use serde_with::DeserializeAs;

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

/// A comma-separated list, each item trimmed and read as `As` reads it;
/// empty items are skipped, so `a, b,` is `[a, b]`.
pub struct CommaList<As>(PhantomData<As>);

impl<'de, T, As> DeserializeAs<'de, Vec<T>> for CommaList<As>
where
    As: for<'a> DeserializeAs<'a, T>,
{
    fn deserialize_as<D: Deserializer<'de>>(deserializer: D) -> Result<Vec<T>, D::Error> {
        use serde::de::{Error, IntoDeserializer, value::StrDeserializer};
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
