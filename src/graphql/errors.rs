//! Gives every error in a response its `extensions.code`.
//!
//! Resolver errors come with a code from `AppError`. What async-graphql
//! reports itself (syntax, validation, input coercion) is the client's to
//! fix, so it becomes `BAD_USER_INPUT`, naming the field when the message
//! names an argument. Internal errors get the request id, which finds their
//! cause in the log.

use async_graphql::{Response, Value};

use crate::error::code;

/// Gives each error of `response` its code: what carries none came from
/// async-graphql itself and is the client's to fix; an internal error gets
/// the id of the request it happened in.
pub fn give_codes(mut response: Response, request_id: &str) -> Response {
    let internal = Value::from(code::INTERNAL_SERVER_ERROR);
    for error in &mut response.errors {
        let field = argument_field(&error.message);
        let extensions = error.extensions.get_or_insert_with(Default::default);
        match extensions.get("code") {
            None => {
                extensions.set("code", code::BAD_USER_INPUT);
                if let Some(field) = field {
                    extensions.set("field", field);
                }
            }
            Some(code) if *code == internal => extensions.set("requestId", request_id),
            Some(_) => {}
        }
    }
    response
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
