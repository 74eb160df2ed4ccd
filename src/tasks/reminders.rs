//! Reminders (SPEC §12): at an instant, or some minutes before each due
//! date of a task (an all-day date's at 09:00 of its day in its zone). A
//! reminder waits in the mail outbox as a timer (`Kind::ReminderDue`, due at
//! its time), so it has the outbox's guarantees: kept in the database, taken
//! by one instance with a lease, taken over after a restart or a crash.
//!
//! When its timer comes up, one transaction claims the reminder (only while
//! its time has come and it has not fired: a timer made stale by a changed
//! due date, a removed reminder or a deleted task finds nothing to claim),
//! records `sentAt`, queues the mail to the task's assignee (unassigned: its
//! creator) and tells the list's members of the task (`UPDATED`). A
//! relative reminder of a recurring task is set again when the task moves
//! on to its next occurrence.

use std::collections::HashMap;

use chrono::{DateTime, NaiveTime, Timelike, Utc};
use entity::{
    mail_outbox::Entity as MailOutbox,
    reminder::{self, Entity as ReminderRows},
    task::{self, Entity as TaskRows},
};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QueryTrait,
    sea_query::{Expr, ExprTrait, Query},
};
use uuid::Uuid;

use super::{Shown, Tasks, write::Audience};
use crate::{
    dates::{Due, Zone},
    db::{self, write::Write},
    error::{AppError, AppResult},
    events::TaskEventKind,
    lists::{self, Role, visible},
    mail::{
        Mail, letters,
        outbox::{self, Kind, Queued},
    },
};

/// The longest a relative reminder may come before the due time: 30 days.
pub const MOST_MINUTES_BEFORE: u32 = 30 * 24 * 60;
/// An all-day task's reminders count from this time of its day.
const ALL_DAY_AT: NaiveTime = NaiveTime::from_hms_opt(9, 0, 0).expect("09:00");

/// A reminder as clients see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reminder {
    pub id: Uuid,
    pub task_id: Uuid,
    pub at: Option<DateTime<Utc>>,
    pub before_due: Option<i32>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<reminder::Model> for Reminder {
    fn from(row: reminder::Model) -> Self {
        Self {
            id: row.id,
            task_id: row.task_id,
            at: row.at,
            before_due: row.before_due,
            sent_at: row.sent_at,
        }
    }
}

/// When a reminder fires.
#[derive(Clone, Copy, Debug)]
pub enum When {
    At(DateTime<Utc>),
    /// Minutes before each due time.
    BeforeDue(u32),
}

impl When {
    /// From an input's two fields: exactly one of them.
    pub fn parse(at: Option<DateTime<Utc>>, before_due: Option<i32>) -> AppResult<Self> {
        match (at, before_due) {
            (Some(at), None) if at > db::now() => Ok(Self::At(at)),
            (Some(_), None) => Err(AppError::bad_input("at", "the time has passed")),
            (None, Some(minutes)) => u32::try_from(minutes)
                .ok()
                .filter(|minutes| *minutes <= MOST_MINUTES_BEFORE)
                .map(Self::BeforeDue)
                .ok_or_else(|| {
                    AppError::bad_input(
                        "beforeDue",
                        format!("beforeDue is 0 to {MOST_MINUTES_BEFORE} minutes"),
                    )
                }),
            _ => Err(AppError::bad_input(
                "beforeDue",
                "a reminder has at or beforeDue, one of them",
            )),
        }
    }
}

/// When a reminder of `task` fires next, if it does.
fn fire_time(
    at: Option<DateTime<Utc>>,
    before_due: Option<i32>,
    task: &task::Model,
) -> Option<DateTime<Utc>> {
    let fire = match (at, before_due) {
        (Some(at), _) => at,
        (None, Some(minutes)) => {
            let zone = Zone::stored(&task.time_zone);
            let due = match Due::of(task.due_at, task.due_on)? {
                Due::At(at) => at,
                Due::On(day) => zone.instant(day.and_time(ALL_DAY_AT)),
            };
            due - chrono::Duration::minutes(i64::from(minutes))
        }
        (None, None) => return None,
    };
    let fire = fire.with_nanosecond(0).unwrap_or(fire);
    (fire > db::now()).then_some(fire)
}

