//! The `DateTime` scalar: RFC 3339 in, with any offset; UTC out, ending in
//! `Z`. The `Date` scalar: RFC 3339's full-date, a day in no zone.
//!
//! Our own rather than async-graphql's so that validation checks the format:
//! a bad value is then reported with the argument path it came from, which
//! lets the error name the field.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{SecondsFormat, Utc};

/// A date-time in RFC 3339, e.g. `2026-11-23T09:30:00Z`; answers are in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime(pub chrono::DateTime<Utc>);

fn parse(text: &str) -> Option<chrono::DateTime<Utc>> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

#[Scalar(
    name = "DateTime",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339"
)]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => parse(text)
                .map(Self)
                .ok_or_else(|| InputValueError::custom("expected an RFC 3339 date-time")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(text) if parse(text).is_some())
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

/// A day in no time zone, RFC 3339's full-date, e.g. `2026-12-24`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date(pub chrono::NaiveDate);

#[Scalar(
    name = "Date",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
)]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => crate::dates::parse_day(text).map(Self).ok_or_else(|| {
                InputValueError::custom("expected an RFC 3339 full-date, such as 2026-12-24")
            }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(text) if crate::dates::parse_day(text).is_some())
    }

    fn to_value(&self) -> Value {
        Value::String(crate::dates::format_day(self.0))
    }
}
