//! Members and their roles: who is in a list, changing a role, removing a
//! member, leaving, handing the list to another member. Removal and leaving
//! take effect in the statement that makes them: the next read leaves the
//! list out, the next change of it is not heard by the person, and their
//! assignments there end.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{
    list_member::{self, Entity as Members},
    task::{self, Entity as TaskRows},
    user::{self, Entity as Users},
};
use sea_orm::{
    ColumnTrait, Condition,
    sea_query::{Expr, ExprTrait, Order, Query},
};
use uuid::Uuid;

use super::{ListEventKind, Lists, Role, audience, list_delivery, list_notice, refused, visible};
use crate::{
    db::{self, Columns, StoredByName, write::Write},
    error::{AppError, AppResult},
    events::{Delivery, Notice, TaskEvent, TaskEventKind},
    tasks::fields::{Shown, TaskRead},
};

use super::people::display_name;

/// A member of a list, as the other members see them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub user: Uuid,
    pub display_name: String,
    pub role: Role,
    pub since: DateTime<Utc>,
}

impl Lists {
    /// The members of each of `lists` that the viewer is in, oldest first.
    pub async fn members(
        &self,
        viewer: Uuid,
        lists: &[Uuid],
    ) -> AppResult<HashMap<Uuid, Vec<Member>>> {
        let select = Query::select()
            .columns([
                (Members, list_member::Column::ListId),
                (Members, list_member::Column::UserId),
                (Members, list_member::Column::Role),
                (Members, list_member::Column::Since),
            ])
            .columns([
                (Users, user::Column::DisplayName),
                (Users, user::Column::Email),
            ])
            .from(Members)
            .inner_join(
                Users,
                Expr::col((Users, user::Column::Id)).equals((Members, list_member::Column::UserId)),
            )
            .and_where(db::one_of(
                self.backend(),
                Expr::col((Members, list_member::Column::ListId)),
                lists,
            ))
            .and_where(visible::visible(
                (Members, list_member::Column::ListId),
                viewer,
                Role::Viewer,
            ))
            .order_by((Members, list_member::Column::Since), Order::Asc)
            .order_by((Members, list_member::Column::UserId), Order::Asc)
            .to_owned();
        let rows = self
            .reads()
            .all(&select, |row| {
                let role: String = row.get(2)?;
                let email: String = row.get(5)?;
                let member = Member {
                    user: row.get(1)?,
                    role: Role::read(&role),
                    since: row.get(3)?,
                    display_name: display_name(row.get(4)?, &email),
                };
                Ok((row.get::<Uuid>(0)?, member))
            })
            .await?;
        let mut members: HashMap<Uuid, Vec<Member>> = HashMap::new();
        for (list, member) in rows {
            members.entry(list).or_default().push(member);
        }
        Ok(members)
    }

    /// Gives a member other than the owner another role.
    #[tracing::instrument(skip_all, fields(viewer = %viewer, list = %list))]
    pub async fn change_role(
        &self,
        viewer: Uuid,
        list: Uuid,
        person: Uuid,
        role: Role,
    ) -> AppResult<Member> {
        if role == Role::Owner {
            return Err(AppError::bad_input(
                "role",
                "the owner changes by transferListOwnership",
            ));
        }
        self.require_owner(viewer, list).await?;
        let write = self.writer.begin_together().await?;
        let update = Query::update()
            .table(Members)
            .value(list_member::Column::Role, role.stored_name())
            .cond_where(others_membership(list, person, viewer))
            .to_owned();
        if !write.changed(&update).await? {
            write.abandon().await?;
            return Err(self.not_a_member(viewer, list).await?);
        }
        let everyone = audience(&write, list).await?;
        self.events
            .commit_write(
                write,
                vec![list_delivery(everyone, ListEventKind::Updated, list)],
            )
            .await?;
        tracing::info!(member = %person, role = role.stored_name(), "member's role changed");
        self.member(viewer, list, person).await
    }

    /// Removes a member other than the owner.
    #[tracing::instrument(skip_all, fields(viewer = %viewer, list = %list))]
    pub async fn remove_member(&self, viewer: Uuid, list: Uuid, person: Uuid) -> AppResult<()> {
        self.require_owner(viewer, list).await?;
        if person == viewer {
            return Err(AppError::bad_input(
                "personId",
                "the owner cannot be removed",
            ));
        }
        let write = self.writer.begin_together().await?;
        let delete = Query::delete()
            .from_table(Members)
            .cond_where(others_membership(list, person, viewer))
            .to_owned();
        if !write.changed(&delete).await? {
            write.abandon().await?;
            return Err(self.not_a_member(viewer, list).await?);
        }
        self.part(write, list, person).await?;
        tracing::info!(member = %person, "member removed");
        Ok(())
    }

    /// The viewer leaves a list it does not own.
    #[tracing::instrument(skip_all, fields(viewer = %viewer, list = %list))]
    pub async fn leave(&self, viewer: Uuid, list: Uuid) -> AppResult<()> {
        let write = self.writer.begin_together().await?;
        let delete = Query::delete()
            .from_table(Members)
            .and_where(list_member::Column::ListId.eq(list))
            .and_where(list_member::Column::UserId.eq(viewer))
            .and_where(list_member::Column::Role.ne(Role::Owner.stored_name()))
            .to_owned();
        if !write.changed(&delete).await? {
            write.abandon().await?;
            return Err(match super::role_in(self.db(), viewer, list).await? {
                Some(_) => {
                    AppError::bad_input("id", "the owner cannot leave; transfer the list first")
                }
                None => AppError::NotFound,
            });
        }
        self.part(write, list, viewer).await?;
        tracing::info!("left the list");
        Ok(())
    }

