//! The one rule for who sees what: a person sees a list, and everything in
//! it, while they are a member of it; what they may change depends on their
//! role there. The rule is a piece of SQL that every statement reading or
//! writing lists, tasks, members or invitations adds to itself, so that the
//! database decides it, on both databases alike, with the membership as it
//! is at that moment (never a role carried in a token). A read that leaves
//! it out is a leak; the tests with a non-member are there to catch one.
//!
//! Its two forms say the same: [`visible`], a condition that the list a row
//! belongs to is one of the viewer's (an `IN` over the viewer's
//! memberships, an index range of `list_members`), and [`join_role`], the
//! viewer's membership joined to a read of lists, which also yields the
//! viewer's role there.

use entity::{
    list_member::{self, Entity as Members},
    task,
};
use sea_orm::{
    ColumnTrait,
    sea_query::{
        Alias, Expr, ExprTrait, IntoColumnRef, JoinType, Query, SelectStatement, SimpleExpr,
    },
};
use uuid::Uuid;

use super::Role;

/// The ids of the lists `viewer` is a member of with a role that allows
/// what `needed` does.
pub fn lists_of(viewer: Uuid, needed: Role) -> SelectStatement {
    let mut select = Query::select();
    select
        .column((Members, list_member::Column::ListId))
        .from(Members)
        .and_where(list_member::Column::UserId.eq(viewer));
    if needed != Role::Viewer {
        select.and_where(list_member::Column::Role.is_in(Role::at_least(needed)));
    }
    select
}

/// Rows whose `list` column names a list `viewer` may see (`Role::Viewer`)
/// or change as `needed` allows.
pub fn visible(list: impl IntoColumnRef, viewer: Uuid, needed: Role) -> SimpleExpr {
    Expr::col(list).in_subquery(lists_of(viewer, needed))
}

/// Tasks `viewer` may see, or change as `needed` allows.
pub fn tasks(viewer: Uuid, needed: Role) -> SimpleExpr {
    visible((task::Entity, task::Column::ListId), viewer, needed)
}

/// The ids of the tasks `viewer` may see, or change as `needed` allows, as
/// a subquery: for rows that belong to a task (comments, completions,
/// reminders).
pub fn task_ids(viewer: Uuid, needed: Role) -> SelectStatement {
    Query::select()
        .column((task::Entity, task::Column::Id))
        .from(task::Entity)
        .and_where(tasks(viewer, needed))
        .to_owned()
}

/// Reads `select` from the viewer's memberships, named `alias`: a walk of
/// each one's list reads only lists the viewer sees, and needs no other
/// rule (a list's page of tasks, the first page of each list).
pub fn from_memberships(select: &mut SelectStatement, alias: Alias, viewer: Uuid) {
    select
        .from_as(Members, alias.clone())
        .and_where(Expr::col((alias, list_member::Column::UserId)).eq(viewer));
}

/// The alias of the viewer's membership in a read joined by [`join_role`].
pub fn membership() -> Alias {
    Alias::new("viewer_membership")
}

/// Joins the viewer's membership of the list in `list` to `select`: only
/// the viewer's lists remain, and the viewer's role is
/// `viewer_membership.role`.
pub fn join_role(select: &mut SelectStatement, list: impl IntoColumnRef, viewer: Uuid) {
    let alias = membership();
    select.join_as(
        JoinType::InnerJoin,
        Members,
        alias.clone(),
        Expr::col((alias.clone(), list_member::Column::ListId))
            .equals(list)
            .and(Expr::col((alias, list_member::Column::UserId)).eq(viewer)),
    );
}
