//! Events counted per key within a window of time: failed logins per email,
//! authentication attempts per client IP. Kept in the database so that every
//! instance sees the same count.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rate_counters")]
pub struct Model {
    /// What is counted, such as `login` or `client`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub scope: String,
    /// Whose events: a normalised email, an IP address.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Events since the window started.
    pub count: i32,
    /// When the current window ends; a later event starts a new one.
    pub window_ends_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
