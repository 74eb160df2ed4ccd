//! Password reset: the one live reset token of each account (as a digest),
//! and the queue of mail waiting to be sent, so that a mail survives an SMTP
//! outage and a restart.

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
                    .table(PasswordResets::Table)
                    .col(uuid(PasswordResets::UserId).primary_key())
                    .col(blob_uniq(PasswordResets::TokenHash))
                    .col(integer(PasswordResets::PasswordVersion))
                    .col(timestamp_with_time_zone(PasswordResets::ExpiresAt))
                    .col(timestamp_with_time_zone(PasswordResets::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_password_resets_user")
                            .from(PasswordResets::Table, PasswordResets::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_password_resets_expires_at")
                    .table(PasswordResets::Table)
                    .col(PasswordResets::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MailOutbox::Table)
                    .col(pk_uuid(MailOutbox::Id))
                    .col(string(MailOutbox::Kind))
                    .col(string(MailOutbox::Recipient))
                    .col(integer(MailOutbox::Attempts))
                    .col(timestamp_with_time_zone(MailOutbox::SendAfter))
                    .col(timestamp_with_time_zone_null(MailOutbox::LeasedUntil))
                    .col(timestamp_with_time_zone(MailOutbox::CreatedAt))
                    .col(timestamp_with_time_zone(MailOutbox::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        // The sender reads the mail that is due, oldest first.
        manager
            .create_index(
                Index::create()
                    .name("idx_mail_outbox_send_after")
                    .table(MailOutbox::Table)
                    .col(MailOutbox::SendAfter)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MailOutbox::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(PasswordResets::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum PasswordResets {
    Table,
    UserId,
    TokenHash,
    PasswordVersion,
    ExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MailOutbox {
    Table,
    Id,
    Kind,
    Recipient,
    Attempts,
    SendAfter,
    LeasedUntil,
    CreatedAt,
    ExpiresAt,
}
