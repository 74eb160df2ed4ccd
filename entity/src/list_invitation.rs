//! An invitation to a list, waiting for the address it was sent to. Only
//! the digest of its token is kept; it is deleted when taken up, declined,
//! revoked or replaced.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "list_invitations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub list_id: Uuid,
    /// Trimmed and lower-cased, as accounts keep theirs.
    pub email: String,
    /// `editor` or `viewer`.
    pub role: String,
    /// The digest of the mailed token, set when the mail is sent.
    #[sea_orm(unique)]
    pub token_digest: Option<String>,
    pub invited_by: Uuid,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
