//! Lists in GraphQL: `lists`, `list`, `myInvitations`, the list mutations
//! and the `TaskList`, `ListMember`, `Person` and `ListInvitation` objects,
//! over `crate::lists`. Every field is behind the viewer guard; nested
//! fields load through [`super::loaders`].

use async_graphql::{Context, Enum, ID, InputObject, Object, OneofObject, Result, SimpleObject};
use uuid::Uuid;

use super::{
    loaders,
    scalars::DateTime,
    task::{self, TaskConnection, TaskFilterInput, TaskOrderInput},
    viewer::Viewer,
};
use crate::{
    error::AppError,
    lists::{self, Invitation, InvitationKey, ListName, ListRead, Lists, Member, Role},
    tasks::{PageArgs, Scope},
};

/// What a member may do in a list.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ListRole {
    /// Renames, deletes and shares the list; one per list.
    Owner,
    /// Adds, changes, assigns and deletes its tasks.
    Editor,
    /// Sees the list and its tasks.
    Viewer,
}

impl From<Role> for ListRole {
    fn from(role: Role) -> Self {
        match role {
            Role::Owner => Self::Owner,
            Role::Editor => Self::Editor,
            Role::Viewer => Self::Viewer,
        }
    }
}

impl From<ListRole> for Role {
    fn from(role: ListRole) -> Self {
        match role {
            ListRole::Owner => Self::Owner,
            ListRole::Editor => Self::Editor,
            ListRole::Viewer => Self::Viewer,
        }
    }
}

/// Someone other than the viewer, as the people they share lists with see
/// them: never their email.
#[derive(SimpleObject, Clone)]
pub struct Person {
    pub id: ID,
    pub display_name: String,
}

impl From<lists::Person> for Person {
    fn from(person: lists::Person) -> Self {
        Self {
            id: ID(person.id.to_string()),
            display_name: person.display_name,
        }
    }
}

impl super::plain::PlainObject for Person {
    fn field(&self, ctx: &Context<'_>) -> async_graphql::ServerResult<async_graphql::Value> {
        match ctx.item.node.name.node.as_str() {
            "id" => Ok(async_graphql::Value::String(self.id.to_string())),
            "displayName" => Ok(async_graphql::Value::String(self.display_name.clone())),
            _ => super::plain::unknown(ctx),
        }
    }
}

/// A member of a list and their role there.
#[derive(SimpleObject)]
pub struct ListMember {
    pub person: Person,
    pub role: ListRole,
    pub since: DateTime,
}

impl From<Member> for ListMember {
    fn from(member: Member) -> Self {
        Self {
            person: Person {
                id: ID(member.user.to_string()),
                display_name: member.display_name,
            },
            role: member.role.into(),
            since: DateTime(member.since),
        }
    }
}

/// An invitation to a list, waiting for the address it was sent to.
#[derive(SimpleObject)]
pub struct ListInvitation {
    pub id: ID,
    pub list_name: String,
    pub email: String,
    pub role: ListRole,
    pub invited_by: Person,
    pub created_at: DateTime,
    pub expires_at: DateTime,
}

impl From<Invitation> for ListInvitation {
    fn from(invitation: Invitation) -> Self {
        Self {
            id: ID(invitation.id.to_string()),
            list_name: invitation.list_name,
            email: invitation.email,
            role: invitation.role.into(),
            invited_by: Person {
                id: ID(invitation.invited_by.to_string()),
                display_name: invitation.inviter_name,
            },
            created_at: DateTime(invitation.created_at),
            expires_at: DateTime(invitation.expires_at),
        }
    }
}

/// A list of tasks that a few people keep together, as the viewer sees it.
pub struct TaskList(pub ListRead);

#[Object]
impl TaskList {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The viewer's own list, where tasks go when no list is named; never
    /// shared.
    async fn inbox(&self) -> bool {
        self.0.inbox
    }

