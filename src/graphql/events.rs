//! Live events: `taskEvents` (changes to the tasks of every list the viewer
//! is in) and `listEvents` (the viewer's lists: joined, changed, deleted,
//! left), over the event bus. Who hears of what was decided by the write
//! that made the change, from the members of the list as they were then.
//!
//! `taskEvents` follows the viewer's change log (`crate::sync`): each event
//! has its place there (`cursor`), and when events may have been missed
//! (the listener reconnected, or the subscriber fell behind) or a client
//! resumes (`since`), it catches up from the log and goes on live, dropping
//! the live events the log already gave.

use std::collections::VecDeque;

use async_graphql::{Context, Enum, ID, Result, SimpleObject, Subscription, futures_util::Stream};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::{lists::TaskList, loaders, plain::Plain, task::Task, viewer::Viewer};
use crate::{
    error::AppError,
    events::{self, Events, Notice, Subscription as Subscribed},
    sync::{ChangeLog, Mark, Wanted, cursor::Rank},
};

/// Changes read from the log at a time while catching up.
const CATCH_UP_PAGE: usize = 200;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "events::TaskEventKind")]
pub enum TaskEventKind {
    Created,
    Updated,
    Deleted,
}

/// A committed change to a task of one of the viewer's lists.
#[derive(SimpleObject)]
pub struct TaskEvent {
    pub kind: TaskEventKind,
    pub task_id: ID,
    /// The task's list; for a task moved out of the viewer's lists
    /// (`DELETED`), the list it left.
    pub list_id: ID,
    /// The task as the change left it; `null` when deleted.
    pub task: Option<Plain<Task>>,
    /// Where this change sits in the viewer's change log: `taskEvents` and
    /// `changes` given it as `since` go on after it.
    pub cursor: String,
}

impl TaskEvent {
    fn new(event: &events::TaskEvent, cursor: String) -> Self {
        Self {
            kind: event.kind.into(),
            task_id: ID(event.task_id.to_string()),
            list_id: ID(event.list_id.to_string()),
            task: event.task.clone().map(|task| Plain(task.into())),
            cursor,
        }
    }
}

/// Where a live change sits in the log.
fn mark_of(event: &events::TaskEvent) -> Mark {
    Mark {
        position: event.seq,
        rank: if event.kind == events::TaskEventKind::Deleted {
            Rank::RemovedTask
        } else {
            Rank::Task
        },
        id: event.task_id,
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "events::ListEventKind")]
pub enum ListEventKind {
    /// The viewer became a member.
    Joined,
    /// Renamed, its members or their roles changed, or its labels.
    Updated,
    Deleted,
    /// The viewer left or was removed: nothing of it arrives any more.
    Left,
}

/// A committed change to one of the viewer's lists.
pub struct ListEvent {
    kind: events::ListEventKind,
    list_id: Uuid,
}

#[async_graphql::Object]
impl ListEvent {
    async fn kind(&self) -> ListEventKind {
        self.kind.into()
    }

    async fn list_id(&self) -> ID {
        ID(self.list_id.to_string())
    }

