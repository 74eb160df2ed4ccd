//! The event bus: what happened to the tasks and lists people see and to
//! their sessions, fanned out to each person's subscribers on every
//! instance.
//!
//! Who hears of a change is decided by the write that makes it: it reads the
//! members of the list in its own transaction (or turn), so a person who
//! left or was removed before it committed is not among them, and one
//! removed after hears of it before their `LEFT`.
//!
//! On SQLite (one server per file) a notice is delivered in-process as soon
//! as it is published. On PostgreSQL it is a `NOTIFY` sent inside the
//! transaction of the change, so it leaves only if the change commits and
//! in commit order; every instance, this one included, receives it through
//! its [`listener`] and delivers it here. Each user has a bounded channel: a
//! subscriber that falls behind loses its place instead of growing a buffer.

pub mod listener;
mod wire;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, Statement};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::{
    db::write::Write,
    error::AppResult,
    sync::log::{self, Entries},
    tasks::fields::TaskRead,
};

/// Notices a subscriber may hold back before it is cut off.
const CHANNEL_CAPACITY: usize = 64;
/// The PostgreSQL channel notices travel on.
pub const CHANNEL: &str = "taskql_events";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskEventKind {
    Created,
    Updated,
    Deleted,
}

/// A committed change to a task, in the one form it has in the process and
/// between instances.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TaskEvent {
    pub kind: TaskEventKind,
    pub task_id: Uuid,
    /// The list the task is in, for those who hear of it; for a task moved
    /// out of their lists (`Deleted`), the list it left.
    pub list_id: Uuid,
    /// The task as the change left it, every field read; `None` when
    /// deleted (or, between instances, when too large to travel).
    pub task: Option<TaskRead>,
    /// The change's position in the change log (`crate::sync`), set when
    /// it commits.
    #[serde(default)]
    pub seq: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ListEventKind {
    /// The person became a member (or the owner, by a transfer).
    Joined,
    /// Renamed, its members or their roles changed, or its labels.
    Updated,
    Deleted,
    /// The person left or was removed: nothing of it reaches them any more.
    Left,
}

/// A committed change to a list, for one of its (former) members.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct ListEvent {
    pub kind: ListEventKind,
    pub list_id: Uuid,
    /// The change's position in the change log, set when it commits.
    #[serde(default)]
    pub seq: i64,
}

/// What a user's subscribers are told.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum Notice {
    Task(Box<TaskEvent>),
    List(ListEvent),
    /// Every session of the user but `except` ended (password changed or
    /// reset, account deleted, the other sessions revoked): connections
    /// authenticated in them must close.
    SessionsEnded {
        except: Option<Uuid>,
    },
    /// One session ended (revoked, logged out, its refresh token reused).
    SessionEnded {
        session: Uuid,
    },
    /// Notices may have been lost (the PostgreSQL listener reconnected):
    /// subscribers should refetch. Never leaves the instance.
    #[serde(skip)]
    MaybeMissed,
}

/// A notice and the people who are to hear it.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub users: Vec<Uuid>,
    pub notice: Notice,
}

impl Delivery {
    /// `notice` for `user` alone.
    pub fn to(user: Uuid, notice: Notice) -> Self {
        Self {
            users: vec![user],
            notice,
        }
    }
}

/// A change being written, which tells subscribers when it commits.
pub enum Pending<'a> {
    /// A transaction, not yet committed.
    Transaction(DatabaseTransaction),
    /// Statements on a connection, each of which committed as it ran (a
    /// single-statement write on SQLite).
    Committed(&'a DatabaseConnection),
}

/// The bus; cheap to clone.
#[derive(Clone)]
pub struct Events {
    inner: Arc<Inner>,
}

struct Inner {
    backend: DbBackend,
    users: Mutex<HashMap<Uuid, broadcast::Sender<Arc<Notice>>>>,
}

/// A subscription to one user's notices; unsubscribes when dropped.
pub struct Subscription {
    pub receiver: broadcast::Receiver<Arc<Notice>>,
    user: Uuid,
    events: Events,
}

impl Events {
    pub fn new(backend: DbBackend) -> Self {
        Self {
            inner: Arc::new(Inner {
                backend,
                users: Mutex::default(),
            }),
        }
    }

    /// Whether notices travel through PostgreSQL (and need the listener).
    pub fn is_shared(&self) -> bool {
        self.inner.backend == DbBackend::Postgres
    }

