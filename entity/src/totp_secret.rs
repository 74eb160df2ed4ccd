//! An account's TOTP secret, sealed with the data key; pending (until
//! `pending_until`) while its first code has not confirmed it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "totp_secrets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// Nonce and AES-256-GCM ciphertext of the secret.
    pub sealed: Vec<u8>,
    /// When a code confirmed it: from then on, the account has TOTP.
    pub confirmed_at: Option<DateTimeUtc>,
    /// Until when a setup not yet confirmed may be.
    pub pending_until: DateTimeUtc,
    /// The last step whose code was accepted: no code is accepted twice.
    pub last_step: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
