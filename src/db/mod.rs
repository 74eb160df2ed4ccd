//! The database connection: SQLite (WAL, foreign keys on) or PostgreSQL,
//! chosen by the URL, with migrations applied by `serve`; short reads of
//! SQLite on the calling thread ([`sqlite_reads`]); rows of either read by
//! column position ([`Columns`]).

pub mod postgres_reads;
pub mod reads;
pub mod sqlite_reads;
pub mod write;

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, QueryResult,
    TransactionTrait,
    sea_query::{Expr, extension::postgres::PgFunc},
};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// `expr` is one of `ids`. On PostgreSQL, `= ANY($1)` with the ids as one
/// array: one statement text for any number of ids, so it is prepared and
/// planned once (an `IN` list of 200 ids is a statement of its own, and its
/// planning took longer than running it); elsewhere `IN (…)`.
pub fn one_of(backend: DbBackend, expr: impl Into<Expr>, ids: &[Uuid]) -> Expr {
    use sea_orm::sea_query::ExprTrait;
    let expr = expr.into();
    match backend {
        DbBackend::Postgres => expr.eq(PgFunc::any(Expr::val(ids.to_vec()))),
        _ => expr.is_in(ids.iter().copied()),
    }
}

/// The PostgreSQL advisory lock that migrations run under: any fixed number
/// that no other application on the database uses ("taskql" in ASCII).
const MIGRATION_LOCK: i64 = 0x7461_736b_716c;

pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    // SeaORM gives SQLite a single connection unless told otherwise, which
    // queues every query of the server behind one; with WAL, readers run
    // side by side and writers take turns (busy_timeout).
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let pool_size = u32::try_from(cores * 2).unwrap_or(u32::MAX).max(4);
    let mut db = connect_with(url, pool_size).await?;
    if crate::telemetry::is_tracing() {
        let system = system_name(db.get_database_backend());
        db.set_metric_callback(move |run| {
            crate::telemetry::statement(system, &run.statement.sql, run.elapsed, run.failed);
        });
    }
    Ok(db)
}

/// The database's name in traces (`db.system.name`).
pub fn system_name(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "postgresql",
        DbBackend::Sqlite => "sqlite",
        _ => "other_sql",
    }
}

/// A connection for `taskql migrate`: on SQLite a single one, because the
/// migrator switches foreign keys off for `fresh` with a `PRAGMA`, which
/// holds for one connection only; on PostgreSQL two, one of which holds the
/// migration lock ([`exclusively`]).
pub async fn connect_for_migrations(url: &str) -> Result<DatabaseConnection, DbErr> {
    let sqlite = url.starts_with("sqlite:");
    connect_with(url, if sqlite { 1 } else { 2 }).await
}

async fn connect_with(url: &str, pool_size: u32) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(pool_size)
        .sqlx_logging(false)
        // A ping on every checkout is one more round trip per query (to the
        // connection's thread on SQLite, to the server on PostgreSQL); only
        // a connection idle long enough to have been dropped is tested.
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .map_sqlx_postgres_opts(plain_when_local)
        .map_sqlx_sqlite_opts(|sqlite| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            sqlite
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
        });
    Database::connect(options).await
}

/// TLS to a server on this machine guards nothing the kernel does not
/// already keep to it, and costs each connection two round trips more
/// (start-up opens five: 90 ms each on loopback). Such a server is reached
/// without TLS unless the URL asks for it (`require` or stricter; the
/// default `prefer` does not).
fn plain_when_local(
    options: sea_orm::sqlx::postgres::PgConnectOptions,
) -> sea_orm::sqlx::postgres::PgConnectOptions {
    use sea_orm::sqlx::postgres::PgSslMode;
    let local = options.get_socket().is_some() || is_local_host(options.get_host());
    if local && matches!(options.get_ssl_mode(), PgSslMode::Prefer) {
        options.ssl_mode(PgSslMode::Disable)
    } else {
        options
    }
}

/// Whether the host name `host` is this machine: `localhost` or a
/// loopback address (a Unix socket is too, and is named apart).
pub fn is_local_host(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

/// Applies every pending migration, on connections of their own that are
/// closed before the server's pool opens: a connection that has read the
/// schema before a migration changed it may keep describing a statement by
/// the old one (SQLite: a column added meanwhile is missing from the
/// statement's result, and reads as absent).
pub async fn migrate(url: &str) -> Result<(), DbErr> {
    let db = connect_for_migrations(url).await?;
    let migrated = exclusively(&db, async |db| Migrator::up(db, None).await).await;
    db.close().await?;
    migrated
}

/// Runs `work` (migrations) while no other process runs migrations on the
/// same database, so that any number of instances started together on an
/// empty PostgreSQL database apply each migration once and all come up.
/// The lock is a transaction-level advisory lock, held by a transaction of
/// its own for the duration of `work` and released when it ends, even if the
/// process dies. SQLite needs none: one file is one server's.
pub async fn exclusively<T>(
    db: &DatabaseConnection,
    work: impl AsyncFnOnce(&DatabaseConnection) -> Result<T, DbErr>,
) -> Result<T, DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return work(db).await;
    }
    let lock = db.begin().await?;
    lock.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        .await?;
    let result = work(db).await;
    lock.commit().await?;
    result
}

