//! Writing the change log: what a write changed, taken from the notices it
//! sends (the same records), stamped with the write's position in its own
//! transaction.

use std::collections::BTreeSet;

use entity::{list_member, task, task_list};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, Statement, Value,
    sea_query::{Alias, Expr, ExprTrait, Query},
};
use uuid::Uuid;

use crate::{
    db::{self, write::Write},
    error::{AppError, AppResult},
    events::{Delivery, ListEventKind, Notice, TaskEventKind},
};

/// The table of what left a list.
pub(super) fn removals() -> Alias {
    Alias::new("sync_removals")
}

/// What one write changed, as the log keeps it: the rows whose `seq` it
/// sets, and what left a list.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Entries {
    tasks: BTreeSet<Uuid>,
    lists: BTreeSet<Uuid>,
    /// `(list, person)`: who joined.
    members: BTreeSet<(Uuid, Uuid)>,
    removals: Vec<Removal>,
}

/// Something that left a list: a task (deleted, or moved to another list)
/// or a person (left, removed, or the list deleted).
#[derive(Debug, PartialEq, Eq)]
struct Removal {
    list: Uuid,
    task: Option<Uuid>,
    person: Option<Uuid>,
    deleted: bool,
}

impl Entries {
    /// The entries of the notices of one write.
    pub fn of(deliveries: &[Delivery]) -> Self {
        let mut entries = Self::default();
        let mut gone = Vec::new();
        for delivery in deliveries {
            match &delivery.notice {
                Notice::Task(event) => match event.kind {
                    TaskEventKind::Created | TaskEventKind::Updated => {
                        entries.tasks.insert(event.task_id);
                    }
                    TaskEventKind::Deleted => gone.push((event.list_id, event.task_id)),
                },
                Notice::List(event) => match event.kind {
                    ListEventKind::Updated => {
                        entries.lists.insert(event.list_id);
                    }
                    ListEventKind::Joined => {
                        for person in &delivery.users {
                            entries.members.insert((event.list_id, *person));
                        }
                    }
                    ListEventKind::Left | ListEventKind::Deleted => {
                        for person in &delivery.users {
                            entries.removals.push(Removal {
                                list: event.list_id,
                                task: None,
                                person: Some(*person),
                                deleted: event.kind == ListEventKind::Deleted,
                            });
                        }
                    }
                },
                Notice::SessionsEnded { .. }
                | Notice::SessionEnded { .. }
                | Notice::MaybeMissed => {}
            }
        }
        gone.sort_unstable();
        gone.dedup();
        for (list, task) in gone {
            // A task that is still there (in another list) moved.
            let deleted = !entries.tasks.contains(&task);
            entries.removals.push(Removal {
                list,
                task: Some(task),
                person: None,
                deleted,
            });
        }
        entries
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
            && self.lists.is_empty()
            && self.members.is_empty()
            && self.removals.is_empty()
    }
}

/// Writes `entries` within `write` and sends `payloads` (PostgreSQL's
/// notices, whose `seq` is set here); the write's position.
///
/// On SQLite the write has its position from the start, and a write of one
/// statement (a turn) stamped what it changed in that statement: nothing
/// is written here for it. On PostgreSQL the rows are first locked (most
/// are already, by the write's own statements), and then one statement
/// takes the next position from `sync_clock`, stamps the rows, remembers
/// the removals and sends the notices: the clock's row stays locked until
/// the commit, so positions commit in their order, and no write holding
/// the clock ever waits for a row another write holds.
pub async fn record(write: &Write<'_>, entries: &Entries, payloads: &[String]) -> AppResult<i64> {
    match (write, write.position()) {
        (Write::Turn(..), Some(position)) => {
            if !entries.removals.is_empty()
                || !entries.lists.is_empty()
                || !entries.members.is_empty()
            {
                return Err(AppError::internal(
                    "a write of one statement changes one task",
                ));
            }
            Ok(position)
        }
        (Write::Transaction(txn, _), Some(position)) => {
            stamp(txn, entries, position).await?;
            Ok(position)
        }
        (Write::Transaction(txn, None), None) => record_shared(txn, entries, payloads).await,
        (Write::Turn(..) | Write::Transaction(_, Some(_)), None) => {
            Err(AppError::internal("a turn has its position"))
        }
    }
}

