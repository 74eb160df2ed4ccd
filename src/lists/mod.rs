//! The lists service: lists, their members and roles, invitations, and the
//! one rule for who sees what ([`visible`]), which the tasks service and
//! every loader apply too.
//!
//! Every read here filters by the viewer's memberships in SQL, so a list
//! the viewer is not in is indistinguishable from one that does not exist.
//! A write that the rule refuses is explained after the fact by
//! [`refusal`]: `FORBIDDEN` to a member whose role does not allow it,
//! `NOT_FOUND` to anyone else.

mod handover;
mod invitation_mail;
mod invitations;
mod members;
mod people;
mod role;
pub mod visible;

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use entity::{
    list_member::{self, Entity as Members},
    task_list::{self, Entity as TaskLists},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryTrait,
    sea_query::{Expr, LockType, Order, Query, SelectStatement},
};
use uuid::Uuid;

pub use handover::hand_over;
pub use invitations::{Invitation, InvitationKey, InvitationSettings};
pub use members::Member;
pub use people::{Person, display_name};
pub use role::Role;

use crate::{
    db::{
        self, Columns, StoredByName,
        reads::Reads,
        write::{Write, Writer},
    },
    error::{AppError, AppResult},
    events::{Delivery, Events, ListEvent, ListEventKind, Notice},
    mail::outbox::Outbox,
};

/// The name of an account's own list.
pub const INBOX_NAME: &str = "Inbox";
/// How long a list's name may be, in characters after trimming.
const NAME_MAX_CHARS: usize = 100;

/// A list as one of its members sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListRead {
    pub id: Uuid,
    pub name: String,
    pub inbox: bool,
    /// The viewer's role.
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A list name: 1 to 100 characters after trimming.
pub struct ListName(String);

impl ListName {
    pub fn parse(name: &str, field: &'static str) -> AppResult<Self> {
        let name = name.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > NAME_MAX_CHARS {
            return Err(AppError::bad_input(
                field,
                format!("a list's name is 1 to {NAME_MAX_CHARS} characters"),
            ));
        }
        Ok(Self(name.to_owned()))
    }
}

/// Everything list operations need; cheap to clone.
#[derive(Clone)]
pub struct Lists {
    writer: Writer,
    reads: Reads,
    events: Events,
    outbox: Outbox,
    settings: InvitationSettings,
}

impl Lists {
    pub fn new(
        writer: Writer,
        reads: Reads,
        events: Events,
        outbox: Outbox,
        settings: InvitationSettings,
    ) -> Self {
        Self {
            writer,
            reads,
            events,
            outbox,
            settings,
        }
    }

    fn db(&self) -> &DatabaseConnection {
        self.writer.db()
    }

    /// Short reads of the database.
    fn reads(&self) -> &Reads {
        &self.reads
    }

    /// The database's kind, which a few statements are written for.
    fn backend(&self) -> sea_orm::DbBackend {
        self.db().get_database_backend()
    }

    /// The viewer's lists: the inbox first, then by name.
    pub async fn all(&self, viewer: Uuid) -> AppResult<Vec<ListRead>> {
        let mut select = select_lists(viewer);
        select
            .order_by((TaskLists, task_list::Column::Inbox), Order::Desc)
            .order_by((TaskLists, task_list::Column::Name), Order::Asc)
            .order_by((TaskLists, task_list::Column::Id), Order::Asc);
        self.reads.all(&select, |row| read_list(row)).await
    }

    /// The viewer's lists among `ids`.
    pub async fn find_many(
        &self,
        viewer: Uuid,
        ids: &[Uuid],
    ) -> AppResult<HashMap<Uuid, ListRead>> {
        let mut select = select_lists(viewer);
        select.and_where(db::one_of(
            self.backend(),
            Expr::col((TaskLists, task_list::Column::Id)),
            ids,
        ));
        let lists = self.reads.all(&select, |row| read_list(row)).await?;
        Ok(lists.into_iter().map(|list| (list.id, list)).collect())
    }

    /// The viewer's list `id`, if the viewer is in it.
    pub async fn find(&self, viewer: Uuid, id: Uuid) -> AppResult<Option<ListRead>> {
        Ok(self.find_many(viewer, &[id]).await?.remove(&id))
    }

