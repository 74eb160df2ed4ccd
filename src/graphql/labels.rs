//! Labels in GraphQL: the `Label` object (a list's `labels`, a task's
//! `labels`, both loaded with every other of the request's) and the label
//! mutations, over `crate::tasks::labels`.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};

use super::{task::parse_id, viewer::Viewer};
use crate::{
    error::AppError,
    tasks::{
        Tasks,
        labels::{self, LabelColor, LabelName},
    },
};

/// A label of a list, which its tasks may carry.
#[derive(SimpleObject)]
pub struct Label {
    pub id: ID,
    pub name: String,
    /// `#rrggbb`, lower case.
    pub color: String,
}

impl From<labels::Label> for Label {
    fn from(label: labels::Label) -> Self {
        Self {
            id: ID(label.id.to_string()),
            name: label.name,
            color: label.color,
        }
    }
}

impl super::plain::PlainObject for Label {
    fn field(&self, ctx: &Context<'_>) -> async_graphql::ServerResult<async_graphql::Value> {
        let text = |text: &str| Ok(async_graphql::Value::String(text.to_owned()));
        match ctx.item.node.name.node.as_str() {
            "id" => text(&self.id),
            "name" => text(&self.name),
            "color" => text(&self.color),
            _ => super::plain::unknown(ctx),
        }
    }
}

#[derive(InputObject)]
pub struct CreateLabelInput {
    pub list_id: ID,
    /// 1–50 characters after trimming; unique in the list whatever its case.
    pub name: String,
    /// `#rrggbb`, any case.
    pub color: String,
}

/// Only what is given changes.
#[derive(InputObject)]
pub struct UpdateLabelInput {
    #[graphql(default)]
    pub name: MaybeUndefined<String>,
    #[graphql(default)]
    pub color: MaybeUndefined<String>,
}

#[derive(Default)]
pub struct LabelMutation;

#[Object]
impl LabelMutation {
    /// An editor of the list makes a label of it.
    async fn create_label(&self, ctx: &Context<'_>, input: CreateLabelInput) -> Result<Label> {
        let viewer = Viewer::require(ctx).await?;
        let list = parse_id(&input.list_id, "listId")?;
        let name = LabelName::parse(&input.name)?;
        let color = LabelColor::parse(&input.color)?;
        let tasks = ctx.data_unchecked::<Tasks>();
        Ok(tasks
            .create_label(viewer.user.id, list, name, color)
            .await?
            .into())
    }

    /// An editor of its list renames or recolours a label.
    async fn update_label(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateLabelInput,
    ) -> Result<Label> {
        let viewer = Viewer::require(ctx).await?;
        let id = parse_id(&id, "id")?;
        let required =
            |field: &'static str| AppError::bad_input(field, format!("{field} cannot be null"));
        let name = match input.name {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => return Err(required("name").into()),
            MaybeUndefined::Value(name) => Some(LabelName::parse(&name)?),
        };
        let color = match input.color {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => return Err(required("color").into()),
            MaybeUndefined::Value(color) => Some(LabelColor::parse(&color)?),
        };
        let tasks = ctx.data_unchecked::<Tasks>();
        Ok(tasks
            .update_label(viewer.user.id, id, name, color)
            .await?
            .into())
    }

    /// An editor of its list deletes a label; it comes off its tasks.
    async fn delete_label(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let viewer = Viewer::require(ctx).await?;
        let parsed = parse_id(&id, "id")?;
        let tasks = ctx.data_unchecked::<Tasks>();
        tasks.delete_label(viewer.user.id, parsed).await?;
        Ok(id)
    }
}
