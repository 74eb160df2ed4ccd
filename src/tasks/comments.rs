//! Comments on tasks: any member of the task's list may comment, the author
//! edits, the author or the list's owner deletes. A comment reaches the
//! list's subscribers as an `UPDATED` of its task (its `commentCount`
//! changed). A member who leaves keeps their comments, and their name on
//! them. Every statement applies the lists' rule through the comment's task.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{
    comment::{self, Entity as CommentRows},
    task::{self, Entity as TaskRows},
};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryTrait,
    sea_query::{Expr, ExprTrait, IntoIden, Query},
};
use uuid::Uuid;

use super::{
    TaskRead, Tasks,
    child_pages::{Child, ChildPage, Children},
    write::Audience,
};
use crate::{
    db::{self, Columns},
    error::{AppError, AppResult},
    events::TaskEventKind,
    lists::{self, Role, visible},
};

pub const BODY_MAX_CHARS: usize = 10_000;

/// A comment as clients see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    pub id: Uuid,
    pub task_id: Uuid,
    pub author_id: Option<Uuid>,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
}

impl From<comment::Model> for Comment {
    fn from(row: comment::Model) -> Self {
        Self {
            id: row.id,
            task_id: row.task_id,
            author_id: row.author_id,
            body: row.body,
            created_at: row.created_at,
            edited_at: row.edited_at,
        }
    }
}

/// A comment's text: 1–10,000 characters, not only blanks; kept as
/// written.
#[derive(Clone, Debug)]
pub struct CommentBody(String);

impl CommentBody {
    pub fn parse(input: &str) -> AppResult<Self> {
        if input.trim().is_empty() || input.chars().count() > BODY_MAX_CHARS {
            return Err(AppError::bad_input(
                "body",
                format!("a comment is 1 to {BODY_MAX_CHARS} characters long"),
            ));
        }
        Ok(Self(input.to_owned()))
    }
}

/// A page of one task's comments, oldest first.
pub type CommentPage = ChildPage<Comment>;

/// The comments whose task the viewer sees.
fn seen(viewer: Uuid) -> Expr {
    Expr::col((CommentRows, comment::Column::TaskId))
        .in_subquery(visible::task_ids(viewer, Role::Viewer))
}

impl Tasks {
    /// A member (of any role) comments on task `task`.
    pub async fn add_comment(
        &self,
        viewer: Uuid,
        task: Uuid,
        body: CommentBody,
    ) -> AppResult<Comment> {
        let current = self.find(viewer, task).await?.ok_or(AppError::NotFound)?;
        let row = comment::Model {
            id: Uuid::now_v7(),
            task_id: task,
            author_id: Some(viewer),
            body: body.0,
            created_at: db::now(),
            edited_at: None,
        };
        let mut insert = CommentRows::insert(comment::ActiveModel::from(row.clone())).into_query();
        let visible_task = Query::select()
            .column(task::Column::Id)
            .from(TaskRows)
            .and_where(task::Column::Id.eq(task))
            .and_where(visible::tasks(viewer, Role::Viewer))
            .to_owned();
        let values = Query::select()
            .exprs([
                Expr::val(row.id),
                Expr::val(row.task_id),
                Expr::val(row.author_id),
                Expr::val(row.body.clone()),
                Expr::val(row.created_at),
                Expr::val(row.edited_at),
            ])
            .and_where(Expr::val(task).in_subquery(visible_task))
            .to_owned();
        insert.select_from(values).map_err(AppError::internal)?;
        let write = self.writer().begin().await?;
        let audience = Audience::read(&write, current.list_id, None).await?;
        if !write.changed(&insert).await? {
            write.abandon().await?;
            return Err(AppError::NotFound);
        }
        self.tell(write, TaskEventKind::Updated, vec![current], audience)
            .await?;
        Ok(row.into())
    }

    /// The author edits comment `id`.
    pub async fn edit_comment(
        &self,
        viewer: Uuid,
        id: Uuid,
        body: CommentBody,
    ) -> AppResult<Comment> {
        let (current, task) = self.comment(viewer, id).await?;
        if current.author_id != Some(viewer) {
            return Err(AppError::Forbidden);
        }
        let now = db::now();
        let update = CommentRows::update_many()
            .col_expr(comment::Column::Body, Expr::val(body.0.clone()))
            .col_expr(comment::Column::EditedAt, Expr::val(now))
            .filter(comment::Column::Id.eq(id))
            .filter(comment::Column::AuthorId.eq(viewer))
            .filter(seen(viewer))
            .into_query();
        let write = self.writer().begin().await?;
        let audience = Audience::read(&write, task.list_id, None).await?;
        if !write.changed(&update).await? {
            write.abandon().await?;
            return Err(AppError::NotFound);
        }
        self.tell(write, TaskEventKind::Updated, vec![task], audience)
            .await?;
        Ok(Comment {
            body: body.0,
            edited_at: Some(now),
            ..current
        })
    }