    #[tracing::instrument(skip_all, fields(viewer = %viewer))]
    pub async fn create(&self, viewer: Uuid, name: ListName) -> AppResult<ListRead> {
        let now = db::now();
        let list = task_list::Model {
            id: Uuid::now_v7(),
            name: name.0,
            inbox: false,
            created_at: now,
            updated_at: now,
            seq: 0,
        };
        let write = self.writer.begin_together().await?;
        let backend = write.backend();
        write
            .execute(
                backend.build(
                    &TaskLists::insert(task_list::ActiveModel::from(list.clone())).into_query(),
                ),
            )
            .await?;
        write
            .execute(backend.build(&insert_member(list.id, viewer, Role::Owner, now)))
            .await?;
        let joined = list_notice(ListEventKind::Joined, list.id);
        self.events
            .commit_write(write, vec![Delivery::to(viewer, joined)])
            .await?;
        tracing::info!(list = %list.id, "list created");
        Ok(ListRead {
            id: list.id,
            name: list.name,
            inbox: false,
            role: Role::Owner,
            created_at: now,
            updated_at: now,
        })
    }

    #[tracing::instrument(skip_all, fields(viewer = %viewer, list = %id))]
    pub async fn rename(&self, viewer: Uuid, id: Uuid, name: ListName) -> AppResult<ListRead> {
        let write = self.writer.begin_together().await?;
        let update = Query::update()
            .table(TaskLists)
            .value(task_list::Column::Name, name.0)
            .value(task_list::Column::UpdatedAt, db::now())
            .and_where(task_list::Column::Id.eq(id))
            .and_where(visible::visible(
                (TaskLists, task_list::Column::Id),
                viewer,
                Role::Owner,
            ))
            .to_owned();
        if !write.changed(&update).await? {
            write.abandon().await?;
            return Err(refusal(self.db(), viewer, id).await?);
        }
        let everyone = audience(&write, id).await?;
        self.events
            .commit_write(
                write,
                vec![list_delivery(everyone, ListEventKind::Updated, id)],
            )
            .await?;
        self.find(viewer, id).await?.ok_or(AppError::NotFound)
    }

    /// Deletes a list with its tasks; never an inbox.
    #[tracing::instrument(skip_all, fields(viewer = %viewer, list = %id))]
    pub async fn delete(&self, viewer: Uuid, id: Uuid) -> AppResult<()> {
        let list = self.find(viewer, id).await?.ok_or(AppError::NotFound)?;
        if list.inbox {
            return Err(AppError::bad_input("id", "an inbox cannot be deleted"));
        }
        let write = self.writer.begin_together().await?;
        let everyone = audience(&write, id).await?;
        let delete = Query::delete()
            .from_table(TaskLists)
            .and_where(task_list::Column::Id.eq(id))
            .and_where(task_list::Column::Inbox.eq(false))
            .and_where(visible::visible(
                (TaskLists, task_list::Column::Id),
                viewer,
                Role::Owner,
            ))
            .to_owned();
        if !write.changed(&delete).await? {
            write.abandon().await?;
            return Err(refusal(self.db(), viewer, id).await?);
        }
        self.events
            .commit_write(
                write,
                vec![list_delivery(everyone, ListEventKind::Deleted, id)],
            )
            .await?;
        tracing::info!("list deleted");
        Ok(())
    }
}

/// The viewer's lists with the viewer's role, to be narrowed and ordered.
pub(crate) fn select_lists(viewer: Uuid) -> SelectStatement {
    let mut select = Query::select();
    select
        .columns([
            (TaskLists, task_list::Column::Id),
            (TaskLists, task_list::Column::Name),
            (TaskLists, task_list::Column::Inbox),
            (TaskLists, task_list::Column::CreatedAt),
            (TaskLists, task_list::Column::UpdatedAt),
        ])
        .column((visible::membership(), list_member::Column::Role))
        .from(TaskLists);
    visible::join_role(&mut select, (TaskLists, task_list::Column::Id), viewer);
    select
}