    /// Makes another member the owner; the viewer stays as an editor.
    #[tracing::instrument(skip_all, fields(viewer = %viewer, list = %list))]
    pub async fn transfer(&self, viewer: Uuid, list: Uuid, person: Uuid) -> AppResult<()> {
        self.require_owner(viewer, list).await?;
        if person == viewer {
            return Err(AppError::bad_input("personId", "the list is already yours"));
        }
        let write = self.writer.begin_together().await?;
        let backend = write.backend();
        let promote = Query::update()
            .table(Members)
            .value(list_member::Column::Role, Role::Owner.stored_name())
            .and_where(list_member::Column::ListId.eq(list))
            .and_where(list_member::Column::UserId.eq(person))
            .and_where(visible::visible(
                (Members, list_member::Column::ListId),
                viewer,
                Role::Owner,
            ))
            .to_owned();
        if !write.changed(&promote).await? {
            write.abandon().await?;
            return Err(self.not_a_member(viewer, list).await?);
        }
        let step_down = Query::update()
            .table(Members)
            .value(list_member::Column::Role, Role::Editor.stored_name())
            .and_where(list_member::Column::ListId.eq(list))
            .and_where(list_member::Column::UserId.eq(viewer))
            .to_owned();
        write.execute(backend.build(&step_down)).await?;
        let everyone = audience(&write, list).await?;
        self.events
            .commit_write(
                write,
                vec![list_delivery(everyone, ListEventKind::Updated, list)],
            )
            .await?;
        tracing::info!(owner = %person, "list handed to another member");
        Ok(())
    }

    /// After `person` is out of `list` within `write`: their assignments
    /// there end, and everyone hears of it; then `write` commits.
    async fn part(&self, write: Write<'_>, list: Uuid, person: Uuid) -> AppResult<()> {
        // Members before tasks, as every write takes them.
        let everyone = audience(&write, list).await?;
        let unassigned = unassign(&write, list, person).await?;
        let mut deliveries = vec![
            Delivery::to(person, list_notice(ListEventKind::Left, list)),
            list_delivery(everyone.clone(), ListEventKind::Updated, list),
        ];
        deliveries.extend(unassigned.into_iter().map(|task| Delivery {
            users: everyone.clone(),
            notice: Notice::Task(Box::new(TaskEvent {
                kind: TaskEventKind::Updated,
                task_id: task.id,
                list_id: list,
                task: Some(task),
                seq: 0,
            })),
        }));
        self.events.commit_write(write, deliveries).await
    }

    /// `NOT_FOUND` or `FORBIDDEN` unless the viewer owns `list`, before a
    /// change whose statement checks it again.
    async fn require_owner(&self, viewer: Uuid, list: Uuid) -> AppResult<()> {
        match super::role_in(self.db(), viewer, list).await? {
            Some(Role::Owner) => Ok(()),
            role => Err(refused(role)),
        }
    }

    /// Why an owner's change of a member changed nothing: the person is
    /// not a member (or is the owner), or the viewer no longer owns it.
    async fn not_a_member(&self, viewer: Uuid, list: Uuid) -> AppResult<AppError> {
        Ok(match super::role_in(self.db(), viewer, list).await? {
            Some(Role::Owner) => {
                AppError::bad_input("personId", "not a member of this list, or its owner")
            }
            role => refused(role),
        })
    }

    async fn member(&self, viewer: Uuid, list: Uuid, person: Uuid) -> AppResult<Member> {
        self.members(viewer, &[list])
            .await?
            .remove(&list)
            .and_then(|members| members.into_iter().find(|member| member.user == person))
            .ok_or(AppError::NotFound)
    }
}

/// The membership of `person` in `list`, unless it is the owner's, while
/// `viewer` owns the list: what an owner's change of a member touches.
fn others_membership(list: Uuid, person: Uuid, viewer: Uuid) -> Condition {
    Condition::all()
        .add(list_member::Column::ListId.eq(list))
        .add(list_member::Column::UserId.eq(person))
        .add(list_member::Column::Role.ne(Role::Owner.stored_name()))
        .add(visible::visible(
            (Members, list_member::Column::ListId),
            viewer,
            Role::Owner,
        ))
}

/// Unassigns `person`'s tasks in `list` within `write`; returns them as
/// they are now.
pub(super) async fn unassign(
    write: &Write<'_>,
    list: Uuid,
    person: Uuid,
) -> AppResult<Vec<TaskRead>> {
    let backend = write.backend();
    let mut select = Shown::ALL.select();
    select
        .and_where(task::Column::ListId.eq(list))
        .and_where(task::Column::AssigneeId.eq(person));
    let tasks: Vec<TaskRead> = write
        .query_all(backend.build(&select))
        .await?
        .iter()
        .map(|row| TaskRead::read(row, Shown::ALL))
        .collect::<Result<_, _>>()?;
    if tasks.is_empty() {
        return Ok(tasks);
    }
    let now = db::now();
    let update = Query::update()
        .table(TaskRows)
        .value(task::Column::AssigneeId, Option::<Uuid>::None)
        .value(task::Column::UpdatedAt, now)
        .value(
            task::Column::Version,
            Expr::col(task::Column::Version).add(1),
        )
        .and_where(task::Column::ListId.eq(list))
        .and_where(task::Column::AssigneeId.eq(person))
        .to_owned();
    write.execute(backend.build(&update)).await?;
    Ok(tasks
        .into_iter()
        .map(|task| TaskRead {
            assignee_id: Some(None),
            updated_at: Some(now),
            version: task.version.map(|version| version + 1),
            ..task
        })
        .collect())
}