/// SQLite, within a transaction: stamps the rows and remembers the
/// removals at `position`.
async fn stamp(conn: &impl ConnectionTrait, entries: &Entries, position: i64) -> AppResult<()> {
    let backend = conn.get_database_backend();
    if !entries.tasks.is_empty() {
        let update = Query::update()
            .table(task::Entity)
            .value(task::Column::Seq, position)
            .and_where(task::Column::Id.is_in(entries.tasks.iter().copied()))
            .to_owned();
        conn.execute_raw(backend.build(&update)).await?;
    }
    if !entries.lists.is_empty() {
        let update = Query::update()
            .table(task_list::Entity)
            .value(task_list::Column::Seq, position)
            .and_where(task_list::Column::Id.is_in(entries.lists.iter().copied()))
            .to_owned();
        conn.execute_raw(backend.build(&update)).await?;
    }
    for (list, person) in &entries.members {
        let update = Query::update()
            .table(list_member::Entity)
            .value(list_member::Column::Seq, position)
            .and_where(list_member::Column::ListId.eq(*list))
            .and_where(list_member::Column::UserId.eq(*person))
            .to_owned();
        conn.execute_raw(backend.build(&update)).await?;
    }
    if !entries.removals.is_empty() {
        let now = db::now();
        let mut insert = Query::insert();
        insert
            .into_table(removals())
            .columns(["seq", "list_id", "task_id", "user_id", "deleted", "at"].map(Alias::new));
        for removal in &entries.removals {
            insert.values_panic([
                position.into(),
                removal.list.into(),
                removal.task.into(),
                removal.person.into(),
                removal.deleted.into(),
                now.into(),
            ]);
        }
        conn.execute_raw(backend.build(&insert)).await?;
    }
    Ok(())
}

/// PostgreSQL: see [`record`].
async fn record_shared(
    conn: &impl ConnectionTrait,
    entries: &Entries,
    payloads: &[String],
) -> AppResult<i64> {
    // Rows not yet held by the write are held before the clock.
    for (table, ids) in [("tasks", &entries.tasks), ("task_lists", &entries.lists)] {
        if ids.is_empty() {
            continue;
        }
        let mut sql = Sql::default();
        let statement = format!(
            "SELECT 1 FROM {table} WHERE id IN ({}) ORDER BY id FOR NO KEY UPDATE",
            sql.list(ids.iter().map(|id| (*id).into()))
        );
        conn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            statement,
            sql.values,
        ))
        .await?;
    }
    let mut sql = Sql::default();
    let mut parts = vec![
        "clock AS (UPDATE sync_clock SET seq = seq + 1 WHERE id = 1 RETURNING seq)".to_owned(),
    ];
    if !entries.tasks.is_empty() {
        parts.push(format!(
            "stamped_tasks AS (UPDATE tasks SET seq = clock.seq FROM clock WHERE tasks.id IN ({}))",
            sql.list(entries.tasks.iter().map(|id| (*id).into()))
        ));
    }
    if !entries.lists.is_empty() {
        parts.push(format!(
            "stamped_lists AS (UPDATE task_lists SET seq = clock.seq FROM clock \
             WHERE task_lists.id IN ({}))",
            sql.list(entries.lists.iter().map(|id| (*id).into()))
        ));
    }
    if !entries.members.is_empty() {
        let pairs: Vec<String> = entries
            .members
            .iter()
            .map(|(list, person)| {
                format!(
                    "({}::uuid, {}::uuid)",
                    sql.value((*list).into()),
                    sql.value((*person).into())
                )
            })
            .collect();
        parts.push(format!(
            "stamped_members AS (UPDATE list_members SET seq = clock.seq FROM clock \
             WHERE (list_members.list_id, list_members.user_id) IN ({}))",
            pairs.join(", ")
        ));
    }
    if !entries.removals.is_empty() {
        let now = sql.value(db::now().into());
        let rows: Vec<String> = entries
            .removals
            .iter()
            .map(|removal| {
                format!(
                    "({}::uuid, {}::uuid, {}::uuid, {}::boolean)",
                    sql.value(removal.list.into()),
                    sql.value(removal.task.into()),
                    sql.value(removal.person.into()),
                    sql.value(removal.deleted.into()),
                )
            })
            .collect();
        parts.push(format!(
            "removed AS (INSERT INTO sync_removals (seq, list_id, task_id, user_id, deleted, at) \
             SELECT clock.seq, r.list_id, r.task_id, r.user_id, r.deleted, {now}::timestamptz \
             FROM clock, (VALUES {}) AS r (list_id, task_id, user_id, deleted))",
            rows.join(", ")
        ));
    }
    let notified = if payloads.is_empty() {
        "0".to_owned()
    } else {
        let texts: Vec<String> = payloads
            .iter()
            .map(|payload| format!("({}::text)", sql.value(payload.clone().into())))
            .collect();
        parts.push(format!(
            "notified AS (SELECT pg_notify('{}', \
             jsonb_set(p.payload::jsonb, '{{notice,seq}}', to_jsonb(clock.seq), false)::text) \
             FROM clock, (VALUES {}) AS p (payload))",
            crate::events::CHANNEL,
            texts.join(", ")
        ));
        "(SELECT count(*) FROM notified)".to_owned()
    };
    let statement = format!(
        "WITH {} SELECT clock.seq, {notified} AS notified FROM clock",
        parts.join(", ")
    );
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            statement,
            sql.values,
        ))
        .await?
        .ok_or_else(|| AppError::internal("the change log's clock is missing"))?;
    Ok(row.try_get_by_index(0)?)
}