    /// The author, or the owner of the task's list, deletes comment `id`.
    pub async fn delete_comment(&self, viewer: Uuid, id: Uuid) -> AppResult<()> {
        let (_, task) = self.comment(viewer, id).await?;
        let owned_tasks = visible::task_ids(viewer, Role::Owner);
        let delete = CommentRows::delete_many()
            .filter(comment::Column::Id.eq(id))
            .filter(seen(viewer))
            .filter(
                Condition::any()
                    .add(comment::Column::AuthorId.eq(viewer))
                    .add(
                        Expr::col((CommentRows, comment::Column::TaskId)).in_subquery(owned_tasks),
                    ),
            )
            .into_query();
        let write = self.writer().begin().await?;
        let audience = Audience::read(&write, task.list_id, None).await?;
        if !write.changed(&delete).await? {
            write.abandon().await?;
            return Err(lists::refused(
                lists::role_in(self.writer().db(), viewer, task.list_id).await?,
            ));
        }
        self.tell(write, TaskEventKind::Updated, vec![task], audience)
            .await
    }

    /// Comment `id` and its task, if the viewer sees the task.
    async fn comment(&self, viewer: Uuid, id: Uuid) -> AppResult<(Comment, TaskRead)> {
        let comment: Comment = CommentRows::find_by_id(id)
            .filter(seen(viewer))
            .one(self.writer().db())
            .await?
            .ok_or(AppError::NotFound)?
            .into();
        let task = self
            .find(viewer, comment.task_id)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok((comment, task))
    }

    /// How many comments each of `tasks` (that the viewer sees) has.
    pub async fn comment_counts(
        &self,
        viewer: Uuid,
        tasks: &[Uuid],
    ) -> AppResult<HashMap<Uuid, u64>> {
        let select = Query::select()
            .column(comment::Column::TaskId)
            .expr(Expr::col(comment::Column::Id).count())
            .from(CommentRows)
            .and_where(db::one_of(
                self.backend(),
                Expr::col((CommentRows, comment::Column::TaskId)),
                tasks,
            ))
            .and_where(seen(viewer))
            .group_by_col(comment::Column::TaskId)
            .to_owned();
        let rows = self
            .reads()
            .all(&select, |row| Ok((row.get::<Uuid>(0)?, row.get::<i64>(1)?)))
            .await?;
        let mut counts: HashMap<Uuid, u64> = tasks.iter().map(|task| (*task, 0)).collect();
        for (task, count) in rows {
            counts.insert(task, u64::try_from(count).unwrap_or(0));
        }
        Ok(counts)
    }

    /// The page of comments `first`/`after` asks for of each of `tasks`
    /// that the viewer sees, oldest first, in one statement.
    pub async fn comment_pages(
        &self,
        viewer: Uuid,
        tasks: &[Uuid],
        first: Option<i32>,
        after: Option<&str>,
    ) -> AppResult<HashMap<Uuid, CommentPage>> {
        use comment::Column;
        let children = Children {
            table: CommentRows.into_iden(),
            task: Column::TaskId.into_iden(),
            time: Column::CreatedAt.into_iden(),
            id: Column::Id.into_iden(),
            columns: [
                Column::Id,
                Column::TaskId,
                Column::AuthorId,
                Column::Body,
                Column::CreatedAt,
                Column::EditedAt,
            ]
            .map(IntoIden::into_iden)
            .into(),
            newest_first: false,
            seen: Condition::all().add(seen(viewer)),
        };
        self.child_pages(viewer, children, tasks, first, after, |row| {
            let comment = Comment {
                id: row.try_get_by_index(0)?,
                task_id: row.try_get_by_index(1)?,
                author_id: row.try_get_by_index(2)?,
                body: row.try_get_by_index(3)?,
                created_at: row.try_get_by_index(4)?,
                edited_at: row.try_get_by_index(5)?,
            };
            Ok(Child {
                task: comment.task_id,
                time: comment.created_at,
                id: comment.id,
                item: comment,
            })
        })
        .await
    }
}
