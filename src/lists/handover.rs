//! What becomes of an account's lists when the account goes: each list it
//! owns with other members passes to its longest-standing editor (else its
//! longest-standing member); lists it owns alone go with their tasks. Its
//! memberships and invitations go with the account (foreign keys), and its
//! assignments end here, so that the people who stay hear of each change.

use entity::{
    list_member::{self, Entity as Members},
    task_list::{self, Entity as TaskLists},
};
use sea_orm::{
    ColumnTrait,
    sea_query::{Expr, ExprTrait, Order, Query},
};
use uuid::Uuid;

use super::{ListEventKind, Role, audience, list_delivery, members::unassign};
use crate::{
    db::{StoredByName, write::Write},
    error::AppResult,
    events::{Delivery, Notice, TaskEvent, TaskEventKind},
};

/// Hands on or deletes `user`'s lists within `write`, the write that
/// deletes the account; returns what the people who stay are to hear.
pub async fn hand_over(write: &Write<'_>, user: Uuid) -> AppResult<Vec<Delivery>> {
    let backend = write.backend();
    let memberships = Query::select()
        .columns([list_member::Column::ListId, list_member::Column::Role])
        .from(Members)
        .and_where(list_member::Column::UserId.eq(user))
        .to_owned();
    let mut deliveries = Vec::new();
    for row in write.query_all(backend.build(&memberships)).await? {
        let list: Uuid = row.try_get_by_index(0)?;
        let role: String = row.try_get_by_index(1)?;
        if Role::read(&role) == Role::Owner && !pass_on(write, list, user).await? {
            let delete = Query::delete()
                .from_table(TaskLists)
                .and_where(task_list::Column::Id.eq(list))
                .to_owned();
            write.execute(backend.build(&delete)).await?;
            continue;
        }
        // Members before tasks, as every write takes them.
        let others: Vec<Uuid> = audience(write, list)
            .await?
            .into_iter()
            .filter(|member| *member != user)
            .collect();
        let unassigned = unassign(write, list, user).await?;
        deliveries.extend(unassigned.into_iter().map(|task| Delivery {
            users: others.clone(),
            notice: Notice::Task(Box::new(TaskEvent {
                kind: TaskEventKind::Updated,
                task_id: task.id,
                list_id: list,
                task: Some(task),
                seq: 0,
            })),
        }));
        deliveries.push(list_delivery(others, ListEventKind::Updated, list));
    }
    Ok(deliveries)
}

/// Makes the longest-standing editor of `list` (else its longest-standing
/// member) other than `owner` its owner; `false` when there is nobody.
async fn pass_on(write: &Write<'_>, list: Uuid, owner: Uuid) -> AppResult<bool> {
    let backend = write.backend();
    let editor_first = Expr::col(list_member::Column::Role).eq(Role::Editor.stored_name());
    let successor = Query::select()
        .column(list_member::Column::UserId)
        .from(Members)
        .and_where(list_member::Column::ListId.eq(list))
        .and_where(list_member::Column::UserId.ne(owner))
        .order_by_expr(editor_first, Order::Desc)
        .order_by(list_member::Column::Since, Order::Asc)
        .order_by(list_member::Column::UserId, Order::Asc)
        .limit(1)
        .to_owned();
    let Some(row) = write.query_all(backend.build(&successor)).await?.pop() else {
        return Ok(false);
    };
    let successor: Uuid = row.try_get_by_index(0)?;
    let promote = Query::update()
        .table(Members)
        .value(list_member::Column::Role, Role::Owner.stored_name())
        .and_where(list_member::Column::ListId.eq(list))
        .and_where(list_member::Column::UserId.eq(successor))
        .to_owned();
    write.execute(backend.build(&promote)).await?;
    tracing::info!(list = %list, owner = %successor, "list handed on with its owner's account");
    Ok(true)
}
