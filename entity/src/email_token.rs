//! The one live token of each account and purpose (verifying its address,
//! or changing it to a new one), stored as a digest: the token itself
//! exists only in the mail it was drawn for.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// `verify` or `change`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub purpose: String,
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
    /// The address the token proves: the account's, or the one it changes to.
    pub email: String,
    pub expires_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
