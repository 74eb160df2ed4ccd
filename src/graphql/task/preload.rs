//! What a page of tasks loads for all its tasks at once: the people its
//! tasks link to, their labels, comment counts and parents, and each one's
//! page of subtasks (with what that page's tasks load in turn), when its
//! selection asks for them. Each is one load per page, batched with every
//! other page's of the request (so one statement for all of them), and the
//! page's tasks then answer those fields in one pass, as they answer their
//! own columns: no future per field of each task, which is what a page of
//! tasks with its people, and above all with its subtasks, cost most.
//!
//! A selection that asks for a field loaded otherwise (a task's list,
//! comments, completions, reminders), or for `subtasks` with different
//! arguments in different places, is answered field by field instead, each
//! field through its loader, at whatever depth it is asked: [`at_once`]
//! decides that from the selection before anything is loaded.
//!
//! Measured gain (`bench.py --only-nested`, bench/README.md): the nested
//! query of 10 lists × 20 tasks with parents and `subtasks(first: 5)`,
//! 214 → 561 req/s on SQLite (9,124 → 3,351 µs of CPU a request).

use std::{collections::HashMap, sync::Arc};

use async_graphql::{Context, Lookahead, Value};
use uuid::Uuid;

use super::{
    super::{
        lists::Person,
        loaders::{self, CountOf, OfMany, PageOf, SeenMany},
    },
    Task, TaskConnection,
    object::subtask_order,
    page::shows,
};
use crate::{
    error::AppError,
    tasks::{PageArgs, Scope, TaskFilter, TaskRead, labels::Label},
};

/// What was loaded for a page's tasks; `None`: not asked for.
#[derive(Default)]
pub struct Preloaded {
    pub people: Option<HashMap<Uuid, Person>>,
    pub labels: Option<Arc<HashMap<Uuid, Vec<Label>>>>,
    pub comment_counts: Option<Arc<HashMap<Uuid, u64>>>,
    /// Each task's parent, answering its own selection from its own load.
    pub parents: Option<HashMap<Uuid, Task>>,
    /// Each task's page of subtasks.
    pub subtasks: Option<HashMap<Uuid, TaskConnection>>,
    /// Whether this answers every loaded field the tasks' selection asks
    /// for, at every depth: then the tasks answer in one pass.
    pub complete: bool,
}

/// The loaded fields of a task that a page loads at once.
const AT_ONCE: &[&str] = &[
    "assignee",
    "createdBy",
    "parent",
    "labels",
    "commentCount",
    "subtasks",
];

/// Whether what a page loads at once answers every loaded field `node`
/// (the selection of its tasks) asks for, through its parents and
/// subtasks.
fn at_once(node: &Lookahead<'_>) -> bool {
    if !node.exists() {
        return true;
    }
    let subtasks = node.field("subtasks");
    Task::LOADED
        .iter()
        .all(|field| AT_ONCE.contains(field) || !node.field(field).exists())
        && at_once(&node.field("parent"))
        && (!subtasks.exists() || subtask_args(node).is_some())
        && at_once(&subtasks.field("edges").field("node"))
}

/// The arguments `node` asks for `subtasks` with; `None` when it asks with
/// different ones in different places, or with values that are not theirs
/// (which the field reports when it is answered on its own).
fn subtask_args(node: &Lookahead<'_>) -> Option<PageArgs> {
    let mut asked: Option<PageArgs> = None;
    for field in node.field("subtasks").selection_fields() {
        let mut args = PageArgs::default();
        for (name, value) in field.arguments().ok()? {
            match (name.as_str(), value) {
                (_, Value::Null) => {}
                ("first", Value::Number(first)) => {
                    args.first = Some(i32::try_from(first.as_i64()?).ok()?);
                }
                ("after", Value::String(after)) => args.after = Some(after),
                _ => return None,
            }
        }
        if asked.as_ref().is_some_and(|asked| *asked != args) {
            return None;
        }
        asked = Some(args);
    }
    asked
}

