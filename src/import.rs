//! `taskql import --from <database URL>`: the users and tasks of an app of
//! the FastAPI tutorials' shape (SPEC §9), from SQLite or PostgreSQL.
//!
//! The source has a `user` table (`id`, `email`, `hashed_password` or
//! `password_hash`, optional `created_at`) and a `task` table (`id`,
//! `title`, `description`, `completed`, `owner_id` or `user_id`, optional
//! `created_at`); other columns are ignored. It is read in one read-only
//! snapshot and checked whole before anything is written: a row taskql
//! cannot take (an invalid email or title, a hash in no known format) stops
//! the import, naming the row. Then everything is written in one
//! transaction. Hashes are kept as they are and replaced by Argon2id at
//! each account's first good login; imported addresses count as verified.
//! An address already in taskql is skipped with its tasks and named in the
//! report, never overwritten. `--dry-run` reads both databases and writes
//! neither.

use std::{
    collections::{HashMap, HashSet},
    fmt,
    time::Duration,
};

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDateTime, Utc};
use entity::{
    task,
    user::{self, Column, Entity as Users},
};
use sea_orm::{
    AccessMode, ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DbBackend, DbErr, EntityTrait, IsolationLevel, QueryFilter, QueryResult, QuerySelect,
    Statement, TransactionTrait,
};
use uuid::Uuid;

use crate::{
    auth::{Email, password},
    db, lists,
    tasks::{Description, TaskTitle},
};

/// Rows written per statement: well inside both databases' limits on bound
/// values.
const CHUNK: usize = 500;

/// What an import did, or would do with `--dry-run`.
#[derive(Debug)]
pub struct Report {
    /// The source, without credentials.
    pub source: String,
    pub dry_run: bool,
    pub users_imported: usize,
    pub tasks_imported: usize,
    /// Accounts left out, each with why.
    pub users_skipped: Vec<Skipped>,
    /// Tasks left out with their owner.
    pub tasks_skipped: usize,
    /// Tasks whose owner is not in the source's `user` table.
    pub tasks_without_owner: usize,
}

#[derive(Debug)]
pub struct Skipped {
    pub email: String,
    pub why: SkipReason,
}

#[derive(Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// taskql already has an account with this address.
    InTaskql,
    /// An earlier row of the source has the same address (emails are
    /// compared trimmed and lower-cased, as taskql stores them).
    RepeatsRow(String),
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let done = if self.dry_run {
            "would be imported"
        } else {
            "imported"
        };
        writeln!(
            f,
            "From {}{}:",
            self.source,
            if self.dry_run {
                " (dry run: nothing was written)"
            } else {
                ""
            }
        )?;
        writeln!(
            f,
            "  users: {} {done}, {} skipped",
            self.users_imported,
            self.users_skipped.len()
        )?;
        writeln!(
            f,
            "  tasks: {} {done}, {} skipped with their owner, {} without an owner in the source",
            self.tasks_imported, self.tasks_skipped, self.tasks_without_owner
        )?;
        for skipped in &self.users_skipped {
            match &skipped.why {
                SkipReason::InTaskql => writeln!(
                    f,
                    "  skipped {}: already in taskql (its tasks too)",
                    skipped.email
                )?,
                SkipReason::RepeatsRow(id) => writeln!(
                    f,
                    "  skipped {}: the same address as user row id={id} (its tasks too)",
                    skipped.email
                )?,
            }
        }
        Ok(())
    }
}