/// A statement's text and its values, numbered as PostgreSQL numbers them.
#[derive(Default)]
struct Sql {
    values: Vec<Value>,
}

impl Sql {
    fn value(&mut self, value: Value) -> String {
        self.values.push(value);
        format!("${}", self.values.len())
    }

    fn list(&mut self, values: impl Iterator<Item = Value>) -> String {
        values
            .map(|value| format!("{}::uuid", self.value(value)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// PostgreSQL: the last position committed, as `conn` (its snapshot) sees
/// the clock.
pub async fn clock(conn: &impl ConnectionTrait) -> AppResult<i64> {
    let row = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT seq FROM sync_clock WHERE id = 1",
        ))
        .await?
        .ok_or_else(|| AppError::internal("the change log's clock is missing"))?;
    Ok(row.try_get_by_index(0)?)
}

/// The last position the database holds: where SQLite's clock goes on.
pub async fn latest(db: &impl ConnectionTrait) -> AppResult<i64> {
    let statement = "SELECT MAX(seq) FROM (\
        SELECT MAX(seq) AS seq FROM sync_clock \
        UNION ALL SELECT MAX(seq) FROM tasks \
        UNION ALL SELECT MAX(seq) FROM task_lists \
        UNION ALL SELECT MAX(seq) FROM list_members \
        UNION ALL SELECT MAX(seq) FROM sync_removals) AS positions";
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), statement))
        .await?;
    let latest: Option<i64> = match row {
        Some(row) => row.try_get_by_index(0)?,
        None => None,
    };
    Ok(latest.unwrap_or(0))
}

/// Forgets removals older than `before`, keeping the clock at least at the
/// last position they held (SQLite's clock goes on from what the database
/// holds).
pub async fn sweep(
    db: &impl ConnectionTrait,
    before: chrono::DateTime<chrono::Utc>,
) -> AppResult<u64> {
    let backend = db.get_database_backend();
    let keep = Query::update()
        .table(Alias::new("sync_clock"))
        .value(
            Alias::new("seq"),
            Expr::cust("(SELECT MAX(seq) FROM sync_removals)"),
        )
        .and_where(Expr::col(Alias::new("seq")).lt(Expr::cust(
            "(SELECT COALESCE(MAX(seq), 0) FROM sync_removals)",
        )))
        .to_owned();
    db.execute_raw(backend.build(&keep)).await?;
    let delete = Query::delete()
        .from_table(removals())
        .and_where(Expr::col(Alias::new("at")).lt(before))
        .to_owned();
    Ok(db
        .execute_raw(backend.build(&delete))
        .await?
        .rows_affected())
}

/// Whether task `id` was deleted (within the horizon).
pub async fn was_deleted(db: &impl ConnectionTrait, id: Uuid) -> AppResult<bool> {
    let select = Query::select()
        .expr(Expr::val(1))
        .from(removals())
        .and_where(Expr::col(Alias::new("task_id")).eq(id))
        .and_where(Expr::col(Alias::new("deleted")).eq(true))
        .limit(1)
        .to_owned();
    let backend = db.get_database_backend();
    Ok(db.query_one_raw(backend.build(&select)).await?.is_some())
}
