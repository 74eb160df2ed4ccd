//! Lists shared with people. Every task belongs to one list; every account
//! has an inbox, its own for good, whose id is the account's (so that an
//! account's inbox is found without a lookup, and made here without
//! generating ids in SQL). Members hold a role per list; invitations wait
//! for an address, kept as the digest of their token. People get a display
//! name.
//!
//! The tasks table is rebuilt rather than altered: a task now belongs to a
//! list, and its author (`created_by`) and assignee are set to null when
//! their account goes, which SQLite cannot change on an existing foreign
//! key. Each account's tasks move into its inbox, made by it.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

use crate::m20261123_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(string_len_null(People::DisplayName, 256))
                    .to_owned(),
            )
            .await?;
        create_lists(manager).await?;
        // What a queued mail is about beyond its account: the invitation
        // whose token it carries.
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .add_column(uuid_null(Outbox::About))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "INSERT INTO task_lists (id, name, inbox, created_at, updated_at) \
             SELECT id, 'Inbox', TRUE, created_at, created_at FROM users",
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO list_members (user_id, list_id, role, since) \
             SELECT id, id, 'owner', created_at FROM users",
        )
        .await?;
        create_tasks(manager, TaskTable::Next).await?;
        db.execute_unprepared(
            "INSERT INTO tasks_next (id, list_id, created_by, assignee_id, title, description, \
             completed, due_at, created_at, updated_at, search_text) \
             SELECT id, user_id, user_id, NULL, title, description, completed, due_at, \
             created_at, updated_at, search_text FROM tasks",
        )
        .await?;
        swap_tasks(manager).await?;
        index_tasks(manager, Tasks::ListId).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Each task goes back to its author, or else to its list's owner.
        create_tasks(manager, TaskTable::Previous).await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO tasks_next (id, user_id, title, description, completed, due_at, \
                 created_at, updated_at, search_text) \
                 SELECT t.id, COALESCE(t.created_by, m.user_id), t.title, t.description, \
                 t.completed, t.due_at, t.created_at, t.updated_at, t.search_text \
                 FROM tasks t JOIN list_members m ON m.list_id = t.list_id AND m.role = 'owner'",
            )
            .await?;
        swap_tasks(manager).await?;
        index_tasks(manager, Tasks::UserId).await?;
        for table in [Lists::Invitations, Lists::Members, Lists::Table] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .drop_column(Outbox::About)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(People::DisplayName)
                    .to_owned(),
            )
            .await
    }
}

