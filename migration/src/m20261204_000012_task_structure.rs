//! Tasks with structure: a priority, a parent (subtasks, in the parent's
//! list), a position among its siblings (a fractional-index key, by byte),
//! labels of the task's list, and comments.
//!
//! Existing tasks keep the order they were made in: each list's tasks get
//! the integer keys `a0`, `a1`, … `az`, `b00`, … in order of creation,
//! which are keys of the format like any other (`src/tasks/position.rs`).

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

use crate::m20261123_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The digits of a key, in the order they sort.
const DIGITS: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        let db = manager.get_connection();
        let (uuid_type, collate) = if postgres {
            ("uuid", " COLLATE \"C\"")
        } else {
            ("uuid_text", "")
        };
        // A subtask goes with its parent (the server deletes a subtree
        // itself, to tell each task's subscribers; this keeps the rows
        // right whatever deletes a task).
        for statement in [
            "ALTER TABLE tasks ADD COLUMN priority integer NOT NULL DEFAULT 0".to_owned(),
            format!(
                "ALTER TABLE tasks ADD COLUMN parent_id {uuid_type} NULL \
                 REFERENCES tasks (id) ON DELETE CASCADE"
            ),
            format!(
                "ALTER TABLE tasks ADD COLUMN position varchar(400){collate} NOT NULL DEFAULT ''"
            ),
        ] {
            db.execute_unprepared(&statement).await?;
        }
        let digit = |n: &str| format!("substr('{DIGITS}', CAST({n} AS INTEGER) + 1, 1)");
        let key = format!(
            "CASE WHEN n < 62 THEN 'a' || {d0} \
             WHEN n < 3844 THEN 'b' || {d1_2} || {d0} \
             WHEN n < 238328 THEN 'c' || {d2_3} || {d1_3} || {d0} \
             ELSE 'd' || {d3_4} || {d2_4} || {d1_4} || {d0} END",
            d0 = digit("n % 62"),
            d1_2 = digit("n / 62"),
            d2_3 = digit("n / 3844"),
            d1_3 = digit("(n / 62) % 62"),
            d3_4 = digit("n / 238328"),
            d2_4 = digit("(n / 3844) % 62"),
            d1_4 = digit("(n / 62) % 62"),
        );
        db.execute_unprepared(&format!(
            "UPDATE tasks SET position = keyed.key FROM \
             (SELECT id, {key} AS key FROM \
              (SELECT id, ROW_NUMBER() OVER (PARTITION BY list_id ORDER BY created_at, id) - 1 AS n \
               FROM tasks) numbered) keyed \
             WHERE tasks.id = keyed.id"
        ))
        .await?;
        for (name, columns) in [
            ("idx_tasks_list_position", [Tasks::ListId, Tasks::Position]),
            ("idx_tasks_list_priority", [Tasks::ListId, Tasks::Priority]),
            ("idx_tasks_parent", [Tasks::ParentId, Tasks::Position]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Tasks::Table);
            for column in columns {
                index.col(column);
            }
            manager
                .create_index(index.col(Tasks::Id).to_owned())
                .await?;
        }
        create_labels(manager).await?;
        create_comments(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Labels::OnTasks.into_iden(),
            Labels::Table.into_iden(),
            Comments::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for index in [
            "idx_tasks_list_position",
            "idx_tasks_list_priority",
            "idx_tasks_parent",
        ] {
            manager
                .drop_index(Index::drop().name(index).table(Tasks::Table).to_owned())
                .await?;
        }
        // Subtasks become tasks of their own.
        for column in [Tasks::ParentId, Tasks::Position, Tasks::Priority] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tasks::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

async fn create_labels(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Labels::Table)
                .col(pk_uuid(Labels::Id))
                .col(uuid(Labels::ListId))
                .col(string_len(Labels::Name, 200))
                // The name folded to lower case by the server: names are
                // unique in a list whatever their case, in every script.
                .col(string_len(Labels::NameKey, 200))
                .col(string_len(Labels::Color, 7))
                .col(timestamp_with_time_zone(Labels::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_labels_list")
                        .from(Labels::Table, Labels::ListId)
                        .to(Lists::Table, Lists::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("idx_labels_list_name")
                .table(Labels::Table)
                .col(Labels::ListId)
                .col(Labels::NameKey)
                .unique()
                .to_owned(),
        )
        .await?;
    manager
        .create_table(
            Table::create()
                .table(Labels::OnTasks)
                .col(uuid(Labels::TaskId))
                .col(uuid(Labels::LabelId))
                .primary_key(Index::create().col(Labels::TaskId).col(Labels::LabelId))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_task_labels_task")
                        .from(Labels::OnTasks, Labels::TaskId)
                        .to(Tasks::Table, Tasks::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_task_labels_label")
                        .from(Labels::OnTasks, Labels::LabelId)
                        .to(Labels::Table, Labels::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
    // The filter by label looks its tasks up from the label.
    manager
        .create_index(
            Index::create()
                .name("idx_task_labels_label")
                .table(Labels::OnTasks)
                .col(Labels::LabelId)
                .col(Labels::TaskId)
                .to_owned(),
        )
        .await
}

async fn create_comments(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Comments::Table)
                .col(pk_uuid(Comments::Id))
                .col(uuid(Comments::TaskId))
                // Kept when its author leaves the list; null once their
                // account is gone.
                .col(uuid_null(Comments::AuthorId))
                .col(text(Comments::Body))
                .col(timestamp_with_time_zone(Comments::CreatedAt))
                .col(timestamp_with_time_zone_null(Comments::EditedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_comments_task")
                        .from(Comments::Table, Comments::TaskId)
                        .to(Tasks::Table, Tasks::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_comments_author")
                        .from(Comments::Table, Comments::AuthorId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;
    for (name, columns) in [
        (
            "idx_comments_task",
            vec![Comments::TaskId, Comments::CreatedAt, Comments::Id],
        ),
        ("idx_comments_author", vec![Comments::AuthorId]),
    ] {
        let mut index = Index::create();
        index.name(name).table(Comments::Table);
        for column in columns {
            index.col(column);
        }
        manager.create_index(index).await?;
    }
    Ok(())
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Id,
    ListId,
    Priority,
    ParentId,
    Position,
}

#[derive(DeriveIden)]
enum Lists {
    #[sea_orm(iden = "task_lists")]
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Labels {
    Table,
    #[sea_orm(iden = "task_labels")]
    OnTasks,
    Id,
    ListId,
    Name,
    NameKey,
    Color,
    CreatedAt,
    TaskId,
    LabelId,
}

#[derive(DeriveIden)]
enum Comments {
    Table,
    Id,
    TaskId,
    AuthorId,
    Body,
    CreatedAt,
    EditedAt,
}
