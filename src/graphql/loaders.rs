//! The loaders of nested fields: a task's list and people, a list's
//! members, invitations, page of tasks and count. Each is an async-graphql
//! `Loader`, run by [`Rounds`]: the fields of one request that ask for the
//! same kind of thing are answered by one statement, however many parents
//! they have, so a request's statements do not grow with the lists, members
//! or tasks it shows. Every key carries the viewer, and each statement
//! applies the lists' rule for it. Nothing is cached between rounds: what a
//! round reads is as fresh as any read.

use std::{collections::HashMap, sync::Arc};

use async_graphql::{Context, dataloader::Loader};
use uuid::Uuid;

use super::{
    lists::{Person as PersonObject, TaskList},
    rounds::Rounds,
};
use crate::{
    error::AppError,
    lists::{Invitation, ListRead, Lists, Member, Person},
    tasks::{
        Page, PageArgs, PageShows, Scope, TaskFilter, TaskRead, Tasks, comments::CommentPage,
        completions::CompletionPage, labels::Label, order::TaskOrder, reminders::Reminder,
    },
};

/// A thing of `id`, as `viewer` may see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Seen {
    pub viewer: Uuid,
    pub id: Uuid,
}

/// What a batch of keys failed with, shared by every field that waited.
pub(super) type Shared = Arc<AppError>;

/// The loaders of a schema.
pub struct Loaders {
    lists: ListsOf,
    members: MembersOf,
    invitations: InvitationsOf,
    people: PeopleOf,
    pages: PagesOf,
    counts: CountsOf,
    tasks: TasksOf,
    list_labels: ListLabels,
    task_labels: TaskLabels,
    comment_counts: CommentCounts,
    comment_pages: CommentPages,
    completion_pages: CompletionPages,
    task_reminders: TaskReminders,
    people_many: PeopleMany,
    task_labels_many: TaskLabelsMany,
    comment_counts_many: CommentCountsMany,
    tasks_many: TasksMany,
}

impl Loaders {
    pub fn new(lists: &Lists, tasks: &Tasks) -> Self {
        Self {
            lists: ListsOf(lists.clone()),
            members: MembersOf(lists.clone()),
            invitations: InvitationsOf(lists.clone()),
            people: PeopleOf(lists.clone()),
            pages: PagesOf(tasks.clone()),
            counts: CountsOf(tasks.clone()),
            tasks: TasksOf(tasks.clone()),
            list_labels: ListLabels(tasks.clone()),
            task_labels: TaskLabels(tasks.clone()),
            comment_counts: CommentCounts(tasks.clone()),
            comment_pages: CommentPages(tasks.clone()),
            completion_pages: CompletionPages(tasks.clone()),
            task_reminders: TaskReminders(tasks.clone()),
            people_many: PeopleMany(lists.clone()),
            task_labels_many: TaskLabelsMany(tasks.clone()),
            comment_counts_many: CommentCountsMany(tasks.clone()),
            tasks_many: TasksMany(tasks.clone()),
        }
    }
}

/// Loads `key` with `pick`'s loader in the request's current round.
async fn load<K, L>(
    ctx: &Context<'_>,
    pick: impl FnOnce(&Loaders) -> &L,
    key: K,
) -> Result<Option<L::Value>, AppError>
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    L: Loader<K, Error = Shared>,
{
    load_with(ctx, pick(ctx.data_unchecked::<Loaders>()), key).await
}

/// Loads `key` with `loader` (of this schema or the admin one) in the
/// request's current round.
pub(super) async fn load_with<K, L>(
    ctx: &Context<'_>,
    loader: &L,
    key: K,
) -> Result<Option<L::Value>, AppError>
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    L: Loader<K, Error = Shared>,
{
    match ctx.data_opt::<Rounds>() {
        // Boxed: a request waits on many loads at once (every nested field
        // of every task of a page), each a future of the field that asked;
        // the load's own state would make each of them a few KiB.
        Some(rounds) => Box::pin(rounds.load(loader, key)).await.map_err(unshared),
        // Outside a request's rounds: alone.
        None => {
            let found = Box::pin(loader.load(std::slice::from_ref(&key)))
                .await
                .map_err(unshared)?;
            Ok(found.get(&key).cloned())
        }
    }
}

