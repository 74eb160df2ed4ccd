//! Offline clients: each task, list and membership keeps the position in
//! the change log of its last change (`seq`), a task its version, and
//! `sync_removals` remembers what left a list (a task deleted or moved
//! away, a person who left or was removed, a list deleted) for as long as
//! cursors live. `sync_clock` is the one counter positions come from.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        let db = manager.get_connection();
        let (uuid, time) = if postgres {
            ("uuid", "timestamp with time zone")
        } else {
            ("uuid_text", "timestamp_with_timezone_text")
        };
        for statement in [
            "ALTER TABLE tasks ADD COLUMN version integer NOT NULL DEFAULT 1".to_owned(),
            "ALTER TABLE tasks ADD COLUMN seq bigint NOT NULL DEFAULT 0".to_owned(),
            "ALTER TABLE task_lists ADD COLUMN seq bigint NOT NULL DEFAULT 0".to_owned(),
            "ALTER TABLE list_members ADD COLUMN seq bigint NOT NULL DEFAULT 0".to_owned(),
            "CREATE INDEX idx_tasks_list_seq ON tasks (list_id, seq, id)".to_owned(),
            format!(
                "CREATE TABLE sync_removals (\
                 seq bigint NOT NULL, \
                 list_id {uuid} NOT NULL, \
                 task_id {uuid} NULL, \
                 user_id {uuid} NULL, \
                 deleted boolean NOT NULL, \
                 at {time} NOT NULL)"
            ),
            "CREATE INDEX idx_sync_removals_list ON sync_removals (list_id, seq)".to_owned(),
            "CREATE INDEX idx_sync_removals_user ON sync_removals (user_id, seq)".to_owned(),
            "CREATE INDEX idx_sync_removals_task ON sync_removals (task_id)".to_owned(),
            "CREATE INDEX idx_sync_removals_at ON sync_removals (at)".to_owned(),
            "CREATE TABLE sync_clock (id integer NOT NULL PRIMARY KEY, seq bigint NOT NULL)"
                .to_owned(),
            "INSERT INTO sync_clock (id, seq) VALUES (1, 0)".to_owned(),
        ] {
            db.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for statement in [
            "DROP TABLE sync_clock",
            "DROP TABLE sync_removals",
            "DROP INDEX IF EXISTS idx_tasks_list_seq",
            "ALTER TABLE list_members DROP COLUMN seq",
            "ALTER TABLE task_lists DROP COLUMN seq",
            "ALTER TABLE tasks DROP COLUMN seq",
            "ALTER TABLE tasks DROP COLUMN version",
        ] {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }
}