/// Whether `error` says the database could not be reached, rather than
/// that a statement failed: no connection within the pool's wait, a
/// connection that broke (the server restarted, the network dropped), or a
/// server that is shutting down or not yet accepting (SQLSTATE classes 08
/// and 57P). Such a failure passes once the database is back.
pub fn is_unreachable(error: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx::Error};
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error)) => {
            match error.as_ref() {
                Error::Io(_)
                | Error::Tls(_)
                | Error::PoolTimedOut
                | Error::PoolClosed
                | Error::WorkerCrashed
                | Error::Protocol(_) => true,
                Error::Database(error) => error
                    .code()
                    .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
                _ => false,
            }
        }
        _ => false,
    }
}

/// A row of a statement's result, read by column position, so that one
/// reader serves rusqlite's rows and SeaORM's alike. Each value is read as
/// nullable; the reader decides what may be null.
pub trait Columns {
    fn uuid(&self, at: usize) -> Result<Uuid, DbErr>;
    fn optional_uuid(&self, at: usize) -> Result<Option<Uuid>, DbErr>;
    fn text(&self, at: usize) -> Result<Option<String>, DbErr>;
    fn boolean(&self, at: usize) -> Result<Option<bool>, DbErr>;
    fn integer(&self, at: usize) -> Result<Option<i32>, DbErr>;
    fn big_integer(&self, at: usize) -> Result<Option<i64>, DbErr>;
    fn time(&self, at: usize) -> Result<Option<DateTime<Utc>>, DbErr>;
    fn date(&self, at: usize) -> Result<Option<chrono::NaiveDate>, DbErr>;

    /// The value at column `at`, of any type a column is read as.
    fn get<T: FromColumn>(&self, at: usize) -> Result<T, DbErr>
    where
        Self: Sized,
    {
        T::read(self, at, "a column")
    }
}

impl Columns for QueryResult {
    fn uuid(&self, at: usize) -> Result<Uuid, DbErr> {
        self.try_get_by_index(at)
    }

    fn optional_uuid(&self, at: usize) -> Result<Option<Uuid>, DbErr> {
        self.try_get_by_index(at)
    }

    fn text(&self, at: usize) -> Result<Option<String>, DbErr> {
        self.try_get_by_index(at)
    }

    fn boolean(&self, at: usize) -> Result<Option<bool>, DbErr> {
        self.try_get_by_index(at)
    }

    fn integer(&self, at: usize) -> Result<Option<i32>, DbErr> {
        self.try_get_by_index(at)
    }

    fn big_integer(&self, at: usize) -> Result<Option<i64>, DbErr> {
        self.try_get_by_index(at)
    }

    fn time(&self, at: usize) -> Result<Option<DateTime<Utc>>, DbErr> {
        self.try_get_by_index(at)
    }

    fn date(&self, at: usize) -> Result<Option<chrono::NaiveDate>, DbErr> {
        self.try_get_by_index(at)
    }
}

/// An enum stored in a text column by name: each variant with its name,
/// listed once.
pub trait StoredByName: Copy + PartialEq + 'static {
    const NAMES: &'static [(Self, &'static str)];

    fn stored_name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(value, _)| *value == self)
            .map_or("unknown", |(_, name)| name)
    }

    fn from_stored_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(_, stored)| *stored == name)
            .map(|(value, _)| *value)
    }
}

/// A value of a column, read by position: a type that is never null
/// (refused when the column holds null), or an `Option` of one.
pub trait FromColumn: Sized {
    fn read(row: &impl Columns, at: usize, column: &str) -> Result<Self, DbErr>;
}

/// What a column holds, when it holds something.
pub trait ColumnValue: Sized {
    fn read_nullable(row: &impl Columns, at: usize) -> Result<Option<Self>, DbErr>;
}

impl ColumnValue for String {
    fn read_nullable(row: &impl Columns, at: usize) -> Result<Option<Self>, DbErr> {
        row.text(at)
    }
}