/// The error a field reports for a batch that failed: the request's own
/// fault (a bad argument or cursor, given to every parent alike) keeps its
/// code for each field that waited; any other failure is the batch's.
fn unshared(error: Shared) -> AppError {
    match Arc::try_unwrap(error) {
        Ok(error) => error,
        Err(shared) => match &*shared {
            AppError::BadUserInput { field, message } => AppError::BadUserInput {
                field: field.clone(),
                message: message.clone(),
            },
            AppError::NotFound => AppError::NotFound,
            AppError::Unavailable(_) => AppError::Unavailable(Box::new(SharedError(shared))),
            _ => AppError::internal(SharedError(shared)),
        },
    }
}

/// A batch's error, for each field that waited for it.
#[derive(Debug)]
struct SharedError(Shared);

impl std::fmt::Display for SharedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SharedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

fn viewer_of(ctx: &Context<'_>) -> Result<Uuid, AppError> {
    super::viewer::viewer_id(ctx)
}

/// The list `id` as the viewer sees it; `NOT_FOUND` when the viewer is no
/// longer in it.
pub async fn list(ctx: &Context<'_>, id: Uuid) -> Result<TaskList, AppError> {
    let key = Seen {
        viewer: viewer_of(ctx)?,
        id,
    };
    let found = load(ctx, |loaders| &loaders.lists, key).await?;
    found.map(TaskList).ok_or(AppError::NotFound)
}

/// The person `id`, if the viewer may know them.
pub async fn person(ctx: &Context<'_>, id: Uuid) -> Result<Option<PersonObject>, AppError> {
    let key = Seen {
        viewer: viewer_of(ctx)?,
        id,
    };
    let found = load(ctx, |loaders| &loaders.people, key).await?;
    Ok(found.map(PersonObject::from))
}

/// The task `id`, if the viewer sees it.
pub async fn task(ctx: &Context<'_>, id: Uuid) -> Result<Option<super::task::Task>, AppError> {
    let key = Seen {
        viewer: viewer_of(ctx)?,
        id,
    };
    let found = load(ctx, |loaders| &loaders.tasks, key).await?;
    Ok(found.map(super::task::Task::from))
}