/// Imports from the database at `from` into taskql's database at
/// `destination` (migrated first, unless this is a dry run).
pub async fn run(destination: &str, from: &str, dry_run: bool) -> anyhow::Result<Report> {
    let source = SourceUrl::parse(from)?;
    let rows = read_source(&source).await?;
    let checked = check(rows)?;
    if dry_run {
        let existing = match open_for_reading(destination).await? {
            Some(db) => existing_emails(&db, &checked.emails()).await?,
            None => HashSet::new(),
        };
        return Ok(checked.plan(&existing).report(source.shown, true));
    }
    db::migrate(destination)
        .await
        .context("cannot migrate taskql's database")?;
    let db = db::connect(destination)
        .await
        .context("cannot open taskql's database")?;
    let txn = db.begin().await?;
    let existing = existing_emails(&txn, &checked.emails()).await?;
    let plan = checked.plan(&existing);
    for chunk in plan.users.chunks(CHUNK) {
        Users::insert_many(chunk.iter().cloned().map(user::ActiveModel::from))
            .exec(&txn)
            .await
            .context("cannot write the users")?;
        for user in chunk {
            lists::create_inbox(&txn, user.id, user.created_at)
                .await
                .context("cannot make the users' inboxes")?;
        }
    }
    for chunk in plan.tasks.chunks(CHUNK) {
        task::Entity::insert_many(chunk.iter().cloned().map(task::ActiveModel::from))
            .exec(&txn)
            .await
            .context("cannot write the tasks")?;
    }
    txn.commit().await?;
    db.close().await?;
    Ok(plan.report(source.shown, false))
}

/// The URL to read from, and how to name it without its credentials.
struct SourceUrl {
    url: String,
    shown: String,
}

impl SourceUrl {
    /// Takes the URL forms of `TASKQL_DATABASE_URL`, and SQLAlchemy's
    /// `postgresql+<driver>://`; SQLite files are opened read-only.
    fn parse(from: &str) -> anyhow::Result<Self> {
        let Some((scheme, rest)) = from.split_once("://") else {
            bail!("--from takes a database URL: sqlite://path/to/app.db or postgres://…");
        };
        let scheme = scheme.split('+').next().unwrap_or(scheme);
        let url = match scheme {
            "sqlite" => read_only(&format!("sqlite://{rest}")),
            "postgres" | "postgresql" => format!("postgres://{rest}"),
            _ => bail!("--from: {scheme}:// is not a database taskql reads (sqlite, postgres)"),
        };
        Ok(Self {
            shown: without_credentials(from),
            url,
        })
    }
}

/// `url` with its password left out, for messages.
fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or_default();
            format!("{scheme}://{user}@{}", &rest[at + 1..])
        }
        None => url.to_owned(),
    }
}

/// A SQLite URL opened read-only (`mode=ro` in place of any other mode).
fn read_only(url: &str) -> String {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|param| !param.is_empty() && !param.starts_with("mode="))
        .collect();
    params.push("mode=ro");
    format!("{path}?{}", params.join("&"))
}

/// taskql's database for reading, or `None` when it does not exist yet (a
/// SQLite file not created, or no `users` table).
async fn open_for_reading(destination: &str) -> anyhow::Result<Option<DatabaseConnection>> {
    let url = if destination.starts_with("sqlite:") {
        read_only(destination)
    } else {
        destination.to_owned()
    };
    let db = match open(&url).await {
        Ok(db) => db,
        Err(_) if destination.starts_with("sqlite:") => return Ok(None),
        Err(error) => return Err(error).context("cannot open taskql's database"),
    };
    Ok((!columns(&db, "users").await?.is_empty()).then_some(db))
}

/// A connection for reading, as it is: no statement logged, no journal
/// mode set.
async fn open(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(2)
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(5));
    Database::connect(options).await
}

/// The source's rows, as read.
struct SourceRows {
    users: Vec<SourceUser>,
    tasks: Vec<SourceTask>,
}

struct SourceUser {
    id: String,
    email: Option<String>,
    hash: Option<String>,
    created_at: Option<DateTime<Utc>>,
}

struct SourceTask {
    id: String,
    owner: Option<String>,
    title: Option<String>,
    description: Option<String>,
    completed: bool,
    created_at: Option<DateTime<Utc>>,
}

