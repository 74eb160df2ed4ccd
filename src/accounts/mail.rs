//! What each queued mail of the accounts says, made when it is sent: token
//! mails get their token then, notices their words.

use super::Accounts;
use crate::{
    error::AppResult,
    mail::{
        Mail, letters,
        outbox::{Kind, Queued},
        sender::Compose,
    },
};

impl Compose for Accounts {
    async fn compose(&self, kind: Kind, queued: &Queued) -> AppResult<Option<Mail>> {
        let (subject, what) = match kind {
            Kind::PasswordReset => return self.reset_mail(&queued.recipient).await,
            Kind::VerifyEmail => return self.verification_mail(queued).await,
            Kind::ChangeEmail => return self.change_mail(queued).await,
            Kind::EmailChangeRequested => (
                "Your taskql address may change",
                "Someone asked to move your taskql account to another address. Nothing \
                 changes until the new address is confirmed.",
            ),
            Kind::EmailChanged => (
                "Your taskql address was changed",
                "The address of your taskql account was changed; mail about it now goes \
                 to the new address.",
            ),
            Kind::PasswordChanged => (
                "Your taskql password was changed",
                "The password of your taskql account was changed, and every session of \
                 the account was ended.",
            ),
            Kind::TotpDisabled => (
                "The second factor of your taskql account was turned off",
                "TOTP was turned off for your taskql account: signing in now takes the \
                 password alone.",
            ),
            Kind::RecoveryCodeUsed => (
                "A taskql recovery code was used",
                "One of the recovery codes of your taskql account was used to sign in or to \
                 confirm a change; it works no more.",
            ),
            Kind::IdentityLinked => (
                "A sign-in was linked to your taskql account",
                "A sign-in with an identity provider was linked to your taskql account: it \
                 now signs you in too. If this was not you, sign in, unlink it and change \
                 your password.",
            ),
            Kind::IdentityUnlinked => (
                "A sign-in was unlinked from your taskql account",
                "A sign-in with an identity provider was unlinked from your taskql account: \
                 it signs you in no more.",
            ),
            // The lists and tasks services compose these (see `app`).
            Kind::Invitation | Kind::ReminderDue | Kind::Reminder => return Ok(None),
            Kind::RefreshTokenReused => (
                "A taskql session was ended",
                "A refresh token of your taskql account was presented a second time, which \
                 means it was copied. The session it belonged to was ended.",
            ),
        };
        if self.account_of(queued).await?.is_none() {
            return Ok(None);
        }
        letters::notice(queued.recipient.clone(), subject, what).map(Some)
    }
}
