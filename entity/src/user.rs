//! An account. The email is stored trimmed and lower-cased, so uniqueness in
//! the database is uniqueness as people mean it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub email: String,
    /// Argon2id PHC string; never leaves the server.
    pub password_hash: String,
    /// Bumped on every password change; access tokens carry the value they
    /// were issued under, so older tokens stop working at once.
    pub password_version: i32,
    pub password_changed_at: DateTimeUtc,
    /// Whether the person proved the address is theirs (a mailed token).
    pub email_verified: bool,
    /// The name others see; the email's local part until the person sets
    /// one (never the email itself).
    pub display_name: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// May use the admin listener; set by `taskql admin grant`, and read
    /// from here on every admin request (never from a token).
    pub is_admin: bool,
    /// Set while the account is disabled: no way in works.
    pub disabled_at: Option<DateTimeUtc>,
    /// Why, as the admin who disabled it wrote.
    pub disabled_reason: Option<String>,
    /// When a session last started.
    pub last_login_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::refresh_token::Entity")]
    RefreshToken,
}

impl Related<super::refresh_token::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RefreshToken.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