async fn read_source(source: &SourceUrl) -> anyhow::Result<SourceRows> {
    let db = open(&source.url)
        .await
        .with_context(|| format!("cannot open the source database {}", source.shown))?;
    let backend = db.get_database_backend();
    let user_columns = columns(&db, "user").await?;
    let task_columns = columns(&db, "task").await?;
    let hash = pick(&user_columns, "user", &["hashed_password", "password_hash"])?;
    pick(&user_columns, "user", &["id"])?;
    pick(&user_columns, "user", &["email"])?;
    let owner = pick(&task_columns, "task", &["owner_id", "user_id"])?;
    for column in ["id", "title", "description", "completed"] {
        pick(&task_columns, "task", &[column])?;
    }
    let user_time = time_of(backend, &user_columns);
    let task_time = time_of(backend, &task_columns);
    // One snapshot, so that no task refers to an account read before it
    // was written.
    let snapshot = if backend == DbBackend::Postgres {
        db.begin_with_config(
            Some(IsolationLevel::RepeatableRead),
            Some(AccessMode::ReadOnly),
        )
        .await?
    } else {
        db.begin().await?
    };
    let users = snapshot
        .query_all_raw(Statement::from_string(
            backend,
            format!(
                r#"SELECT CAST("id" AS TEXT), "email", "{hash}", {user_time} FROM "user" ORDER BY "id""#
            ),
        ))
        .await
        .context("cannot read the source's users")?
        .iter()
        .map(|row| {
            Ok(SourceUser {
                id: row.try_get_by_index(0)?,
                email: row.try_get_by_index(1)?,
                hash: row.try_get_by_index(2)?,
                created_at: read_time(backend, row, 3)
                    .map_err(|why| anyhow::anyhow!("user row: {why}"))?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let tasks = snapshot
        .query_all_raw(Statement::from_string(
            backend,
            format!(
                r#"SELECT CAST("id" AS TEXT), CAST("{owner}" AS TEXT), "title", "description",
                          CASE WHEN "completed" THEN 1 ELSE 0 END, {task_time}
                   FROM "task" ORDER BY "id""#
            ),
        ))
        .await
        .context("cannot read the source's tasks")?
        .iter()
        .map(|row| {
            let id: String = row.try_get_by_index(0)?;
            Ok(SourceTask {
                owner: row.try_get_by_index(1)?,
                title: row.try_get_by_index(2)?,
                description: row.try_get_by_index(3)?,
                completed: row.try_get_by_index::<i32>(4)? != 0,
                created_at: read_time(backend, row, 5)
                    .map_err(|why| anyhow::anyhow!("task row id={id}: {why}"))?,
                id,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    snapshot.rollback().await?;
    db.close().await?;
    Ok(SourceRows { users, tasks })
}

/// The column names of `table`, none when there is no such table.
async fn columns(db: &DatabaseConnection, table: &str) -> anyhow::Result<Vec<String>> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1"
        }
        _ => "SELECT name FROM pragma_table_info(?)",
    };
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, [table.into()]))
        .await
        .with_context(|| format!("cannot read the columns of {table}"))?;
    rows.iter()
        .map(|row| Ok(row.try_get_by_index(0)?))
        .collect()
}

/// The first of `names` that `table` has.
fn pick<'a>(columns: &[String], table: &str, names: &[&'a str]) -> anyhow::Result<&'a str> {
    if columns.is_empty() {
        bail!("the source has no table \"{table}\"");
    }
    names
        .iter()
        .copied()
        .find(|name| columns.iter().any(|column| column == name))
        .with_context(|| {
            format!(
                "the source's table \"{table}\" has no column {}",
                names.join(" or ")
            )
        })
}

/// What reads `created_at`: on PostgreSQL microseconds since the epoch (a
/// `timestamp` without time zone taken as UTC, as SQLModel writes it), on
/// SQLite the stored text.
fn time_of(backend: DbBackend, columns: &[String]) -> &'static str {
    let present = columns.iter().any(|column| column == "created_at");
    match (present, backend) {
        (false, DbBackend::Postgres) => "CAST(NULL AS BIGINT)",
        (false, _) => "NULL",
        (true, DbBackend::Postgres) => {
            r#"CAST(EXTRACT(EPOCH FROM "created_at") * 1000000 AS BIGINT)"#
        }
        (true, _) => r#"CAST("created_at" AS TEXT)"#,
    }
}

fn read_time(
    backend: DbBackend,
    row: &QueryResult,
    at: usize,
) -> Result<Option<DateTime<Utc>>, String> {
    let time = if backend == DbBackend::Postgres {
        let micros: Option<i64> = row.try_get_by_index(at).map_err(|e| e.to_string())?;
        micros
            .map(|micros| {
                DateTime::from_timestamp_micros(micros).ok_or("created_at is out of range")
            })
            .transpose()?
    } else {
        let text: Option<String> = row.try_get_by_index(at).map_err(|e| e.to_string())?;
        text.map(|text| parse_time(&text).ok_or(format!("created_at {text:?} is not a time")))
            .transpose()?
    };
    Ok(time.map(db::truncate))
}

