//! Reading the change log: what changed for one viewer after a mark, in
//! the order of the log, as it is now.
//!
//! A viewer's log is made of four kinds of change, each with its key (its
//! position in the log) and rank:
//! * a list of theirs, at the later of its last change and when they joined;
//! * a task of one of their lists, at the later of its last change and when
//!   they joined the list (joining a list brings all its tasks);
//! * a task that left one of their lists (deleted, or moved where they do
//!   not see it), after they joined it, unless they see it now;
//! * a list they left, were removed from, or that was deleted.
//!
//! Each is read with the lists' rule (the viewer's memberships as they are
//! in the read), in one snapshot of the database, so that the four agree.

use std::collections::HashSet;

use entity::{list_member, task, task_list};
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseTransaction, DbBackend, IsolationLevel, QueryResult,
    TransactionTrait,
    sea_query::{Alias, Expr, ExprTrait, Order, Query, SelectStatement, SimpleExpr},
};
use uuid::Uuid;

use super::{
    ChangeLog,
    cursor::{Mark, Rank},
    log::removals,
};
use crate::{
    error::{AppError, AppResult},
    lists::{self, ListRead, Role, visible},
    tasks::{Shown, TaskRead},
};

/// Which changes a read wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wanted {
    /// Lists and tasks (`changes`).
    Everything,
    /// Tasks alone (`taskEvents` catching up).
    Tasks,
}

/// One page of a viewer's changes, in the log's order.
#[derive(Debug)]
pub struct Changes {
    pub lists: Vec<ListRead>,
    /// Each task with its place in the log.
    pub tasks: Vec<(Mark, TaskRead)>,
    /// Each with the list it left.
    pub removed_tasks: Vec<(Mark, Uuid, Uuid)>,
    pub removed_lists: Vec<Uuid>,
    /// Where the next page starts.
    pub next: Mark,
    pub has_more: bool,
}

enum Change {
    List(ListRead),
    Task(TaskRead),
    RemovedTask(Uuid, Uuid),
    RemovedList(Uuid),
}

impl ChangeLog {
    /// At most `first` of `viewer`'s changes after `since`.
    ///
    /// The read runs as a task of its own, to its end whatever becomes of
    /// the request: on PostgreSQL its transaction begins in two statements
    /// (`BEGIN`, then `SET TRANSACTION`), and a request dropped between them
    /// (its client went away) handed the connection back to the pool inside
    /// a transaction, where the next read on it failed.
    pub async fn read(
        &self,
        viewer: Uuid,
        since: Mark,
        first: usize,
        wanted: Wanted,
    ) -> AppResult<Changes> {
        use tracing::Instrument;
        let log = self.clone();
        let read = async move { log.read_to_the_end(viewer, since, first, wanted).await };
        tokio::spawn(read.instrument(tracing::Span::current()))
            .await
            .map_err(AppError::internal)?
    }

    async fn read_to_the_end(
        &self,
        viewer: Uuid,
        since: Mark,
        first: usize,
        wanted: Wanted,
    ) -> AppResult<Changes> {
        let db = self.writer.db();
        let committed = self.writer.committed();
        let txn = match db.get_database_backend() {
            DbBackend::Postgres => {
                db.begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadOnly),
                )
                .await?
            }
            _ => db.begin().await?,
        };
        let read = self
            .read_in(&txn, viewer, since, first, wanted, committed)
            .await;
        txn.rollback().await?;
        read
    }

    async fn read_in(
        &self,
        txn: &DatabaseTransaction,
        viewer: Uuid,
        since: Mark,
        first: usize,
        wanted: Wanted,
        committed: Option<i64>,
    ) -> AppResult<Changes> {
        // The last position committed before the snapshot: on SQLite, read
        // before it began; on PostgreSQL, the clock as the snapshot sees it.
        let end = match committed {
            Some(position) => position,
            None => super::log::clock(txn).await?,
        };
        let limit = u64::try_from(first + 1).unwrap_or(u64::MAX);
        let mut found: Vec<(Mark, Change)> = Vec::new();
        if wanted == Wanted::Everything {
            for row in all(txn, &lists_after(viewer, since, limit)).await? {
                let list = lists::read_list(&row)?;
                let mark = Mark {
                    position: row.try_get_by_index(6)?,
                    rank: Rank::List,
                    id: list.id,
                };
                found.push((mark, Change::List(list)));
            }
            for row in all(txn, &removed_lists_after(viewer, since, limit)).await? {
                let (mark, id) = removal(&row, Rank::RemovedList)?;
                found.push((mark, Change::RemovedList(id)));
            }
        }
        for joined_before in [true, false] {
            let select = tasks_after(viewer, since, limit, joined_before);
            for row in all(txn, &select).await? {
                let task = TaskRead::read(&row, Shown::ALL)?;
                let mark = Mark {
                    position: row.try_get_by_index(Shown::ALL.columns())?,
                    rank: Rank::Task,
                    id: task.id,
                };
                found.push((mark, Change::Task(task)));
            }
        }
        // A client that has nothing has nothing to remove.
        if since != Mark::START {
            for row in all(txn, &removed_tasks_after(viewer, since, limit)).await? {
                let (mark, id) = removal(&row, Rank::RemovedTask)?;
                let list: Uuid = row.try_get_by_index(2)?;
                found.push((mark, Change::RemovedTask(id, list)));
            }
        }
        found.sort_by_key(|(mark, _)| *mark);
        let has_more = found.len() > first;
        found.truncate(first);
        let last = found.last().map(|(mark, _)| *mark);
        let next = match last {
            Some(last) if has_more => last,
            last => last.unwrap_or(since).max(Mark::end(end)).max(since),
        };
        let mut changes = Changes {
            lists: Vec::new(),
            tasks: Vec::new(),
            removed_tasks: Vec::new(),
            removed_lists: Vec::new(),
            next,
            has_more,
        };
        let mut removed = HashSet::new();
        for (mark, change) in found.into_iter().rev() {
            match change {
                Change::List(list) => changes.lists.push(list),
                Change::Task(task) => changes.tasks.push((mark, task)),
                Change::RemovedTask(id, list) => {
                    if removed.insert(id) {
                        changes.removed_tasks.push((mark, id, list));
                    }
                }
                Change::RemovedList(id) => {
                    if !changes.removed_lists.contains(&id) {
                        changes.removed_lists.push(id);
                    }
                }
            }
        }
        changes.lists.reverse();
        changes.tasks.reverse();
        changes.removed_tasks.reverse();
        changes.removed_lists.reverse();
        Ok(changes)
    }
}

