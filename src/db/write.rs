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

use std::sync::Arc;

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
    /// On SQLite, whose turn it is to write.
    turns: Option<Arc<Mutex<()>>>,
}

/// A write in progress.
pub enum Write<'a> {
    /// SQLite: this process's turn; each statement commits as it runs.
    Turn(&'a DatabaseConnection, MutexGuard<'a, ()>),
    /// A transaction: on PostgreSQL, or on SQLite within the turn.
    Transaction(DatabaseTransaction, Option<MutexGuard<'a, ()>>),
}

impl Writer {
    pub fn new(db: DatabaseConnection) -> Self {
        let turns = (db.get_database_backend() == DbBackend::Sqlite).then(Arc::default);
        Self { db, turns }
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Starts a write of statements each of which may commit on its own:
    /// on SQLite once it is this process's turn, on PostgreSQL in a
    /// transaction.
    pub async fn begin(&self) -> AppResult<Write<'_>> {
        Ok(match &self.turns {
            Some(turns) => Write::Turn(&self.db, turns.lock().await),
            None => Write::Transaction(self.db.begin().await?, None),
        })
    }

    /// Starts a write whose statements stand or fall together: a
    /// transaction, on SQLite within this process's turn.
    pub async fn begin_together(&self) -> AppResult<Write<'_>> {
        let turn = match &self.turns {
            Some(turns) => Some(turns.lock().await),
            None => None,
        };
        Ok(Write::Transaction(self.db.begin().await?, turn))
    }
}

impl Write<'_> {
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
