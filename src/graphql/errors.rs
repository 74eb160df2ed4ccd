//! The edge where errors get their `extensions.code`: every error of every
//! response passes through [`give_code`] once, in the gateway, and requests
//! a transport refuses unexecuted are made with [`refusal`]. This is the
//! one place an [`AppError`] meets GraphQL.
//!
//! A resolver's `?` turns an `AppError` into async-graphql's error with the
//! error's text as message and the error itself as `source`; here the
//! source decides the code. An error without one was reported by
//! async-graphql's own validation or input coercion, which only ever blames
//! the request. An error with a source of another type should not exist
//! (a bare `?` on a library error): it is internal, and its text, which may
//! hold SQL, is not shown.

use std::sync::Arc;

use async_graphql::{ServerError, Value, parser::Pos};

use crate::error::AppError;

/// The codes clients see in `extensions.code`.
pub mod code {
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const EMAIL_TAKEN: &str = "EMAIL_TAKEN";
    pub const INVALID_CREDENTIALS: &str = "INVALID_CREDENTIALS";
    pub const EMAIL_NOT_VERIFIED: &str = "EMAIL_NOT_VERIFIED";
    pub const MFA_REQUIRED: &str = "MFA_REQUIRED";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    pub const SERVICE_UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";
    pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";
    pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
    pub const SYNC_CURSOR_EXPIRED: &str = "SYNC_CURSOR_EXPIRED";
    pub const CONFLICT: &str = "CONFLICT";
    pub const ACCOUNT_DISABLED: &str = "ACCOUNT_DISABLED";
    pub const ACCOUNT_EXISTS: &str = "ACCOUNT_EXISTS";
}

/// Every code, for readers that need it as a `&'static str`.
const CODES: [&str; 16] = [
    code::UNAUTHENTICATED,
    code::BAD_USER_INPUT,
    code::EMAIL_TAKEN,
    code::INVALID_CREDENTIALS,
    code::EMAIL_NOT_VERIFIED,
    code::MFA_REQUIRED,
    code::NOT_FOUND,
    code::FORBIDDEN,
    code::RATE_LIMITED,
    code::SERVICE_UNAVAILABLE,
    code::INTERNAL_SERVER_ERROR,
    code::PERSISTED_QUERY_NOT_FOUND,
    code::SYNC_CURSOR_EXPIRED,
    code::CONFLICT,
    code::ACCOUNT_DISABLED,
    code::ACCOUNT_EXISTS,
];

/// The code [`give_code`] gave `error`.
pub fn code_name(error: &ServerError) -> Option<&'static str> {
    CODES.into_iter().find(|wanted| has_code(error, wanted))
}

/// The code of `error`.
pub fn code_of(error: &AppError) -> &'static str {
    match error {
        AppError::Unauthenticated => code::UNAUTHENTICATED,
        AppError::BadUserInput { .. } => code::BAD_USER_INPUT,
        AppError::EmailTaken => code::EMAIL_TAKEN,
        AppError::InvalidCredentials => code::INVALID_CREDENTIALS,
        AppError::EmailNotVerified => code::EMAIL_NOT_VERIFIED,
        AppError::MfaRequired { .. } => code::MFA_REQUIRED,
        AppError::NotFound => code::NOT_FOUND,
        AppError::Forbidden | AppError::AdminRequired(_) => code::FORBIDDEN,
        AppError::AccountDisabled => code::ACCOUNT_DISABLED,
        AppError::AccountExists => code::ACCOUNT_EXISTS,
        AppError::ProviderUnavailable => code::SERVICE_UNAVAILABLE,
        AppError::ExternalRefused(_) => code::INVALID_CREDENTIALS,
        AppError::PasskeyRefused(_) => code::INVALID_CREDENTIALS,
        AppError::RateLimited | AppError::FellBehind => code::RATE_LIMITED,
        AppError::PersistedQueryNotFound | AppError::UntrustedDocument => {
            code::PERSISTED_QUERY_NOT_FOUND
        }
        AppError::Unavailable(_) => code::SERVICE_UNAVAILABLE,
        AppError::SyncCursorExpired => code::SYNC_CURSOR_EXPIRED,
        AppError::Conflict { .. } => code::CONFLICT,
        AppError::EventsMissed | AppError::Internal(_) => code::INTERNAL_SERVER_ERROR,
    }
}

