use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

use crate::m20261123_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut title = string_len(Tasks::Title, 800);
        // Byte order, as SQLite sorts by default, so that ordering by title
        // gives the same pages on both databases.
        if manager.get_database_backend() == DbBackend::Postgres {
            title.extra("COLLATE \"C\"");
        }
        manager
            .create_table(
                Table::create()
                    .table(Tasks::Table)
                    .col(pk_uuid(Tasks::Id))
                    .col(uuid(Tasks::UserId))
                    .col(title)
                    .col(text_null(Tasks::Description))
                    .col(boolean(Tasks::Completed).default(false))
                    .col(timestamp_with_time_zone_null(Tasks::DueAt))
                    .col(timestamp_with_time_zone(Tasks::CreatedAt))
                    .col(timestamp_with_time_zone(Tasks::UpdatedAt))
                    .col(text(Tasks::SearchText))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_tasks_user")
                            .from(Tasks::Table, Tasks::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // One index per listing order: each page is a range scan over one
        // user's tasks, ties broken by id.
        for (name, column) in [
            ("idx_tasks_user_created", Tasks::CreatedAt),
            ("idx_tasks_user_updated", Tasks::UpdatedAt),
            ("idx_tasks_user_due", Tasks::DueAt),
            ("idx_tasks_user_title", Tasks::Title),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Tasks::Table)
                        .col(Tasks::UserId)
                        .col(column)
                        .col(Tasks::Id)
                        .to_owned(),
                )
                .await?;
        }
        // Tasks without a due date come last in both directions. PostgreSQL
        // keeps NULLs last only ascending, so descending needs an index of its
        // own; SQLite walks the one above either way.
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "CREATE INDEX idx_tasks_user_due_desc ON tasks \
                     (user_id, due_at DESC NULLS LAST, id DESC)",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Tasks::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Id,
    UserId,
    Title,
    Description,
    Completed,
    DueAt,
    CreatedAt,
    UpdatedAt,
    SearchText,
}
