//! Checks that only mean something on PostgreSQL.

use sea_orm::DbBackend;

use crate::helpers::spawn_app;

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
