//! Live task events: the `taskEvents` subscription over the event bus.

use async_graphql::{Context, Enum, ID, Result, SimpleObject, Subscription, futures_util::Stream};
use tokio::sync::broadcast::error::RecvError;

use super::{plain::Plain, task::Task, viewer::Viewer};
use crate::{
    error::AppError,
    events::{self, Events, Notice},
};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "events::TaskEventKind")]
pub enum TaskEventKind {
    Created,
    Updated,
    Deleted,
}

/// A committed change to one of the viewer's tasks.
#[derive(SimpleObject)]
pub struct TaskEvent {
    pub kind: TaskEventKind,
    pub task_id: ID,
    /// The task as the change left it; `null` when deleted.
    pub task: Option<Plain<Task>>,
}

impl From<&events::TaskEvent> for TaskEvent {
    fn from(event: &events::TaskEvent) -> Self {
        Self {
            kind: event.kind.into(),
            task_id: ID(event.task_id.to_string()),
            task: event.task.clone().map(|task| Plain(task.into())),
        }
    }
}

#[derive(Default)]
pub struct TaskSubscription;

#[Subscription]
impl TaskSubscription {
    /// Every change to the viewer's tasks, made from any tab, device or
    /// server instance, after it is committed; in commit order for one task.
    /// Ends with an error when events may have been missed: refetch, then
    /// subscribe again.
    async fn task_events(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Result<TaskEvent>>> {
        let viewer = Viewer::require(ctx).await?;
        let session = viewer.claimed.session;
        let subscription = ctx.data_unchecked::<Events>().subscribe(viewer.user.id);
        Ok(async_graphql::futures_util::stream::unfold(
            Some(subscription),
            move |subscription| async move {
                let mut subscription = subscription?;
                let item = loop {
                    match subscription.receiver.recv().await {
                        Ok(notice) => match &*notice {
                            Notice::Task(event) => {
                                return Some((Ok(event.into()), Some(subscription)));
                            }
                            // The transport closes the connection.
                            ended if ended.ends(session) => return None,
                            Notice::MaybeMissed => break AppError::EventsMissed,
                            Notice::SessionsEnded { .. } | Notice::SessionEnded { .. } => {}
                        },
                        Err(RecvError::Lagged(_)) => break AppError::FellBehind,
                        Err(RecvError::Closed) => return None,
                    }
                };
                Some((Err(item.into()), None))
            },
        ))
    }
}