    /// The viewer's role.
    async fn role(&self) -> ListRole {
        self.0.role.into()
    }

    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }

    async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }

    /// Its labels, by name.
    async fn labels(&self, ctx: &Context<'_>) -> Result<Vec<super::labels::Label>> {
        let labels = loaders::list_labels(ctx, self.0.id).await?;
        Ok(labels.into_iter().map(Into::into).collect())
    }

    /// Oldest first; the owner among them.
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<ListMember>> {
        let members = loaders::members(ctx, self.0.id).await?;
        Ok(members.into_iter().map(ListMember::from).collect())
    }

    /// Pending; the owner sees them, others get none.
    async fn invitations(&self, ctx: &Context<'_>) -> Result<Vec<ListInvitation>> {
        if self.0.role != Role::Owner {
            return Ok(Vec::new());
        }
        let invitations = loaders::invitations(ctx, self.0.id).await?;
        Ok(invitations.into_iter().map(ListInvitation::from).collect())
    }

    /// The list's tasks: the same connection as the root `tasks`, within
    /// this list.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "1 + task::page_cost(first, last) * child_complexity")]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<TaskFilterInput>,
        order_by: Option<TaskOrderInput>,
    ) -> Result<super::plain::Plain<TaskConnection>> {
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        // Boxed, so that every field of a list does not take its room.
        Ok(Box::pin(task::connection(
            ctx,
            Some((Scope::List, self.0.id)),
            filter,
            order_by,
            args,
        ))
        .await?)
    }
}

fn parse_id(id: &ID, field: &'static str) -> Result<Uuid, AppError> {
    Uuid::parse_str(id).map_err(|_| AppError::bad_input(field, "not a valid id"))
}

#[derive(InputObject)]
pub struct CreateListInput {
    /// 1 to 100 characters after trimming.
    pub name: String,
}

#[derive(InputObject)]
pub struct InviteToListInput {
    pub list_id: ID,
    pub email: String,
    /// `EDITOR` or `VIEWER`.
    pub role: ListRole,
}

/// The token of the invitation's mail, or its id as `myInvitations` shows it.
#[derive(OneofObject)]
pub enum AcceptInvitationInput {
    #[graphql(secret)]
    Token(String),
    Id(ID),
}

#[derive(InputObject)]
pub struct ChangeMemberRoleInput {
    pub list_id: ID,
    pub person_id: ID,
    /// `EDITOR` or `VIEWER`.
    pub role: ListRole,
}

#[derive(Default)]
pub struct ListQuery;

#[Object]
impl ListQuery {
    /// The viewer's lists: the inbox first, then by name.
    async fn lists(&self, ctx: &Context<'_>) -> Result<Vec<TaskList>> {
        let viewer = Viewer::require(ctx).await?;
        let lists = ctx.data_unchecked::<Lists>().all(viewer.user.id).await?;
        Ok(lists.into_iter().map(TaskList).collect())
    }

    /// One of the viewer's lists; `null` when there is none with this id.
    async fn list(&self, ctx: &Context<'_>, id: ID) -> Result<Option<TaskList>> {
        let viewer = Viewer::require(ctx).await?;
        let id = parse_id(&id, "id")?;
        let found = ctx
            .data_unchecked::<Lists>()
            .find(viewer.user.id, id)
            .await?;
        Ok(found.map(TaskList))
    }

    /// Pending invitations to the viewer's verified address.
    async fn my_invitations(&self, ctx: &Context<'_>) -> Result<Vec<ListInvitation>> {
        let viewer = Viewer::require(ctx).await?;
        let mine = ctx.data_unchecked::<Lists>().mine(&viewer.user).await?;
        Ok(mine.into_iter().map(ListInvitation::from).collect())
    }
}

#[derive(Default)]
pub struct ListMutation;

#[Object]
impl ListMutation {
    async fn create_list(&self, ctx: &Context<'_>, input: CreateListInput) -> Result<TaskList> {
        let viewer = Viewer::require(ctx).await?;
        let name = ListName::parse(&input.name, "name")?;
        let list = ctx
            .data_unchecked::<Lists>()
            .create(viewer.user.id, name)
            .await?;
        Ok(TaskList(list))
    }

    /// The owner renames a list.
    async fn rename_list(&self, ctx: &Context<'_>, id: ID, name: String) -> Result<TaskList> {
        let viewer = Viewer::require(ctx).await?;
        let id = parse_id(&id, "id")?;
        let name = ListName::parse(&name, "name")?;
        let list = ctx
            .data_unchecked::<Lists>()
            .rename(viewer.user.id, id, name)
            .await?;
        Ok(TaskList(list))
    }

