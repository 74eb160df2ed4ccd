//! Comments in GraphQL: the `Comment` object, a task's `comments`
//! connection and `commentCount` (each loaded with every other task's of
//! the request), and the comment mutations, over `crate::tasks::comments`.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use super::{
    lists::Person, loaders, page_info::PageInfo, scalars::DateTime, task::parse_id, viewer::Viewer,
};
use crate::tasks::{
    Tasks,
    comments::{self, CommentBody, CommentPage},
};

/// A comment on a task, by a member of its list.
pub struct Comment(pub comments::Comment);

#[Object]
impl Comment {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// 1–10,000 characters, as written.
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// `null` once the author's account is gone.
    async fn author(&self, ctx: &Context<'_>) -> Result<Option<Person>> {
        match self.0.author_id {
            Some(author) => Ok(loaders::person(ctx, author).await?),
            None => Ok(None),
        }
    }

    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }

    /// When its author last changed it.
    async fn edited_at(&self) -> Option<DateTime> {
        self.0.edited_at.map(DateTime)
    }
}

#[derive(SimpleObject)]
pub struct CommentEdge {
    /// Points at this edge, for `after`.
    pub cursor: String,
    pub node: Comment,
}

/// A page of a task's comments, oldest first (Relay cursor connection).
#[derive(SimpleObject)]
pub struct CommentConnection {
    pub edges: Vec<CommentEdge>,
    pub page_info: PageInfo,
}

impl From<CommentPage> for CommentConnection {
    fn from(page: CommentPage) -> Self {
        let (edges, page_info) = PageInfo::of_child_page(page, |item, cursor| CommentEdge {
            cursor,
            node: Comment(item),
        });
        Self { edges, page_info }
    }
}

#[derive(InputObject)]
pub struct AddCommentInput {
    pub task_id: ID,
    /// 1–10,000 characters.
    pub body: String,
}

#[derive(Default)]
pub struct CommentMutation;

#[Object]
impl CommentMutation {
    /// A member of the task's list, of any role, comments on it.
    async fn add_comment(&self, ctx: &Context<'_>, input: AddCommentInput) -> Result<Comment> {
        let viewer = Viewer::require(ctx).await?;
        let task = parse_id(&input.task_id, "taskId")?;
        let body = CommentBody::parse(&input.body)?;
        let tasks = ctx.data_unchecked::<Tasks>();
        Ok(Comment(
            tasks.add_comment(viewer.user.id, task, body).await?,
        ))
    }

    /// Its author changes a comment.
    async fn edit_comment(&self, ctx: &Context<'_>, id: ID, body: String) -> Result<Comment> {
        let viewer = Viewer::require(ctx).await?;
        let id = parse_id(&id, "id")?;
        let body = CommentBody::parse(&body)?;
        let tasks = ctx.data_unchecked::<Tasks>();
        Ok(Comment(tasks.edit_comment(viewer.user.id, id, body).await?))
    }

    /// Its author, or the owner of the task's list, deletes a comment.
    async fn delete_comment(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let viewer = Viewer::require(ctx).await?;
        let parsed = parse_id(&id, "id")?;
        let tasks = ctx.data_unchecked::<Tasks>();
        tasks.delete_comment(viewer.user.id, parsed).await?;
        Ok(id)
    }
}
