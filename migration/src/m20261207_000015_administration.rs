//! Administration: which accounts may use the admin listener (a mark set by
//! `taskql admin grant`), whether and why an account is disabled, when it
//! last signed in, and when each session last passed a second factor (its
//! access tokens carry that time, a refresh keeps it).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column a statement: SQLite alters a table one change at a time.
        for column in [
            boolean(Administered::IsAdmin).default(false).to_owned(),
            timestamp_with_time_zone_null(Administered::DisabledAt),
            string_len_null(Administered::DisabledReason, 500),
            timestamp_with_time_zone_null(Administered::LastLoginAt),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(timestamp_with_time_zone_null(Sessions::SecondFactorAt))
                    .to_owned(),
            )
            .await?;
        // `taskql admin list`, and the few marked rows a request reads.
        manager
            .create_index(
                Index::create()
                    .name("idx_users_admin")
                    .table(Users::Table)
                    .col(Administered::IsAdmin)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_users_admin")
                    .table(Users::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .drop_column(Sessions::SecondFactorAt)
                    .to_owned(),
            )
            .await?;
        for column in [
            Administered::LastLoginAt,
            Administered::DisabledReason,
            Administered::DisabledAt,
            Administered::IsAdmin,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Administered {
    IsAdmin,
    DisabledAt,
    DisabledReason,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    SecondFactorAt,
}
