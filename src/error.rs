//! Everything that can go wrong in a request, as the domain sees it. Each
//! variant's text is what a client may read; none carries a GraphQL type.
//! The code clients see in `extensions.code` is given at the edge, in
//! `graphql::errors`, the one place that maps these to GraphQL errors.
//!
//! Database and unexpected failures read "internal server error": their
//! cause is the error's `source`, logged once at the edge with the request
//! id, never shown.

use std::borrow::Cow;

use crate::secret::Secret;

type Source = Box<dyn std::error::Error + Send + Sync>;

/// What a client reads while the database cannot be reached.
pub const UNAVAILABLE: &str = "the database cannot be reached for the moment; retry shortly";

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No token, or a bad, expired or revoked one.
    #[error("authentication required: missing, invalid or expired token")]
    Unauthenticated,
    /// The request or one of its values is invalid; `field`, when known,
    /// names the input field.
    #[error("{message}")]
    BadUserInput {
        field: Option<Cow<'static, str>>,
        message: Cow<'static, str>,
    },
    /// The email already belongs to an account.
    #[error("an account with this email already exists")]
    EmailTaken,
    /// Unknown email or wrong password, indistinguishably.
    #[error("invalid email or password")]
    InvalidCredentials,
    /// The password checked out, but the account's address is not verified
    /// and the server asks that it be.
    #[error("verify your email address first: a new verification mail is on its way")]
    EmailNotVerified,
    /// The account has a second factor and this needs a current code: after
    /// a correct password, `mfa_token` is what `completeLogin` takes with it.
    #[error("a second-factor code is required")]
    MfaRequired { mfa_token: Option<Secret> },
    /// A passkey ceremony that does not check out; the reason is the
    /// client's to read (nothing in it is secret).
    #[error("the passkey was refused: {0}")]
    PasskeyRefused(&'static str),
    /// The thing does not exist, or is not the viewer's.
    #[error("not found")]
    NotFound,
    /// The viewer sees the thing, but its role there does not allow this.
    #[error("your role does not allow this")]
    Forbidden,
    /// The caller is signed in, but the admin listener needs an account
    /// marked admin whose session passed a second factor lately; the text
    /// says which is missing.
    #[error("{0}")]
    AdminRequired(&'static str),
    /// A provider vouched for an email that an account already has, and no
    /// identity of that provider is linked to it.
    #[error(
        "an account has this email: sign in with its password, then link this provider from the account"
    )]
    AccountExists,
    /// An identity provider cannot be reached for the moment.
    #[error("the identity provider cannot be reached for the moment; retry shortly")]
    ProviderUnavailable,
    /// A provider's answer failed a check; the reason is ours, never the
    /// provider's text.
    #[error("the identity provider's answer was refused: {0}")]
    ExternalRefused(&'static str),
    /// The credentials checked out, but the account is disabled.
    #[error("this account is disabled; contact the people who run this service")]
    AccountDisabled,
    /// Too many attempts, or the server is saturated.
    #[error("too many requests; try again later")]
    RateLimited,
    /// A subscriber read its events more slowly than they came and was cut
    /// off rather than buffered without bound.
    #[error("events came faster than they were read; refetch and subscribe again")]
    FellBehind,
    /// A query named by hash that this server does not know: the client
    /// sends it in full (automatic persisted queries), so the message is
    /// the one the protocol asks for.
    #[error("PersistedQueryNotFound")]
    PersistedQueryNotFound,
    /// A document that is not one of the server's trusted documents, which
    /// alone run in production.
    #[error("only this server's trusted documents run here; send a documentId of its manifest")]
    UntrustedDocument,
    /// A sync cursor issued longer ago than the change log remembers:
    /// sync from scratch.
    #[error(
        "this cursor is older than the server remembers changes; sync again from the start (since: null)"
    )]
    SyncCursorExpired,
    /// The task changed since the version the client had; nothing was
    /// written.
    #[error("the task changed since version {expected}: it is at version {version} now")]
    Conflict {
        expected: i32,
        version: i32,
        task: Box<crate::tasks::TaskRead>,
    },
    /// Events may have been lost (the server's listener reconnected): the
    /// client should refetch.
    #[error("events may have been missed; refetch and subscribe again")]
    EventsMissed,
    /// The database cannot be reached (down, restarting, or every
    /// connection busy for too long): worth retrying shortly. The source is
    /// logged, never shown.
    #[error("{}", UNAVAILABLE)]
    Unavailable(#[source] Source),
    /// Anything unexpected; the source is logged, never shown.
    #[error("internal server error")]
    Internal(#[source] Source),
}

impl AppError {
    /// An invalid value of the input field `field`.
    pub fn bad_input(field: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::BadUserInput {
            field: Some(Cow::Borrowed(field)),
            message: message.into(),
        }
    }

    /// A request that cannot run as a whole: no single field is to blame.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::BadUserInput {
            field: None,
            message: message.into(),
        }
    }

    pub fn internal(source: impl Into<Source>) -> Self {
        Self::Internal(source.into())
    }
}

impl From<crate::auth::oidc::OidcError> for AppError {
    fn from(error: crate::auth::oidc::OidcError) -> Self {
        use crate::auth::oidc::OidcError;
        match error {
            OidcError::UnknownProvider => {
                Self::bad_input("provider", "no identity provider has this id")
            }
            OidcError::Unavailable => Self::ProviderUnavailable,
            OidcError::Refused(reason) => Self::ExternalRefused(reason),
        }
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(error: sea_orm::DbErr) -> Self {
        if crate::db::is_unreachable(&error) {
            Self::Unavailable(error.into())
        } else {
            Self::internal(error)
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