    /// The list as it is now; `null` for `DELETED` and `LEFT`.
    async fn list(&self, ctx: &Context<'_>) -> Result<Option<TaskList>> {
        if matches!(
            self.kind,
            events::ListEventKind::Deleted | events::ListEventKind::Left
        ) {
            return Ok(None);
        }
        match loaders::list(ctx, self.list_id).await {
            Ok(list) => Ok(Some(list)),
            // Left again since.
            Err(AppError::NotFound) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}

#[derive(Default)]
pub struct TaskSubscription;

#[Subscription]
impl TaskSubscription {
    /// Every change to the tasks of the viewer's lists, made from any tab,
    /// device or server instance, after it is committed, in the order of
    /// the viewer's change log. With `since` (a `cursor` of an event or of
    /// `changes`), first every change after it (each task once, as it is
    /// now), then live, nothing lost or doubled between the two. When
    /// events may have been missed, it catches up the same way by itself.
    async fn task_events(
        &self,
        ctx: &Context<'_>,
        since: Option<String>,
    ) -> Result<impl Stream<Item = Result<TaskEvent>>> {
        let viewer = Viewer::require(ctx).await?.user.id;
        let log = ctx.data_unchecked::<ChangeLog>().clone();
        let since = since
            .map(|since| log.mark(viewer, Some(&since)))
            .transpose()?;
        // Listening first: a change committed from now on reaches it.
        let (subscription, session) = subscribe(ctx).await?;
        let (last, catching_up) = match since {
            Some(since) => (since, true),
            // Without `since`, the log's end is where a catch-up would
            // start; the changes heard meanwhile, before it or after, are
            // all given (`deduplicating` is off until a catch-up).
            None => (log.end().await?, false),
        };
        let follow = Follow {
            subscription,
            session,
            viewer,
            log,
            last,
            deduplicating: catching_up,
            catching_up,
            backlog: VecDeque::new(),
        };
        Ok(async_graphql::futures_util::stream::unfold(
            Some(follow),
            |follow| async move { follow?.next().await },
        ))
    }

    /// Changes to the viewer's lists: joined, renamed, members changed,
    /// deleted, left. Ends with an error when events may have been missed.
    async fn list_events(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Result<ListEvent>>> {
        let (subscription, session) = subscribe(ctx).await?;
        Ok(notices(subscription, session, |notice| match notice {
            Notice::List(event) => Some(ListEvent {
                kind: event.kind,
                list_id: event.list_id,
            }),
            _ => None,
        }))
    }
}

/// A `taskEvents` subscription: the viewer's live notices, and the log
/// when it catches up.
struct Follow {
    subscription: Subscribed,
    session: Option<Uuid>,
    viewer: Uuid,
    log: ChangeLog,
    /// The last change given (or known to be given): a catch-up reads on
    /// from it, and once one has, live events up to it are dropped.
    last: Mark,
    /// Whether live events may repeat what the log gave: from the first
    /// catch-up on.
    deduplicating: bool,
    /// Changes read from the log, not yet given.
    backlog: VecDeque<(Mark, events::TaskEvent)>,
    /// The log has more after what was read.
    catching_up: bool,
}

impl Follow {
    /// The next event and the subscription after it; `None` once it ends.
    async fn next(mut self) -> Option<(Result<TaskEvent>, Option<Self>)> {
        loop {
            if let Some((mark, event)) = self.backlog.pop_front() {
                return Some((Ok(self.give(mark, &event)), Some(self)));
            }
            // Boxed: a read of the log is a large future, and a waiting
            // subscription should not carry its room.
            if self.catching_up
                && let Err(error) = Box::pin(self.catch_up()).await
            {
                return Some((Err(error.into()), None));
            }
            if !self.backlog.is_empty() {
                continue;
            }
            match self.subscription.receiver.recv().await {
                Ok(notice) => match &*notice {
                    Notice::Task(event) => {
                        let mark = mark_of(event);
                        if mark > self.last || !self.deduplicating {
                            return Some((Ok(self.give(mark, event)), Some(self)));
                        }
                    }
                    ended if ended.ends(self.session) => return None,
                    Notice::MaybeMissed => self.catching_up = true,
                    _ => {}
                },
                // Fell behind: what was dropped is in the log.
                Err(RecvError::Lagged(_)) => self.catching_up = true,
                Err(RecvError::Closed) => return None,
            }
        }
    }

    fn give(&mut self, mark: Mark, event: &events::TaskEvent) -> TaskEvent {
        self.last = self.last.max(mark);
        TaskEvent::new(event, self.log.cursor(self.viewer, mark))
    }

    /// Reads the next changes after the last one given from the log.
    async fn catch_up(&mut self) -> Result<(), AppError> {
        self.deduplicating = true;
        let changes = self
            .log
            .read(self.viewer, self.last, CATCH_UP_PAGE, Wanted::Tasks)
            .await?;
        let mut read: Vec<(Mark, events::TaskEvent)> = Vec::new();
        for (mark, task) in changes.tasks {
            let kind = if task.version == Some(1) {
                events::TaskEventKind::Created
            } else {
                events::TaskEventKind::Updated
            };
            read.push((
                mark,
                events::TaskEvent {
                    kind,
                    task_id: task.id,
                    list_id: task.list_id,
                    task: Some(task),
                    seq: mark.position,
                },
            ));
        }
        for (mark, task, list) in changes.removed_tasks {
            read.push((
                mark,
                events::TaskEvent {
                    kind: events::TaskEventKind::Deleted,
                    task_id: task,
                    list_id: list,
                    task: None,
                    seq: mark.position,
                },
            ));
        }
        read.sort_by_key(|(mark, _)| *mark);
        self.backlog.extend(read);
        self.catching_up = changes.has_more;
        if !changes.has_more {
            // Everything up to the end of the log as read is in the backlog.
            self.last = self.last.max(changes.next);
        }
        Ok(())
    }
}

async fn subscribe(ctx: &Context<'_>) -> Result<(Subscribed, Option<Uuid>)> {
    let viewer = Viewer::require(ctx).await?;
    let subscription = ctx.data_unchecked::<Events>().subscribe(viewer.user.id);
    Ok((subscription, viewer.claimed.session))
}

/// The viewer's notices that `pick` makes an item of, until the session
/// ends (the transport then closes the connection) or notices may have
/// been missed (an error ends the stream).
fn notices<T: Send + 'static>(
    subscription: Subscribed,
    session: Option<Uuid>,
    pick: impl Fn(&Notice) -> Option<T> + Send + Sync + Copy + 'static,
) -> impl Stream<Item = Result<T>> {
    async_graphql::futures_util::stream::unfold(
        Some(subscription),
        move |subscription| async move {
            let mut subscription = subscription?;
            let ended = loop {
                match subscription.receiver.recv().await {
                    Ok(notice) => {
                        if let Some(item) = pick(&notice) {
                            return Some((Ok(item), Some(subscription)));
                        }
                        match &*notice {
                            ended if ended.ends(session) => return None,
                            Notice::MaybeMissed => break AppError::EventsMissed,
                            _ => {}
                        }
                    }
                    Err(RecvError::Lagged(_)) => break AppError::FellBehind,
                    Err(RecvError::Closed) => return None,
                }
            };
            Some((Err(ended.into()), None))
        },
    )
}
