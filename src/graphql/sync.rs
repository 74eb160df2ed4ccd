//! Offline clients in GraphQL: `changes` and the `ChangeSet`, over
//! `crate::sync`.

use async_graphql::{Context, ID, Object, Result, SimpleObject};

use super::{lists::TaskList, plain::Plain, task::Task, viewer::Viewer};
use crate::sync::ChangeLog;

/// What changed for the viewer after a cursor: lists and tasks as they are
/// now, and the ids of those deleted or no longer the viewer's to see.
/// Apply the removals first (a removed list takes its tasks with it), then
/// the lists and tasks.
#[derive(SimpleObject)]
pub struct ChangeSet {
    pub lists: Vec<TaskList>,
    pub tasks: Vec<Plain<Task>>,
    pub removed_list_ids: Vec<ID>,
    pub removed_task_ids: Vec<ID>,
    /// Where the next `changes` starts: keep it with the copy.
    pub cursor: String,
    /// More changes wait: ask again with `cursor` at once.
    pub has_more: bool,
}

#[derive(Default)]
pub struct SyncQuery;

#[Object]
impl SyncQuery {
    /// Everything the viewer can see (`since: null`), or what changed after
    /// `since`, oldest change first, `first` (1 to 1,000) lists and tasks
    /// at most.
    async fn changes(
        &self,
        ctx: &Context<'_>,
        since: Option<String>,
        #[graphql(default = 500)] first: i32,
    ) -> Result<ChangeSet> {
        let viewer = Viewer::require(ctx).await?.user.id;
        let log = ctx.data_unchecked::<ChangeLog>();
        let changes = log.changes(viewer, since.as_deref(), first).await?;
        Ok(ChangeSet {
            lists: changes.lists.into_iter().map(TaskList).collect(),
            tasks: changes
                .tasks
                .into_iter()
                .map(|(_, task)| Plain(task.into()))
                .collect(),
            removed_list_ids: changes
                .removed_lists
                .iter()
                .map(|id| ID(id.to_string()))
                .collect(),
            removed_task_ids: changes
                .removed_tasks
                .iter()
                .map(|(_, id, _)| ID(id.to_string()))
                .collect(),
            cursor: log.cursor(viewer, changes.next),
            has_more: changes.has_more,
        })
    }
}