/// The timer of reminder `id`, due at `fire`, queued within `write`.
async fn schedule(write: &Write<'_>, id: Uuid, fire: DateTime<Utc>) -> AppResult<()> {
    let timer = outbox::queued(Kind::ReminderDue, "", None, Some(id), fire)?;
    write
        .changed(&MailOutbox::insert(timer).into_query())
        .await?;
    Ok(())
}

impl Tasks {
    /// An editor of the task's list adds a reminder to task `task`.
    pub async fn add_reminder(&self, viewer: Uuid, task: Uuid, when: When) -> AppResult<Reminder> {
        let current = self.current(viewer, task).await?;
        lists::require(self.writer().db(), viewer, current.list_id, Role::Editor).await?;
        let (at, before_due) = match when {
            When::At(at) => (Some(at.with_nanosecond(0).unwrap_or(at)), None),
            When::BeforeDue(minutes) => (None, i32::try_from(minutes).ok()),
        };
        if before_due.is_some() && current.due.is_none() {
            return Err(AppError::bad_input(
                "beforeDue",
                "the task has no due date to count from",
            ));
        }
        let fire = fire_time(at, before_due, &current);
        let row = reminder::Model {
            id: Uuid::now_v7(),
            task_id: task,
            at,
            before_due,
            fire_at: fire,
            sent_at: None,
            created_at: db::now(),
        };
        let write = self.writer().begin_together().await?;
        let audience = Audience::read(&write, current.list_id, None).await?;
        // Added only while the viewer may edit the task, in the statement.
        let editable = visible::task_ids(viewer, Role::Editor)
            .and_where(task::Column::Id.eq(task))
            .to_owned();
        let mut insert =
            ReminderRows::insert(reminder::ActiveModel::from(row.clone())).into_query();
        let values = Query::select()
            .exprs([
                Expr::val(row.id),
                Expr::val(row.task_id),
                Expr::val(row.at),
                Expr::val(row.before_due),
                Expr::val(row.fire_at),
                Expr::val(row.sent_at),
                Expr::val(row.created_at),
            ])
            .and_where(Expr::val(task).in_subquery(editable))
            .to_owned();
        insert.select_from(values).map_err(AppError::internal)?;
        if !write.changed(&insert).await? {
            write.abandon().await?;
            return Err(AppError::NotFound);
        }
        if let Some(fire) = fire {
            schedule(&write, row.id, fire).await?;
        }
        self.tell(
            write,
            TaskEventKind::Updated,
            vec![current.into()],
            audience,
        )
        .await?;
        Ok(row.into())
    }

    /// An editor of the task's list removes reminder `id`: nothing is sent
    /// for it after this.
    pub async fn remove_reminder(&self, viewer: Uuid, id: Uuid) -> AppResult<()> {
        let Some(row) = ReminderRows::find_by_id(id).one(self.writer().db()).await? else {
            return Err(AppError::NotFound);
        };
        let current = self.current(viewer, row.task_id).await?;
        lists::require(self.writer().db(), viewer, current.list_id, Role::Editor).await?;
        let editable = visible::task_ids(viewer, Role::Editor);
        let delete = ReminderRows::delete_many()
            .filter(reminder::Column::Id.eq(id))
            .filter(Expr::col((ReminderRows, reminder::Column::TaskId)).in_subquery(editable))
            .into_query();
        // Together: the change log stamps the task in another statement.
        let write = self.writer().begin_together().await?;
        let audience = Audience::read(&write, current.list_id, None).await?;
        if !write.changed(&delete).await? {
            write.abandon().await?;
            return Err(AppError::NotFound);
        }
        self.tell(
            write,
            TaskEventKind::Updated,
            vec![current.into()],
            audience,
        )
        .await
    }

    /// The reminders of each of `tasks` that the viewer sees, oldest first.
    pub async fn reminders_of_tasks(
        &self,
        viewer: Uuid,
        tasks: &[Uuid],
    ) -> AppResult<HashMap<Uuid, Vec<Reminder>>> {
        let seen = visible::task_ids(viewer, Role::Viewer);
        let rows = ReminderRows::find()
            .filter(db::one_of(
                self.backend(),
                Expr::col((ReminderRows, reminder::Column::TaskId)),
                tasks,
            ))
            .filter(Expr::col((ReminderRows, reminder::Column::TaskId)).in_subquery(seen))
            .order_by_asc(reminder::Column::CreatedAt)
            .order_by_asc(reminder::Column::Id)
            .all(self.writer().db())
            .await?;
        let mut found: HashMap<Uuid, Vec<Reminder>> =
            tasks.iter().map(|task| (*task, Vec::new())).collect();
        for row in rows {
            found.entry(row.task_id).or_default().push(row.into());
        }
        Ok(found)
    }

