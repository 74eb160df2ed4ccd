//! The tasks service: creating, changing, moving, assigning, deleting and
//! listing the tasks of the lists a viewer is in.
//!
//! Every query here applies the lists' rule ([`crate::lists::visible`]) in
//! SQL, so a task of a list the viewer is not in is indistinguishable from
//! one that does not exist.

pub mod calendar;
mod child_pages;
pub mod comments;
pub mod completions;
pub mod cursor;
pub mod fields;
pub mod input;
pub mod labels;
pub mod order;
mod page;
mod pages;
pub mod position;
mod priority;
pub mod recurring;
pub mod reminders;
mod tree;
mod write;

use chrono::{DateTime, Utc};
use entity::task::{self, Column};
use std::sync::Arc;

use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, Select, Statement,
    sea_query::{Expr, ExprTrait, LikeExpr, SelectStatement},
};
use uuid::Uuid;

pub use child_pages::ChildPage;
use cursor::CursorKey;
pub use fields::{Shown, TaskRead};
pub use input::{Description, TaskTitle};
pub use page::{DEFAULT_PAGE, Edge, MAX_PAGE, Page, PageArgs, PageCursors, PageShows};
pub use pages::Scope;
pub use priority::Priority;
pub use recurring::RepeatFrom;
pub use write::Move;

use crate::{
    cache::BoundedCache,
    db::{self, reads::Reads, write::Writer},
    error::AppResult,
    events::Events,
    lists::{Role, visible},
};

/// Everything task operations need; cheap to clone.
#[derive(Clone)]
pub struct Tasks {
    db: DatabaseConnection,
    /// Short reads, on the fastest path the database offers.
    reads: Reads,
    /// First pages' statements, built once for each shape.
    page_statements: BoundedCache<page::PageShape, Arc<Statement>>,
    cursors: CursorKey,
    events: Events,
    writer: Writer,
    changes: crate::sync::ChangeLog,
}

pub struct NewTask {
    /// The id the client made, if it made one.
    pub id: Option<Uuid>,
    /// The list it goes in; the viewer's inbox when none is named.
    pub list_id: Option<Uuid>,
    pub title: TaskTitle,
    pub description: Option<Description>,
    /// Its due date, zone and recurrence.
    pub dates: recurring::DateChanges,
    pub priority: Priority,
    /// The task it goes under (last among its subtasks), in its list.
    pub parent_id: Option<Uuid>,
    /// Labels of its list.
    pub label_ids: Vec<Uuid>,
}

/// Changes to a task; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Default)]
pub struct TaskChanges {
    pub title: Option<TaskTitle>,
    pub description: Option<Option<Description>>,
    pub completed: Option<bool>,
    pub dates: recurring::DateChanges,
    pub priority: Option<Priority>,
    /// Exactly these labels (of the list it ends up in).
    pub label_ids: Option<Vec<Uuid>>,
    /// Another list to move it to.
    pub list_id: Option<Uuid>,
    /// A member of its list to assign it to, or nobody.
    pub assignee: Option<Option<Uuid>>,
    /// The version the change was made against, if the client said.
    pub expected_version: Option<i32>,
}

/// A new task's row: `title` in `list`, open, undated, last of nothing yet
/// (the writer gives it its place), made at `now`.
pub fn row(
    list: Uuid,
    title: String,
    description: Option<String>,
    now: DateTime<Utc>,
) -> task::Model {
    task::Model {
        id: Uuid::now_v7(),
        list_id: list,
        created_by: None,
        assignee_id: None,
        parent_id: None,
        position: String::new(),
        priority: Priority::None.level(),
        search_text: input::search_text(&title, description.as_deref()),
        title,
        description,
        completed: false,
        due_at: None,
        due_on: None,
        due: None,
        time_zone: crate::dates::Zone::default().name().to_owned(),
        recurrence: None,
        repeat_from: db::StoredByName::stored_name(RepeatFrom::default()).to_owned(),
        series_start: None,
        series_done: 0,
        created_at: now,
        updated_at: now,
        version: 1,
        seq: 0,
    }
}

/// Which of the viewer's tasks a listing shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TaskFilter {
    pub list_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    pub completed: Option<bool>,
    /// A `LIKE` pattern from [`input::search_pattern`].
    pub search_pattern: Option<String>,
    pub due_before: Option<DateTime<Utc>>,
    pub due_after: Option<DateTime<Utc>>,
    pub priority_at_least: Option<Priority>,
    /// Only the subtasks of this task.
    pub parent_id: Option<Uuid>,
    /// Only tasks without a parent.
    pub top_level_only: bool,
    /// Only tasks that carry every one of these labels.
    pub label_ids: Vec<Uuid>,
}

