//! Everything that can go wrong in a request, and how each case reaches the
//! client: a GraphQL error whose `extensions.code` says what happened.
//!
//! `AppError` deliberately has no `Display`: async-graphql turns anything that
//! displays into an error carrying its full text, which is how SQL ends up in
//! responses. The only way out is `From<AppError> for async_graphql::Error`,
//! which sets the code and, for internal failures, logs the cause instead of
//! showing it.

use async_graphql::ErrorExtensions;

/// The codes clients see in `extensions.code`.
pub mod code {
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const EMAIL_TAKEN: &str = "EMAIL_TAKEN";
    pub const INVALID_CREDENTIALS: &str = "INVALID_CREDENTIALS";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";
}

type Source = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug)]
pub enum AppError {
    /// No token, or a bad, expired or revoked one. `UNAUTHENTICATED`.
    Unauthenticated,
    /// An input value is invalid; `field` names it. `BAD_USER_INPUT`.
    BadUserInput {
        field: &'static str,
        message: String,
    },
    /// The email already belongs to an account. `EMAIL_TAKEN`.
    EmailTaken,
    /// Unknown email or wrong password, indistinguishably. `INVALID_CREDENTIALS`.
    InvalidCredentials,
    /// The thing does not exist, or is not the viewer's. `NOT_FOUND`.
    NotFound,
    /// Too many attempts, or the server is saturated. `RATE_LIMITED`.
    RateLimited,
    /// Anything unexpected; the source is logged, never shown. `INTERNAL_SERVER_ERROR`.
    Internal(Source),
}

impl AppError {
    pub fn bad_input(field: &'static str, message: impl Into<String>) -> Self {
        Self::BadUserInput {
            field,
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
            Self::RateLimited => code::RATE_LIMITED,
            Self::Internal(_) => code::INTERNAL_SERVER_ERROR,
        }
    }

    fn message(&self) -> String {
        match self {
            Self::Unauthenticated => {
                "authentication required: missing, invalid or expired token".into()
            }
            Self::BadUserInput { message, .. } => message.clone(),
            Self::EmailTaken => "an account with this email already exists".into(),
            Self::InvalidCredentials => "invalid email or password".into(),
            Self::NotFound => "not found".into(),
            Self::RateLimited => "too many requests; try again later".into(),
            Self::Internal(_) => "internal server error".into(),
        }
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

impl From<AppError> for async_graphql::Error {
    fn from(error: AppError) -> Self {
        if let AppError::Internal(source) = &error {
            tracing::error!(error = %source, "internal error");
        }
        let code = error.code();
        let field = match &error {
            AppError::BadUserInput { field, .. } => Some(*field),
            _ => None,
        };
        async_graphql::Error::new(error.message()).extend_with(|_, extensions| {
            extensions.set("code", code);
            if let Some(field) = field {
                extensions.set("field", field);
            }
        })
    }
}

pub type AppResult<T> = Result<T, AppError>;
