//! A list of tasks that a few people keep together. An account's inbox has
//! the account's id and stays its own.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "task_lists")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub inbox: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The position in the change log of its last change (renamed, members
    /// or labels changed).
    pub seq: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::list_member::Entity")]
    Member,
}

impl Related<super::list_member::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Member.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
