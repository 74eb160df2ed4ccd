//! Subtasks: a task's place in its tree (how deep it is, what hangs under
//! it) and the place a task takes among its siblings in the manual order.
//! Each is read within the write that changes the tree, whose turn (SQLite)
//! or lock (PostgreSQL) keeps it true until that write commits.

use sea_orm::{DbBackend, Statement, Value};
use uuid::Uuid;

use super::position;
use crate::{
    db::write::Write,
    error::{AppError, AppResult},
};

/// How many levels a tree of tasks has at most: a top-level task and three
/// levels under it.
pub const MAX_LEVELS: usize = 4;

/// A statement of `sql`, written with `?` for each value, for `backend`.
fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DbBackend::Postgres => {
            let mut numbered = String::with_capacity(sql.len() + 8);
            let mut n = 0;
            for c in sql.chars() {
                if c == '?' {
                    n += 1;
                    numbered.push_str(&format!("${n}"));
                } else {
                    numbered.push(c);
                }
            }
            numbered
        }
        _ => sql.to_owned(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// The level of task `id`: 1 for a top-level task, 2 for its subtasks, …
pub async fn level(write: &Write<'_>, id: Uuid) -> AppResult<usize> {
    let rows = write
        .query_all(statement(
            write.backend(),
            "WITH RECURSIVE up (id, parent_id, level) AS ( \
               SELECT id, parent_id, 1 FROM tasks WHERE id = ? \
               UNION ALL SELECT t.id, t.parent_id, up.level + 1 FROM tasks t \
               JOIN up ON t.id = up.parent_id WHERE up.level <= ?) \
             SELECT COUNT(*) FROM up",
            vec![
                id.into(),
                i64::try_from(MAX_LEVELS).unwrap_or(i64::MAX).into(),
            ],
        ))
        .await?;
    let count: i64 = rows
        .first()
        .map(|row| row.try_get_by_index(0))
        .transpose()?
        .unwrap_or(0);
    Ok(usize::try_from(count).unwrap_or(usize::MAX))
}

/// Task `id` and everything under it, each with its level below `id` (1 for
/// `id` itself), parents before their subtasks.
pub async fn subtree(write: &Write<'_>, id: Uuid) -> AppResult<Vec<(Uuid, usize)>> {
    let rows = write
        .query_all(statement(
            write.backend(),
            "WITH RECURSIVE down (id, level) AS ( \
               SELECT id, 1 FROM tasks WHERE id = ? \
               UNION ALL SELECT t.id, down.level + 1 FROM tasks t \
               JOIN down ON t.parent_id = down.id WHERE down.level <= ?) \
             SELECT id, CAST(level AS BIGINT) FROM down ORDER BY level",
            vec![
                id.into(),
                i64::try_from(MAX_LEVELS).unwrap_or(i64::MAX).into(),
            ],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            let id: Uuid = row.try_get_by_index(0)?;
            let level: i64 = row.try_get_by_index(1)?;
            Ok((id, usize::try_from(level).unwrap_or(usize::MAX)))
        })
        .collect()
}

/// The siblings a task has or will have: the top-level tasks of a list, or
/// the subtasks of a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Siblings {
    pub list: Uuid,
    pub parent: Option<Uuid>,
}

/// A neighbour a task is placed next to: its id and position.
#[derive(Clone, Debug)]
pub struct Neighbour {
    pub id: Uuid,
    pub position: String,
}

impl Siblings {
    /// `WHERE` of the siblings, but `except`, and its values.
    fn condition(self, except: Option<Uuid>) -> (String, Vec<Value>) {
        let mut sql = String::from("list_id = ?");
        let mut values: Vec<Value> = vec![self.list.into()];
        match self.parent {
            Some(parent) => {
                sql.push_str(" AND parent_id = ?");
                values.push(parent.into());
            }
            None => sql.push_str(" AND parent_id IS NULL"),
        }
        if let Some(except) = except {
            sql.push_str(" AND id <> ?");
            values.push(except.into());
        }
        (sql, values)
    }

