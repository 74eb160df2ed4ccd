//! Tasks in GraphQL: `Task`, the `tasks` connection, and the task mutations.
//! Every field here is behind the viewer guard; the work is in `crate::tasks`.

use std::sync::Arc;

use async_graphql::{
    Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, ScalarType, ServerResult, Value,
};
use entity::task;
use uuid::Uuid;

use super::{
    errors::server_error,
    plain::{self, Plain, PlainList, PlainObject},
    scalars::DateTime,
    viewer::Viewer,
};
use crate::{
    error::AppError,
    tasks::{
        self, Description, NewTask, PageArgs, PageCursors, PageShows, Shown, TaskChanges, TaskRead,
        TaskTitle, Tasks,
        cursor::Position,
        fields::search_pattern,
        order::{self, TaskOrder},
    },
};

/// A task as it was read: on a page, only the fields the page shows.
pub struct Task(TaskRead);

/// A field of the task; the read that made it always reads the fields a
/// client asks for (see [`shows`]).
fn read<T>(field: Option<T>) -> Result<T, AppError> {
    field.ok_or_else(|| AppError::internal("a task field was asked for that was not read"))
}

/// Something to do, visible only to the user who created it.
#[Object]
impl Task {
    // The schema's view of the fields; their values come from `PlainObject`.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn title(&self) -> Result<&str> {
        Ok(read(self.0.title.as_deref())?)
    }

    async fn description(&self) -> Result<Option<&str>> {
        Ok(read(self.0.description.as_ref())?.as_deref())
    }

    async fn completed(&self) -> Result<bool> {
        Ok(read(self.0.completed)?)
    }

    async fn due_at(&self) -> Result<Option<DateTime>> {
        Ok(read(self.0.due_at)?.map(DateTime))
    }

    async fn created_at(&self) -> Result<DateTime> {
        Ok(DateTime(read(self.0.created_at)?))
    }

    async fn updated_at(&self) -> Result<DateTime> {
        Ok(DateTime(read(self.0.updated_at)?))
    }
}

impl PlainObject for Task {
    fn field(&self, ctx: &Context<'_>) -> ServerResult<Value> {
        let task = &self.0;
        let time = |time| DateTime(time).to_value();
        let value = match ctx.item.node.name.node.as_str() {
            "id" => Ok(Value::String(task.id.to_string())),
            "title" => read(task.title.clone()).map(Value::String),
            "description" => read(task.description.clone())
                .map(|description| description.map_or(Value::Null, Value::String)),
            "completed" => read(task.completed).map(Value::Boolean),
            "dueAt" => read(task.due_at).map(|due| due.map_or(Value::Null, time)),
            "createdAt" => read(task.created_at).map(time),
            "updatedAt" => read(task.updated_at).map(time),
            _ => return plain::unknown(ctx),
        };
        value.map_err(|error| server_error(error, Some(ctx.item.pos)))
    }
}

impl From<TaskRead> for Task {
    fn from(task: TaskRead) -> Self {
        Self(task)
    }
}

impl From<task::Model> for Task {
    fn from(task: task::Model) -> Self {
        Self(task.into())
    }
}

/// What the `tasks` field's selection shows of the page, so that the page
/// reads only that: fields are looked for by name through every fragment,
/// which can only ask for more than is shown, never less.
fn shows(ctx: &Context<'_>) -> PageShows {
    let page = ctx.look_ahead();
    let edges = page.field("edges");
    let node = edges.field("node");
    let info = page.field("pageInfo");
    let node_has = |name| node.field(name).exists();
    PageShows {
        tasks: Shown {
            title: node_has("title"),
            description: node_has("description"),
            completed: node_has("completed"),
            due_at: node_has("dueAt"),
            created_at: node_has("createdAt"),
            updated_at: node_has("updatedAt"),
        },
        cursors: edges.field("cursor").exists()
            || info.field("startCursor").exists()
            || info.field("endCursor").exists(),
    }
}

#[derive(InputObject)]
pub struct CreateTaskInput {
    /// 1–200 characters after trimming.
    pub title: String,
    /// At most 10,000 characters.
    pub description: Option<String>,
    pub due_at: Option<DateTime>,
}

/// Only the fields given change; `null` clears `description` or `dueAt`.
#[derive(InputObject)]
pub struct UpdateTaskInput {
    #[graphql(default)]
    pub title: MaybeUndefined<String>,
    #[graphql(default)]
    pub description: MaybeUndefined<String>,
    #[graphql(default)]
    pub completed: MaybeUndefined<bool>,
    #[graphql(default)]
    pub due_at: MaybeUndefined<DateTime>,
}

