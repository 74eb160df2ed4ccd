//! Invitations to a list: made by its owner for an address, mailed through
//! the outbox with a token drawn when the mail is sent (only its digest is
//! kept), shown in the app to the account whose verified address it is, and
//! taken up once, within seven days, by that account alone. Answers do not
//! tell whether the address has an account.

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use entity::{
    list_invitation::{self, Entity as Invitations},
    list_member::{self, Entity as Members},
    task_list::{self, Entity as TaskLists},
    user::{self, Entity as Users},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, Order, Query, SelectStatement},
};
use uuid::Uuid;

use super::{
    INVITATION_TTL, ListEventKind, ListRead, Lists, Role, audience, insert_member, list_delivery,
    list_notice, people::display_name, visible,
};
use crate::{
    auth::{
        Email,
        counter::{self, Scope},
        random,
    },
    config::LinkTemplate,
    db::{self, StoredByName, write::Write},
    error::{AppError, AppResult},
    events::Delivery,
    mail::outbox::Kind,
};

/// The rules invitations follow, from the configuration.
#[derive(Clone, Debug)]
pub struct InvitationSettings {
    /// Makes the link of an invitation mail, if the mail has one.
    pub link: Option<LinkTemplate>,
    /// Invitations one person may send in [`INVITATION_WINDOW`].
    pub per_window: u32,
}

/// The window of the limit on invitations sent.
const INVITATION_WINDOW: Duration = Duration::from_secs(60 * 60);

/// A pending invitation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    pub id: Uuid,
    pub list_id: Uuid,
    pub list_name: String,
    pub email: String,
    pub role: Role,
    pub invited_by: Uuid,
    pub inviter_name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// How an invitation is taken up: the token of its mail, or its id as
/// `myInvitations` shows it.
pub enum InvitationKey {
    Token(String),
    Id(Uuid),
}

/// The answer to a token that does not work, whatever the reason.
fn token_refused() -> AppError {
    AppError::bad_input(
        "token",
        "this invitation token is invalid, used or expired; ask for a new invitation",
    )
}

impl Lists {
    /// Invites `email` to `list` as `role`; a newer invitation to the same
    /// address for the same list replaces the older.
    #[tracing::instrument(skip_all, fields(viewer = %viewer, list = %list))]
    pub async fn invite(
        &self,
        viewer: Uuid,
        list: Uuid,
        email: &str,
        role: Role,
    ) -> AppResult<Invitation> {
        let email = Email::parse(email)?;
        if role == Role::Owner {
            return Err(AppError::bad_input("role", "invite as EDITOR or VIEWER"));
        }
        let found = self.find(viewer, list).await?.ok_or(AppError::NotFound)?;
        if found.role != Role::Owner {
            return Err(AppError::Forbidden);
        }
        if found.inbox {
            return Err(AppError::bad_input("listId", "an inbox is not shared"));
        }
        if self.has_member_with_email(list, &email).await? {
            return Err(AppError::bad_input(
                "email",
                "already a member of this list",
            ));
        }
        let sent = counter::record(
            self.db(),
            Scope::Invitation,
            &viewer.to_string(),
            INVITATION_WINDOW,
        )
        .await?;
        if sent > self.settings.per_window {
            return Err(AppError::RateLimited);
        }
        let now = db::now();
        let invitation = list_invitation::Model {
            id: Uuid::now_v7(),
            list_id: list,
            email: email.as_str().to_owned(),
            role: role.stored_name().to_owned(),
            token_digest: None,
            invited_by: viewer,
            created_at: now,
            expires_at: now + db::span(INVITATION_TTL)?,
        };
        let write = self.writer.begin_together().await?;
        let backend = write.backend();
        let older = Query::delete()
            .from_table(Invitations)
            .and_where(list_invitation::Column::ListId.eq(list))
            .and_where(list_invitation::Column::Email.eq(email.as_str()))
            .to_owned();
        write.execute(backend.build(&older)).await?;
        // Made only while the viewer owns the list, in this statement.
        let mut values = Query::select();
        values
            .exprs([
                Expr::val(invitation.id),
                Expr::val(list),
                Expr::val(invitation.email.clone()),
                Expr::val(invitation.role.clone()),
                Expr::val(viewer),
                Expr::val(now),
                Expr::val(invitation.expires_at),
            ])
            .and_where(Expr::val(list).in_subquery(visible::lists_of(viewer, Role::Owner)));
        let insert = Query::insert()
            .into_table(Invitations)
            .columns([
                list_invitation::Column::Id,
                list_invitation::Column::ListId,
                list_invitation::Column::Email,
                list_invitation::Column::Role,
                list_invitation::Column::InvitedBy,
                list_invitation::Column::CreatedAt,
                list_invitation::Column::ExpiresAt,
            ])
            .select_from(values)
            .map_err(AppError::internal)?
            .to_owned();
        if !write.changed(&insert).await? {
            write.abandon().await?;
            return Err(super::refusal(self.db(), viewer, list).await?);
        }
        let Write::Transaction(txn, turn) = write else {
            return Err(AppError::internal(
                "an invitation is written in a transaction",
            ));
        };
        self.outbox
            .enqueue_about(
                &txn,
                Kind::Invitation,
                email.as_str(),
                None,
                Some(invitation.id),
            )
            .await?;
        txn.commit().await?;
        drop(turn);
        self.outbox.wake();
        tracing::info!(invitation = %invitation.id, role = role.stored_name(), "invitation sent");
        let mut made = self
            .pending(viewer, &[list])
            .await?
            .remove(&list)
            .unwrap_or_default();
        made.retain(|pending| pending.id == invitation.id);
        made.pop().ok_or(AppError::NotFound)
    }

