//! Mail waiting to be sent. A row is what to send and to whom, not the mail
//! itself: a password-reset mail gets its token only when it is sent, so no
//! token is ever stored in the clear.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mail_outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// What mail this is, such as `password_reset`.
    pub kind: String,
    /// The address it goes to (a normalised email).
    pub recipient: String,
    /// The account it is about, when it is about one.
    pub user_id: Option<Uuid>,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// Not sent before this time: the backoff after a failed attempt.
    pub send_after: DateTimeUtc,
    /// Set while one instance sends it; another instance may take it over
    /// once the lease has run out.
    pub leased_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    /// Given up (and deleted) when not sent by then.
    pub expires_at: DateTimeUtc,
    /// The W3C `traceparent` of the request that asked for it, when traces
    /// are on: its delivery is a span of that trace.
    pub traceparent: Option<String>,
    /// What else it is about: the invitation whose token it carries.
    pub about: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
