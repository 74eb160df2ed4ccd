//! A task, in exactly one list.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub list_id: Uuid,
    /// Who made it; `None` once their account is gone.
    pub created_by: Option<Uuid>,
    /// A member of the list, or nobody.
    pub assignee_id: Option<Uuid>,
    /// Above another task of its list, in the same list; four levels at most.
    pub parent_id: Option<Uuid>,
    /// Its place among its siblings: a fractional-index key, by byte.
    pub position: String,
    /// 0 (none) to 4 (urgent).
    pub priority: i32,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    /// A timed due date; never set with `due_on`.
    pub due_at: Option<DateTimeUtc>,
    /// An all-day due date, in no zone.
    pub due_on: Option<Date>,
    /// When filters and orders take it to be due: `due_at`, or the start of
    /// `due_on`'s day in `time_zone`.
    pub due: Option<DateTimeUtc>,
    /// The IANA zone its times are in.
    pub time_zone: String,
    /// An RFC 5545 RRULE.
    pub recurrence: Option<String>,
    /// `due` or `completion`: where the next occurrence is counted from.
    pub repeat_from: String,
    /// The series' start (DTSTART) in `time_zone`: `2026-12-24` or
    /// `2026-12-24T09:00:00`.
    pub series_start: Option<String>,
    /// Occurrences completed since the rule was set.
    pub series_done: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Title and description folded to lower case by the server, so that
    /// search is case-insensitive for every script, identically on SQLite
    /// (whose `lower()` knows only ASCII) and PostgreSQL.
    pub search_text: String,
    /// Grows by one with each change of the task's own fields.
    pub version: i32,
    /// The position in the change log of the task's last change.
    pub seq: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::task_list::Entity",
        from = "Column::ListId",
        to = "super::task_list::Column::Id",
        on_delete = "Cascade"
    )]
    List,
}

impl Related<super::task_list::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::List.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