    /// The owner deletes a list and its tasks; never an inbox.
    async fn delete_list(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let viewer = Viewer::require(ctx).await?;
        let list = parse_id(&id, "id")?;
        ctx.data_unchecked::<Lists>()
            .delete(viewer.user.id, list)
            .await?;
        Ok(id)
    }

    /// The owner invites an address; the answer is the same whether or not
    /// it has an account.
    async fn invite_to_list(
        &self,
        ctx: &Context<'_>,
        input: InviteToListInput,
    ) -> Result<ListInvitation> {
        let viewer = Viewer::require(ctx).await?;
        let list = parse_id(&input.list_id, "listId")?;
        let invitation = ctx
            .data_unchecked::<Lists>()
            .invite(viewer.user.id, list, &input.email, input.role.into())
            .await?;
        Ok(invitation.into())
    }

    /// The owner withdraws a pending invitation.
    async fn revoke_invitation(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let viewer = Viewer::require(ctx).await?;
        let id = parse_id(&id, "id")?;
        ctx.data_unchecked::<Lists>()
            .revoke_invitation(viewer.user.id, id)
            .await?;
        Ok(true)
    }

    /// Joins a list with an invitation to the viewer's verified address.
    async fn accept_invitation(
        &self,
        ctx: &Context<'_>,
        input: AcceptInvitationInput,
    ) -> Result<TaskList> {
        let viewer = Viewer::require(ctx).await?;
        let key = match input {
            AcceptInvitationInput::Token(token) => InvitationKey::Token(token),
            AcceptInvitationInput::Id(id) => InvitationKey::Id(parse_id(&id, "id")?),
        };
        let list = ctx
            .data_unchecked::<Lists>()
            .accept(&viewer.user, key)
            .await?;
        Ok(TaskList(list))
    }

    async fn decline_invitation(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let viewer = Viewer::require(ctx).await?;
        let id = parse_id(&id, "id")?;
        ctx.data_unchecked::<Lists>()
            .decline(&viewer.user, id)
            .await?;
        Ok(true)
    }

    /// The owner gives a member another role.
    async fn change_member_role(
        &self,
        ctx: &Context<'_>,
        input: ChangeMemberRoleInput,
    ) -> Result<ListMember> {
        let viewer = Viewer::require(ctx).await?;
        let list = parse_id(&input.list_id, "listId")?;
        let person = parse_id(&input.person_id, "personId")?;
        let member = ctx
            .data_unchecked::<Lists>()
            .change_role(viewer.user.id, list, person, input.role.into())
            .await?;
        Ok(member.into())
    }

    /// The owner removes a member; their assignments there end.
    async fn remove_member(&self, ctx: &Context<'_>, list_id: ID, person_id: ID) -> Result<bool> {
        let viewer = Viewer::require(ctx).await?;
        let list = parse_id(&list_id, "listId")?;
        let person = parse_id(&person_id, "personId")?;
        ctx.data_unchecked::<Lists>()
            .remove_member(viewer.user.id, list, person)
            .await?;
        Ok(true)
    }

    /// Any member but the owner leaves.
    async fn leave_list(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let viewer = Viewer::require(ctx).await?;
        let list = parse_id(&id, "id")?;
        ctx.data_unchecked::<Lists>()
            .leave(viewer.user.id, list)
            .await?;
        Ok(true)
    }

    /// The owner hands the list to another member and stays as an editor.
    async fn transfer_list_ownership(
        &self,
        ctx: &Context<'_>,
        list_id: ID,
        person_id: ID,
    ) -> Result<TaskList> {
        let viewer = Viewer::require(ctx).await?;
        let list = parse_id(&list_id, "listId")?;
        let person = parse_id(&person_id, "personId")?;
        let lists = ctx.data_unchecked::<Lists>();
        lists.transfer(viewer.user.id, list, person).await?;
        let list = lists
            .find(viewer.user.id, list)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(TaskList(list))
    }
}