/// An object a task links to by id (its assignee, author, parent), loaded
/// with every other of the request's.
pub trait Linked: Sized {
    async fn linked(ctx: &Context<'_>, id: Uuid) -> Result<Option<Self>, AppError>;
}

impl Linked for PersonObject {
    async fn linked(ctx: &Context<'_>, id: Uuid) -> Result<Option<Self>, AppError> {
        person(ctx, id).await
    }
}

impl Linked for super::task::Task {
    async fn linked(ctx: &Context<'_>, id: Uuid) -> Result<Option<Self>, AppError> {
        task(ctx, id).await
    }
}

/// The labels of list `id`, by name.
pub async fn list_labels(ctx: &Context<'_>, id: Uuid) -> Result<Vec<Label>, AppError> {
    let key = Seen {
        viewer: viewer_of(ctx)?,
        id,
    };
    Ok(load(ctx, |loaders| &loaders.list_labels, key)
        .await?
        .unwrap_or_default())
}

/// The labels task `id` carries, by name.
pub async fn task_labels(ctx: &Context<'_>, id: Uuid) -> Result<Vec<Label>, AppError> {
    let key = Seen {
        viewer: viewer_of(ctx)?,
        id,
    };
    Ok(load(ctx, |loaders| &loaders.task_labels, key)
        .await?
        .unwrap_or_default())
}

/// The members of list `id`, oldest first.
pub async fn members(ctx: &Context<'_>, id: Uuid) -> Result<Vec<Member>, AppError> {
    let key = Seen {
        viewer: viewer_of(ctx)?,
        id,
    };
    let found = load(ctx, |loaders| &loaders.members, key).await?;
    Ok(found.unwrap_or_default())
}

/// The pending invitations of list `id`, if the viewer owns it.
pub async fn invitations(ctx: &Context<'_>, id: Uuid) -> Result<Vec<Invitation>, AppError> {
    let key = Seen {
        viewer: viewer_of(ctx)?,
        id,
    };
    let found = load(ctx, |loaders| &loaders.invitations, key).await?;
    Ok(found.unwrap_or_default())
}

/// The ids of `keys`, by viewer.
fn by_viewer(keys: &[Seen]) -> HashMap<Uuid, Vec<Uuid>> {
    let mut ids: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for key in keys {
        ids.entry(key.viewer).or_default().push(key.id);
    }
    ids
}

/// A loader of `Value`s, each batch read once per viewer in it by `read` of
/// the service `$service` (lists or tasks).
macro_rules! loader_of {
    ($name:ident, $service:ty, $value:ty, $read:ident) => {
        struct $name($service);

        impl Loader<Seen> for $name {
            type Value = $value;
            type Error = Shared;

            async fn load(&self, keys: &[Seen]) -> Result<HashMap<Seen, $value>, Shared> {
                let mut found = HashMap::new();
                for (viewer, ids) in by_viewer(keys) {
                    let read = self.0.$read(viewer, &ids).await.map_err(Arc::new)?;
                    found.extend(
                        read.into_iter()
                            .map(|(id, value)| (Seen { viewer, id }, value)),
                    );
                }
                Ok(found)
            }
        }
    };
}

loader_of!(ListsOf, Lists, ListRead, find_many);
loader_of!(MembersOf, Lists, Vec<Member>, members);
loader_of!(InvitationsOf, Lists, Vec<Invitation>, pending);
loader_of!(PeopleOf, Lists, Person, people);

/// A page of one list's tasks or one task's subtasks, as a nested `tasks`
/// or `subtasks` field asks for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PageOf {
    pub viewer: Uuid,
    pub scope: Scope,
    pub id: Uuid,
    pub filter: TaskFilter,
    pub order: TaskOrder,
    pub args: PageArgs,
    pub shows: PageShows,
}

/// How many of one list's tasks (or a task's subtasks) pass a filter.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CountOf {
    pub viewer: Uuid,
    pub scope: Scope,
    pub id: Uuid,
    pub filter: TaskFilter,
}

/// The page of a list's tasks that `key` asks for.
pub async fn page(ctx: &Context<'_>, key: PageOf) -> Result<Page, AppError> {
    let found = load(ctx, |loaders| &loaders.pages, key).await?;
    found.ok_or(AppError::NotFound)
}

/// How many of a list's tasks pass a filter.
pub async fn count(ctx: &Context<'_>, key: CountOf) -> Result<u64, AppError> {
    let found = load(ctx, |loaders| &loaders.counts, key).await?;
    Ok(found.unwrap_or(0))
}

struct PagesOf(Tasks);

loader_of!(ListLabels, Tasks, Vec<Label>, labels_of_lists);
loader_of!(TasksOf, Tasks, TaskRead, find_many);

/// Many things of one kind, as `viewer` may see them: what a page of tasks
/// loads for all its tasks at once.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SeenMany {
    pub viewer: Uuid,
    /// Sorted, without repeats.
    pub ids: Vec<Uuid>,
}

impl SeenMany {
    pub fn new(viewer: Uuid, ids: impl IntoIterator<Item = Uuid>) -> Self {
        let mut ids: Vec<Uuid> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        Self { viewer, ids }
    }
}