async fn create_lists(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let mut name = string_len(Lists::Name, 400);
    // Lists come by name in byte order, as on SQLite.
    if manager.get_database_backend() == DbBackend::Postgres {
        name.extra("COLLATE \"C\"");
    }
    manager
        .create_table(
            Table::create()
                .table(Lists::Table)
                .col(pk_uuid(Lists::Id))
                .col(name)
                .col(boolean(Lists::Inbox).default(false))
                .col(timestamp_with_time_zone(Lists::CreatedAt))
                .col(timestamp_with_time_zone(Lists::UpdatedAt))
                .to_owned(),
        )
        .await?;
    // Keyed by the member first: "the lists of this viewer" is the rule's
    // subquery in every read, an index range of its own.
    manager
        .create_table(
            Table::create()
                .table(Lists::Members)
                .col(uuid(Members::UserId))
                .col(uuid(Members::ListId))
                .col(string_len(Members::Role, 16))
                .col(timestamp_with_time_zone(Members::Since))
                .primary_key(Index::create().col(Members::UserId).col(Members::ListId))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_list_members_user")
                        .from(Lists::Members, Members::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_list_members_list")
                        .from(Lists::Members, Members::ListId)
                        .to(Lists::Table, Lists::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("idx_list_members_list")
                .table(Lists::Members)
                .col(Members::ListId)
                .col(Members::Since)
                .to_owned(),
        )
        .await?;
    manager
        .create_table(
            Table::create()
                .table(Lists::Invitations)
                .col(pk_uuid(Invitations::Id))
                .col(uuid(Invitations::ListId))
                .col(string(Invitations::Email))
                .col(string_len(Invitations::Role, 16))
                // Drawn when the mail is sent, as reset tokens are.
                .col(string_null(Invitations::TokenDigest).unique_key())
                .col(uuid(Invitations::InvitedBy))
                .col(timestamp_with_time_zone(Invitations::CreatedAt))
                .col(timestamp_with_time_zone(Invitations::ExpiresAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_list_invitations_list")
                        .from(Lists::Invitations, Invitations::ListId)
                        .to(Lists::Table, Lists::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_list_invitations_inviter")
                        .from(Lists::Invitations, Invitations::InvitedBy)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
    for (name, columns) in [
        (
            "idx_list_invitations_list_email",
            [Invitations::ListId, Invitations::Email],
        ),
        (
            "idx_list_invitations_email",
            [Invitations::Email, Invitations::ExpiresAt],
        ),
        (
            "idx_list_invitations_inviter",
            [Invitations::InvitedBy, Invitations::CreatedAt],
        ),
    ] {
        let mut index = Index::create();
        index.name(name).table(Lists::Invitations);
        for column in columns {
            index.col(column);
        }
        if name == "idx_list_invitations_list_email" {
            index.unique();
        }
        manager.create_index(index).await?;
    }
    Ok(())
}

/// Which tasks table `create_tasks` makes, as `tasks_next`.
enum TaskTable {
    /// Tasks in lists, with their author and assignee.
    Next,
    /// Tasks of one user, as before lists.
    Previous,
}

async fn create_tasks(manager: &SchemaManager<'_>, shape: TaskTable) -> Result<(), DbErr> {
    let mut title = string_len(Tasks::Title, 800);
    // Byte order, as SQLite sorts by default, so that ordering by title
    // gives the same pages on both databases.
    if manager.get_database_backend() == DbBackend::Postgres {
        title.extra("COLLATE \"C\"");
    }
    let mut table = Table::create();
    table.table(Tasks::Next).col(pk_uuid(Tasks::Id));
    match shape {
        TaskTable::Next => {
            table
                .col(uuid(Tasks::ListId))
                .col(uuid_null(Tasks::CreatedBy))
                .col(uuid_null(Tasks::AssigneeId))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_tasks_list")
                        .from(Tasks::Next, Tasks::ListId)
                        .to(Lists::Table, Lists::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_tasks_author")
                        .from(Tasks::Next, Tasks::CreatedBy)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_tasks_assignee")
                        .from(Tasks::Next, Tasks::AssigneeId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::SetNull),
                );
        }
        TaskTable::Previous => {
            table.col(uuid(Tasks::UserId)).foreign_key(
                ForeignKey::create()
                    .name("fk_tasks_user")
                    .from(Tasks::Next, Tasks::UserId)
                    .to(Users::Table, Users::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            );
        }
    }
    table
        .col(title)
        .col(text_null(Tasks::Description))
        .col(boolean(Tasks::Completed).default(false))
        .col(timestamp_with_time_zone_null(Tasks::DueAt))
        .col(timestamp_with_time_zone(Tasks::CreatedAt))
        .col(timestamp_with_time_zone(Tasks::UpdatedAt))
        .col(text(Tasks::SearchText));
    manager.create_table(table).await
}

/// Puts `tasks_next` in the place of `tasks`.
async fn swap_tasks(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .drop_table(Table::drop().table(Tasks::Table).to_owned())
        .await?;
    manager
        .rename_table(Table::rename().table(Tasks::Next, Tasks::Table).to_owned())
        .await
}

/// One index per listing order within `scope` (a list, or before lists a
/// user): each page is a range scan, ties broken by id. Then what the
/// foreign keys that set null and the assignee filter look up.
async fn index_tasks(manager: &SchemaManager<'_>, scope: Tasks) -> Result<(), DbErr> {
    let prefix = if matches!(scope, Tasks::ListId) {
        "idx_tasks_list"
    } else {
        "idx_tasks_user"
    };
    for (name, column) in [
        ("created", Tasks::CreatedAt),
        ("updated", Tasks::UpdatedAt),
        ("due", Tasks::DueAt),
        ("title", Tasks::Title),
    ] {
        manager
            .create_index(
                Index::create()
                    .name(format!("{prefix}_{name}"))
                    .table(Tasks::Table)
                    .col(scope.clone())
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
        let column = if matches!(scope, Tasks::ListId) {
            "list_id"
        } else {
            "user_id"
        };
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE INDEX {prefix}_due_desc ON tasks ({column}, due_at DESC NULLS LAST, id DESC)"
            ))
            .await?;
    }
    if matches!(scope, Tasks::ListId) {
        for (name, column) in [
            ("idx_tasks_author", Tasks::CreatedBy),
            ("idx_tasks_assignee", Tasks::AssigneeId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Tasks::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
    }
    Ok(())
}

#[derive(DeriveIden)]
enum Outbox {
    #[sea_orm(iden = "mail_outbox")]
    Table,
    About,
}

#[derive(DeriveIden)]
enum People {
    DisplayName,
}

#[derive(DeriveIden)]
enum Lists {
    #[sea_orm(iden = "task_lists")]
    Table,
    #[sea_orm(iden = "list_members")]
    Members,
    #[sea_orm(iden = "list_invitations")]
    Invitations,
    Id,
    Name,
    Inbox,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Members {
    UserId,
    ListId,
    Role,
    Since,
}

#[derive(DeriveIden)]
enum Invitations {
    Id,
    ListId,
    Email,
    Role,
    TokenDigest,
    InvitedBy,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden, Clone)]
enum Tasks {
    Table,
    #[sea_orm(iden = "tasks_next")]
    Next,
    Id,
    UserId,
    ListId,
    CreatedBy,
    AssigneeId,
    Title,
    Description,
    Completed,
    DueAt,
    CreatedAt,
    UpdatedAt,
    SearchText,
}
