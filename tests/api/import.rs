//! `taskql import`: databases of the FastAPI tutorials' shape (SQLite, or
//! PostgreSQL when the suite runs on it) brought into a running server's
//! database; each account then logs in with its old password.

use entity::user::{Column, Entity as Users};
use sea_orm::{ColumnTrait, ConnectionTrait, Database, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::{
    binary::taskql,
    helpers::{PASSWORD, TestApp, TestDatabase, assert_error, spawn_app},
};

/// The password every fixture hash was made from.
const OLD_PASSWORD: &str = "correct horse battery";

/// The fixture hashes by their start: `$argon2id$`, `$pbkdf2-sha256$`,
/// `$2b$`, `$2a$`.
fn hash(prefix: &str) -> &'static str {
    include_str!("../fixtures/imported-hashes.txt")
        .lines()
        .find(|line| line.starts_with(prefix))
        .expect("a fixture hash")
}

/// An app's empty database: its `user` and `task` tables with the hash and
/// owner columns named as given, and `created_at` columns if `times`.
async fn app_database(hash_column: &str, owner_column: &str, times: bool) -> TestDatabase {
    let database = TestDatabase::create().await;
    let db = Database::connect(database.url.as_str())
        .await
        .expect("connect");
    let time = if times {
        ", created_at TIMESTAMP NOT NULL"
    } else {
        ""
    };
    db.execute_unprepared(&format!(
        r#"CREATE TABLE "user" (id INTEGER NOT NULL PRIMARY KEY, email VARCHAR NOT NULL UNIQUE,
               {hash_column} VARCHAR(200) NOT NULL{time});
           CREATE TABLE task (id INTEGER NOT NULL PRIMARY KEY, title VARCHAR NOT NULL,
               description VARCHAR, completed BOOLEAN NOT NULL, {owner_column} INTEGER NOT NULL{time})"#
    ))
    .await
    .expect("the app's tables");
    db.close().await.expect("close");
    database
}

async fn execute(database: &TestDatabase, sql: &str) {
    let db = Database::connect(database.url.as_str())
        .await
        .expect("connect");
    db.execute_unprepared(sql).await.expect("statement");
    db.close().await.expect("close");
}

