//! One table of windowed counters for every limit (failed logins per email,
//! authentication attempts per client IP), in place of the login-failure
//! table. The counts are short-lived brakes, not records: they start afresh.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RateCounters::Table)
                    .col(string(RateCounters::Scope))
                    .col(string(RateCounters::Key))
                    .col(integer(RateCounters::Count))
                    .col(timestamp_with_time_zone(RateCounters::WindowEndsAt))
                    .primary_key(
                        Index::create()
                            .col(RateCounters::Scope)
                            .col(RateCounters::Key),
                    )
                    .to_owned(),
            )
            .await?;
        // The sweep of ended windows reads by end.
        manager
            .create_index(
                Index::create()
                    .name("idx_rate_counters_window_ends_at")
                    .table(RateCounters::Table)
                    .col(RateCounters::WindowEndsAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(LoginFailures::Table).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LoginFailures::Table)
                    .col(string(LoginFailures::Email).primary_key())
                    .col(integer(LoginFailures::Failures))
                    .col(timestamp_with_time_zone(LoginFailures::WindowStartedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(RateCounters::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum RateCounters {
    Table,
    Scope,
    Key,
    Count,
    WindowEndsAt,
}

#[derive(DeriveIden)]
enum LoginFailures {
    Table,
    Email,
    Failures,
    WindowStartedAt,
}