/// Narrows a listing; every condition given must hold.
#[derive(InputObject, Default)]
#[graphql(name = "TaskFilter")]
pub struct TaskFilterInput {
    pub completed: Option<bool>,
    /// Case-insensitive text in the title or description, taken literally.
    pub search: Option<String>,
    /// Due strictly before this time.
    pub due_before: Option<DateTime>,
    /// Due strictly after this time.
    pub due_after: Option<DateTime>,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "TaskOrderField", remote = "order::OrderField")]
pub enum OrderField {
    CreatedAt,
    UpdatedAt,
    DueAt,
    Title,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "OrderDirection", remote = "order::Direction")]
pub enum Direction {
    Asc,
    Desc,
}

/// The order of a listing, ties broken by id; tasks without a due date come
/// last when ordering by it.
#[derive(InputObject)]
#[graphql(name = "TaskOrder")]
pub struct TaskOrderInput {
    pub field: OrderField,
    #[graphql(default_with = "Direction::Desc")]
    pub direction: Direction,
}

pub struct PageInfo {
    has_next_page: bool,
    has_previous_page: bool,
    start: Option<Position>,
    end: Option<Position>,
    cursors: Arc<PageCursors>,
}

impl PageInfo {
    fn cursor(&self, at: Option<&Position>) -> Result<Option<String>, AppError> {
        at.map(|at| self.cursors.cursor(at)).transpose()
    }
}

// The schema's view of the fields; their values come from `PlainObject`.
#[Object]
impl PageInfo {
    async fn has_next_page(&self) -> bool {
        self.has_next_page
    }

    async fn has_previous_page(&self) -> bool {
        self.has_previous_page
    }

    async fn start_cursor(&self) -> Result<Option<String>> {
        Ok(self.cursor(self.start.as_ref())?)
    }

    async fn end_cursor(&self) -> Result<Option<String>> {
        Ok(self.cursor(self.end.as_ref())?)
    }
}

impl PlainObject for PageInfo {
    fn field(&self, ctx: &Context<'_>) -> ServerResult<Value> {
        let cursor = |at: Option<&Position>| {
            self.cursor(at)
                .map(|cursor| cursor.map_or(Value::Null, Value::String))
                .map_err(|error| server_error(error, Some(ctx.item.pos)))
        };
        match ctx.item.node.name.node.as_str() {
            "hasNextPage" => Ok(Value::Boolean(self.has_next_page)),
            "hasPreviousPage" => Ok(Value::Boolean(self.has_previous_page)),
            "startCursor" => cursor(self.start.as_ref()),
            "endCursor" => cursor(self.end.as_ref()),
            _ => plain::unknown(ctx),
        }
    }
}

pub struct TaskEdge {
    /// Present when the page shows cursors.
    position: Option<Position>,
    node: Task,
    cursors: Arc<PageCursors>,
}

impl TaskEdge {
    fn cursor_text(&self) -> Result<String, AppError> {
        self.cursors.cursor(read(self.position.as_ref())?)
    }
}

// The schema's view of the fields; their values come from `PlainObject`.
#[Object]
impl TaskEdge {
    /// Points at this edge, for `after` and `before`.
    async fn cursor(&self) -> Result<String> {
        Ok(self.cursor_text()?)
    }

    async fn node(&self) -> &Task {
        &self.node
    }
}

impl PlainObject for TaskEdge {
    fn field(&self, ctx: &Context<'_>) -> ServerResult<Value> {
        match ctx.item.node.name.node.as_str() {
            "cursor" => self
                .cursor_text()
                .map(Value::String)
                .map_err(|error| server_error(error, Some(ctx.item.pos))),
            "node" => Ok(plain::object(&self.node, ctx)),
            _ => plain::unknown(ctx),
        }
    }
}

/// A page of the viewer's tasks (Relay cursor connection).
pub struct TaskConnection {
    edges: PlainList<TaskEdge>,
    page_info: Plain<PageInfo>,
    owner: Uuid,
    filter: tasks::TaskFilter,
}

#[Object]
impl TaskConnection {
    async fn edges(&self) -> &PlainList<TaskEdge> {
        &self.edges
    }

    async fn page_info(&self) -> &Plain<PageInfo> {
        &self.page_info
    }

    /// All the viewer's tasks that pass the filter; counted only when asked for.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let tasks = ctx.data_unchecked::<Tasks>();
        let count = tasks.count(self.owner, &self.filter).await?;
        Ok(i64::try_from(count).unwrap_or(i64::MAX))
    }
}

/// How many tasks a page may hold, for the complexity limit.
fn page_cost(first: Option<i32>, last: Option<i32>) -> usize {
    let requested = first
        .or(last)
        .map_or(tasks::DEFAULT_PAGE, |n| u64::try_from(n).unwrap_or(0));
    usize::try_from(requested.min(tasks::MAX_PAGE)).unwrap_or(usize::MAX)
}

