//! Sign-in with identity providers: the identities linked to each account
//! (an issuer and its `sub`, unique across accounts; the email is only what
//! the provider last said), and the sign-ins in progress under the digest
//! of their `state`, so that any instance finishes what another started.

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
                    .table(Identities::Table)
                    .col(pk_uuid(Identities::Id))
                    .col(uuid(Identities::UserId))
                    .col(string_len(Identities::Provider, 64))
                    .col(string_len(Identities::Issuer, 500))
                    .col(string_len(Identities::Subject, 255))
                    .col(string_len_null(Identities::Email, 320))
                    .col(timestamp_with_time_zone(Identities::CreatedAt))
                    .col(timestamp_with_time_zone_null(Identities::LastUsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_identities_user")
                            .from(Identities::Table, Identities::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_identities_issuer_subject")
                    .table(Identities::Table)
                    .col(Identities::Issuer)
                    .col(Identities::Subject)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_identities_user")
                    .table(Identities::Table)
                    .col(Identities::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ExternalLogins::Table)
                    .col(string_len(ExternalLogins::StateHash, 64).primary_key())
                    .col(string_len(ExternalLogins::Provider, 64))
                    .col(string_len(ExternalLogins::RedirectUri, 2000))
                    .col(text(ExternalLogins::Secrets))
                    .col(uuid_null(ExternalLogins::UserId))
                    .col(timestamp_with_time_zone(ExternalLogins::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_external_logins_user")
                            .from(ExternalLogins::Table, ExternalLogins::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ExternalLogins::Table.into_iden(),
            Identities::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Identities {
    Table,
    Id,
    UserId,
    Provider,
    Issuer,
    Subject,
    Email,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum ExternalLogins {
    Table,
    StateHash,
    Provider,
    RedirectUri,
    Secrets,
    UserId,
    ExpiresAt,
}