/// A list of [`select_lists`]'s columns.
pub(crate) fn read_list(row: &impl Columns) -> Result<ListRead, sea_orm::DbErr> {
    let role: String = row.get(5)?;
    Ok(ListRead {
        id: row.get(0)?,
        name: row.get(1)?,
        inbox: row.get(2)?,
        role: Role::read(&role),
        created_at: row.get(3)?,
        updated_at: row.get(4)?,
    })
}

/// Makes `user`'s inbox, whose id is the account's, on `conn` (the
/// transaction that makes the account).
pub async fn create_inbox(
    conn: &impl ConnectionTrait,
    user: Uuid,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let inbox = task_list::ActiveModel::from(task_list::Model {
        id: user,
        name: INBOX_NAME.to_owned(),
        inbox: true,
        created_at: now,
        updated_at: now,
        seq: 0,
    });
    TaskLists::insert(inbox)
        .exec_without_returning(conn)
        .await?;
    conn.execute(&insert_member(user, user, Role::Owner, now))
        .await?;
    Ok(())
}

fn insert_member(
    list: Uuid,
    user: Uuid,
    role: Role,
    since: DateTime<Utc>,
) -> sea_orm::sea_query::InsertStatement {
    Query::insert()
        .into_table(Members)
        .columns([
            list_member::Column::UserId,
            list_member::Column::ListId,
            list_member::Column::Role,
            list_member::Column::Since,
        ])
        .values_panic([
            user.into(),
            list.into(),
            role.stored_name().into(),
            since.into(),
        ])
        .to_owned()
}

/// Who hears of a change to list `list`: its members as the write `write`
/// sees them. On PostgreSQL their rows are held (`FOR SHARE`) until the
/// write commits, so a removal waits for it, and its notices go out first.
pub async fn audience(write: &Write<'_>, list: Uuid) -> AppResult<Vec<Uuid>> {
    let select = Query::select()
        .column(list_member::Column::UserId)
        .from(Members)
        .and_where(list_member::Column::ListId.eq(list))
        .lock(LockType::Share)
        .to_owned();
    // SQLite takes no row locks (the lock is left out there): the write's
    // turn holds the members.
    let statement = write.backend().build(&select);
    write
        .query_all(statement)
        .await?
        .iter()
        .map(|row| Ok(row.try_get_by_index(0)?))
        .collect()
}

/// Why the rule refused the viewer something in list `list`: `FORBIDDEN`
/// when the viewer is a member (its role does not allow it), else
/// `NOT_FOUND`, as for a list that does not exist.
pub async fn refusal(db: &impl ConnectionTrait, viewer: Uuid, list: Uuid) -> AppResult<AppError> {
    Ok(refused(role_in(db, viewer, list).await?))
}

/// The refusal for a viewer whose role in a list is `role` (`None`: not a
/// member), when that role does not allow what was asked.
pub fn refused(role: Option<Role>) -> AppError {
    match role {
        Some(_) => AppError::Forbidden,
        None => AppError::NotFound,
    }
}

/// The viewer's role in list `list` when it allows what `needed` does;
/// else the refusal ([`refused`]).
pub async fn require(
    db: &impl ConnectionTrait,
    viewer: Uuid,
    list: Uuid,
    needed: Role,
) -> AppResult<Role> {
    match role_in(db, viewer, list).await? {
        Some(role) if role.allows(needed) => Ok(role),
        role => Err(refused(role)),
    }
}

/// The viewer's role in list `list`, if it is a member.
pub async fn role_in(
    db: &impl ConnectionTrait,
    viewer: Uuid,
    list: Uuid,
) -> AppResult<Option<Role>> {
    let member = Members::find_by_id((viewer, list)).one(db).await?;
    Ok(member.map(|member| Role::read(&member.role)))
}

fn list_notice(kind: ListEventKind, list_id: Uuid) -> Notice {
    Notice::List(ListEvent {
        kind,
        list_id,
        seq: 0,
    })
}

/// `kind` of list `list_id`, for `users`.
pub(crate) fn list_delivery(users: Vec<Uuid>, kind: ListEventKind, list_id: Uuid) -> Delivery {
    Delivery {
        users,
        notice: list_notice(kind, list_id),
    }
}

/// How long an invitation's token works.
pub const INVITATION_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);