    /// The sibling next to `from` on one side (`after`: the next one;
    /// else the previous one), by (position, id), skipping `except`.
    async fn next_to(
        self,
        write: &Write<'_>,
        from: Option<&Neighbour>,
        after: bool,
        except: Uuid,
    ) -> AppResult<Option<Neighbour>> {
        let (mut sql, mut values) = self.condition(Some(except));
        let (compare, order) = if after { (">", "ASC") } else { ("<", "DESC") };
        if let Some(from) = from {
            sql.push_str(&format!(" AND (position, id) {compare} (?, ?)"));
            values.push(from.position.clone().into());
            values.push(from.id.into());
        }
        let rows = write
            .query_all(statement(
                write.backend(),
                &format!(
                    "SELECT id, position FROM tasks WHERE {sql} \
                     ORDER BY position {order}, id {order} LIMIT 1"
                ),
                values,
            ))
            .await?;
        rows.first()
            .map(|row| {
                Ok(Neighbour {
                    id: row.try_get_by_index(0)?,
                    position: row.try_get_by_index(1)?,
                })
            })
            .transpose()
    }

    /// Sibling `id`, if it is one (but `except`); `BAD_USER_INPUT` on
    /// `field` when it is not.
    pub async fn member(
        self,
        write: &Write<'_>,
        id: Uuid,
        except: Uuid,
        field: &'static str,
    ) -> AppResult<Neighbour> {
        let (sql, mut values) = self.condition(Some(except));
        values.push(id.into());
        let rows = write
            .query_all(statement(
                write.backend(),
                &format!("SELECT id, position FROM tasks WHERE {sql} AND id = ?"),
                values,
            ))
            .await?;
        let row = rows.first().ok_or_else(|| {
            AppError::bad_input(field, "not a sibling of the task in its new place")
        })?;
        Ok(Neighbour {
            id: row.try_get_by_index(0)?,
            position: row.try_get_by_index(1)?,
        })
    }

    /// The position of a task (`moving`, or a new one) placed right after
    /// `after` and before `before`, or where they say when they are no
    /// longer next to each other: right after `after`, else right before
    /// `before`; first when neither is given.
    pub async fn place(
        self,
        write: &Write<'_>,
        moving: Uuid,
        after: Option<&Neighbour>,
        before: Option<&Neighbour>,
    ) -> AppResult<String> {
        let (lower, upper) = match (after, before) {
            (Some(after), _) => {
                let next = self.next_to(write, Some(after), true, moving).await?;
                (Some(after.clone()), next)
            }
            (None, Some(before)) => {
                let previous = self.next_to(write, Some(before), false, moving).await?;
                (previous, Some(before.clone()))
            }
            (None, None) => (None, self.next_to(write, None, true, moving).await?),
        };
        key_between(lower.as_ref(), upper.as_ref())
    }

    /// The position after every sibling: where a new task goes.
    pub async fn last(self, write: &Write<'_>, moving: Uuid) -> AppResult<String> {
        let last = self.next_to(write, None, false, moving).await?;
        key_between(last.as_ref(), None)
    }

    /// Holds the order of these siblings' list until the write ends, so
    /// that two writes placing tasks in it do not take the same key: on
    /// PostgreSQL a transaction lock of the list; SQLite's writes take
    /// turns already.
    pub async fn hold(self, write: &Write<'_>) -> AppResult<()> {
        if write.backend() == DbBackend::Postgres {
            let (high, low) = self.list.as_u64_pair();
            let key = i64::from_ne_bytes((high ^ low).to_ne_bytes());
            write
                .execute(statement(
                    DbBackend::Postgres,
                    "SELECT 1 FROM pg_advisory_xact_lock(?)",
                    vec![key.into()],
                ))
                .await?;
        }
        Ok(())
    }
}

/// A key strictly between two neighbours' positions. Neighbours of equal
/// position (made by writes that could not see each other) are ordered by
/// id; a key strictly after the lower one's is then taken.
fn key_between(lower: Option<&Neighbour>, upper: Option<&Neighbour>) -> AppResult<String> {
    let lower = lower.map(|n| n.position.as_str());
    let upper = upper
        .map(|n| n.position.as_str())
        .filter(|upper| lower.is_none_or(|lower| lower < *upper));
    position::between(lower, upper).map_err(AppError::internal)
}