/// Runs `taskql import --from <source> [extra]` into `app`'s database.
fn import(app: &TestApp, source: &TestDatabase, extra: &[&str]) -> std::process::Output {
    taskql()
        .env("TASKQL_DATABASE_URL", &app.database.url)
        .env("TASKQL_LOG", "warn")
        .args(["import", "--from", &source.url])
        .args(extra)
        .output()
        .expect("runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn tasks_of(app: &TestApp, email: &str) -> Value {
    let login = app.login(email, OLD_PASSWORD).await;
    let token = login["data"]["login"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{email} logs in: {login}"));
    let me = app
        .graphql(
            "{ me { email emailVerified createdAt }
               tasks(orderBy: { field: CREATED_AT, direction: ASC }) {
                 edges { node { title description completed createdAt } } } }",
            json!({}),
            Some(token),
        )
        .await;
    assert!(me["errors"].is_null(), "{me}");
    let mut data = me["data"].clone();
    let nodes: Vec<Value> = data["tasks"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| edge["node"].clone())
        .collect();
    data["tasks"] = json!({ "nodes": nodes });
    data
}

#[tokio::test]
async fn a_fastapi_database_comes_over_and_every_account_logs_in_with_its_password() {
    let source = app_database("hashed_password", "owner_id", true).await;
    execute(
        &source,
        &format!(
            r#"INSERT INTO "user" VALUES
                 (1, 'Ann@Example.com', '{argon2}', '2025-01-02 03:04:05.123456'),
                 (2, 'bob@example.com', '{pbkdf2}', '2025-01-03 00:00:00'),
                 (3, 'cy@example.com', '{bcrypt_b}', '2025-01-04 00:00:00'),
                 (4, 'dee@example.com', '{bcrypt_a}', '2025-01-05 00:00:00'),
                 (5, 'taken@example.com', '{bcrypt_b}', '2025-01-06 00:00:00'),
                 (6, ' ANN@example.com', '{bcrypt_b}', '2025-01-07 00:00:00');
               INSERT INTO task VALUES
                 (1, 'Buy milk', 'two litres', TRUE, 1, '2025-02-01 10:00:00.5'),
                 (2, '  Call Bob ', NULL, FALSE, 1, '2025-02-02 10:00:00'),
                 (3, 'Write the report', NULL, FALSE, 2, '2025-02-03 10:00:00'),
                 (4, 'Not mine to take', NULL, FALSE, 5, '2025-02-04 10:00:00'),
                 (5, 'An orphan', NULL, FALSE, 99, '2025-02-05 10:00:00')"#,
            argon2 = hash("$argon2id$"),
            pbkdf2 = hash("$pbkdf2-sha256$"),
            bcrypt_b = hash("$2b$"),
            bcrypt_a = hash("$2a$"),
        ),
    )
    .await;
    let app = spawn_app().await;
    let taken = app.signup("taken@example.com", PASSWORD).await;
    assert!(taken["errors"].is_null(), "{taken}");

    let dry = import(&app, &source, &["--dry-run"]);
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    let report = text(&dry.stdout);
    assert!(report.contains("dry run: nothing was written"), "{report}");
    assert!(
        report.contains("users: 4 would be imported, 2 skipped"),
        "{report}"
    );
    assert_error(
        &app.login("bob@example.com", OLD_PASSWORD).await,
        "INVALID_CREDENTIALS",
    );

    let done = import(&app, &source, &[]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    let report = text(&done.stdout);
    for line in [
        "users: 4 imported, 2 skipped",
        "tasks: 3 imported, 1 skipped with their owner, 1 without an owner in the source",
        "skipped taken@example.com: already in taskql (its tasks too)",
        "skipped  ANN@example.com: the same address as user row id=1 (its tasks too)",
    ] {
        assert!(report.contains(line), "{line:?} in {report}");
    }

    let ann = tasks_of(&app, "ann@example.com").await;
    assert_eq!(
        ann["me"],
        json!({ "email": "ann@example.com", "emailVerified": true,
                "createdAt": "2025-01-02T03:04:05.123456Z" })
    );
    assert_eq!(
        ann["tasks"]["nodes"],
        json!([
            { "title": "Buy milk", "description": "two litres", "completed": true,
              "createdAt": "2025-02-01T10:00:00.500Z" },
            { "title": "Call Bob", "description": null, "completed": false,
              "createdAt": "2025-02-02T10:00:00Z" },
        ])
    );
    let bob = tasks_of(&app, "bob@example.com").await;
    assert_eq!(bob["tasks"]["nodes"][0]["title"], "Write the report");
    for email in ["cy@example.com", "dee@example.com"] {
        assert_eq!(tasks_of(&app, email).await["tasks"]["nodes"], json!([]));
    }
    // The account taskql had keeps its own password.
    assert_error(
        &app.login("taken@example.com", OLD_PASSWORD).await,
        "INVALID_CREDENTIALS",
    );
    let taken = app.login("taken@example.com", PASSWORD).await;
    assert!(taken["errors"].is_null(), "{taken}");

    // Each good login replaced the old hash with the configured Argon2id.
    let db = Database::connect(app.database.url.as_str())
        .await
        .expect("connect");
    let imported = Users::find()
        .filter(Column::Email.ne("taken@example.com"))
        .all(&db)
        .await
        .expect("users");
    assert_eq!(imported.len(), 4);
    for user in imported {
        assert!(
            user.password_hash.starts_with("$argon2id$v=19$m=1024,t=1,"),
            "{}: {}",
            user.email,
            &user.password_hash[..20]
        );
    }
    let again = tasks_of(&app, "bob@example.com").await;
    assert_eq!(again["tasks"]["nodes"][0]["title"], "Write the report");

    // A second import finds everyone there and writes nothing.
    let twice = import(&app, &source, &[]);
    assert!(twice.status.success(), "{}", text(&twice.stderr));
    assert!(
        text(&twice.stdout).contains("users: 0 imported, 6 skipped"),
        "{}",
        text(&twice.stdout)
    );
}

#[tokio::test]
async fn a_row_taskql_cannot_take_stops_the_import_naming_it_and_nothing_is_written() {
    // The other names apps give the columns; no times.
    let source = app_database("password_hash", "user_id", false).await;
    execute(
        &source,
        &format!(
            r#"INSERT INTO "user" VALUES (1, 'eve@example.com', '{bcrypt}'),
                                         (2, 'fay@example.com', '$1$saltsalt$md5cryptlooksso');
               INSERT INTO task VALUES (1, 'Feed the cat', NULL, FALSE, 1),
                                       (2, '   ', NULL, FALSE, 1)"#,
            bcrypt = hash("$2b$"),
        ),
    )
    .await;
    let app = spawn_app().await;

    let stopped = import(&app, &source, &[]);
    assert!(!stopped.status.success());
    let stderr = text(&stopped.stderr);
    assert!(
        stderr.contains("user row id=2: the password hash is in no format taskql verifies"),
        "{stderr}"
    );
    assert!(!stderr.contains("md5cryptlooksso"), "the hash is not shown");
    assert!(stderr.contains("nothing was imported"), "{stderr}");
    assert_error(
        &app.login("eve@example.com", OLD_PASSWORD).await,
        "INVALID_CREDENTIALS",
    );

    execute(&source, r#"DELETE FROM "user" WHERE id = 2"#).await;
    let stopped = import(&app, &source, &[]);
    assert!(!stopped.status.success());
    let stderr = text(&stopped.stderr);
    assert!(
        stderr.contains("task row id=2: title must not be empty"),
        "{stderr}"
    );
    assert_error(
        &app.login("eve@example.com", OLD_PASSWORD).await,
        "INVALID_CREDENTIALS",
    );

    execute(
        &source,
        "UPDATE task SET title = 'Water the plants' WHERE id = 2",
    )
    .await;
    let done = import(&app, &source, &[]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    let eve = tasks_of(&app, "eve@example.com").await;
    let titles: Vec<&str> = eve["tasks"]["nodes"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|task| task["title"].as_str().expect("title"))
        .collect();
    assert_eq!(titles.len(), 2);
    assert!(titles.contains(&"Feed the cat") && titles.contains(&"Water the plants"));
}

#[test]
fn a_source_that_is_not_of_the_shape_is_named() {
    let dir = tempfile::tempdir().expect("directory");
    let missing = format!("sqlite://{}", dir.path().join("nothing.db").display());
    let output = taskql()
        .env(
            "TASKQL_DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display()),
        )
        .args(["import", "--from", &missing])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("cannot open the source database"),
        "{}",
        text(&output.stderr)
    );
    assert!(
        !dir.path().join("nothing.db").exists(),
        "the source is not created"
    );

    let password = taskql()
        .env(
            "TASKQL_DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display()),
        )
        .args([
            "import",
            "--from",
            "postgresql+psycopg://app:hunter2secret@127.0.0.1:1/app",
        ])
        .output()
        .expect("runs");
    assert!(!password.status.success());
    let stderr = text(&password.stderr);
    assert!(
        stderr.contains("postgresql+psycopg://app@127.0.0.1:1/app"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2secret"), "{stderr}");
}
