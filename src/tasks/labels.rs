//! Labels: each belongs to one list, with a name unique in it whatever its
//! case and a colour; the tasks of that list may carry it. Editors make,
//! change and delete them; every statement applies the lists' rule.
//!
//! A task moved to another list keeps the labels that list has a label of
//! the same name for (case-insensitively), as that list's label, and drops
//! the others.

use std::collections::HashMap;

use entity::{
    label::{self, Entity as LabelRows},
    task_label::{self, Entity as TaskLabels},
};
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryTrait,
    sea_query::{Expr, ExprTrait, Order, Query},
};
use uuid::Uuid;

use super::{Shown, TaskRead, Tasks, tree::Siblings};
use crate::{
    db::{self, Columns, reads::Row, write::Write},
    error::{AppError, AppResult},
    events::{Delivery, ListEventKind, TaskEventKind},
    lists::{self, Role, visible},
};

pub const NAME_MAX_CHARS: usize = 50;

/// A label as clients see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub id: Uuid,
    pub list_id: Uuid,
    pub name: String,
    pub color: String,
}

/// A label's name: 1–50 characters after trimming.
#[derive(Clone, Debug)]
pub struct LabelName(String);

impl LabelName {
    pub fn parse(input: &str) -> AppResult<Self> {
        let name = input.trim();
        if name.is_empty() || name.chars().count() > NAME_MAX_CHARS {
            return Err(AppError::bad_input(
                "name",
                format!("a label's name is 1 to {NAME_MAX_CHARS} characters long"),
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// What names are unique by: the name in lower case, in every script.
    fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A colour, `#rrggbb`, kept in lower case.
#[derive(Clone, Debug)]
pub struct LabelColor(String);

impl LabelColor {
    pub fn parse(input: &str) -> AppResult<Self> {
        let hex = input.strip_prefix('#').unwrap_or("");
        if hex.len() != 6 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(AppError::bad_input(
                "color",
                "a colour is #rrggbb, six hexadecimal digits",
            ));
        }
        Ok(Self(format!("#{}", hex.to_ascii_lowercase())))
    }
}

impl From<label::Model> for Label {
    fn from(row: label::Model) -> Self {
        Self {
            id: row.id,
            list_id: row.list_id,
            name: row.name,
            color: row.color,
        }
    }
}

/// A label's columns, in the order [`read_label`] reads them.
const LABEL_COLUMNS: [label::Column; 4] = [
    label::Column::Id,
    label::Column::ListId,
    label::Column::Name,
    label::Column::Color,
];

/// The label whose [`LABEL_COLUMNS`] start at column `at` of `row`.
fn read_label(row: &Row<'_>, at: usize) -> Result<Label, sea_orm::DbErr> {
    Ok(Label {
        id: row.get(at)?,
        list_id: row.get(at + 1)?,
        name: row.get(at + 2)?,
        color: row.get(at + 3)?,
    })
}

impl Tasks {
    /// A new label of list `list`, made by one of its editors.
    pub async fn create_label(
        &self,
        viewer: Uuid,
        list: Uuid,
        name: LabelName,
        color: LabelColor,
    ) -> AppResult<Label> {
        let row = label::Model {
            id: Uuid::now_v7(),
            list_id: list,
            name_key: name.key(),
            name: name.0,
            color: color.0,
            created_at: db::now(),
        };
        let write = self.writer().begin_together().await?;
        Siblings { list, parent: None }.hold(&write).await?;
        if let Err(error) = unique(&write, list, &row.name_key, None).await {
            write.abandon().await?;
            return Err(error);
        }
        let mut insert = LabelRows::insert(label::ActiveModel::from(row.clone())).into_query();
        let values = Query::select()
            .exprs([
                Expr::val(row.id),
                Expr::val(row.list_id),
                Expr::val(row.name.clone()),
                Expr::val(row.name_key.clone()),
                Expr::val(row.color.clone()),
                Expr::val(row.created_at),
            ])
            .and_where(Expr::val(list).in_subquery(visible::lists_of(viewer, Role::Editor)))
            .to_owned();
        insert.select_from(values).map_err(AppError::internal)?;
        if !write.changed(&insert).await? {
            write.abandon().await?;
            return Err(lists::refusal(self.writer().db(), viewer, list).await?);
        }
        let changed = labels_changed(&write, list).await?;
        self.events.commit_write(write, vec![changed]).await?;
        Ok(row.into())
    }

    /// Renames or recolours label `id`; an editor of its list.
    pub async fn update_label(
        &self,
        viewer: Uuid,
        id: Uuid,
        name: Option<LabelName>,
        color: Option<LabelColor>,
    ) -> AppResult<Label> {
        let current = self.label(viewer, id).await?;
        let write = self.writer().begin_together().await?;
        let list = current.list_id;
        Siblings { list, parent: None }.hold(&write).await?;
        let mut update = LabelRows::update_many()
            .filter(label::Column::Id.eq(id))
            .filter(visible::visible(
                (LabelRows, label::Column::ListId),
                viewer,
                Role::Editor,
            ));
        let mut next = current.clone();
        if let Some(name) = name {
            let key = name.key();
            if let Err(error) = unique(&write, list, &key, Some(id)).await {
                write.abandon().await?;
                return Err(error);
            }
            update = update
                .col_expr(label::Column::Name, Expr::val(name.0.clone()))
                .col_expr(label::Column::NameKey, Expr::val(key));
            next.name = name.0;
        }
        if let Some(color) = color {
            update = update.col_expr(label::Column::Color, Expr::val(color.0.clone()));
            next.color = color.0;
        }
        if !write.changed(&update.into_query()).await? {
            write.abandon().await?;
            return Err(lists::refusal(self.writer().db(), viewer, list).await?);
        }
        let changed = labels_changed(&write, list).await?;
        self.events.commit_write(write, vec![changed]).await?;
        Ok(next)
    }

    /// Deletes label `id` (an editor of its list): it comes off its tasks,
    /// each of which reaches subscribers as changed, as the list does.
    pub async fn delete_label(&self, viewer: Uuid, id: Uuid) -> AppResult<()> {
        let current = self.label(viewer, id).await?;
        let write = self.writer().begin_together().await?;
        let audience = super::write::Audience::read(&write, current.list_id, None).await?;
        let mut carriers = Query::select();
        carriers
            .column(task_label::Column::TaskId)
            .from(TaskLabels)
            .and_where(task_label::Column::LabelId.eq(id));
        let mut select = Shown::ALL.select();
        select.and_where(
            Expr::col((entity::task::Entity, entity::task::Column::Id)).in_subquery(carriers),
        );
        let tasks: Vec<TaskRead> = write
            .query_all(write.backend().build(&select))
            .await?
            .iter()
            .map(|row| TaskRead::read(row, Shown::ALL))
            .collect::<Result<_, _>>()?;
        let delete = LabelRows::delete_many()
            .filter(label::Column::Id.eq(id))
            .filter(visible::visible(
                (LabelRows, label::Column::ListId),
                viewer,
                Role::Editor,
            ))
            .into_query();
        if !write.changed(&delete).await? {
            write.abandon().await?;
            return Err(lists::refusal(self.writer().db(), viewer, current.list_id).await?);
        }
        let changed = lists::list_delivery(
            audience.members().to_vec(),
            ListEventKind::Updated,
            current.list_id,
        );
        self.tell_with(
            write,
            TaskEventKind::Updated,
            tasks,
            audience,
            vec![changed],
        )
        .await
    }

    /// Label `id`, if the viewer sees its list.
    async fn label(&self, viewer: Uuid, id: Uuid) -> AppResult<Label> {
        LabelRows::find_by_id(id)
            .filter(visible::visible(
                (LabelRows, label::Column::ListId),
                viewer,
                Role::Viewer,
            ))
            .one(self.writer().db())
            .await?
            .map(Label::from)
            .ok_or(AppError::NotFound)
    }

    /// The labels of each of `lists` the viewer sees, by name.
    pub async fn labels_of_lists(
        &self,
        viewer: Uuid,
        lists: &[Uuid],
    ) -> AppResult<HashMap<Uuid, Vec<Label>>> {
        let select = Query::select()
            .columns(LABEL_COLUMNS.map(|column| (LabelRows, column)))
            .from(LabelRows)
            .and_where(db::one_of(
                self.backend(),
                Expr::col((LabelRows, label::Column::ListId)),
                lists,
            ))
            .and_where(visible::visible(
                (LabelRows, label::Column::ListId),
                viewer,
                Role::Viewer,
            ))
            .order_by((LabelRows, label::Column::NameKey), Order::Asc)
            .order_by((LabelRows, label::Column::Id), Order::Asc)
            .to_owned();
        let labels = self.reads().all(&select, |row| read_label(row, 0)).await?;
        let mut found: HashMap<Uuid, Vec<Label>> = HashMap::new();
        for label in labels {
            found.entry(label.list_id).or_default().push(label);
        }
        Ok(found)
    }

    /// The labels each of `tasks` (that the viewer sees) carries, by name.
    pub async fn labels_of_tasks(
        &self,
        viewer: Uuid,
        tasks: &[Uuid],
    ) -> AppResult<HashMap<Uuid, Vec<Label>>> {
        let select = Query::select()
            .column((TaskLabels, task_label::Column::TaskId))
            .columns(LABEL_COLUMNS.map(|column| (LabelRows, column)))
            .from(TaskLabels)
            .inner_join(
                LabelRows,
                Expr::col((LabelRows, label::Column::Id))
                    .equals((TaskLabels, task_label::Column::LabelId)),
            )
            .and_where(db::one_of(
                self.backend(),
                Expr::col((TaskLabels, task_label::Column::TaskId)),
                tasks,
            ))
            .and_where(visible::visible(
                (LabelRows, label::Column::ListId),
                viewer,
                Role::Viewer,
            ))
            .order_by((LabelRows, label::Column::NameKey), Order::Asc)
            .order_by((LabelRows, label::Column::Id), Order::Asc)
            .to_owned();
        let rows = self
            .reads()
            .all(&select, |row| {
                Ok((row.get::<Uuid>(0)?, read_label(row, 1)?))
            })
            .await?;
        let mut found: HashMap<Uuid, Vec<Label>> = HashMap::new();
        for (task, label) in rows {
            found.entry(task).or_default().push(label);
        }
        Ok(found)
    }
}

/// `BAD_USER_INPUT` on `name` when list `list` has a label named `key`
/// already (but `except`).
async fn unique(write: &Write<'_>, list: Uuid, key: &str, except: Option<Uuid>) -> AppResult<()> {
    let mut select = Query::select();
    select
        .column(label::Column::Id)
        .from(LabelRows)
        .and_where(label::Column::ListId.eq(list))
        .and_where(label::Column::NameKey.eq(key));
    if let Some(except) = except {
        select.and_where(label::Column::Id.ne(except));
    }
    if write
        .query_all(write.backend().build(&select))
        .await?
        .is_empty()
    {
        Ok(())
    } else {
        Err(AppError::bad_input(
            "name",
            "the list has a label of that name",
        ))
    }
}

/// Checks that every label of `labels` is one of list `list`'s:
/// `BAD_USER_INPUT` on `labelIds` otherwise.
pub(super) async fn check(write: &Write<'_>, list: Uuid, labels: &[Uuid]) -> AppResult<()> {
    if labels.is_empty() {
        return Ok(());
    }
    let select = Query::select()
        .column(label::Column::Id)
        .from(LabelRows)
        .and_where(label::Column::ListId.eq(list))
        .and_where(label::Column::Id.is_in(labels.iter().copied()))
        .to_owned();
    let found = write.query_all(write.backend().build(&select)).await?.len();
    let mut asked = labels.to_vec();
    asked.sort_unstable();
    asked.dedup();
    if found == asked.len() {
        Ok(())
    } else {
        Err(AppError::bad_input(
            "labelIds",
            "a label of the task's list only",
        ))
    }
}

/// Puts exactly `labels` on task `task`, within `write`.
pub(super) async fn set(write: &Write<'_>, task: Uuid, labels: &[Uuid]) -> AppResult<()> {
    let clear = TaskLabels::delete_many()
        .filter(task_label::Column::TaskId.eq(task))
        .into_query();
    write.changed(&clear).await?;
    let mut labels = labels.to_vec();
    labels.sort_unstable();
    labels.dedup();
    if labels.is_empty() {
        return Ok(());
    }
    let insert = TaskLabels::insert_many(labels.into_iter().map(|label| task_label::ActiveModel {
        task_id: sea_orm::ActiveValue::Set(task),
        label_id: sea_orm::ActiveValue::Set(label),
    }))
    .into_query();
    write.changed(&insert).await?;
    Ok(())
}

/// For tasks moved to list `list`: each label becomes that list's label of
/// the same name, or comes off.
pub(super) async fn follow(write: &Write<'_>, tasks: &[Uuid], list: Uuid) -> AppResult<()> {
    let old = sea_orm::sea_query::Alias::new("old_label");
    let new = sea_orm::sea_query::Alias::new("new_label");
    let mut same_names = Query::select();
    same_names
        .column((TaskLabels, task_label::Column::TaskId))
        .column((new.clone(), label::Column::Id))
        .from(TaskLabels)
        .join_as(
            sea_orm::JoinType::InnerJoin,
            LabelRows,
            old.clone(),
            Expr::col((old.clone(), label::Column::Id))
                .equals((TaskLabels, task_label::Column::LabelId)),
        )
        .join_as(
            sea_orm::JoinType::InnerJoin,
            LabelRows,
            new.clone(),
            Expr::col((new.clone(), label::Column::ListId))
                .eq(list)
                .and(
                    Expr::col((new.clone(), label::Column::NameKey))
                        .equals((old.clone(), label::Column::NameKey)),
                )
                .and(Expr::col((old, label::Column::ListId)).ne(list)),
        )
        .and_where(
            Expr::col((TaskLabels, task_label::Column::TaskId)).is_in(tasks.iter().copied()),
        );
    let mut insert = Query::insert();
    insert
        .into_table(TaskLabels)
        .columns([task_label::Column::TaskId, task_label::Column::LabelId])
        .select_from(same_names)
        .map_err(AppError::internal)?;
    write.changed(&insert).await?;
    let its_own = Query::select()
        .column(label::Column::Id)
        .from(LabelRows)
        .and_where(label::Column::ListId.eq(list))
        .to_owned();
    let drop = TaskLabels::delete_many()
        .filter(task_label::Column::TaskId.is_in(tasks.iter().copied()))
        .filter(Expr::col(task_label::Column::LabelId).not_in_subquery(its_own))
        .into_query();
    write.changed(&drop).await?;
    Ok(())
}

/// The list's labels changed, for its members (read within `write`): the
/// list reaches subscribers and offline copies as changed.
async fn labels_changed(write: &Write<'_>, list: Uuid) -> AppResult<Delivery> {
    let everyone = lists::audience(write, list).await?;
    Ok(lists::list_delivery(everyone, ListEventKind::Updated, list))
}