/// A time as SQLite apps store it: SQLAlchemy's `2026-12-03 12:31:47.123456`
/// (UTC), ISO 8601 with or without an offset, or seconds since the epoch.
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.to_utc());
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(time) = DateTime::parse_from_str(text, format) {
            return Some(time.to_utc());
        }
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(time) = NaiveDateTime::parse_from_str(text, format) {
            return Some(time.and_utc());
        }
    }
    let seconds: i64 = text.parse().ok()?;
    DateTime::from_timestamp(seconds, 0)
}

/// The source's rows, each found valid for taskql.
struct Checked {
    /// Accounts in the source's order, with the source's id.
    users: Vec<(String, user::Model)>,
    /// Accounts left out because an earlier row has the same address.
    repeated: Vec<Skipped>,
    /// Tasks by the source id of their owner.
    tasks: Vec<(Option<String>, task::Model)>,
}

/// Checks every row; the first that taskql cannot take stops the import.
fn check(rows: SourceRows) -> anyhow::Result<Checked> {
    let now = db::now();
    let mut users = Vec::with_capacity(rows.users.len());
    let mut repeated = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    for row in rows.users {
        let stop =
            |why: &str| anyhow::anyhow!("user row id={}: {why}; nothing was imported", row.id);
        let raw = row.email.as_deref().ok_or_else(|| stop("email is null"))?;
        let email = Email::parse(raw)
            .map_err(|_| stop(&format!("{raw:?} is not a valid email address")))?;
        let hash = row.hash.ok_or_else(|| stop("the password hash is null"))?;
        if !password::is_known_format(&hash) {
            return Err(stop(
                "the password hash is in no format taskql verifies (Argon2, bcrypt \
                 $2a$/$2b$/$2y$, passlib's $pbkdf2-sha256$)",
            ));
        }
        if let Some(first) = seen.get(email.as_str()) {
            repeated.push(Skipped {
                email: raw.to_owned(),
                why: SkipReason::RepeatsRow(first.clone()),
            });
            continue;
        }
        seen.insert(email.as_str().to_owned(), row.id.clone());
        let created_at = row.created_at.unwrap_or(now);
        users.push((
            row.id,
            user::Model {
                id: Uuid::now_v7(),
                email: email.as_str().to_owned(),
                password_hash: hash,
                password_version: 0,
                password_changed_at: created_at,
                email_verified: true,
                display_name: None,
                created_at,
                updated_at: created_at,
                is_admin: false,
                disabled_at: None,
                disabled_reason: None,
                last_login_at: None,
            },
        ));
    }
    let mut tasks = Vec::with_capacity(rows.tasks.len());
    // Each account's tasks go last in its new inbox, in the order they come.
    let mut last_positions = std::collections::HashMap::new();
    for row in rows.tasks {
        let stop =
            |why: String| anyhow::anyhow!("task row id={}: {why}; nothing was imported", row.id);
        let title = TaskTitle::parse(row.title.as_deref().unwrap_or_default())
            .map_err(|error| stop(error.to_string()))?
            .into_inner();
        let description = row
            .description
            .as_deref()
            .map(Description::parse)
            .transpose()
            .map_err(|error| stop(error.to_string()))?
            .map(Description::into_inner);
        let created_at = row.created_at.unwrap_or(now);
        let last: &mut Option<String> = last_positions.entry(row.owner.clone()).or_default();
        let position = crate::tasks::position::between(last.as_deref(), None)?;
        *last = Some(position.clone());
        tasks.push((
            row.owner,
            task::Model {
                position,
                completed: row.completed,
                updated_at: created_at,
                ..crate::tasks::row(Uuid::nil(), title, description, created_at)
            },
        ));
    }
    Ok(Checked {
        users,
        repeated,
        tasks,
    })
}

