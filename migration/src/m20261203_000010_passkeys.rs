//! Passkeys: each account's WebAuthn credentials (the credential as
//! webauthn-rs keeps it, counter included; its id unique across accounts),
//! and the ceremonies in progress, so that any instance can finish what
//! another started.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Passkeys::Table)
                    .col(pk_uuid(Passkeys::Id))
                    .col(uuid(Passkeys::UserId))
                    .col(string(Passkeys::CredentialId).unique_key())
                    .col(string(Passkeys::Name))
                    .col(text(Passkeys::Credential))
                    .col(timestamp_with_time_zone(Passkeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(Passkeys::LastUsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_passkeys_user")
                            .from(Passkeys::Table, Passkeys::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_passkeys_user")
                    .table(Passkeys::Table)
                    .col(Passkeys::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PasskeyChallenges::Table)
                    .col(pk_uuid(PasskeyChallenges::Id))
                    .col(string(PasskeyChallenges::Purpose))
                    .col(uuid_null(PasskeyChallenges::UserId))
                    .col(text(PasskeyChallenges::State))
                    .col(timestamp_with_time_zone(PasskeyChallenges::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_passkey_challenges_user")
                            .from(PasskeyChallenges::Table, PasskeyChallenges::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PasskeyChallenges::Table.into_iden(),
            Passkeys::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Passkeys {
    Table,
    Id,
    UserId,
    CredentialId,
    Name,
    Credential,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum PasskeyChallenges {
    Table,
    Id,
    Purpose,
    UserId,
    State,
    ExpiresAt,
}
