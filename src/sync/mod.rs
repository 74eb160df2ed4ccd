//! Offline clients: one change log that `changes`, `Task.version` and the
//! catching up of `taskEvents` read, and that the events are made of.
//!
//! **The log.** Every write of tasks and lists ends in
//! `Events::commit_write`, with the notices it sends: those notices are the
//! change records. [`log::record`] takes from them what changed and gives
//! the write one position of a single counter, in the write's own
//! transaction: each task, list and membership keeps the position of its
//! last change (`seq`), and `sync_removals` what left a list. The log is
//! thus kept compacted, as a client needs it: the newest state of each
//! thing, and the removals it must apply. The notices carry the same
//! position, so an event and the log can never disagree.
//!
//! **Positions in commit order.** A reader must never pass a position a
//! later commit fills in. On SQLite one write runs at a time (this
//! process's turns), and the position is drawn when its turn begins. On
//! PostgreSQL the position comes from the row of `sync_clock`, updated as
//! the write's last statement before its commit, so the row stays locked
//! until the commit: positions are assigned and committed in one order.
//! The alternative, reading only up to the oldest position still in flight
//! (`pg_snapshot_xmin`), lets writes commit side by side, but leaves every
//! reader behind any long transaction on the database and needs the
//! writers' transaction ids in the log; serialising costs only the commit
//! itself, with everything the write does before it running side by side
//! (the rows it stamps are locked before the clock, so a write holding the
//! clock never waits for another). A read takes one snapshot (PostgreSQL
//! `REPEATABLE READ`, a SQLite read transaction), so its positions are a
//! prefix of the log.
//!
//! **Cursors** ([`cursor`]) are a place in the viewer's log and when they
//! were issued, signed for the viewer. Removals are remembered for the
//! horizon (`TASKQL_SYNC_HORIZON`), and a cursor issued longer ago is
//! refused (`SYNC_CURSOR_EXPIRED`): every removal after a younger cursor is
//! still there, however old the change it follows.

pub mod changes;
pub mod cursor;
pub mod log;

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use uuid::Uuid;

use crate::{
    db::write::Writer,
    error::{AppError, AppResult},
    tasks::cursor::CursorKey,
};
pub use changes::{Changes, Wanted};
pub use cursor::Mark;

/// Most changes one read returns.
pub const MAX_FIRST: usize = 1_000;

/// Reads the change log; cheap to clone (each subscription to
/// `taskEvents` holds one).
#[derive(Clone)]
pub struct ChangeLog(Arc<Inner>);

/// What a [`ChangeLog`] reads with.
pub struct Inner {
    writer: Writer,
    cursors: CursorKey,
    horizon: Duration,
}

impl std::ops::Deref for ChangeLog {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl ChangeLog {
    pub fn new(writer: Writer, cursors: CursorKey, horizon: Duration) -> Self {
        Self(Arc::new(Inner {
            writer,
            cursors,
            horizon,
        }))
    }

    /// Where `since` (a cursor of `viewer`'s, or none: the start) is.
    pub fn mark(&self, viewer: Uuid, since: Option<&str>) -> AppResult<Mark> {
        let Some(since) = since else {
            return Ok(Mark::START);
        };
        let (mark, issued) = cursor::decode(&self.cursors, viewer, since)?;
        let age = (Utc::now() - issued).to_std().unwrap_or_default();
        if age > self.horizon {
            return Err(AppError::SyncCursorExpired);
        }
        Ok(mark)
    }

    /// The end of the log as committed now: a subscription that starts
    /// here hears of every change after it.
    pub async fn end(&self) -> AppResult<Mark> {
        let position = match self.writer.committed() {
            Some(position) => position,
            None => log::clock(self.writer.db()).await?,
        };
        Ok(Mark::end(position))
    }

    /// `mark` as a cursor of `viewer`'s, issued now.
    pub fn cursor(&self, viewer: Uuid, mark: Mark) -> String {
        cursor::encode(&self.cursors, viewer, mark, Utc::now())
    }

    /// At most `first` (1 to [`MAX_FIRST`]) of `viewer`'s changes after
    /// the cursor `since`.
    pub async fn changes(
        &self,
        viewer: Uuid,
        since: Option<&str>,
        first: i32,
    ) -> AppResult<Changes> {
        let first = usize::try_from(first)
            .ok()
            .filter(|first| (1..=MAX_FIRST).contains(first))
            .ok_or_else(|| AppError::bad_input("first", format!("first is 1 to {MAX_FIRST}")))?;
        let since = self.mark(viewer, since)?;
        self.read(viewer, since, first, Wanted::Everything).await
    }

    /// Forgets removals older than the horizon and an hour (a cursor may
    /// have been issued by an instance whose clock is a little behind).
    pub async fn sweep(&self) -> AppResult<()> {
        let keep = self.horizon + Duration::from_secs(60 * 60);
        let before = Utc::now() - chrono::Duration::from_std(keep).map_err(AppError::internal)?;
        log::sweep(self.writer.db(), before).await?;
        Ok(())
    }
}