/// Which addresses of `emails` taskql already has.
async fn existing_emails(
    db: &impl ConnectionTrait,
    emails: &[&str],
) -> anyhow::Result<HashSet<String>> {
    let mut existing = HashSet::new();
    for chunk in emails.chunks(CHUNK) {
        let found: Vec<String> = Users::find()
            .select_only()
            .column(Column::Email)
            .filter(Column::Email.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await
            .context("cannot read taskql's accounts")?;
        existing.extend(found);
    }
    Ok(existing)
}

/// What is to be written.
struct Plan {
    users: Vec<user::Model>,
    tasks: Vec<task::Model>,
    skipped: Vec<Skipped>,
    tasks_skipped: usize,
    tasks_without_owner: usize,
}

impl Checked {
    fn emails(&self) -> Vec<&str> {
        self.users
            .iter()
            .map(|(_, user)| user.email.as_str())
            .collect()
    }

    /// Leaves out the accounts taskql has (`existing`) and the tasks of
    /// every account left out; gives each task its new owner's id.
    fn plan(self, existing: &HashSet<String>) -> Plan {
        let mut skipped = Vec::new();
        let mut users = Vec::with_capacity(self.users.len());
        // Source id → the new account's id, or `None` for one left out.
        let mut owners: HashMap<String, Option<Uuid>> = HashMap::new();
        for (source_id, user) in self.users {
            if existing.contains(&user.email) {
                owners.insert(source_id, None);
                skipped.push(Skipped {
                    email: user.email,
                    why: SkipReason::InTaskql,
                });
            } else {
                owners.insert(source_id, Some(user.id));
                users.push(user);
            }
        }
        skipped.extend(self.repeated);
        let (mut tasks, mut tasks_skipped, mut tasks_without_owner) = (Vec::new(), 0, 0);
        for (owner, mut task) in self.tasks {
            match owner.and_then(|owner| owners.get(&owner).copied()) {
                Some(Some(id)) => {
                    // Into the owner's inbox, which has the owner's id.
                    task.list_id = id;
                    task.created_by = Some(id);
                    tasks.push(task);
                }
                Some(None) => tasks_skipped += 1,
                None => tasks_without_owner += 1,
            }
        }
        Plan {
            users,
            tasks,
            skipped,
            tasks_skipped,
            tasks_without_owner,
        }
    }
}

impl Plan {
    fn report(self, source: String, dry_run: bool) -> Report {
        Report {
            source,
            dry_run,
            users_imported: self.users.len(),
            tasks_imported: self.tasks.len(),
            users_skipped: self.skipped,
            tasks_skipped: self.tasks_skipped,
            tasks_without_owner: self.tasks_without_owner,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_urls_lose_their_password_in_messages() {
        let source = SourceUrl::parse("postgresql+psycopg://app:s3cret@db:5432/app").expect("url");
        assert_eq!(source.url, "postgres://app:s3cret@db:5432/app");
        assert_eq!(source.shown, "postgresql+psycopg://app@db:5432/app");
        assert!(SourceUrl::parse("mysql://x@y/z").is_err());
        assert!(SourceUrl::parse("app.db").is_err());
    }

    #[test]
    fn sqlite_sources_are_opened_read_only() {
        assert_eq!(
            SourceUrl::parse("sqlite://app.db").expect("url").url,
            "sqlite://app.db?mode=ro"
        );
        assert_eq!(
            read_only("sqlite://x.db?mode=rwc&cache=shared"),
            "sqlite://x.db?cache=shared&mode=ro"
        );
    }

    #[test]
    fn times_read_as_sqlite_apps_store_them() {
        let expected = DateTime::parse_from_rfc3339("2026-12-03T12:31:47.123456Z")
            .expect("time")
            .to_utc();
        for text in [
            "2026-12-03 12:31:47.123456",
            "2026-12-03T12:31:47.123456",
            "2026-12-03 12:31:47.123456+00:00",
            "2026-12-03T13:31:47.123456+01:00",
            "2026-12-03 12:31:47.123456+00",
        ] {
            assert_eq!(parse_time(text), Some(expected), "{text}");
        }
        assert_eq!(
            parse_time("1700000000"),
            DateTime::from_timestamp(1_700_000_000, 0)
        );
        assert_eq!(parse_time("yesterday"), None);
    }
}
