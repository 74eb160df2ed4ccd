//! People as others see them: a display name, never an email, and only
//! for those the viewer may know (who share a list with it, or wrote a task
//! in one of its lists).

use std::collections::HashMap;

use entity::{
    list_member::{self, Entity as Members},
    task::{self, Entity as TaskRows},
    user::{self, Entity as Users},
};
use sea_orm::{
    ColumnTrait, Condition,
    sea_query::{Expr, ExprTrait, Query},
};
use uuid::Uuid;

use super::{Lists, Role, visible};
use crate::{
    db::{self, Columns},
    error::AppResult,
};

/// The name a person goes by: the one they set, else their email's local
/// part (the email itself never leaves the server).
pub fn display_name(stored: Option<String>, email: &str) -> String {
    stored.unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned())
}

/// Someone the viewer may know by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub id: Uuid,
    pub display_name: String,
}

impl Lists {
    /// The people among `ids` the viewer may know: those who share a list
    /// with the viewer, and the authors of tasks and comments in the
    /// viewer's lists.
    pub async fn people(&self, viewer: Uuid, ids: &[Uuid]) -> AppResult<HashMap<Uuid, Person>> {
        let fellow = Query::select()
            .column(list_member::Column::UserId)
            .from(Members)
            .and_where(visible::visible(
                (Members, list_member::Column::ListId),
                viewer,
                Role::Viewer,
            ))
            .to_owned();
        let authors = Query::select()
            .column(task::Column::CreatedBy)
            .from(TaskRows)
            .and_where(db::one_of(
                self.backend(),
                Expr::col((TaskRows, task::Column::CreatedBy)),
                ids,
            ))
            .and_where(visible::tasks(viewer, Role::Viewer))
            .to_owned();
        // A comment's author stays known after leaving the list.
        let commenters = Query::select()
            .column((entity::comment::Entity, entity::comment::Column::AuthorId))
            .from(entity::comment::Entity)
            .inner_join(
                TaskRows,
                Expr::col((TaskRows, task::Column::Id))
                    .equals((entity::comment::Entity, entity::comment::Column::TaskId)),
            )
            .and_where(db::one_of(
                self.backend(),
                Expr::col((entity::comment::Entity, entity::comment::Column::AuthorId)),
                ids,
            ))
            .and_where(visible::tasks(viewer, Role::Viewer))
            .to_owned();
        let select = Query::select()
            .columns([
                user::Column::Id,
                user::Column::DisplayName,
                user::Column::Email,
            ])
            .from(Users)
            .and_where(db::one_of(
                self.backend(),
                Expr::col((Users, user::Column::Id)),
                ids,
            ))
            .cond_where(
                Condition::any()
                    .add(user::Column::Id.in_subquery(fellow))
                    .add(user::Column::Id.in_subquery(authors))
                    .add(user::Column::Id.in_subquery(commenters)),
            )
            .to_owned();
        let people = self
            .reads()
            .all(&select, |row| {
                let id: Uuid = row.get(0)?;
                let email: String = row.get(2)?;
                let person = Person {
                    id,
                    display_name: display_name(row.get(1)?, &email),
                };
                Ok((id, person))
            })
            .await?;
        Ok(people.into_iter().collect())
    }
}
