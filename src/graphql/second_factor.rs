//! The second factor in GraphQL: its state, setting TOTP up and turning it
//! off, recovery codes, and the second step of a login.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};

use super::viewer::{Viewer, client};
use crate::accounts::{self, Accounts};

/// What protects the viewer's account beyond the password.
#[derive(SimpleObject)]
pub struct TwoFactorStatus {
    /// Whether TOTP is on.
    pub totp: bool,
    /// Recovery codes not used yet.
    pub recovery_codes_left: i32,
    /// The passkeys the account signs in with, oldest first.
    pub passkeys: Vec<super::passkeys::Passkey>,
}

/// A TOTP setup to put in an authenticator app, then confirm with a code.
#[derive(SimpleObject)]
pub struct TotpSetup {
    /// The secret in base32, for typing in.
    pub secret: String,
    /// `otpauth://totp/taskql:<email>?secret=…&issuer=taskql`.
    pub otpauth_uri: String,
    /// The URI as an SVG QR code, to show as it is.
    pub qr_code_svg: String,
}

#[derive(InputObject)]
pub struct DisableTotpInput {
    /// The password, when the account has one.
    #[graphql(secret)]
    pub password: Option<String>,
    /// A current TOTP code, or a recovery code.
    #[graphql(secret)]
    pub code: String,
}

#[derive(Default)]
pub struct SecondFactorQuery;

#[Object]
impl SecondFactorQuery {
    /// What protects the viewer's account beyond the password.
    async fn two_factor(&self, ctx: &Context<'_>) -> Result<TwoFactorStatus> {
        let viewer = Viewer::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        let accounts::TwoFactor {
            totp,
            recovery_codes_left,
        } = accounts.two_factor(viewer.user.id).await?;
        Ok(TwoFactorStatus {
            totp,
            recovery_codes_left: i32::try_from(recovery_codes_left).unwrap_or(i32::MAX),
            passkeys: super::passkeys::of_viewer(ctx, viewer.user.id).await?,
        })
    }
}

#[derive(Default)]
pub struct SecondFactorMutation;

#[Object]
impl SecondFactorMutation {
    /// Starts setting up TOTP: a new secret, waiting 10 minutes for
    /// `confirmTotpSetup`. `BAD_USER_INPUT` while TOTP is on.
    async fn start_totp_setup(&self, ctx: &Context<'_>) -> Result<TotpSetup> {
        let viewer = Viewer::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        let setup = accounts.start_totp_setup(&viewer.user).await?;
        Ok(TotpSetup {
            secret: setup.secret,
            otpauth_uri: setup.otpauth_uri,
            qr_code_svg: setup.qr_code_svg,
        })
    }

    /// Turns TOTP on with a current code from the app, and answers 10
    /// recovery codes, each good once. They are shown only now.
    async fn confirm_totp_setup(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] code: String,
    ) -> Result<Vec<String>> {
        let viewer = Viewer::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        Ok(accounts
            .confirm_totp_setup(&viewer.user, client(ctx), &code)
            .await?)
    }

    /// Turns TOTP off, with the password and a TOTP or recovery code.
    async fn disable_totp(&self, ctx: &Context<'_>, input: DisableTotpInput) -> Result<bool> {
        let viewer = Viewer::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .disable_totp(
                &viewer.user,
                client(ctx),
                input.password.as_deref(),
                &input.code,
            )
            .await?;
        Ok(true)
    }

    /// Ten new recovery codes for a current code; the old ones stop working.
    async fn regenerate_recovery_codes(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] code: String,
    ) -> Result<Vec<String>> {
        let viewer = Viewer::require(ctx).await?;
        let accounts = ctx.data_unchecked::<Accounts>();
        Ok(accounts
            .regenerate_recovery_codes(&viewer.user, client(ctx), &code)
            .await?)
    }
}