    /// Withdraws a pending invitation of a list the viewer owns.
    #[tracing::instrument(skip_all, fields(viewer = %viewer, invitation = %id))]
    pub async fn revoke_invitation(&self, viewer: Uuid, id: Uuid) -> AppResult<()> {
        let delete = Query::delete()
            .from_table(Invitations)
            .and_where(list_invitation::Column::Id.eq(id))
            .and_where(visible::visible(
                (Invitations, list_invitation::Column::ListId),
                viewer,
                Role::Owner,
            ))
            .to_owned();
        if self.db().execute(&delete).await?.rows_affected() == 0 {
            // A member of its list sees it (without its details): FORBIDDEN;
            // anyone else: as if there were none.
            let invitation = Invitations::find_by_id(id).one(self.db()).await?;
            return Err(match invitation {
                Some(invitation) => super::refusal(self.db(), viewer, invitation.list_id).await?,
                None => AppError::NotFound,
            });
        }
        tracing::info!("invitation revoked");
        Ok(())
    }

    /// Takes up an invitation to the viewer's verified address.
    #[tracing::instrument(skip_all, fields(viewer = %viewer.id))]
    pub async fn accept(&self, viewer: &user::Model, key: InvitationKey) -> AppResult<ListRead> {
        let invitation = match &key {
            InvitationKey::Token(token) => Invitations::find()
                .filter(list_invitation::Column::TokenDigest.eq(random::digest_text(token)))
                .filter(list_invitation::Column::ExpiresAt.gt(db::now()))
                .one(self.db())
                .await?
                .ok_or_else(token_refused)?,
            InvitationKey::Id(id) => self.own(viewer, *id).await?,
        };
        if !viewer.email_verified || invitation.email != viewer.email {
            return Err(AppError::NotFound);
        }
        let write = self.writer.begin_together().await?;
        let backend = write.backend();
        // Single use: whoever deletes it takes it up.
        let taken = Query::delete()
            .from_table(Invitations)
            .and_where(list_invitation::Column::Id.eq(invitation.id))
            .and_where(list_invitation::Column::ExpiresAt.gt(db::now()))
            .to_owned();
        if !write.changed(&taken).await? {
            write.abandon().await?;
            return Err(match key {
                InvitationKey::Token(_) => token_refused(),
                InvitationKey::Id(_) => AppError::NotFound,
            });
        }
        let list = invitation.list_id;
        let role = Role::read(&invitation.role);
        let already = Members::find_by_id((viewer.id, list))
            .one(self.db())
            .await?;
        let mut deliveries = Vec::new();
        if already.is_none() {
            write
                .execute(backend.build(&insert_member(list, viewer.id, role, db::now())))
                .await?;
            let others: Vec<Uuid> = audience(&write, list)
                .await?
                .into_iter()
                .filter(|member| *member != viewer.id)
                .collect();
            deliveries.push(Delivery::to(
                viewer.id,
                list_notice(ListEventKind::Joined, list),
            ));
            deliveries.push(list_delivery(others, ListEventKind::Updated, list));
        }
        self.events.commit_write(write, deliveries).await?;
        tracing::info!(invitation = %invitation.id, list = %list, "invitation accepted");
        self.find(viewer.id, list).await?.ok_or(AppError::NotFound)
    }

    /// Turns down an invitation to the viewer's verified address.
    #[tracing::instrument(skip_all, fields(viewer = %viewer.id, invitation = %id))]
    pub async fn decline(&self, viewer: &user::Model, id: Uuid) -> AppResult<()> {
        let invitation = self.own(viewer, id).await?;
        Invitations::delete_by_id(invitation.id)
            .exec(self.db())
            .await?;
        tracing::info!("invitation declined");
        Ok(())
    }

