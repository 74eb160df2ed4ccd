//! Short reads of a SQLite database run on the calling thread, with
//! rusqlite. sqlx runs each SQLite connection on a thread of its own and
//! hands every statement and every row across threads; for a short read
//! that costs far more than the read itself. SeaORM still builds the
//! statement (the same query code serves both databases); only running it
//! and reading its rows happen here. Writes, transactions and long reads
//! stay on sqlx.
//!
//! Measured gain (bench/README.md): the page went from 16% to 24% of the
//! floor when task reads moved here.
//!
//! Values are bound the way sqlx binds them (a UUID as a 16-byte blob, a
//! time as RFC 3339 text, a boolean as 0 or 1), so both paths read and
//! compare the same.

use std::{
    path::{Path, PathBuf},
    sync::Mutex,
    time::Duration,
};

use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, Utc};
use rusqlite::{
    Connection, OpenFlags, Row, ToSql,
    types::{ToSqlOutput, ValueRef},
};
use sea_orm::{DbErr, RuntimeErr, Statement, Value};

use super::Columns;

/// The most idle connections kept; more are opened (and closed) under load.
const IDLE: usize = 16;

/// Read-only connections to one SQLite file, used on the calling thread.
#[derive(Debug)]
pub struct SqliteReads {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl SqliteReads {
    /// Readers of the SQLite file `url` names, or `None` when `url` is not
    /// a SQLite file (an in-memory database is one connection's own).
    pub fn open(url: &str) -> Result<Option<Self>, DbErr> {
        let Some(path) = file_of(url) else {
            return Ok(None);
        };
        let reads = Self {
            path,
            idle: Mutex::new(Vec::new()),
        };
        // Fails now, not at the first request, if the file cannot be read.
        let first = reads.connect()?;
        reads.check_in(first);
        Ok(Some(reads))
    }

    /// Runs `statement` (built by SeaORM for SQLite) and reads every row
    /// with `read`.
    pub fn all<T>(
        &self,
        statement: &Statement,
        read: impl FnMut(&Row<'_>) -> Result<T, DbErr>,
    ) -> Result<Vec<T>, DbErr> {
        let connection = self.check_out()?;
        let rows = query(&connection, statement, read);
        self.check_in(connection);
        rows
    }

    fn connect(&self) -> Result<Connection, DbErr> {
        connect(&self.path).map_err(|error| DbErr::Conn(RuntimeErr::Internal(error.to_string())))
    }

    fn check_out(&self) -> Result<Connection, DbErr> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        idle.map_or_else(|| self.connect(), Ok)
    }

    fn check_in(&self, connection: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE
        {
            idle.push(connection);
        }
    }
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags)?;
    connection.busy_timeout(Duration::from_secs(5))?;
    connection.set_prepared_statement_cache_capacity(64);
    Ok(connection)
}

fn query<T>(
    connection: &Connection,
    statement: &Statement,
    mut read: impl FnMut(&Row<'_>) -> Result<T, DbErr>,
) -> Result<Vec<T>, DbErr> {
    let mut prepared = connection.prepare_cached(&statement.sql).or_failed()?;
    let values = statement
        .values
        .as_ref()
        .map_or(&[][..], |values| &values.0[..]);
    for (index, value) in values.iter().enumerate() {
        prepared
            .raw_bind_parameter(index + 1, Bind(value))
            .or_failed()?;
    }
    let mut rows = prepared.raw_query();
    let mut all = Vec::new();
    while let Some(row) = rows.next().or_failed()? {
        all.push(read(row)?);
    }
    Ok(all)
}

/// A rusqlite result as SeaORM's, so that both databases fail alike.
trait OrFailed<T> {
    fn or_failed(self) -> Result<T, DbErr>;
}

impl<T> OrFailed<T> for rusqlite::Result<T> {
    fn or_failed(self) -> Result<T, DbErr> {
        self.map_err(|error| DbErr::Query(RuntimeErr::Internal(error.to_string())))
    }
}

impl Columns for Row<'_> {
    fn uuid(&self, at: usize) -> Result<uuid::Uuid, DbErr> {
        let bytes = self.get_ref(at).and_then(|value| Ok(value.as_blob()?));
        uuid::Uuid::from_slice(bytes.or_failed()?)
            .map_err(|error| conversion(at, error))
            .or_failed()
    }

    fn optional_uuid(&self, at: usize) -> Result<Option<uuid::Uuid>, DbErr> {
        let bytes = self
            .get_ref(at)
            .and_then(|value| Ok(value.as_blob_or_null()?));
        bytes
            .or_failed()?
            .map(|bytes| uuid::Uuid::from_slice(bytes).map_err(|error| conversion(at, error)))
            .transpose()
            .or_failed()
    }

    fn text(&self, at: usize) -> Result<Option<String>, DbErr> {
        self.get(at).or_failed()
    }

    fn boolean(&self, at: usize) -> Result<Option<bool>, DbErr> {
        self.get(at).or_failed()
    }

    fn integer(&self, at: usize) -> Result<Option<i32>, DbErr> {
        self.get(at).or_failed()
    }

    fn big_integer(&self, at: usize) -> Result<Option<i64>, DbErr> {
        self.get(at).or_failed()
    }

    fn time(&self, at: usize) -> Result<Option<DateTime<Utc>>, DbErr> {
        time(self, at).or_failed()
    }

    fn date(&self, at: usize) -> Result<Option<chrono::NaiveDate>, DbErr> {
        let text = self
            .get_ref(at)
            .and_then(|value| Ok(value.as_str_or_null()?));
        text.or_failed()?
            .map(|text| {
                crate::dates::parse_day(text)
                    .ok_or_else(|| DbErr::Type(format!("column {at} holds no date: {text}")))
            })
            .transpose()
    }
}

