//! What a page of tasks loads for all its tasks at once: the people its
//! tasks link to, their labels, their comment counts, when its selection
//! asks for them. Each is one load per page (batched with every other
//! page's of the request, so one statement), and the page's tasks then
//! answer those fields in one pass, as they answer their own columns: no
//! future per field of each task, which is what a page of tasks with its
//! people cost most (in memory above all).

use std::{collections::HashMap, sync::Arc};

use async_graphql::{Context, Lookahead};
use uuid::Uuid;

use super::super::{
    lists::Person,
    loaders::{self, SeenMany},
};
use crate::{
    error::AppError,
    lists,
    tasks::{TaskRead, labels::Label},
};

/// What was loaded for a page; `None`: not asked for.
#[derive(Default)]
pub struct Preloaded {
    pub people: Option<HashMap<Uuid, Person>>,
    pub labels: Option<Arc<HashMap<Uuid, Vec<Label>>>>,
    pub comment_counts: Option<Arc<HashMap<Uuid, u64>>>,
}

impl Preloaded {
    /// Whether the field `field` (a link to a person when `person_link`)
    /// can be answered from what was loaded.
    pub fn has(&self, field: &str, person_link: bool) -> bool {
        if person_link {
            return self.people.is_some();
        }
        match field {
            "labels" => self.labels.is_some(),
            "commentCount" => self.comment_counts.is_some(),
            _ => false,
        }
    }
}

/// Loads for `tasks` what `node` (the selection of a task of the page)
/// asks for and can be loaded at once; `None` when it asks for none.
pub async fn preload(
    ctx: &Context<'_>,
    viewer: Uuid,
    tasks: &[&TaskRead],
    node: &Lookahead<'_>,
) -> Result<Option<Arc<Preloaded>>, AppError> {
    let people = node.field("assignee").exists() || node.field("createdBy").exists();
    let labels = node.field("labels").exists();
    let counts = node.field("commentCount").exists();
    if tasks.is_empty() || !(people || labels || counts) {
        return Ok(None);
    }
    let ids = || SeenMany::new(viewer, tasks.iter().map(|task| task.id));
    let mut preloaded = Preloaded::default();
    if people {
        let linked = tasks.iter().flat_map(|task| {
            [task.assignee_id, task.created_by]
                .into_iter()
                .flatten()
                .flatten()
        });
        let found = loaders::people_many(ctx, SeenMany::new(viewer, linked)).await?;
        preloaded.people = Some(
            found
                .iter()
                .map(|(id, person): (&Uuid, &lists::Person)| (*id, Person::from(person.clone())))
                .collect(),
        );
    }
    if labels {
        preloaded.labels = Some(loaders::task_labels_many(ctx, ids()).await?);
    }
    if counts {
        preloaded.comment_counts = Some(loaders::comment_counts_many(ctx, ids()).await?);
    }
    Ok(Some(Arc::new(preloaded)))
}