/// A loader of many ids per key, each round read once per viewer by `read`
/// of `$service` for the ids of all its keys.
macro_rules! many_loader_of {
    ($name:ident, $service:ty, $value:ty, $read:ident) => {
        struct $name($service);

        impl Loader<SeenMany> for $name {
            type Value = Arc<HashMap<Uuid, $value>>;
            type Error = Shared;

            async fn load(
                &self,
                keys: &[SeenMany],
            ) -> Result<HashMap<SeenMany, Self::Value>, Shared> {
                let mut ids: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
                for key in keys {
                    ids.entry(key.viewer).or_default().extend(&key.ids);
                }
                let mut read = HashMap::new();
                for (viewer, mut ids) in ids {
                    ids.sort_unstable();
                    ids.dedup();
                    let found = self.0.$read(viewer, &ids).await.map_err(Arc::new)?;
                    read.insert(
                        viewer,
                        Arc::new(found.into_iter().collect::<HashMap<_, _>>()),
                    );
                }
                // Each key gets the whole round's answer of its viewer: its
                // own ids are among them.
                Ok(keys
                    .iter()
                    .filter_map(|key| Some((key.clone(), Arc::clone(read.get(&key.viewer)?))))
                    .collect())
            }
        }
    };
}

many_loader_of!(PeopleMany, Lists, Person, people);
many_loader_of!(TaskLabelsMany, Tasks, Vec<Label>, labels_of_tasks);
many_loader_of!(CommentCountsMany, Tasks, u64, comment_counts);
many_loader_of!(TasksMany, Tasks, TaskRead, find_many);

/// The tasks among `ids` the viewer sees (a page's parents).
pub async fn tasks_many(
    ctx: &Context<'_>,
    ids: SeenMany,
) -> Result<Arc<HashMap<Uuid, TaskRead>>, AppError> {
    Ok(load(ctx, |loaders| &loaders.tasks_many, ids)
        .await?
        .unwrap_or_default())
}

/// What a nested field asks alike of many parents at once (a page's
/// tasks' subtasks): `ask`, with its parent left out, of each of `parents`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OfMany<K> {
    pub ask: K,
    /// Sorted, without repeats.
    pub parents: Vec<Uuid>,
}

impl<K: OfParent> OfMany<K> {
    /// `ask` of each of `parents`.
    pub fn new(ask: &K, parents: impl IntoIterator<Item = Uuid>) -> Self {
        let mut parents: Vec<Uuid> = parents.into_iter().collect();
        parents.sort_unstable();
        parents.dedup();
        Self {
            ask: ask.of(Uuid::nil()),
            parents,
        }
    }
}

/// The pages `key` asks for, by parent.
pub async fn pages_many(
    ctx: &Context<'_>,
    key: OfMany<PageOf>,
) -> Result<Arc<HashMap<Uuid, Page>>, AppError> {
    Ok(load(ctx, |loaders| &loaders.pages, key)
        .await?
        .unwrap_or_default())
}

/// How many tasks pass `key`'s filter under each of its parents.
pub async fn counts_many(
    ctx: &Context<'_>,
    key: OfMany<CountOf>,
) -> Result<Arc<HashMap<Uuid, u64>>, AppError> {
    Ok(load(ctx, |loaders| &loaders.counts, key)
        .await?
        .unwrap_or_default())
}

/// The people among `ids` the viewer may know.
pub async fn people_many(
    ctx: &Context<'_>,
    ids: SeenMany,
) -> Result<Arc<HashMap<Uuid, Person>>, AppError> {
    Ok(load(ctx, |loaders| &loaders.people_many, ids)
        .await?
        .unwrap_or_default())
}

/// The labels each of `ids` carries.
pub async fn task_labels_many(
    ctx: &Context<'_>,
    ids: SeenMany,
) -> Result<Arc<HashMap<Uuid, Vec<Label>>>, AppError> {
    Ok(load(ctx, |loaders| &loaders.task_labels_many, ids)
        .await?
        .unwrap_or_default())
}

/// How many comments each of `ids` has.
pub async fn comment_counts_many(
    ctx: &Context<'_>,
    ids: SeenMany,
) -> Result<Arc<HashMap<Uuid, u64>>, AppError> {
    Ok(load(ctx, |loaders| &loaders.comment_counts_many, ids)
        .await?
        .unwrap_or_default())
}
loader_of!(TaskLabels, Tasks, Vec<Label>, labels_of_tasks);
loader_of!(TaskReminders, Tasks, Vec<Reminder>, reminders_of_tasks);