    /// Sets the relative reminders of `task` (as a write left it) again for
    /// its due date, within that write.
    pub(super) async fn reschedule(&self, write: &Write<'_>, task: &task::Model) -> AppResult<()> {
        let select = ReminderRows::find()
            .filter(reminder::Column::TaskId.eq(task.id))
            .filter(reminder::Column::BeforeDue.is_not_null())
            .into_query();
        let rows = write.query_all(write.backend().build(&select)).await?;
        for row in rows {
            let id: Uuid = row.try_get("", "id")?;
            let before_due: Option<i32> = row.try_get("", "before_due")?;
            let fire = fire_time(None, before_due, task);
            let update = ReminderRows::update_many()
                .col_expr(reminder::Column::FireAt, Expr::val(fire))
                .filter(reminder::Column::Id.eq(id))
                .into_query();
            write.changed(&update).await?;
            if let Some(fire) = fire {
                schedule(write, id, fire).await?;
            }
        }
        Ok(())
    }

    /// The timer `queued` of a reminder came up: fires the reminder unless
    /// it is gone, fired, or not yet due (its task's due date moved).
    pub async fn fire_reminder(&self, queued: &Queued) -> AppResult<()> {
        let Some(id) = queued.about else {
            return Ok(());
        };
        let Some(row) = ReminderRows::find_by_id(id).one(self.writer().db()).await? else {
            return Ok(());
        };
        let mut select = Shown::ALL.select();
        select.and_where(task::Column::Id.eq(row.task_id));
        let Some(current) = self.all(&select, Shown::ALL).await?.pop() else {
            return Ok(());
        };
        let now = db::now();
        let write = self.writer().begin_together().await?;
        let audience = Audience::read(&write, current.list_id, None).await?;
        let claim = ReminderRows::update_many()
            .col_expr(reminder::Column::SentAt, Expr::val(now))
            .col_expr(reminder::Column::FireAt, Expr::val(None::<DateTime<Utc>>))
            .filter(reminder::Column::Id.eq(id))
            .filter(
                Condition::all()
                    .add(reminder::Column::FireAt.is_not_null())
                    .add(reminder::Column::FireAt.lte(now)),
            )
            .into_query();
        if !write.changed(&claim).await? {
            write.abandon().await?;
            return Ok(());
        }
        let person = current
            .assignee_id
            .flatten()
            .or(current.created_by.flatten());
        let address = match person {
            Some(person) => entity::user::Entity::find_by_id(person)
                .one(self.writer().db())
                .await?
                .map(|user| user.email),
            None => None,
        };
        if let Some(address) = address {
            let mail = outbox::queued(Kind::Reminder, &address, person, Some(id), now)?;
            write
                .changed(&MailOutbox::insert(mail).into_query())
                .await?;
        }
        tracing::info!(reminder = %id, task = %current.id, "reminder fired");
        self.tell(write, TaskEventKind::Updated, vec![current], audience)
            .await
    }

    /// The mail of a fired reminder; `None` when its task is gone.
    pub async fn reminder_mail(&self, queued: &Queued) -> AppResult<Option<Mail>> {
        let Some(id) = queued.about else {
            return Ok(None);
        };
        let Some(row) = ReminderRows::find_by_id(id).one(self.writer().db()).await? else {
            return Ok(None);
        };
        let Some(task) = TaskRows::find_by_id(row.task_id)
            .one(self.writer().db())
            .await?
        else {
            return Ok(None);
        };
        let list = entity::task_list::Entity::find_by_id(task.list_id)
            .one(self.writer().db())
            .await?
            .map(|list| list.name)
            .unwrap_or_default();
        let zone = Zone::stored(&task.time_zone);
        let due = match Due::of(task.due_at, task.due_on) {
            Some(Due::On(day)) => Some(day.format("%A %-d %B %Y").to_string()),
            Some(Due::At(at)) => Some(format!(
                "{} ({})",
                at.with_timezone(&zone.tz()).format("%A %-d %B %Y, %H:%M"),
                zone.name()
            )),
            None => None,
        };
        letters::reminder(queued.recipient.clone(), &task.title, &list, due.as_deref()).map(Some)
    }
}
