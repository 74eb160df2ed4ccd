//! What an invitation's mail says, made when it is sent: its token is
//! drawn then, and only the token's digest is kept, on the invitation, so a
//! revoked, replaced or taken-up invitation sends nothing.

use std::time::Duration;

use entity::list_invitation::{self, Entity as Invitations};
use sea_orm::{
    ColumnTrait, ConnectionTrait,
    sea_query::{Expr, ExprTrait, Query},
};

use super::{Lists, Role, invitations::select_invitations};
use crate::{
    auth::random,
    db,
    error::AppResult,
    mail::{Mail, letters, outbox::Queued},
};

impl Lists {
    /// The mail of a queued invitation, with a token drawn now; `None` when
    /// the invitation was revoked, replaced or taken up meanwhile.
    pub async fn invitation_mail(&self, queued: &Queued) -> AppResult<Option<Mail>> {
        let Some(id) = queued.about else {
            return Ok(None);
        };
        let mut select = select_invitations();
        select.and_where(Expr::col((Invitations, list_invitation::Column::Id)).eq(id));
        let Some(invitation) = self.read_invitations(&select).await?.pop() else {
            return Ok(None);
        };
        let token = random::token()?;
        let stored = Query::update()
            .table(Invitations)
            .value(
                list_invitation::Column::TokenDigest,
                random::digest_text(&token),
            )
            .and_where(list_invitation::Column::Id.eq(id))
            .to_owned();
        if self.db().execute(&stored).await?.rows_affected() == 0 {
            return Ok(None);
        }
        let link = self.settings.link.as_ref().map(|link| link.link(&token));
        let role = match invitation.role {
            Role::Viewer => "a viewer",
            Role::Editor | Role::Owner => "an editor",
        };
        let ttl = (invitation.expires_at - db::now())
            .to_std()
            .unwrap_or_default();
        letters::invitation(
            &invitation.inviter_name,
            &invitation.list_name,
            role,
            invitation.email,
            &token,
            link.as_deref(),
            ttl.max(Duration::from_secs(60)),
        )
        .map(Some)
    }
}