/// The reminders of task `id`, oldest first.
pub async fn task_reminders(ctx: &Context<'_>, id: Uuid) -> Result<Vec<Reminder>, AppError> {
    let key = Seen {
        viewer: viewer_of(ctx)?,
        id,
    };
    Ok(load(ctx, |loaders| &loaders.task_reminders, key)
        .await?
        .unwrap_or_default())
}
loader_of!(CommentCounts, Tasks, u64, comment_counts);

/// How many comments task `id` has.
pub async fn comment_count(ctx: &Context<'_>, id: Uuid) -> Result<u64, AppError> {
    let key = Seen {
        viewer: viewer_of(ctx)?,
        id,
    };
    Ok(load(ctx, |loaders| &loaders.comment_counts, key)
        .await?
        .unwrap_or(0))
}

/// A page of one task's comments or completions, as its field asks for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChildrenOf {
    pub viewer: Uuid,
    pub task: Uuid,
    pub first: Option<i32>,
    pub after: Option<String>,
}

/// The page of a task's comments that `key` asks for.
pub async fn comments(ctx: &Context<'_>, key: ChildrenOf) -> Result<CommentPage, AppError> {
    Ok(load(ctx, |loaders| &loaders.comment_pages, key)
        .await?
        .unwrap_or_default())
}

struct CommentPages(Tasks);

impl Loader<ChildrenOf> for CommentPages {
    type Value = CommentPage;
    type Error = Shared;

    async fn load(&self, keys: &[ChildrenOf]) -> Result<HashMap<ChildrenOf, CommentPage>, Shared> {
        alike(keys, |alike, tasks| async move {
            self.0
                .comment_pages(alike.viewer, &tasks, alike.first, alike.after.as_deref())
                .await
        })
        .await
    }
}

/// The page of a task's completions that `key` asks for.
pub async fn completions(ctx: &Context<'_>, key: ChildrenOf) -> Result<CompletionPage, AppError> {
    Ok(load(ctx, |loaders| &loaders.completion_pages, key)
        .await?
        .unwrap_or_default())
}

struct CompletionPages(Tasks);

impl Loader<ChildrenOf> for CompletionPages {
    type Value = CompletionPage;
    type Error = Shared;

    async fn load(
        &self,
        keys: &[ChildrenOf],
    ) -> Result<HashMap<ChildrenOf, CompletionPage>, Shared> {
        alike(keys, |alike, tasks| async move {
            self.0
                .completion_pages(alike.viewer, &tasks, alike.first, alike.after.as_deref())
                .await
        })
        .await
    }
}

struct CountsOf(Tasks);

impl PagesOf {
    /// The page `alike` asks for of each of `parents`.
    async fn read(
        &self,
        alike: PageOf,
        parents: Vec<Uuid>,
    ) -> Result<HashMap<Uuid, Page>, AppError> {
        let shows = alike.shows;
        self.0
            .pages(
                alike.viewer,
                alike.scope,
                &parents,
                &alike.filter,
                alike.order,
                alike.args,
                shows,
            )
            .await
    }
}

impl CountsOf {
    /// How many tasks pass `alike`'s filter under each of `parents`.
    async fn read(
        &self,
        alike: CountOf,
        parents: Vec<Uuid>,
    ) -> Result<HashMap<Uuid, u64>, AppError> {
        self.0
            .counts(alike.viewer, alike.scope, &parents, &alike.filter)
            .await
    }
}

impl Loader<PageOf> for PagesOf {
    type Value = Page;
    type Error = Shared;

    async fn load(&self, keys: &[PageOf]) -> Result<HashMap<PageOf, Page>, Shared> {
        alike(keys, |alike, parents| self.read(alike, parents)).await
    }
}

impl Loader<CountOf> for CountsOf {
    type Value = u64;
    type Error = Shared;

    async fn load(&self, keys: &[CountOf]) -> Result<HashMap<CountOf, u64>, Shared> {
        alike(keys, |alike, parents| self.read(alike, parents)).await
    }
}

