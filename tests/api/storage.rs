//! How the database is set up, where it matters to clients.

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use std::sync::Arc;

use crate::helpers::{TestDatabase, spawn_app_on};

/// On SQLite whatever the suite runs on: the option is SQLite's own.
#[tokio::test]
async fn sqlite_plans_each_statement_once_whatever_its_bound_values() {
    let app = spawn_app_on(Arc::new(TestDatabase::sqlite()), &[]).await;
    // Without the planner stability guarantee, SQLite compiles a statement
    // with `LIMIT ?` anew on every run, as every page query is.
    let rows = app
        .db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA compile_options",
        ))
        .await
        .expect("compile options");
    let options: Vec<String> = rows
        .iter()
        .map(|row| row.try_get_by_index(0).expect("option"))
        .collect();
    assert!(
        options.iter().any(|option| option == "ENABLE_QPSG"),
        "{options:?}"
    );
}