fn parse_id(id: &ID) -> Result<Uuid, AppError> {
    Uuid::parse_str(id).map_err(|_| AppError::bad_input("id", "not a valid task id"))
}

impl TaskFilterInput {
    fn parse(self) -> Result<tasks::TaskFilter, AppError> {
        Ok(tasks::TaskFilter {
            completed: self.completed,
            search_pattern: self.search.as_deref().map(search_pattern).transpose()?,
            due_before: self.due_before.map(|due| due.0),
            due_after: self.due_after.map(|due| due.0),
        })
    }
}

impl UpdateTaskInput {
    fn parse(self) -> Result<TaskChanges, AppError> {
        let required =
            |field: &'static str| AppError::bad_input(field, format!("{field} cannot be null"));
        Ok(TaskChanges {
            title: match self.title {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => return Err(required("title")),
                MaybeUndefined::Value(title) => Some(TaskTitle::parse(&title)?),
            },
            description: match self.description {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(text) => Some(Some(Description::parse(&text)?)),
            },
            completed: match self.completed {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => return Err(required("completed")),
                MaybeUndefined::Value(completed) => Some(completed),
            },
            due_at: match self.due_at {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(due) => Some(Some(due.0)),
            },
        })
    }
}

#[derive(Default)]
pub struct TaskQuery;

#[Object]
impl TaskQuery {
    /// One of the viewer's tasks; `null` when there is none with this id.
    async fn task(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Plain<Task>>> {
        let viewer = Viewer::require(ctx).await?;
        let id = parse_id(&id)?;
        let tasks = ctx.data_unchecked::<Tasks>();
        Ok(tasks
            .find(viewer.user.id, id)
            .await?
            .map(|task| Plain(task.into())))
    }

    /// The viewer's tasks, newest first unless `orderBy` says otherwise.
    /// `first` defaults to 20; at most 100 tasks come in one page.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "1 + page_cost(first, last) * child_complexity")]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<TaskFilterInput>,
        order_by: Option<TaskOrderInput>,
    ) -> Result<TaskConnection> {
        let filter = filter.unwrap_or_default().parse()?;
        let order = order_by.map_or_else(TaskOrder::default, |o| TaskOrder {
            field: o.field.into(),
            direction: o.direction.into(),
        });
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let tasks = ctx.data_unchecked::<Tasks>();
        let (owner, page) = Viewer::read(
            ctx,
            async |viewer| {
                Ok((
                    viewer.user_id,
                    tasks.page(viewer, &filter, order, args, shows(ctx)).await?,
                ))
            },
            |(_, page)| page.edges.is_empty(),
        )
        .await?;
        let cursors = Arc::new(page.cursors);
        let page_info = PageInfo {
            has_next_page: page.has_next_page,
            has_previous_page: page.has_previous_page,
            start: page.edges.first().and_then(|edge| edge.position.clone()),
            end: page.edges.last().and_then(|edge| edge.position.clone()),
            cursors: Arc::clone(&cursors),
        };
        let edges = page
            .edges
            .into_iter()
            .map(|edge| TaskEdge {
                position: edge.position,
                node: edge.task.into(),
                cursors: Arc::clone(&cursors),
            })
            .collect();
        Ok(TaskConnection {
            edges: PlainList(edges),
            page_info: Plain(page_info),
            owner,
            filter,
        })
    }
}

#[derive(Default)]
pub struct TaskMutation;

#[Object]
impl TaskMutation {
    async fn create_task(&self, ctx: &Context<'_>, input: CreateTaskInput) -> Result<Plain<Task>> {
        let viewer = Viewer::require(ctx).await?;
        let new = NewTask {
            title: TaskTitle::parse(&input.title)?,
            description: input
                .description
                .as_deref()
                .map(Description::parse)
                .transpose()?,
            due_at: input.due_at.map(|due| due.0),
        };
        let tasks = ctx.data_unchecked::<Tasks>();
        Ok(Plain(tasks.create(viewer.user.id, new).await?.into()))
    }

    /// Changes only the fields given.
    async fn update_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateTaskInput,
    ) -> Result<Plain<Task>> {
        let viewer = Viewer::require(ctx).await?;
        let id = parse_id(&id)?;
        let changes = input.parse()?;
        let tasks = ctx.data_unchecked::<Tasks>();
        Ok(Plain(
            tasks.update(viewer.user.id, id, changes).await?.into(),
        ))
    }

    /// Deletes one of the viewer's tasks and returns its id.
    async fn delete_task(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let viewer = Viewer::require(ctx).await?;
        let id = parse_id(&id)?;
        let tasks = ctx.data_unchecked::<Tasks>();
        tasks.delete(viewer.user.id, id).await?;
        Ok(ID(id.to_string()))
    }
}