/// Loads for `tasks` what `node` (the selection of a task of the page)
/// asks for that a page loads at once.
pub async fn preload(
    ctx: &Context<'_>,
    viewer: Uuid,
    tasks: &[&TaskRead],
    node: &Lookahead<'_>,
) -> Result<Arc<Preloaded>, AppError> {
    let complete = at_once(node);
    let asks = |field: &str| node.field(field).exists();
    if !complete || tasks.is_empty() || !AT_ONCE.iter().any(|field| asks(field)) {
        return Ok(Arc::new(Preloaded {
            complete,
            ..Preloaded::default()
        }));
    }
    let ids = || SeenMany::new(viewer, tasks.iter().map(|task| task.id));
    let people = async {
        if !(asks("assignee") || asks("createdBy")) {
            return Ok(None);
        }
        let linked = tasks.iter().flat_map(|task| {
            [task.assignee_id, task.created_by]
                .into_iter()
                .flatten()
                .flatten()
        });
        let linked = SeenMany::new(viewer, linked);
        let found = loaders::people_many(ctx, linked.clone()).await?;
        // The round's answer holds every page's people: these are this page's.
        Ok::<_, AppError>(Some(
            linked
                .ids
                .iter()
                .filter_map(|id| Some((*id, Person::from(found.get(id)?.clone()))))
                .collect(),
        ))
    };
    let labels = async {
        match asks("labels") {
            true => loaders::task_labels_many(ctx, ids()).await.map(Some),
            false => Ok(None),
        }
    };
    let comment_counts = async {
        match asks("commentCount") {
            true => loaders::comment_counts_many(ctx, ids()).await.map(Some),
            false => Ok(None),
        }
    };
    let parent = node.field("parent");
    let (people, labels, comment_counts, parents, subtasks) = tokio::try_join!(
        people,
        labels,
        comment_counts,
        parents(ctx, viewer, tasks, &parent),
        subtasks(ctx, viewer, tasks, node),
    )?;
    let (subtasks, subtasks_complete) = subtasks;
    let complete = subtasks_complete
        && parents.as_ref().is_none_or(|parents| {
            parents
                .values()
                .all(|parent| parent.1.as_ref().is_none_or(|loaded| loaded.complete))
        });
    Ok(Arc::new(Preloaded {
        people,
        labels,
        comment_counts,
        parents,
        subtasks,
        complete,
    }))
}

/// The parents of `tasks` the viewer sees, when `parent` (their selection)
/// is asked for.
async fn parents(
    ctx: &Context<'_>,
    viewer: Uuid,
    tasks: &[&TaskRead],
    parent: &Lookahead<'_>,
) -> Result<Option<HashMap<Uuid, Task>>, AppError> {
    if !parent.exists() {
        return Ok(None);
    }
    let ids = SeenMany::new(
        viewer,
        tasks.iter().filter_map(|task| task.parent_id.flatten()),
    );
    let found = loaders::tasks_many(ctx, ids.clone()).await?;
    // The round's answer holds every page's parents: these are this page's.
    let read: Vec<&TaskRead> = ids.ids.iter().filter_map(|id| found.get(id)).collect();
    let loaded = Box::pin(preload(ctx, viewer, &read, parent)).await?;
    Ok(Some(
        read.into_iter()
            .map(|task| (task.id, Task(task.clone(), Some(Arc::clone(&loaded)))))
            .collect(),
    ))
}

/// Each task's page of subtasks, when `node` asks for them, and whether
/// they answer in one pass: not when the pages could not be read as asked
/// (a bad argument), which the field then reports on its own.
async fn subtasks(
    ctx: &Context<'_>,
    viewer: Uuid,
    tasks: &[&TaskRead],
    node: &Lookahead<'_>,
) -> Result<(Option<HashMap<Uuid, TaskConnection>>, bool), AppError> {
    let selection = node.field("subtasks");
    let Some(args) = selection.exists().then(|| subtask_args(node)).flatten() else {
        return Ok((None, true));
    };
    let parents = || tasks.iter().map(|task| task.id);
    let page = PageOf {
        viewer,
        scope: Scope::Parent,
        id: Uuid::nil(),
        filter: TaskFilter::default(),
        order: subtask_order(),
        args,
        shows: shows(&selection),
    };
    let count = CountOf {
        viewer,
        scope: Scope::Parent,
        id: Uuid::nil(),
        filter: TaskFilter::default(),
    };
    let counted = selection.field("totalCount").exists();
    let read = tokio::try_join!(
        loaders::pages_many(ctx, OfMany::new(&page, parents())),
        async {
            match counted {
                true => loaders::counts_many(ctx, OfMany::new(&count, parents()))
                    .await
                    .map(Some),
                false => Ok(None),
            }
        }
    );
    let Ok((pages, counts)) = read else {
        return Ok((None, false));
    };
    let below: Vec<&TaskRead> = tasks
        .iter()
        .filter_map(|task| pages.get(&task.id))
        .flat_map(|page| page.edges.iter().map(|edge| &edge.task))
        .collect();
    let loaded = Box::pin(preload(
        ctx,
        viewer,
        &below,
        &selection.field("edges").field("node"),
    ))
    .await?;
    let mut connections = HashMap::with_capacity(tasks.len());
    for task in tasks {
        let Some(page) = pages.get(&task.id) else {
            return Ok((None, false));
        };
        let count = counts
            .as_ref()
            .map(|counts| counts.get(&task.id).copied().unwrap_or(0));
        let connection = TaskConnection::new(page.clone(), Arc::clone(&loaded), count);
        connections.insert(task.id, connection);
    }
    Ok((Some(connections), loaded.complete))
}