/// The file of a `sqlite://path?options` or `sqlite:path` URL.
fn file_of(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| PathBuf::from(path))
}

/// The time (RFC 3339 text) at `index`, or `None` when it is null.
fn time(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let Some(text) = row.get_ref(index)?.as_str_or_null()? else {
        return Ok(None);
    };
    if let Some(time) = utc_as_written(text) {
        return Ok(Some(time));
    }
    let time = DateTime::parse_from_rfc3339(text).map_err(|error| conversion(index, error))?;
    Ok(Some(time.with_timezone(&Utc)))
}

/// A time in the one form times are written in (`Bind` and sqlx alike:
/// `2026-12-02T01:12:57.820207+00:00`, with 0 to 9 digits of fraction),
/// read at fixed positions; `None` for any other form, which the general
/// RFC 3339 reader then takes. A page reads three times per task, and the
/// general reader costs more than the rest of the row.
fn utc_as_written(text: &str) -> Option<DateTime<Utc>> {
    let body = text.strip_suffix("+00:00")?.as_bytes();
    let (seconds, fraction) = body.split_at_checked(19)?;
    if seconds[4] != b'-'
        || seconds[7] != b'-'
        || seconds[10] != b'T'
        || seconds[13] != b':'
        || seconds[16] != b':'
    {
        return None;
    }
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0_u32, |n, &digit| {
            digit
                .is_ascii_digit()
                .then(|| n * 10 + u32::from(digit - b'0'))
        })
    };
    let nanoseconds = match fraction {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let scale = 10_u32.pow(9 - u32::try_from(digits.len()).ok()?);
            number(digits)? * scale
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(number(&seconds[0..4])?).ok()?,
        number(&seconds[5..7])?,
        number(&seconds[8..10])?,
    )?;
    let time = NaiveTime::from_hms_nano_opt(
        number(&seconds[11..13])?,
        number(&seconds[14..16])?,
        number(&seconds[17..19])?,
        nanoseconds,
    )?;
    Some(date.and_time(time).and_utc())
}

fn conversion(
    index: usize,
    error: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Blob, Box::new(error))
}

/// A SeaORM value bound as sqlx binds it on SQLite.
struct Bind<'a>(&'a Value);

