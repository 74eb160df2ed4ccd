//! The one way into the schema. Every transport (HTTP now, WebSocket for
//! subscriptions) hands its operations to a [`Gateway`], which applies what
//! must hold for all of them: the operation limits on the parsed document,
//! then the schema, then an `extensions.code` on every error and the request
//! id on internal ones.
//!
//! These are not schema extensions because any extension sends every
//! resolved field through the extension chain, a cost paid per field.

use std::any::TypeId;

use async_graphql::{
    Executor, Request, Response, ServerError, Value,
    futures_util::stream::{self, BoxStream, StreamExt},
    parser::{parse_query, types::ExecutableDocument},
};

use super::{TaskqlSchema, limits, persisted::PersistedQueries};
use crate::{
    cache::BoundedCache,
    error::{AppError, code},
};

/// The id of the request an operation came in, as the log knows it.
#[derive(Clone, Debug, Default)]
pub struct RequestId(pub String);

/// Most bytes of query text whose parsed documents are kept. Parsing is a
/// tenth of what a short query costs; clients send the same few operations
/// again and again.
const PARSED_BUDGET_BYTES: usize = 256 * 1024;

/// The schema behind the checks every operation must pass.
#[derive(Clone)]
pub struct Gateway {
    schema: TaskqlSchema,
    persisted: PersistedQueries,
    /// Documents that parsed and passed the limits, by their text.
    parsed: BoundedCache<String, ExecutableDocument>,
}

impl Gateway {
    pub fn new(schema: TaskqlSchema) -> Self {
        Self {
            schema,
            persisted: PersistedQueries::default(),
            parsed: BoundedCache::new(PARSED_BUDGET_BYTES),
        }
    }

    /// Gives a request that names its query by hash (automatic persisted
    /// queries) its query. Transports that must look at the operation
    /// before running it (GET refuses mutations) call this first; running
    /// the request does it otherwise.
    pub fn resolve_persisted(&self, request: &mut Request) -> Result<(), ServerError> {
        self.persisted
            .resolve(request)
            .map_err(|error| error.into_server_error(None))
    }

    /// Resolves a persisted query, parses the document (which the request
    /// keeps for the schema) and checks its shape; a document seen before
    /// is taken as it was parsed and checked then.
    fn admit(&self, request: &mut Request) -> Result<(), ServerError> {
        self.resolve_persisted(request)?;
        if let Some(document) = self.parsed.get(request.query.as_str()) {
            request.set_parsed_query(document);
            return Ok(());
        }
        let document = parse_query(&request.query).map_err(|error| {
            let pos = error.positions().next();
            AppError::bad_request(error.to_string()).into_server_error(pos)
        })?;
        limits::check(&document)?;
        let query = request.query.clone();
        let bytes = query.len();
        self.parsed.put(query, document.clone(), bytes);
        request.set_parsed_query(document);
        Ok(())
    }
}

impl Executor for Gateway {
    async fn execute(&self, mut request: Request) -> Response {
        let request_id = request_id(&request);
        let response = match self.admit(&mut request) {
            Ok(()) => self.schema.execute(request).await,
            Err(error) => Response::from_errors(vec![error]),
        };
        give_codes(response, &request_id)
    }

    fn execute_stream(
        &self,
        mut request: Request,
        session_data: Option<std::sync::Arc<async_graphql::Data>>,
    ) -> BoxStream<'static, Response> {
        let request_id = request_id(&request);
        let responses = match self.admit(&mut request) {
            Ok(()) => self
                .schema
                .execute_stream_with_session_data(request, session_data.unwrap_or_default()),
            Err(error) => stream::once(async { Response::from_errors(vec![error]) }).boxed(),
        };
        responses
            .map(move |response| give_codes(response, &request_id))
            .boxed()
    }
}

fn request_id(request: &Request) -> String {
    request
        .data
        .get(&TypeId::of::<RequestId>())
        .and_then(|data| data.downcast_ref::<RequestId>())
        .map(|id| id.0.clone())
        .unwrap_or_default()
}

/// Gives each error of `response` its code. Errors of our own (resolvers,
/// limits, parsing) already have one. An error without a code was reported
/// by async-graphql's validation or input coercion, which only ever blames
/// the request: it becomes `BAD_USER_INPUT`. An internal error gets the id
/// of its request, which finds its cause in the log.
fn give_codes(mut response: Response, request_id: &str) -> Response {
    let internal = Value::from(code::INTERNAL_SERVER_ERROR);
    for error in &mut response.errors {
        if !AppError::has_code(error) {
            let message = std::mem::take(&mut error.message);
            let field = argument_field(&message).map(str::to_owned);
            let blamed = AppError::BadUserInput {
                field: field.map(Into::into),
                message: message.into(),
            };
            let coded = blamed.into_server_error(None);
            error.message = coded.message;
            error.extensions = coded.extensions;
        }
        if let Some(extensions) = &mut error.extensions
            && extensions.get("code") == Some(&internal)
        {
            extensions.set("requestId", request_id);
        }
    }
    response
}

/// The input field a validation message blames: `dueAt` from `Invalid value
/// for argument "input.dueAt", …`, or `owner` from `… unknown field "owner"
/// of type …`. async-graphql's validation errors carry only their text, so
/// this is the one place that reads it.
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
