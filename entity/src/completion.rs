//! A completed occurrence of a task: the due date it had and who completed
//! it when.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "completions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub task_id: Uuid,
    pub due_at: Option<DateTimeUtc>,
    pub due_on: Option<Date>,
    pub completed_at: DateTimeUtc,
    /// `None` once their account is gone.
    pub completed_by: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
