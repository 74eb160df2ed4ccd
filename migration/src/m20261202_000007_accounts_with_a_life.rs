//! Accounts beyond the password: whether the address is verified, the
//! sessions a person can see and end (a session is a refresh-token family),
//! the record of security events, the one live verification or email-change
//! token of each account (as a digest), and the account a queued mail is
//! about. Existing live refresh-token families become sessions.

use sea_orm_migration::{prelude::*, schema::*};

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
                    .add_column(boolean(Verified::EmailVerified).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(MailOutbox::Table)
                    .add_column(uuid_null(MailOutbox::UserId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(pk_uuid(Sessions::Id))
                    .col(uuid(Sessions::UserId))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::LastUsedAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Sessions::RevokedAt))
                    .col(string_null(Sessions::UserAgent))
                    .col(string_null(Sessions::Ip))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sessions_user")
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_user")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .to_owned(),
            )
            .await?;
        // The live families of refresh tokens issued before sessions existed.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at) \
                 SELECT family_id, user_id, MIN(created_at), MAX(created_at), MAX(expires_at) \
                 FROM refresh_tokens WHERE revoked_at IS NULL AND used_at IS NULL \
                 GROUP BY family_id, user_id",
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SecurityEvents::Table)
                    .col(pk_uuid(SecurityEvents::Id))
                    .col(uuid(SecurityEvents::UserId))
                    .col(string(SecurityEvents::Kind))
                    .col(timestamp_with_time_zone(SecurityEvents::At))
                    .col(string_null(SecurityEvents::Ip))
                    .col(string_null(SecurityEvents::UserAgent))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_security_events_user")
                            .from(SecurityEvents::Table, SecurityEvents::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Newest first by id (UUIDv7: in time order), one account's.
        manager
            .create_index(
                Index::create()
                    .name("idx_security_events_user_id")
                    .table(SecurityEvents::Table)
                    .col(SecurityEvents::UserId)
                    .col(SecurityEvents::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_security_events_at")
                    .table(SecurityEvents::Table)
                    .col(SecurityEvents::At)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EmailTokens::Table)
                    .col(uuid(EmailTokens::UserId))
                    .col(string(EmailTokens::Purpose))
                    .col(blob_uniq(EmailTokens::TokenHash))
                    .col(string(EmailTokens::Email))
                    .col(timestamp_with_time_zone(EmailTokens::ExpiresAt))
                    .col(timestamp_with_time_zone(EmailTokens::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(EmailTokens::UserId)
                            .col(EmailTokens::Purpose),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_email_tokens_user")
                            .from(EmailTokens::Table, EmailTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            EmailTokens::Table.into_iden(),
            SecurityEvents::Table.into_iden(),
            Sessions::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(MailOutbox::Table)
                    .drop_column(MailOutbox::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Verified::EmailVerified)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Verified {
    EmailVerified,
}

#[derive(DeriveIden)]
enum MailOutbox {
    Table,
    UserId,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
    UserAgent,
    Ip,
}

#[derive(DeriveIden)]
enum SecurityEvents {
    Table,
    Id,
    UserId,
    Kind,
    At,
    Ip,
    UserAgent,
}

#[derive(DeriveIden)]
enum EmailTokens {
    Table,
    UserId,
    Purpose,
    TokenHash,
    Email,
    ExpiresAt,
    CreatedAt,
}