impl ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        use rusqlite::types::Value as Sql;
        let owned = |value: Sql| Ok(ToSqlOutput::Owned(value));
        match self.0 {
            Value::Bool(value) => owned(value.map_or(Sql::Null, |b| Sql::Integer(i64::from(b)))),
            Value::TinyInt(value) => owned(value.map_or(Sql::Null, |n| Sql::Integer(n.into()))),
            Value::SmallInt(value) => owned(value.map_or(Sql::Null, |n| Sql::Integer(n.into()))),
            Value::Int(value) => owned(value.map_or(Sql::Null, |n| Sql::Integer(n.into()))),
            Value::BigInt(value) => owned(value.map_or(Sql::Null, Sql::Integer)),
            Value::TinyUnsigned(value) => {
                owned(value.map_or(Sql::Null, |n| Sql::Integer(n.into())))
            }
            Value::SmallUnsigned(value) => {
                owned(value.map_or(Sql::Null, |n| Sql::Integer(n.into())))
            }
            Value::Unsigned(value) => owned(value.map_or(Sql::Null, |n| Sql::Integer(n.into()))),
            Value::BigUnsigned(value) => match value {
                None => owned(Sql::Null),
                Some(n) => i64::try_from(*n)
                    .map(|n| ToSqlOutput::Owned(Sql::Integer(n)))
                    .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error))),
            },
            Value::Float(value) => owned(value.map_or(Sql::Null, |n| Sql::Real(n.into()))),
            Value::Double(value) => owned(value.map_or(Sql::Null, Sql::Real)),
            Value::String(value) => Ok(value
                .as_deref()
                .map_or(ToSqlOutput::Owned(Sql::Null), |text| {
                    ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes()))
                })),
            Value::Bytes(value) => Ok(value
                .as_deref()
                .map_or(ToSqlOutput::Owned(Sql::Null), |bytes| {
                    ToSqlOutput::Borrowed(ValueRef::Blob(bytes))
                })),
            Value::Uuid(value) => Ok(value.as_ref().map_or(ToSqlOutput::Owned(Sql::Null), |id| {
                ToSqlOutput::Borrowed(ValueRef::Blob(id.as_bytes()))
            })),
            Value::ChronoDateTimeUtc(value) => owned(value.map_or(Sql::Null, |time| {
                Sql::Text(time.to_rfc3339_opts(SecondsFormat::AutoSi, false))
            })),
            other => Err(rusqlite::Error::ToSqlConversionFailure(
                format!("no SQLite binding for {other:?}").into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_get_readers() {
        assert_eq!(
            file_of("sqlite://taskql.db?mode=rwc"),
            Some(PathBuf::from("taskql.db"))
        );
        assert_eq!(
            file_of("sqlite:/tmp/t.db"),
            Some(PathBuf::from("/tmp/t.db"))
        );
        assert_eq!(file_of("sqlite::memory:"), None);
        assert_eq!(file_of("postgres://localhost/taskql"), None);
    }

    #[test]
    fn times_as_written_read_as_the_rfc_3339_reader_reads_them() {
        let written = [
            "2026-12-02T01:12:57.820207+00:00",
            "2026-12-02T01:12:57+00:00",
            "2026-12-02T01:12:57.8+00:00",
            "2026-12-02T01:12:57.820+00:00",
            "2026-12-02T01:12:57.820207123+00:00",
            "0001-01-01T00:00:00+00:00",
            "9999-12-31T23:59:59.999999+00:00",
            "2024-02-29T12:00:00+00:00",
        ];
        for text in written {
            let general = DateTime::parse_from_rfc3339(text).map(|time| time.to_utc());
            assert_eq!(utc_as_written(text), general.ok(), "{text}");
        }
        // Other forms are left to the general reader, which reads them right.
        let other = [
            "2026-12-02T01:12:57Z",
            "2026-12-02T02:12:57+01:00",
            "2026-12-02 01:12:57+00:00",
            "2026-12-02T01:12:57.+00:00",
            "2026-12-02T01:12:57.1234567890+00:00",
            "2023-02-29T12:00:00+00:00",
            "2026-12-02T24:00:00+00:00",
            "2016-12-31T23:59:60+00:00",
            "2026-1x-02T01:12:57+00:00",
            "+00:00",
            "",
        ];
        for text in other {
            assert_eq!(utc_as_written(text), None, "{text}");
        }
    }

    #[test]
    fn every_time_reads_back_as_it_is_bound() {
        let connection = Connection::open_in_memory().expect("open");
        let times = [
            "2026-12-02T01:12:57.820207Z",
            "2026-12-02T01:12:57Z",
            "2026-12-02T02:12:57.5+01:00",
        ];
        for text in times {
            let expected = DateTime::parse_from_rfc3339(text).expect("time").to_utc();
            let value = Value::ChronoDateTimeUtc(Some(expected));
            let read = connection
                .query_row("SELECT ?1", [Bind(&value)], |row| time(row, 0))
                .expect("read");
            assert_eq!(read, Some(expected), "{text}");
        }
    }
}
