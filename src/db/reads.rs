//! Short reads (an index lookup, a bounded range, a page and what hangs off
//! it), run by the fastest path the database offers: a SQLite file on the
//! calling thread ([`super::sqlite_reads`]), PostgreSQL on pipelined
//! tokio-postgres connections ([`super::postgres_reads`]), anything else
//! (an in-memory SQLite database) through SeaORM. The statement is SeaORM's
//! in every case, and its rows are read by position ([`Columns`]), so one
//! reader serves all three.

use std::{sync::Arc, time::Instant};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, QueryResult, Statement,
    sea_query::SelectStatement,
};
use uuid::Uuid;

use super::{Columns, postgres_reads::PostgresReads, sqlite_reads::SqliteReads};
use crate::error::AppResult;

/// Runs short reads; cheap to clone.
#[derive(Clone)]
pub struct Reads {
    db: DatabaseConnection,
    fast: Option<Arc<Fast>>,
}

#[allow(clippy::large_enum_variant, reason = "one per process, behind an Arc")]
enum Fast {
    Sqlite(SqliteReads),
    Postgres(PostgresReads),
}

/// A row of a read, from whichever path ran it.
pub enum Row<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Postgres(&'a tokio_postgres::Row),
    Orm(&'a QueryResult),
}

impl Reads {
    /// The reads of `db`, whose URL is `url`.
    pub fn open(db: DatabaseConnection, url: &str) -> Result<Self, DbErr> {
        let fast = match db.get_database_backend() {
            DbBackend::Sqlite => SqliteReads::open(url)?.map(Fast::Sqlite),
            DbBackend::Postgres => PostgresReads::open(url).map(Fast::Postgres),
            _ => None,
        };
        Ok(Self {
            db,
            fast: fast.map(Arc::new),
        })
    }

    /// The database's kind, which a few statements are written for.
    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Every row `select` finds, each read with `read`.
    pub async fn all<T>(
        &self,
        select: &SelectStatement,
        read: impl FnMut(&Row<'_>) -> Result<T, DbErr>,
    ) -> AppResult<Vec<T>> {
        self.run(&self.backend().build(select), read).await
    }

    /// Every row `statement` (built for this database) finds, each read
    /// with `read`.
    pub async fn run<T>(
        &self,
        statement: &Statement,
        mut read: impl FnMut(&Row<'_>) -> Result<T, DbErr>,
    ) -> AppResult<Vec<T>> {
        let Some(fast) = &self.fast else {
            let rows = self.db.query_all_raw(statement.clone()).await?;
            return Ok(rows
                .iter()
                .map(|row| read(&Row::Orm(row)))
                .collect::<Result<_, _>>()?);
        };
        let started = crate::telemetry::is_tracing().then(Instant::now);
        let (system, rows) = match fast.as_ref() {
            Fast::Sqlite(reads) => (
                "sqlite",
                reads.all(statement, |row| read(&Row::Sqlite(row))),
            ),
            Fast::Postgres(reads) => (
                "postgresql",
                reads.all(statement).await.and_then(|rows| {
                    rows.iter()
                        .map(|row| read(&Row::Postgres(row)))
                        .collect::<Result<Vec<_>, _>>()
                }),
            ),
        };
        if let Some(started) = started {
            crate::telemetry::statement(system, &statement.sql, started.elapsed(), rows.is_err());
        }
        Ok(rows?)
    }
}

/// Each of [`Columns`]' readers, from the row's own.
macro_rules! each_path {
    ($row:expr, $method:ident, $at:expr) => {
        match $row {
            Row::Sqlite(row) => row.$method($at),
            Row::Postgres(row) => row.$method($at),
            Row::Orm(row) => row.$method($at),
        }
    };
}

impl Columns for Row<'_> {
    fn uuid(&self, at: usize) -> Result<Uuid, DbErr> {
        each_path!(self, uuid, at)
    }

    fn optional_uuid(&self, at: usize) -> Result<Option<Uuid>, DbErr> {
        each_path!(self, optional_uuid, at)
    }

    fn text(&self, at: usize) -> Result<Option<String>, DbErr> {
        each_path!(self, text, at)
    }

    fn boolean(&self, at: usize) -> Result<Option<bool>, DbErr> {
        each_path!(self, boolean, at)
    }

    fn integer(&self, at: usize) -> Result<Option<i32>, DbErr> {
        each_path!(self, integer, at)
    }

    fn big_integer(&self, at: usize) -> Result<Option<i64>, DbErr> {
        each_path!(self, big_integer, at)
    }

    fn time(&self, at: usize) -> Result<Option<DateTime<Utc>>, DbErr> {
        each_path!(self, time, at)
    }

    fn date(&self, at: usize) -> Result<Option<NaiveDate>, DbErr> {
        each_path!(self, date, at)
    }
}
