//! A passkey ceremony in progress: what webauthn-rs must remember between
//! its start and its finish (the challenge among it), single use, for five
//! minutes.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "passkey_challenges")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `registration` or `login`.
    pub purpose: String,
    /// The account registering, or the one a login by email expects; none
    /// for a login without an email, or by an email no account has.
    pub user_id: Option<Uuid>,
    /// webauthn-rs's state of the ceremony, as JSON.
    pub state: String,
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
