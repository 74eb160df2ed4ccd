//! Gives every error in a response its `extensions.code`.
//!
//! Resolver errors come with a code from `AppError`. What async-graphql
//! reports itself (syntax, validation, input coercion) is the client's to
//! fix, so it becomes `BAD_USER_INPUT`, naming the field when the message
//! names an argument. Internal errors get the request id, which finds their
//! cause in the log.

use std::sync::Arc;

use async_graphql::{
    Response, Value,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextRequest},
};

use crate::error::code;

/// The id of the HTTP request an operation runs in.
pub struct RequestId(pub String);

pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodes)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorCodes {
    /// Errors from parsing and validation, which never reach `execute`.
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        for error in &mut response.errors {
            let field = argument_field(&error.message);
            let extensions = error.extensions.get_or_insert_with(Default::default);
            if extensions.get("code").is_none() {
                extensions.set("code", code::BAD_USER_INPUT);
                if let Some(field) = field {
                    extensions.set("field", field);
                }
            }
        }
        response
    }

    /// Errors from resolvers; the request's data (with its id) is known here.
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        if let Some(RequestId(id)) = ctx.data_opt::<RequestId>() {
            let internal = Value::from(code::INTERNAL_SERVER_ERROR);
            for error in &mut response.errors {
                if let Some(extensions) = &mut error.extensions
                    && extensions.get("code") == Some(&internal)
                {
                    extensions.set("requestId", id.as_str());
                }
            }
        }
        response
    }
}

/// `dueAt` from `Invalid value for argument "input.dueAt", …`, or `owner`
/// from `… unknown field "owner" of type …`.
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

#[cfg(test)]
mod tests {
    use super::argument_field;

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
}