    /// Subscribes to `user`'s notices from now on.
    pub fn subscribe(&self, user: Uuid) -> Subscription {
        let mut users = self.users();
        let sender = users
            .entry(user)
            .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0);
        Subscription {
            receiver: sender.subscribe(),
            user,
            events: self.clone(),
        }
    }

    /// Ends `change`, announcing each delivery to its users' subscribers
    /// on every instance. This is where it is decided when a notice leaves:
    /// on PostgreSQL as a `NOTIFY` inside the change's transaction, so that
    /// it leaves only if the change commits and in commit order; on SQLite
    /// (one server per file) right after the commit, in this process.
    pub async fn commit(&self, change: Pending<'_>, deliveries: Vec<Delivery>) -> AppResult<()> {
        match change {
            Pending::Transaction(txn) if self.is_shared() => {
                self.notify(&txn, &deliveries).await?;
                txn.commit().await?;
            }
            Pending::Transaction(txn) => {
                txn.commit().await?;
                self.deliver_all(deliveries);
            }
            Pending::Committed(db) if self.is_shared() => self.notify(db, &deliveries).await?,
            Pending::Committed(_) => self.deliver_all(deliveries),
        }
        Ok(())
    }

    /// Ends a [`Write`] of tasks or lists: its notices are recorded in the
    /// change log in its own transaction ([`crate::sync::log`]), which
    /// gives them their position, and then leave as [`Events::commit`]
    /// sends them. Its turn, if any, passes on once they are on their way.
    pub async fn commit_write(
        &self,
        write: Write<'_>,
        mut deliveries: Vec<Delivery>,
    ) -> AppResult<()> {
        // The changes of one write, in the order of the log.
        deliveries.sort_by_key(|delivery| match &delivery.notice {
            Notice::Task(event) => (
                1,
                u8::from(event.kind == TaskEventKind::Deleted),
                event.task_id,
            ),
            _ => (0, 0, Uuid::nil()),
        });
        let entries = Entries::of(&deliveries);
        if entries.is_empty() {
            let (change, turn) = match write {
                Write::Turn(db, turn) => (Pending::Committed(db), Some(turn)),
                Write::Transaction(txn, turn) => (Pending::Transaction(txn), turn),
            };
            self.commit(change, deliveries).await?;
            drop(turn);
            return Ok(());
        }
        let payloads = if self.is_shared() {
            let mut payloads = Vec::new();
            for delivery in &deliveries {
                payloads.extend(wire::encode(delivery)?);
            }
            payloads
        } else {
            Vec::new()
        };
        // On PostgreSQL the notices leave in the statement that records
        // them, inside the transaction.
        let position = log::record(&write, &entries, &payloads).await?;
        for delivery in &mut deliveries {
            match &mut delivery.notice {
                Notice::Task(event) => event.seq = position,
                Notice::List(event) => event.seq = position,
                _ => {}
            }
        }
        match write {
            Write::Turn(_, turn) => {
                self.deliver_all(deliveries);
                drop(turn);
            }
            Write::Transaction(txn, turn) => {
                txn.commit().await?;
                if !self.is_shared() {
                    self.deliver_all(deliveries);
                }
                drop(turn);
            }
        }
        Ok(())
    }

    async fn notify(&self, conn: &impl ConnectionTrait, deliveries: &[Delivery]) -> AppResult<()> {
        for delivery in deliveries {
            for payload in wire::encode(delivery)? {
                conn.execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_notify($1, $2)",
                    [CHANNEL.into(), payload.into()],
                ))
                .await?;
            }
        }
        Ok(())
    }

    fn deliver_all(&self, deliveries: Vec<Delivery>) {
        for Delivery { users, notice } in deliveries {
            for user in users {
                self.deliver(user, notice.clone());
            }
        }
    }

    /// Hands `notice` to `user`'s subscribers on this instance.
    pub fn deliver(&self, user: Uuid, notice: Notice) {
        if let Some(sender) = self.users().get(&user) {
            // No receiver left is no error: the last one is unsubscribing.
            let _ = sender.send(Arc::new(notice));
        }
    }

    /// Tells every subscriber on this instance that notices may be lost.
    pub fn tell_all_maybe_missed(&self) {
        let notice = Arc::new(Notice::MaybeMissed);
        for sender in self.users().values() {
            let _ = sender.send(Arc::clone(&notice));
        }
    }

    fn users(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, broadcast::Sender<Arc<Notice>>>> {
        self.inner
            .users
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Subscription {
    /// Whose notices these are.
    pub fn user(&self) -> Uuid {
        self.user
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut users = self.events.users();
        // This subscription's receiver is still counted.
        if users
            .get(&self.user)
            .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            users.remove(&self.user);
        }
    }
}

impl Notice {
    /// Whether this notice ends the session `session` (`None`: a token
    /// issued before there were sessions, which belongs to none).
    pub fn ends(&self, session: Option<Uuid>) -> bool {
        match self {
            Self::SessionsEnded { except } => except.is_none() || *except != session,
            Self::SessionEnded { session: ended } => session == Some(*ended),
            Self::Task(_) | Self::List(_) | Self::MaybeMissed => false,
        }
    }
}