impl ColumnValue for Uuid {
    fn read_nullable(row: &impl Columns, at: usize) -> Result<Option<Self>, DbErr> {
        row.optional_uuid(at)
    }
}

impl ColumnValue for bool {
    fn read_nullable(row: &impl Columns, at: usize) -> Result<Option<Self>, DbErr> {
        row.boolean(at)
    }
}

impl ColumnValue for i32 {
    fn read_nullable(row: &impl Columns, at: usize) -> Result<Option<Self>, DbErr> {
        row.integer(at)
    }
}

impl ColumnValue for i64 {
    fn read_nullable(row: &impl Columns, at: usize) -> Result<Option<Self>, DbErr> {
        row.big_integer(at)
    }
}

impl ColumnValue for DateTime<Utc> {
    fn read_nullable(row: &impl Columns, at: usize) -> Result<Option<Self>, DbErr> {
        row.time(at)
    }
}

impl ColumnValue for chrono::NaiveDate {
    fn read_nullable(row: &impl Columns, at: usize) -> Result<Option<Self>, DbErr> {
        row.date(at)
    }
}

impl<T: ColumnValue> FromColumn for T {
    fn read(row: &impl Columns, at: usize, column: &str) -> Result<Self, DbErr> {
        T::read_nullable(row, at)?.ok_or_else(|| DbErr::Type(format!("{column} is null")))
    }
}

impl<T: ColumnValue> FromColumn for Option<T> {
    fn read(row: &impl Columns, at: usize, _: &str) -> Result<Self, DbErr> {
        T::read_nullable(row, at)
    }
}

/// The current time at the precision the databases store; see [`truncate`].
pub fn now() -> DateTime<Utc> {
    truncate(Utc::now())
}

/// `duration` as a span to add to a time of the database's.
pub fn span(duration: Duration) -> AppResult<chrono::Duration> {
    chrono::Duration::from_std(duration).map_err(AppError::internal)
}

/// `time` at the precision both databases store (microseconds), so a value
/// reads back exactly as it was written on SQLite and PostgreSQL.
pub fn truncate(time: DateTime<Utc>) -> DateTime<Utc> {
    time.trunc_subsecs(6)
}

/// Checks a [`StoredByName`] table against names written out apart from it:
/// `every` lists each value, `expected` gives its name by an exhaustive
/// `match` (no wildcard), so a new value does not compile until it is named
/// there, and is then missed by no table.
#[cfg(test)]
pub fn assert_stored_names<T: StoredByName + std::fmt::Debug>(
    every: &[T],
    expected: fn(T) -> &'static str,
) {
    for &value in every {
        let name = expected(value);
        assert_eq!(value.stored_name(), name, "{value:?}");
        assert_eq!(T::from_stored_name(name), Some(value), "{name}");
    }
    assert_eq!(every.len(), T::NAMES.len(), "every value listed, once");
    let names: std::collections::HashSet<_> = every.iter().map(|&value| expected(value)).collect();
    assert_eq!(names.len(), every.len(), "no two values share a name");
}

/// A migrated SQLite database in a temporary directory, for unit tests.
#[cfg(test)]
pub async fn scratch() -> (tempfile::TempDir, DatabaseConnection) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    migrate(&url).await.expect("migrate");
    let db = connect(&url).await.expect("connect");
    (dir, db)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sqlx::postgres::{PgConnectOptions, PgSslMode};
    use std::str::FromStr;

    #[test]
    fn a_server_on_this_machine_is_reached_without_tls_unless_the_url_asks_for_it() {
        let mode = |url: &str| {
            let options = PgConnectOptions::from_str(url).expect("a URL");
            format!("{:?}", plain_when_local(options).get_ssl_mode())
        };
        let plain = format!("{:?}", PgSslMode::Disable);
        assert_eq!(mode("postgres://postgres@127.0.0.1:5432/taskql"), plain);
        assert_eq!(mode("postgres://u@localhost/taskql"), plain);
        assert_eq!(mode("postgres://u@[::1]:5432/taskql"), plain);
        assert_eq!(mode("postgres:///taskql?host=/run/postgresql"), plain);
        assert_eq!(
            mode("postgres://u@127.0.0.1/taskql?sslmode=require"),
            format!("{:?}", PgSslMode::Require)
        );
        assert_eq!(
            mode("postgres://u@127.0.0.1/taskql?sslmode=verify-full"),
            format!("{:?}", PgSslMode::VerifyFull)
        );
        // A server elsewhere keeps the default: TLS when it offers it.
        assert_eq!(
            mode("postgres://u:p@db.internal/taskql"),
            format!("{:?}", PgSslMode::Prefer)
        );
    }
}
