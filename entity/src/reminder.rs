//! A reminder of a task: at an instant, or some minutes before each due
//! date of the task.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reminders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub task_id: Uuid,
    pub at: Option<DateTimeUtc>,
    /// Minutes before the due time.
    pub before_due: Option<i32>,
    /// When it fires next; `None` when nothing is left to fire.
    pub fire_at: Option<DateTimeUtc>,
    /// When it last fired.
    pub sent_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