async fn all(txn: &DatabaseTransaction, select: &SelectStatement) -> AppResult<Vec<QueryResult>> {
    let statement = txn.get_database_backend().build(select);
    Ok(txn.query_all_raw(statement).await?)
}

fn removal(row: &QueryResult, rank: Rank) -> AppResult<(Mark, Uuid)> {
    let position: i64 = row.try_get_by_index(0)?;
    let id: Uuid = row.try_get_by_index(1)?;
    Ok((Mark { position, rank, id }, id))
}

/// Changes of `rank` whose key `key` and id `id` come after `since`.
fn after(key: SimpleExpr, id: SimpleExpr, rank: Rank, since: Mark) -> SimpleExpr {
    // The first term lets the database read an index range.
    let from = key.clone().gte(since.position);
    let past = match rank.cmp(&since.rank) {
        std::cmp::Ordering::Greater => key.gte(since.position),
        std::cmp::Ordering::Less => key.gt(since.position),
        std::cmp::Ordering::Equal => key
            .clone()
            .gt(since.position)
            .or(key.eq(since.position).and(id.gt(since.id))),
    };
    from.and(past)
}

/// The later of two positions.
fn later(a: SimpleExpr, b: SimpleExpr) -> SimpleExpr {
    Expr::case(a.clone().gt(b.clone()), a).finally(b).into()
}

fn member_seq() -> SimpleExpr {
    Expr::col((visible::membership(), list_member::Column::Seq))
}

fn lists_after(viewer: Uuid, since: Mark, limit: u64) -> SelectStatement {
    let mut select = lists::select_lists(viewer);
    let key = later(
        Expr::col((task_list::Entity, task_list::Column::Seq)),
        member_seq(),
    );
    let id: SimpleExpr = Expr::col((task_list::Entity, task_list::Column::Id));
    select
        .expr(key.clone())
        .and_where(after(key.clone(), id.clone(), Rank::List, since))
        .order_by_expr(key, Order::Asc)
        .order_by_expr(id, Order::Asc)
        .limit(limit);
    select
}

/// Tasks of the lists the viewer joined before `since` (whose key is the
/// task's own position: an index range of each list), or of the lists
/// joined since (all their tasks).
fn tasks_after(viewer: Uuid, since: Mark, limit: u64, joined_before: bool) -> SelectStatement {
    let mut select = Shown::ALL.select();
    visible::join_role(&mut select, (task::Entity, task::Column::ListId), viewer);
    let own: SimpleExpr = Expr::col((task::Entity, task::Column::Seq));
    let key = if joined_before {
        select.and_where(member_seq().lt(since.position));
        own
    } else {
        select.and_where(member_seq().gte(since.position));
        later(own, member_seq())
    };
    let id: SimpleExpr = Expr::col((task::Entity, task::Column::Id));
    select
        .expr(key.clone())
        .and_where(after(key.clone(), id.clone(), Rank::Task, since))
        .order_by_expr(key, Order::Asc)
        .order_by_expr(id, Order::Asc)
        .limit(limit);
    select
}

fn removal_column(name: &str) -> SimpleExpr {
    Expr::col((removals(), Alias::new(name)))
}

fn removed_tasks_after(viewer: Uuid, since: Mark, limit: u64) -> SelectStatement {
    let mut select = Query::select();
    select
        .expr(removal_column("seq"))
        .expr(removal_column("task_id"))
        .expr(removal_column("list_id"))
        .from(removals());
    visible::join_role(&mut select, (removals(), Alias::new("list_id")), viewer);
    let seen = Query::select()
        .expr(Expr::val(1))
        .from(task::Entity)
        .and_where(
            Expr::col((task::Entity, task::Column::Id)).equals((removals(), Alias::new("task_id"))),
        )
        .and_where(visible::tasks(viewer, Role::Viewer))
        .to_owned();
    select
        .and_where(removal_column("task_id").is_not_null())
        .and_where(removal_column("seq").gt(member_seq()))
        .and_where(after(
            removal_column("seq"),
            removal_column("task_id"),
            Rank::RemovedTask,
            since,
        ))
        .and_where(Expr::exists(seen).not())
        .order_by_expr(removal_column("seq"), Order::Asc)
        .order_by_expr(removal_column("task_id"), Order::Asc)
        .limit(limit);
    select
}

fn removed_lists_after(viewer: Uuid, since: Mark, limit: u64) -> SelectStatement {
    let mut select = Query::select();
    select
        .expr(removal_column("seq"))
        .expr(removal_column("list_id"))
        .from(removals())
        .and_where(removal_column("user_id").eq(viewer))
        .and_where(removal_column("task_id").is_null())
        .and_where(after(
            removal_column("seq"),
            removal_column("list_id"),
            Rank::RemovedList,
            since,
        ))
        .order_by_expr(removal_column("seq"), Order::Asc)
        .order_by_expr(removal_column("list_id"), Order::Asc)
        .limit(limit);
    select
}