/// `error` as an error of a response, at `pos`; its code is given at the
/// edge ([`give_code`]).
pub fn server_error(error: AppError, pos: Option<Pos>) -> ServerError {
    let mut server = ServerError::new(error.to_string(), pos);
    server.source = Some(Arc::new(error));
    server
}

/// A request a transport refuses before it reaches the gateway, coded.
pub fn refusal(error: AppError) -> ServerError {
    let mut error = server_error(error, None);
    give_code(&mut error, "");
    error
}

/// Gives `error` its code and the extensions that go with it; an internal
/// error gets the id of its request, and its cause is logged here, once.
pub fn give_code(error: &mut ServerError, request_id: &str) {
    let mut extensions = error.extensions.take().unwrap_or_default();
    let code = match (error.source::<AppError>(), &error.source) {
        (Some(app), _) => {
            if let AppError::BadUserInput {
                field: Some(field), ..
            } = app
            {
                extensions.set("field", field.as_ref());
            }
            if let AppError::MfaRequired {
                mfa_token: Some(token),
            } = app
            {
                extensions.set("mfaToken", token.expose());
            }
            if let AppError::Conflict { version, task, .. } = app {
                extensions.set("version", *version);
                extensions.set("task", super::task::conflict_value(task));
            }
            match app {
                AppError::Internal(cause) => {
                    tracing::error!(request_id, error = %cause, "internal error");
                }
                AppError::Unavailable(cause) => {
                    tracing::warn!(request_id, error = %cause, "database unreachable");
                }
                _ => {}
            }
            code_of(app)
        }
        (None, Some(_))
            if error
                .source::<sea_orm::DbErr>()
                .is_some_and(crate::db::is_unreachable) =>
        {
            tracing::warn!(request_id, error = %error.message, "database unreachable");
            error.message = crate::error::UNAVAILABLE.into();
            code::SERVICE_UNAVAILABLE
        }
        (None, Some(_)) => {
            tracing::error!(request_id, error = %error.message, "internal error of another type");
            error.message = "internal server error".into();
            code::INTERNAL_SERVER_ERROR
        }
        (None, None) => {
            if let Some(field) = argument_field(&error.message) {
                extensions.set("field", field.to_owned());
            }
            code::BAD_USER_INPUT
        }
    };
    extensions.set("code", code);
    if code == code::INTERNAL_SERVER_ERROR {
        extensions.set("requestId", request_id);
    }
    error.extensions = Some(extensions);
}

/// Whether `error` blames the request (as opposed to a failure of ours).
pub fn has_code(error: &ServerError, wanted: &str) -> bool {
    error
        .extensions
        .as_ref()
        .and_then(|extensions| extensions.get("code"))
        .is_some_and(|code| *code == Value::from(wanted))
}

/// The input field a validation message blames: `dueAt` from `Invalid value
/// for argument "input.dueAt", …`, or `owner` from `… unknown field "owner"
/// of type …`. async-graphql's validation and coercion errors carry only
/// their text, with no structured argument path (asked for upstream in
/// async-graphql/async-graphql#385), so this is the one place that reads it.
fn argument_field(message: &str) -> Option<&str> {
    if let Some(unknown) = message.split("unknown field \"").nth(1) {
        return unknown.split('"').next();
    }
    let path = message
        .strip_prefix("Invalid value for argument \"")?
        .split('"')
        .next()?;
    path.rsplit('.')
        .find(|segment| segment.parse::<usize>().is_err())
}