impl Loader<OfMany<PageOf>> for PagesOf {
    type Value = Arc<HashMap<Uuid, Page>>;
    type Error = Shared;

    async fn load(
        &self,
        keys: &[OfMany<PageOf>],
    ) -> Result<HashMap<OfMany<PageOf>, Self::Value>, Shared> {
        many(keys, |alike, parents| self.read(alike, parents)).await
    }
}

impl Loader<OfMany<CountOf>> for CountsOf {
    type Value = Arc<HashMap<Uuid, u64>>;
    type Error = Shared;

    async fn load(
        &self,
        keys: &[OfMany<CountOf>],
    ) -> Result<HashMap<OfMany<CountOf>, Self::Value>, Shared> {
        many(keys, |alike, parents| self.read(alike, parents)).await
    }
}

/// A key that names one parent (a list, a task) and what is asked of it:
/// keys that ask alike of different parents are answered together.
pub trait OfParent: Clone + Eq + std::hash::Hash {
    fn parent(&self) -> Uuid;
    fn of(&self, parent: Uuid) -> Self;
}

/// Answers `keys` with one `read` of each group of keys that ask alike
/// (the same field of every parent): one statement for all the parents.
async fn alike<K, V, Read, Reading>(keys: &[K], read: Read) -> Result<HashMap<K, V>, Shared>
where
    K: OfParent,
    Read: Fn(K, Vec<Uuid>) -> Reading,
    Reading: Future<Output = Result<HashMap<Uuid, V>, AppError>>,
{
    let asked = grouped(keys.iter().map(|key| (key.of(Uuid::nil()), [key.parent()])));
    let mut found = HashMap::new();
    for (alike, parents) in asked {
        for (parent, value) in read(alike.clone(), parents).await.map_err(Arc::new)? {
            found.insert(alike.of(parent), value);
        }
    }
    Ok(found)
}

/// Answers keys of many parents each as [`alike`] does keys of one: one
/// `read` of each group of keys that ask alike, for all their parents;
/// each key gets its group's whole answer (its own parents among them).
async fn many<K, V, Read, Reading>(
    keys: &[OfMany<K>],
    read: Read,
) -> Result<HashMap<OfMany<K>, Arc<HashMap<Uuid, V>>>, Shared>
where
    K: OfParent,
    Read: Fn(K, Vec<Uuid>) -> Reading,
    Reading: Future<Output = Result<HashMap<Uuid, V>, AppError>>,
{
    let asked = grouped(
        keys.iter()
            .map(|key| (key.ask.clone(), key.parents.iter().copied())),
    );
    let mut read_of = HashMap::new();
    for (alike, parents) in asked {
        let found = read(alike.clone(), parents).await.map_err(Arc::new)?;
        read_of.insert(alike, Arc::new(found));
    }
    Ok(keys
        .iter()
        .filter_map(|key| Some((key.clone(), Arc::clone(read_of.get(&key.ask)?))))
        .collect())
}

/// The parents asked for under each alike key, without repeats.
fn grouped<K: Eq + std::hash::Hash>(
    keys: impl Iterator<Item = (K, impl IntoIterator<Item = Uuid>)>,
) -> HashMap<K, Vec<Uuid>> {
    let mut asked: HashMap<K, Vec<Uuid>> = HashMap::new();
    for (alike, parents) in keys {
        asked.entry(alike).or_default().extend(parents);
    }
    for parents in asked.values_mut() {
        parents.sort_unstable();
        parents.dedup();
    }
    asked
}

macro_rules! of_parent {
    ($key:ident, $parent:ident) => {
        impl OfParent for $key {
            fn parent(&self) -> Uuid {
                self.$parent
            }

            fn of(&self, parent: Uuid) -> Self {
                Self {
                    $parent: parent,
                    ..self.clone()
                }
            }
        }
    };
}

of_parent!(PageOf, id);
of_parent!(CountOf, id);
of_parent!(ChildrenOf, task);
