//! Dates that mean something: an all-day due date beside the timed one, the
//! task's time zone, a recurrence rule and where its series started, the
//! record of completions, reminders, and calendar feeds.
//!
//! `due` is the instant filters and orders use: the timed due date, or the
//! start of an all-day date's day in the task's zone; the indexes by due
//! date move to it from `due_at`.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

use crate::m20261123_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        let db = manager.get_connection();
        let (time, date) = if postgres {
            ("timestamp with time zone", "date")
        } else {
            ("timestamp_with_timezone_text", "date_text")
        };
        for statement in [
            format!("ALTER TABLE tasks ADD COLUMN due_on {date} NULL"),
            format!("ALTER TABLE tasks ADD COLUMN due {time} NULL"),
            "ALTER TABLE tasks ADD COLUMN time_zone varchar(64) NOT NULL DEFAULT 'UTC'".to_owned(),
            "ALTER TABLE tasks ADD COLUMN recurrence varchar(500) NULL".to_owned(),
            "ALTER TABLE tasks ADD COLUMN repeat_from varchar(16) NOT NULL DEFAULT 'due'"
                .to_owned(),
            "ALTER TABLE tasks ADD COLUMN series_start varchar(19) NULL".to_owned(),
            "ALTER TABLE tasks ADD COLUMN series_done integer NOT NULL DEFAULT 0".to_owned(),
            "UPDATE tasks SET due = due_at".to_owned(),
            "DROP INDEX IF EXISTS idx_tasks_list_due".to_owned(),
            "DROP INDEX IF EXISTS idx_tasks_list_due_desc".to_owned(),
            "CREATE INDEX idx_tasks_list_due ON tasks (list_id, due, id)".to_owned(),
        ] {
            db.execute_unprepared(&statement).await?;
        }
        // Tasks without a due date come last in both directions (see the
        // index of the same name before).
        if postgres {
            db.execute_unprepared(
                "CREATE INDEX idx_tasks_list_due_desc ON tasks (list_id, due DESC NULLS LAST, id DESC)",
            )
            .await?;
        }
        create_completions(manager).await?;
        create_reminders(manager).await?;
        create_calendar_feeds(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CalendarFeeds::Table.into_iden(),
            Reminders::Table.into_iden(),
            Completions::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX IF EXISTS idx_tasks_list_due_desc")
            .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS idx_tasks_list_due")
            .await?;
        for column in [
            "due_on",
            "due",
            "time_zone",
            "recurrence",
            "repeat_from",
            "series_start",
            "series_done",
        ] {
            db.execute_unprepared(&format!("ALTER TABLE tasks DROP COLUMN {column}"))
                .await?;
        }
        db.execute_unprepared("CREATE INDEX idx_tasks_list_due ON tasks (list_id, due_at, id)")
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(
                "CREATE INDEX idx_tasks_list_due_desc ON tasks \
                 (list_id, due_at DESC NULLS LAST, id DESC)",
            )
            .await?;
        }
        Ok(())
    }
}

async fn create_completions(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Completions::Table)
                .col(pk_uuid(Completions::Id))
                .col(uuid(Completions::TaskId))
                .col(timestamp_with_time_zone_null(Completions::DueAt))
                .col(date_null(Completions::DueOn))
                .col(timestamp_with_time_zone(Completions::CompletedAt))
                .col(uuid_null(Completions::CompletedBy))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_completions_task")
                        .from(Completions::Table, Completions::TaskId)
                        .to(Tasks::Table, Tasks::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_completions_user")
                        .from(Completions::Table, Completions::CompletedBy)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;
    for (name, columns) in [
        (
            "idx_completions_task",
            vec![
                Completions::TaskId,
                Completions::CompletedAt,
                Completions::Id,
            ],
        ),
        ("idx_completions_user", vec![Completions::CompletedBy]),
    ] {
        let mut index = Index::create();
        index.name(name).table(Completions::Table);
        for column in columns {
            index.col(column);
        }
        manager.create_index(index).await?;
    }
    Ok(())
}

async fn create_reminders(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Reminders::Table)
                .col(pk_uuid(Reminders::Id))
                .col(uuid(Reminders::TaskId))
                .col(timestamp_with_time_zone_null(Reminders::At))
                .col(integer_null(Reminders::BeforeDue))
                // When it fires next; null when it has nothing left to fire.
                .col(timestamp_with_time_zone_null(Reminders::FireAt))
                .col(timestamp_with_time_zone_null(Reminders::SentAt))
                .col(timestamp_with_time_zone(Reminders::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_reminders_task")
                        .from(Reminders::Table, Reminders::TaskId)
                        .to(Tasks::Table, Tasks::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
    for (name, columns) in [
        ("idx_reminders_task", vec![Reminders::TaskId, Reminders::Id]),
        ("idx_reminders_fire", vec![Reminders::FireAt]),
    ] {
        let mut index = Index::create();
        index.name(name).table(Reminders::Table);
        for column in columns {
            index.col(column);
        }
        manager.create_index(index).await?;
    }
    Ok(())
}

async fn create_calendar_feeds(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(CalendarFeeds::Table)
                .col(pk_uuid(CalendarFeeds::Id))
                .col(uuid(CalendarFeeds::ListId))
                .col(uuid(CalendarFeeds::UserId))
                // SHA-256 of the token, hex: the token itself is never kept.
                .col(string_len(CalendarFeeds::TokenDigest, 64).unique_key())
                .col(timestamp_with_time_zone(CalendarFeeds::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_calendar_feeds_list")
                        .from(CalendarFeeds::Table, CalendarFeeds::ListId)
                        .to(Lists::Table, Lists::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_calendar_feeds_user")
                        .from(CalendarFeeds::Table, CalendarFeeds::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("idx_calendar_feeds_owner")
                .table(CalendarFeeds::Table)
                .col(CalendarFeeds::UserId)
                .col(CalendarFeeds::ListId)
                .to_owned(),
        )
        .await
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Lists {
    #[sea_orm(iden = "task_lists")]
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Completions {
    Table,
    Id,
    TaskId,
    DueAt,
    DueOn,
    CompletedAt,
    CompletedBy,
}

#[derive(DeriveIden)]
enum Reminders {
    Table,
    Id,
    TaskId,
    At,
    BeforeDue,
    FireAt,
    SentAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CalendarFeeds {
    Table,
    Id,
    ListId,
    UserId,
    TokenDigest,
    CreatedAt,
}