impl TaskChanges {
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.description.is_none()
            && self.completed.is_none()
            && self.dates.is_empty()
            && self.priority.is_none()
            && self.label_ids.is_none()
            && self.list_id.is_none()
            && self.assignee.is_none()
    }
}

/// The tasks `viewer` sees that pass `filter`, as a condition for any query.
pub fn listed(viewer: Uuid, filter: &TaskFilter) -> Condition {
    filtered(filter).add(visible::tasks(viewer, Role::Viewer))
}

/// The tasks that pass `filter`, whoever sees them: for a walk whose scope
/// applies the lists' rule already ([`pages::firsts_of_each`]).
pub(crate) fn filtered(filter: &TaskFilter) -> Condition {
    let mut condition = Condition::all();
    if let Some(list) = filter.list_id {
        condition = condition.add(Column::ListId.eq(list));
    }
    if let Some(assignee) = filter.assignee_id {
        condition = condition.add(Column::AssigneeId.eq(assignee));
    }
    if let Some(completed) = filter.completed {
        condition = condition.add(Column::Completed.eq(completed));
    }
    if let Some(pattern) = &filter.search_pattern {
        let like = LikeExpr::new(pattern.clone()).escape('\\');
        condition = condition.add(Expr::col(Column::SearchText).like(like));
    }
    // An all-day task is due at the start of its day in its zone.
    if let Some(before) = filter.due_before {
        condition = condition.add(Column::Due.lt(before));
    }
    if let Some(after) = filter.due_after {
        condition = condition.add(Column::Due.gt(after));
    }
    if let Some(priority) = filter.priority_at_least {
        condition = condition.add(Column::Priority.gte(priority.level()));
    }
    if let Some(parent) = filter.parent_id {
        condition = condition.add(Column::ParentId.eq(parent));
    }
    if filter.top_level_only {
        condition = condition.add(Column::ParentId.is_null());
    }
    for &label in &filter.label_ids {
        let carriers = sea_orm::sea_query::Query::select()
            .column(entity::task_label::Column::TaskId)
            .from(entity::task_label::Entity)
            .and_where(entity::task_label::Column::LabelId.eq(label))
            .to_owned();
        condition = condition.add(Expr::col((task::Entity, Column::Id)).in_subquery(carriers));
    }
    condition
}

fn select_listed(viewer: Uuid, filter: &TaskFilter) -> Select<task::Entity> {
    task::Entity::find().filter(listed(viewer, filter))
}

impl Tasks {
    pub fn new(
        writer: Writer,
        reads: Reads,
        cursors: CursorKey,
        events: Events,
        sync_horizon: std::time::Duration,
    ) -> Self {
        Self {
            db: writer.db().clone(),
            changes: crate::sync::ChangeLog::new(writer.clone(), cursors.clone(), sync_horizon),
            writer,
            reads,
            page_statements: BoundedCache::new(page::PAGE_STATEMENTS_BYTES),
            cursors,
            events,
        }
    }

    /// The writer this service's writes take turns with; the lists
    /// service shares it.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// The change log offline clients read.
    pub fn change_log(&self) -> &crate::sync::ChangeLog {
        &self.changes
    }

    /// The viewer's task `id`, if there is one, with every field.
    pub async fn find(&self, viewer: Uuid, id: Uuid) -> AppResult<Option<TaskRead>> {
        let mut select = Shown::ALL.select();
        select
            .cond_where(listed(viewer, &TaskFilter::default()).add(Column::Id.eq(id)))
            .limit(1);
        Ok(self.all(&select, Shown::ALL).await?.pop())
    }

    /// The viewer's tasks among `ids`, with every field, by id.
    pub async fn find_many(&self, viewer: Uuid, ids: &[Uuid]) -> AppResult<Vec<(Uuid, TaskRead)>> {
        let mut select = Shown::ALL.select();
        select.cond_where(listed(viewer, &TaskFilter::default()).add(db::one_of(
            self.backend(),
            Expr::col((task::Entity, Column::Id)),
            ids,
        )));
        Ok(self
            .all(&select, Shown::ALL)
            .await?
            .into_iter()
            .map(|task| (task.id, task))
            .collect())
    }

    /// Every task `select` (of `shown`'s columns, [`Shown::select`]) finds:
    /// a short read (an index lookup or a bounded range).
    async fn all(&self, select: &SelectStatement, shown: Shown) -> AppResult<Vec<TaskRead>> {
        self.reads
            .all(select, |row| TaskRead::read(row, shown))
            .await
    }

    /// Short reads of the database.
    pub(crate) fn reads(&self) -> &Reads {
        &self.reads
    }

    /// The database's kind, which a few statements are written for.
    pub(crate) fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// How many of the viewer's tasks pass `filter`.
    pub async fn count(&self, viewer: Uuid, filter: &TaskFilter) -> AppResult<u64> {
        Ok(select_listed(viewer, filter).count(&self.db).await?)
    }
}
