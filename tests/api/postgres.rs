//! Checks that only mean something on PostgreSQL.

use std::{process::Command, sync::Arc};

use futures_util::future::join_all;
use sea_orm::DbBackend;

use crate::helpers::{TestDatabase, spawn_app, spawn_app_on};

/// CI sets `TASKQL_TEST_POSTGRES_URL`; this proves the suite really ran there.
#[tokio::test]
async fn the_suite_runs_on_postgres_when_configured() {
    if std::env::var("TASKQL_TEST_POSTGRES_URL").is_err() {
        eprintln!("skipped: set TASKQL_TEST_POSTGRES_URL to run the suite against PostgreSQL");
        return;
    }
    let app = spawn_app().await;
    assert!(app.database.is_postgres());
    assert_eq!(app.db.get_database_backend(), DbBackend::Postgres);
}

/// Any number of instances started at the same moment on a new, empty
/// database all come up: the migrations run once, under a lock, and so does
/// `taskql migrate up` started next to them.
#[tokio::test]
async fn instances_started_together_on_an_empty_database_all_come_up() {
    if std::env::var("TASKQL_TEST_POSTGRES_URL").is_err() {
        eprintln!("skipped: set TASKQL_TEST_POSTGRES_URL to run the suite against PostgreSQL");
        return;
    }
    let database = Arc::new(TestDatabase::create().await);
    let url = database.url.clone();
    let migrate = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_taskql"))
            .env_clear()
            .env("TASKQL_DATABASE_URL", url)
            .env("TASKQL_LOG", "warn")
            .args(["migrate", "up"])
            .output()
            .expect("runs")
    });
    let apps = join_all((0..4).map(|_| spawn_app_on(Arc::clone(&database), &[]))).await;
    let migrated = migrate.await.expect("joined");
    assert!(
        migrated.status.success(),
        "taskql migrate up: {}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    for (i, app) in apps.iter().enumerate() {
        let session = app.register(&format!("user{i}@example.com")).await;
        let me = app.me(&session.access_token).await;
        assert_eq!(me["data"]["me"]["id"], session.user_id, "{me}");
    }
}
