//! Writes that tell subscribers: each is a [`Write`] begun by the one
//! [`Writer`] of the process and ended by the event bus, which commits it
//! and hands on its notices.
//!
//! On SQLite a write of one statement commits as its own transaction: an
//! explicit `BEGIN … COMMIT` around it would add two round trips to SQLite's
//! connection thread, with the write lock held across them, and cost about a
//! third of `createTask`'s throughput for nothing. SQLite has one writer at
//! a time, and the writes of this process take turns, so that subscribers
//! hear of changes in commit order, a writer waits for exactly its turn
//! instead of sleeping in SQLite's busy handler, and what a write reads
//! during its turn (the members its notices go to) cannot change under it.
//! A write of several statements that must stand or fall together runs in
//! a transaction within its turn. On PostgreSQL every write is a
//! transaction, and its `NOTIFY` shares it, which orders the notices as the
//! commits.
//!
//! Each write has a position in the change log (`crate::sync`). On SQLite
//! it is drawn from this process's clock when the turn begins, so a write
//! of one statement stamps the rows it changes in that statement; on
//! PostgreSQL the log gives it when the write ends.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, ExecResult, QueryResult,
    Statement, TransactionTrait,
};
use tokio::sync::{Mutex, MutexGuard};

use crate::error::AppResult;

/// Begins the writes of this process; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    db: DatabaseConnection,
    /// On SQLite, whose turn it is to write, and the last position given.
    turns: Option<Arc<Turns>>,
}

struct Turns {
    held: Mutex<()>,
    /// The last position given.
    clock: AtomicI64,
    /// The last position whose write ended (committed or gave up).
    ended: AtomicI64,
}

/// SQLite: this process's turn to write, and the write's position in the
/// change log.
pub struct Turn<'a> {
    _held: MutexGuard<'a, ()>,
    ended: &'a AtomicI64,
    pub position: i64,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        // The write committed or gave up: either way, every position up to
        // its own is settled.
        self.ended.fetch_max(self.position, Ordering::Release);
    }
}

/// A write in progress.
pub enum Write<'a> {
    /// SQLite: this process's turn; each statement commits as it runs.
    Turn(&'a DatabaseConnection, Turn<'a>),
    /// A transaction: on PostgreSQL, or on SQLite within the turn.
    Transaction(DatabaseTransaction, Option<Turn<'a>>),
}

impl Writer {
    /// The writer of `db`; on SQLite its clock goes on from the last
    /// position the database holds.
    pub async fn start(db: DatabaseConnection) -> AppResult<Self> {
        let turns = if db.get_database_backend() == DbBackend::Sqlite {
            let last = crate::sync::log::latest(&db).await?;
            Some(Arc::new(Turns {
                held: Mutex::new(()),
                clock: AtomicI64::new(last),
                ended: AtomicI64::new(last),
            }))
        } else {
            None
        };
        Ok(Self { db, turns })
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// On SQLite, the last position whose write has ended: everything up to
    /// it is committed (or was given up). PostgreSQL's clock says it in
    /// the database.
    pub fn committed(&self) -> Option<i64> {
        self.turns
            .as_ref()
            .map(|turns| turns.ended.load(Ordering::Acquire))
    }

    /// Starts a write of statements each of which may commit on its own:
    /// on SQLite once it is this process's turn, on PostgreSQL in a
    /// transaction.
    ///
    /// On SQLite, such a write stamps what it changes with its position in
    /// the one statement that changes it ([`Write::position`]): the log
    /// adds nothing to it.
    pub async fn begin(&self) -> AppResult<Write<'_>> {
        Ok(match &self.turns {
            Some(turns) => Write::Turn(&self.db, turns.take().await),
            None => Write::Transaction(self.db.begin().await?, None),
        })
    }

    /// Starts a write whose statements stand or fall together: a
    /// transaction, on SQLite within this process's turn.
    pub async fn begin_together(&self) -> AppResult<Write<'_>> {
        let turn = match &self.turns {
            Some(turns) => Some(turns.take().await),
            None => None,
        };
        Ok(Write::Transaction(self.db.begin().await?, turn))
    }
}

impl Turns {
    async fn take(&self) -> Turn<'_> {
        let held = self.held.lock().await;
        Turn {
            _held: held,
            ended: &self.ended,
            position: self.clock.fetch_add(1, Ordering::Relaxed) + 1,
        }
    }
}

impl Write<'_> {
    /// The write's position in the change log when it is known before it
    /// ends (SQLite); on PostgreSQL the log gives it at the end.
    pub fn position(&self) -> Option<i64> {
        match self {
            Self::Turn(_, turn) | Self::Transaction(_, Some(turn)) => Some(turn.position),
            Self::Transaction(_, None) => None,
        }
    }

    /// The write's transaction, if it runs in one.
    pub fn transaction(&self) -> Option<&DatabaseTransaction> {
        match self {
            Self::Transaction(txn, _) => Some(txn),
            Self::Turn(..) => None,
        }
    }

    pub fn backend(&self) -> DbBackend {
        match self {
            Self::Turn(db, _) => db.get_database_backend(),
            Self::Transaction(txn, _) => txn.get_database_backend(),
        }
    }

    pub async fn execute(&self, statement: Statement) -> AppResult<ExecResult> {
        Ok(match self {
            Self::Turn(db, _) => db.execute_raw(statement).await?,
            Self::Transaction(txn, _) => txn.execute_raw(statement).await?,
        })
    }

    /// Runs `statement` (a SeaQuery statement); whether it changed a row.
    pub async fn changed(&self, statement: &impl sea_orm::StatementBuilder) -> AppResult<bool> {
        let built = self.backend().build(statement);
        Ok(self.execute(built).await?.rows_affected() > 0)
    }

    pub async fn query_all(&self, statement: Statement) -> AppResult<Vec<QueryResult>> {
        Ok(match self {
            Self::Turn(db, _) => db.query_all_raw(statement).await?,
            Self::Transaction(txn, _) => txn.query_all_raw(statement).await?,
        })
    }

    /// Gives up a write: a transaction is rolled back.
    pub async fn abandon(self) -> AppResult<()> {
        if let Self::Transaction(txn, _) = self {
            txn.rollback().await?;
        }
        Ok(())
    }
}
