//! Dates in GraphQL: a task's `completions` (loaded with every other task's
//! of the request) and the `occurrences` of the viewer's open tasks in a
//! window, over `crate::tasks::completions`.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use super::{
    PublicUrl,
    lists::Person,
    loaders,
    page_info::PageInfo,
    scalars::{Date, DateTime},
    task::{Task, parse_id},
    viewer::Viewer,
};
use crate::tasks::{
    ChildPage, Tasks, completions,
    reminders::{self, When},
};

/// A completed occurrence of a task: the due date it had, and who
/// completed it when.
pub struct Completion(pub completions::Completion);

#[Object]
impl Completion {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The timed due date of the occurrence completed.
    async fn due_at(&self) -> Option<DateTime> {
        self.0.due_at.map(DateTime)
    }

    /// The all-day due date of the occurrence completed.
    async fn due_on(&self) -> Option<Date> {
        self.0.due_on.map(Date)
    }

    async fn completed_at(&self) -> DateTime {
        DateTime(self.0.completed_at)
    }

    /// Who completed it; `null` once their account is gone.
    async fn by(&self, ctx: &Context<'_>) -> Result<Option<Person>> {
        match self.0.completed_by {
            Some(person) => Ok(loaders::person(ctx, person).await?),
            None => Ok(None),
        }
    }
}

#[derive(SimpleObject)]
pub struct CompletionEdge {
    /// Points at this edge, for `after`.
    pub cursor: String,
    pub node: Completion,
}

/// A page of a task's completions, newest first (Relay cursor connection).
#[derive(SimpleObject)]
pub struct CompletionConnection {
    pub edges: Vec<CompletionEdge>,
    pub page_info: PageInfo,
}

impl From<ChildPage<completions::Completion>> for CompletionConnection {
    fn from(page: ChildPage<completions::Completion>) -> Self {
        let (edges, page_info) = PageInfo::of_child_page(page, |item, cursor| CompletionEdge {
            cursor,
            node: Completion(item),
        });
        Self { edges, page_info }
    }
}

/// A due date of an open task in a window: its current one, or one of the
/// occurrences after it.
#[derive(SimpleObject)]
pub struct Occurrence {
    pub task: Task,
    pub due_at: Option<DateTime>,
    pub due_on: Option<Date>,
}

#[derive(Default)]
pub struct DateQuery;

#[Object]
impl DateQuery {
    /// The due dates of the viewer's open tasks (of one list, when
    /// `listId` is given) in `from <= due < to`, by time, for calendar
    /// views: each task's current due date, and for a task that repeats
    /// from its due date the occurrences after it (one that repeats from
    /// its completion shows its current due date only). An all-day date
    /// counts from the start of its day in the task's zone. At most 1,000;
    /// a window of at most 366 days.
    async fn occurrences(
        &self,
        ctx: &Context<'_>,
        from: DateTime,
        to: DateTime,
        list_id: Option<ID>,
    ) -> Result<Vec<Occurrence>> {
        let viewer = Viewer::require(ctx).await?;
        let list = list_id.map(|id| parse_id(&id, "listId")).transpose()?;
        let tasks = ctx.data_unchecked::<Tasks>();
        let found = tasks
            .occurrences(viewer.user.id, from.0, to.0, list)
            .await?;
        Ok(found
            .into_iter()
            .map(|(task, due)| Occurrence {
                task: Task(task, None),
                due_at: due.at().map(DateTime),
                due_on: due.on().map(Date),
            })
            .collect())
    }
}

/// A reminder of a task: at an instant, or some minutes before each due
/// time (an all-day task's: 09:00 of its day in its zone).
pub struct Reminder(pub reminders::Reminder);

#[Object]
impl Reminder {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn at(&self) -> Option<DateTime> {
        self.0.at.map(DateTime)
    }

    /// Minutes before each due time.
    async fn before_due(&self) -> Option<i32> {
        self.0.before_due
    }

    /// When it last fired.
    async fn sent_at(&self) -> Option<DateTime> {
        self.0.sent_at.map(DateTime)
    }
}

/// A reminder to add: `at` or `beforeDue`, one of them.
#[derive(InputObject)]
pub struct AddReminderInput {
    pub task_id: ID,
    /// A time to come.
    pub at: Option<DateTime>,
    /// Minutes before each due time, 0 to 43,200 (30 days).
    pub before_due: Option<i32>,
}

#[derive(Default)]
pub struct DateMutation;

#[Object]
impl DateMutation {
    /// A member of the list (any role) makes a secret calendar feed of its
    /// open tasks with a due date: its URL, shown once. A calendar app
    /// subscribes to it with no other credential; keep it as a password.
    async fn create_calendar_feed(&self, ctx: &Context<'_>, list_id: ID) -> Result<String> {
        let viewer = Viewer::require(ctx).await?;
        let list = parse_id(&list_id, "listId")?;
        let tasks = ctx.data_unchecked::<Tasks>();
        let token = tasks.create_calendar_feed(viewer.user.id, list).await?;
        let base = &ctx.data_unchecked::<PublicUrl>().0;
        Ok(format!("{base}/calendar/{token}.ics"))
    }

    /// An editor of the task's list adds a reminder: a mail to the task's
    /// assignee (unassigned: its creator) at its time, within a minute,
    /// and the task's `UPDATED` event with `sentAt`.
    async fn add_reminder(&self, ctx: &Context<'_>, input: AddReminderInput) -> Result<Reminder> {
        let viewer = Viewer::require(ctx).await?;
        let task = parse_id(&input.task_id, "taskId")?;
        let when = When::parse(input.at.map(|at| at.0), input.before_due)?;
        let tasks = ctx.data_unchecked::<Tasks>();
        Ok(Reminder(
            tasks.add_reminder(viewer.user.id, task, when).await?,
        ))
    }

    /// An editor of the task's list removes a reminder; nothing is sent for
    /// it after.
    async fn remove_reminder(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let viewer = Viewer::require(ctx).await?;
        let parsed = parse_id(&id, "id")?;
        let tasks = ctx.data_unchecked::<Tasks>();
        tasks.remove_reminder(viewer.user.id, parsed).await?;
        Ok(id)
    }

    /// Ends every calendar feed of the list the viewer made; how many.
    async fn revoke_calendar_feeds(&self, ctx: &Context<'_>, list_id: ID) -> Result<i32> {
        let viewer = Viewer::require(ctx).await?;
        let list = parse_id(&list_id, "listId")?;
        let tasks = ctx.data_unchecked::<Tasks>();
        let gone = tasks.revoke_calendar_feeds(viewer.user.id, list).await?;
        Ok(i32::try_from(gone).unwrap_or(i32::MAX))
    }
}