/// Extensions as a client reads them, for tests.
#[cfg(test)]
fn extensions_of(error: &ServerError) -> &async_graphql::ErrorExtensionValues {
    error.extensions.as_ref().expect("coded")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_is_the_last_named_segment_of_the_argument_path() {
        let message = r#"Invalid value for argument "input.dueAt", expected type "DateTime""#;
        assert_eq!(argument_field(message), Some("dueAt"));
        assert_eq!(
            argument_field(r#"Invalid value for argument "first", expected type "Int""#),
            Some("first")
        );
        let unknown = r#"Invalid value for argument "input", unknown field "owner" of type "CreateTaskInput""#;
        assert_eq!(argument_field(unknown), Some("owner"));
        assert_eq!(argument_field("Unknown fragment \"x\""), None);
    }

    #[test]
    fn every_code_given_is_read_back_by_name() {
        let every = [
            AppError::Unauthenticated,
            AppError::bad_request("bad"),
            AppError::EmailTaken,
            AppError::InvalidCredentials,
            AppError::EmailNotVerified,
            AppError::MfaRequired { mfa_token: None },
            AppError::NotFound,
            AppError::Forbidden,
            AppError::PasskeyRefused("no"),
            AppError::RateLimited,
            AppError::FellBehind,
            AppError::PersistedQueryNotFound,
            AppError::UntrustedDocument,
            AppError::EventsMissed,
            AppError::SyncCursorExpired,
            AppError::Conflict {
                expected: 1,
                version: 2,
                task: Box::new(
                    crate::tasks::row(uuid::Uuid::nil(), "T".into(), None, crate::db::now()).into(),
                ),
            },
            AppError::AdminRequired("an admin"),
            AppError::AccountDisabled,
            AppError::AccountExists,
            AppError::ProviderUnavailable,
            AppError::ExternalRefused("a reason"),
            AppError::Unavailable("down".into()),
            AppError::internal("broken"),
        ];
        for error in every {
            // No wildcard: a new kind of error must be listed above.
            match &error {
                AppError::Unauthenticated
                | AppError::BadUserInput { .. }
                | AppError::EmailTaken
                | AppError::InvalidCredentials
                | AppError::EmailNotVerified
                | AppError::MfaRequired { .. }
                | AppError::NotFound
                | AppError::Forbidden
                | AppError::PasskeyRefused(_)
                | AppError::RateLimited
                | AppError::FellBehind
                | AppError::PersistedQueryNotFound
                | AppError::UntrustedDocument
                | AppError::EventsMissed
                | AppError::SyncCursorExpired
                | AppError::Conflict { .. }
                | AppError::AdminRequired(_)
                | AppError::AccountDisabled
                | AppError::AccountExists
                | AppError::ProviderUnavailable
                | AppError::ExternalRefused(_)
                | AppError::Unavailable(_)
                | AppError::Internal(_) => {}
            }
            let code = code_of(&error);
            let mut coded = server_error(error, None);
            give_code(&mut coded, "r");
            assert_eq!(code_name(&coded), Some(code));
        }
    }

    #[test]
    fn each_error_gets_its_code_and_internal_ones_hide_their_cause() {
        let mut bad = server_error(AppError::bad_input("title", "too long"), None);
        give_code(&mut bad, "r1");
        assert_eq!(bad.message, "too long");
        assert_eq!(
            extensions_of(&bad).get("field"),
            Some(&Value::from("title"))
        );
        assert!(has_code(&bad, code::BAD_USER_INPUT));

        let mut internal = server_error(AppError::internal("SELECT secret FROM users"), None);
        give_code(&mut internal, "r2");
        assert_eq!(internal.message, "internal server error");
        assert_eq!(
            extensions_of(&internal).get("requestId"),
            Some(&Value::from("r2"))
        );

        let mut foreign: ServerError =
            async_graphql::Error::from(sea_orm::DbErr::Custom("SELECT secret FROM users".into()))
                .into_server_error(Pos::default());
        give_code(&mut foreign, "r3");
        assert!(has_code(&foreign, code::INTERNAL_SERVER_ERROR));
        assert!(!foreign.message.contains("secret"), "{}", foreign.message);

        let unreachable =
            || sea_orm::DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout);
        let mut unavailable = server_error(AppError::from(unreachable()), None);
        give_code(&mut unavailable, "r5");
        assert!(has_code(&unavailable, code::SERVICE_UNAVAILABLE));
        assert!(
            !unavailable.message.contains("pool"),
            "{}",
            unavailable.message
        );
        let mut foreign_unreachable: ServerError =
            async_graphql::Error::from(unreachable()).into_server_error(Pos::default());
        give_code(&mut foreign_unreachable, "r6");
        assert!(has_code(&foreign_unreachable, code::SERVICE_UNAVAILABLE));

        let mut library = ServerError::new("Unknown field \"x\" on type \"Query\".", None);
        give_code(&mut library, "r4");
        assert!(has_code(&library, code::BAD_USER_INPUT));
    }
}
