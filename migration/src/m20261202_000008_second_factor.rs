//! A second factor: each account's TOTP secret (sealed with the data key;
//! pending until its first code confirms it), its recovery codes (as
//! digests), and the challenges of two-step logins in progress, so that any
//! instance can finish a login another began.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn owned_by_user(
    table: impl IntoIden + Clone,
    column: impl IntoIden,
    name: &str,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TotpSecrets::Table)
                    .col(uuid(TotpSecrets::UserId).primary_key())
                    .col(blob(TotpSecrets::Sealed))
                    .col(timestamp_with_time_zone_null(TotpSecrets::ConfirmedAt))
                    .col(timestamp_with_time_zone(TotpSecrets::PendingUntil))
                    .col(big_integer_null(TotpSecrets::LastStep))
                    .foreign_key(&mut owned_by_user(
                        TotpSecrets::Table,
                        TotpSecrets::UserId,
                        "fk_totp_secrets_user",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecoveryCodes::Table)
                    .col(pk_uuid(RecoveryCodes::Id))
                    .col(uuid(RecoveryCodes::UserId))
                    .col(blob(RecoveryCodes::CodeHash))
                    .col(timestamp_with_time_zone_null(RecoveryCodes::UsedAt))
                    .foreign_key(&mut owned_by_user(
                        RecoveryCodes::Table,
                        RecoveryCodes::UserId,
                        "fk_recovery_codes_user",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_recovery_codes_user")
                    .table(RecoveryCodes::Table)
                    .col(RecoveryCodes::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MfaChallenges::Table)
                    .col(blob(MfaChallenges::TokenHash).primary_key())
                    .col(uuid(MfaChallenges::UserId))
                    .col(integer(MfaChallenges::Failures))
                    .col(timestamp_with_time_zone(MfaChallenges::ExpiresAt))
                    .foreign_key(&mut owned_by_user(
                        MfaChallenges::Table,
                        MfaChallenges::UserId,
                        "fk_mfa_challenges_user",
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MfaChallenges::Table.into_iden(),
            RecoveryCodes::Table.into_iden(),
            TotpSecrets::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone)]
enum TotpSecrets {
    Table,
    UserId,
    Sealed,
    ConfirmedAt,
    PendingUntil,
    LastStep,
}

#[derive(DeriveIden, Clone)]
enum RecoveryCodes {
    Table,
    Id,
    UserId,
    CodeHash,
    UsedAt,
}

#[derive(DeriveIden, Clone)]
enum MfaChallenges {
    Table,
    TokenHash,
    UserId,
    Failures,
    ExpiresAt,
}
