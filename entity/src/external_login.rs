//! A sign-in (or a link) with an identity provider in progress, kept under
//! the digest of its `state`: single use, for ten minutes.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "external_logins")]
pub struct Model {
    /// SHA-256 of the `state`, hex.
    #[sea_orm(primary_key, auto_increment = false)]
    pub state_hash: String,
    pub provider: String,
    /// The app's page the provider answers to.
    pub redirect_uri: String,
    /// The PKCE verifier and the nonce, sealed.
    pub secrets: String,
    /// The account that started a link; none for a sign-in.
    pub user_id: Option<Uuid>,
    pub expires_at: DateTimeUtc,
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
