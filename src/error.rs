//! Everything that can go wrong in a request, and how each case reaches the
//! client: a GraphQL error whose `extensions.code` says what happened. This is
//! the one place where errors get their codes: resolver errors, errors that
//! async-graphql reports itself (see `graphql::gateway`) and requests the
//! transports refuse unexecuted all pass through [`AppError::into_server_error`].
//!
//! `AppError` deliberately has no `Display`: async-graphql turns anything that
//! displays into an error carrying its full text, which is how SQL ends up in
//! responses. Internal failures log their cause and show a generic message.

use std::borrow::Cow;

use async_graphql::{ErrorExtensionValues, ServerError, Value, parser::Pos};

/// The codes clients see in `extensions.code`.
pub mod code {
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const EMAIL_TAKEN: &str = "EMAIL_TAKEN";
    pub const INVALID_CREDENTIALS: &str = "INVALID_CREDENTIALS";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";
    pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
}

type Source = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug)]
pub enum AppError {
    /// No token, or a bad, expired or revoked one. `UNAUTHENTICATED`.
    Unauthenticated,
    /// The request or one of its values is invalid; `field`, when known,
    /// names the input field. `BAD_USER_INPUT`.
    BadUserInput {
        field: Option<Cow<'static, str>>,
        message: Cow<'static, str>,
    },
    /// The email already belongs to an account. `EMAIL_TAKEN`.
    EmailTaken,
    /// Unknown email or wrong password, indistinguishably. `INVALID_CREDENTIALS`.
    InvalidCredentials,
    /// The thing does not exist, or is not the viewer's. `NOT_FOUND`.
    NotFound,
    /// Too many attempts, or the server is saturated. `RATE_LIMITED`.
    RateLimited,
    /// A subscriber read its events more slowly than they came and was cut
    /// off rather than buffered without bound. `RATE_LIMITED`.
    FellBehind,
    /// A query named by hash that this server does not know: the client
    /// sends it in full (automatic persisted queries). `PERSISTED_QUERY_NOT_FOUND`,
    /// with the message `PersistedQueryNotFound` the protocol asks for.
    PersistedQueryNotFound,
    /// Events may have been lost (the server's listener reconnected): the
    /// client should refetch. `INTERNAL_SERVER_ERROR`, with that message.
    EventsMissed,
    /// Anything unexpected; the source is logged, never shown. `INTERNAL_SERVER_ERROR`.
    Internal(Source),
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

    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated => code::UNAUTHENTICATED,
            Self::BadUserInput { .. } => code::BAD_USER_INPUT,
            Self::EmailTaken => code::EMAIL_TAKEN,
            Self::InvalidCredentials => code::INVALID_CREDENTIALS,
            Self::NotFound => code::NOT_FOUND,
            Self::RateLimited | Self::FellBehind => code::RATE_LIMITED,
            Self::PersistedQueryNotFound => code::PERSISTED_QUERY_NOT_FOUND,
            Self::EventsMissed | Self::Internal(_) => code::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the client reads, and the extensions that go with it. An
    /// internal error's cause is logged here, once, and never shown.
    fn into_parts(self) -> (String, ErrorExtensionValues) {
        let mut extensions = ErrorExtensionValues::default();
        extensions.set("code", self.code());
        let message = match self {
            Self::Unauthenticated => {
                "authentication required: missing, invalid or expired token".into()
            }
            Self::BadUserInput { field, message } => {
                if let Some(field) = field {
                    extensions.set("field", Value::String(field.into_owned()));
                }
                message.into_owned()
            }
            Self::EmailTaken => "an account with this email already exists".into(),
            Self::InvalidCredentials => "invalid email or password".into(),
            Self::NotFound => "not found".into(),
            Self::RateLimited => "too many requests; try again later".into(),
            Self::FellBehind => {
                "events came faster than they were read; refetch and subscribe again".into()
            }
            Self::PersistedQueryNotFound => "PersistedQueryNotFound".into(),
            Self::EventsMissed => "events may have been missed; refetch and subscribe again".into(),
            Self::Internal(source) => {
                tracing::error!(error = %source, "internal error");
                "internal server error".into()
            }
        };
        (message, extensions)
    }

    /// The error as it appears in a response's `errors`.
    pub fn into_server_error(self, pos: Option<Pos>) -> ServerError {
        let (message, extensions) = self.into_parts();
        let mut error = ServerError::new(message, pos);
        error.extensions = Some(extensions);
        error
    }

    /// Whether `error` already has its code: it came from an `AppError`.
    pub fn has_code(error: &ServerError) -> bool {
        error
            .extensions
            .as_ref()
            .is_some_and(|extensions| extensions.get("code").is_some())
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::internal(error)
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(error: tokio::task::JoinError) -> Self {
        Self::internal(error)
    }
}

/// Resolvers return `async_graphql::Result`; this is how an `AppError` gets there.
impl From<AppError> for async_graphql::Error {
    fn from(error: AppError) -> Self {
        let (message, extensions) = error.into_parts();
        let mut error = async_graphql::Error::new(message);
        error.extensions = Some(extensions);
        error
    }
}

pub type AppResult<T> = Result<T, AppError>;
