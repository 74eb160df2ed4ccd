//! A session: what one login starts, the family of refresh tokens that
//! renew it, and where it came from. Access tokens carry its id (`sid`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    /// The family id of its refresh tokens.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: DateTimeUtc,
    /// The last refresh.
    pub last_used_at: DateTimeUtc,
    /// When its newest refresh token runs out.
    pub expires_at: DateTimeUtc,
    /// Set when it was ended; its access tokens are refused from then on.
    pub revoked_at: Option<DateTimeUtc>,
    /// The client's `User-Agent` at login.
    pub user_agent: Option<String>,
    /// The client's address at login.
    pub ip: Option<String>,
    /// When the session last passed a second factor (a TOTP or recovery
    /// code, or a passkey); its access tokens carry it.
    pub second_factor_at: Option<DateTimeUtc>,
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