    /// The pending invitations to the viewer's verified address.
    pub async fn mine(&self, viewer: &user::Model) -> AppResult<Vec<Invitation>> {
        if !viewer.email_verified {
            return Ok(Vec::new());
        }
        let mut select = select_invitations();
        select
            .and_where(
                Expr::col((Invitations, list_invitation::Column::Email)).eq(viewer.email.as_str()),
            )
            .order_by(
                (Invitations, list_invitation::Column::CreatedAt),
                Order::Desc,
            );
        self.read_invitations(&select).await
    }

    /// The pending invitations of each of `lists` that the viewer owns.
    pub async fn pending(
        &self,
        viewer: Uuid,
        lists: &[Uuid],
    ) -> AppResult<HashMap<Uuid, Vec<Invitation>>> {
        let mut select = select_invitations();
        select
            .and_where(db::one_of(
                self.backend(),
                Expr::col((Invitations, list_invitation::Column::ListId)),
                lists,
            ))
            .and_where(visible::visible(
                (Invitations, list_invitation::Column::ListId),
                viewer,
                Role::Owner,
            ))
            .order_by(
                (Invitations, list_invitation::Column::CreatedAt),
                Order::Asc,
            );
        let mut pending: HashMap<Uuid, Vec<Invitation>> = HashMap::new();
        for invitation in self.read_invitations(&select).await? {
            pending
                .entry(invitation.list_id)
                .or_default()
                .push(invitation);
        }
        Ok(pending)
    }

    /// The pending invitation `id` to the viewer's verified address.
    async fn own(&self, viewer: &user::Model, id: Uuid) -> AppResult<list_invitation::Model> {
        Invitations::find_by_id(id)
            .filter(list_invitation::Column::Email.eq(viewer.email.as_str()))
            .filter(list_invitation::Column::ExpiresAt.gt(db::now()))
            .one(self.db())
            .await?
            .filter(|_| viewer.email_verified)
            .ok_or(AppError::NotFound)
    }

    async fn has_member_with_email(&self, list: Uuid, email: &Email) -> AppResult<bool> {
        let member = Members::find()
            .inner_join(Users)
            .filter(list_member::Column::ListId.eq(list))
            .filter(user::Column::Email.eq(email.as_str()))
            .one(self.db())
            .await?;
        Ok(member.is_some())
    }

    pub(super) async fn read_invitations(
        &self,
        select: &SelectStatement,
    ) -> AppResult<Vec<Invitation>> {
        let rows = self.db().query_all(select).await?;
        rows.iter()
            .map(|row| {
                let role: String = row.try_get_by_index(4)?;
                let email: String = row.try_get_by_index(9)?;
                Ok(Invitation {
                    id: row.try_get_by_index(0)?,
                    list_id: row.try_get_by_index(1)?,
                    list_name: row.try_get_by_index(2)?,
                    email: row.try_get_by_index(3)?,
                    role: Role::read(&role),
                    invited_by: row.try_get_by_index(5)?,
                    created_at: row.try_get_by_index(6)?,
                    expires_at: row.try_get_by_index(7)?,
                    inviter_name: display_name(row.try_get_by_index(8)?, &email),
                })
            })
            .collect()
    }
}

/// Pending invitations with their list's name and their inviter's name.
pub(super) fn select_invitations() -> SelectStatement {
    Query::select()
        .columns([
            (Invitations, list_invitation::Column::Id),
            (Invitations, list_invitation::Column::ListId),
        ])
        .column((TaskLists, task_list::Column::Name))
        .columns([
            (Invitations, list_invitation::Column::Email),
            (Invitations, list_invitation::Column::Role),
            (Invitations, list_invitation::Column::InvitedBy),
            (Invitations, list_invitation::Column::CreatedAt),
            (Invitations, list_invitation::Column::ExpiresAt),
        ])
        .columns([
            (Users, user::Column::DisplayName),
            (Users, user::Column::Email),
        ])
        .from(Invitations)
        .inner_join(
            TaskLists,
            Expr::col((TaskLists, task_list::Column::Id))
                .equals((Invitations, list_invitation::Column::ListId)),
        )
        .inner_join(
            Users,
            Expr::col((Users, user::Column::Id))
                .equals((Invitations, list_invitation::Column::InvitedBy)),
        )
        .and_where(Expr::col((Invitations, list_invitation::Column::ExpiresAt)).gt(db::now()))
        .to_owned()
}
