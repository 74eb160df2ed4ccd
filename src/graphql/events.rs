//! Live events: `taskEvents` (changes to the tasks of every list the viewer
//! is in) and `listEvents` (the viewer's lists: joined, changed, deleted,
//! left), over the event bus. Who hears of what was decided by the write
//! that made the change, from the members of the list as they were then.

use async_graphql::{Context, Enum, ID, Result, SimpleObject, Subscription, futures_util::Stream};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::{lists::TaskList, loaders, plain::Plain, task::Task, viewer::Viewer};
use crate::{
    error::AppError,
    events::{self, Events, Notice, Subscription as Subscribed},
};

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
}

impl From<&events::TaskEvent> for TaskEvent {
    fn from(event: &events::TaskEvent) -> Self {
        Self {
            kind: event.kind.into(),
            task_id: ID(event.task_id.to_string()),
            list_id: ID(event.list_id.to_string()),
            task: event.task.clone().map(|task| Plain(task.into())),
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "events::ListEventKind")]
pub enum ListEventKind {
    /// The viewer became a member.
    Joined,
    /// Renamed, or its members or their roles changed.
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
    /// device or server instance, after it is committed; in commit order
    /// for one task. Ends with an error when events may have been missed:
    /// refetch, then subscribe again.
    async fn task_events(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Result<TaskEvent>>> {
        let (subscription, session) = subscribe(ctx).await?;
        Ok(notices(subscription, session, |notice| match notice {
            Notice::Task(event) => Some(event.as_ref().into()),
            _ => None,
        }))
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
