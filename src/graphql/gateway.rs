//! The one way into the schema. Every transport (HTTP, and WebSocket for
//! subscriptions) hands its operations to a [`Gateway`], which applies what
//! must hold for all of them: the operation limits on the parsed document,
//! then the schema, then an `extensions.code` on every error and the request
//! id on internal ones.
//!
//! These are not schema extensions because any extension sends every
//! resolved field through the extension chain, a cost paid per field.

use std::{
    any::TypeId,
    sync::Arc,
    time::{Duration, Instant},
};

use async_graphql::{
    Data, Executor, ObjectType, Request, Response, Schema, ServerError, SubscriptionType, Value,
    futures_util::stream::{self, BoxStream, StreamExt},
    parser::{
        parse_query,
        types::{ExecutableDocument, OperationType},
    },
};

use super::{
    MutationRoot, QueryRoot, SubscriptionRoot,
    errors::{self, server_error},
    limits,
    persisted::{DocumentId, PersistedQueries},
    rounds::Rounds,
};
use tracing::Instrument;

use crate::{cache::BoundedCache, error::AppError, metrics::Metrics};

/// The id of the request an operation came in, as the log knows it.
#[derive(Clone, Debug, Default)]
pub struct RequestId(pub String);

/// Most bytes of query text whose parsed documents are kept. Parsing is a
/// tenth of what a short query costs; clients send the same few operations
/// again and again (measured: the page from 27–28% to 30–32% of the floor,
/// bench/README.md).
const PARSED_BUDGET_BYTES: usize = 256 * 1024;

/// The schema behind the checks every operation must pass: the public
/// one, or the admin listener's.
pub struct Gateway<Q = QueryRoot, M = MutationRoot, S = SubscriptionRoot> {
    schema: Schema<Q, M, S>,
    /// The schema again, for requests it validated before, when the caller
    /// gave a way to build it ([`Gateway::revalidating_only_once`]).
    validated: Option<Arc<Validated<Q, M, S>>>,
    persisted: PersistedQueries,
    /// Documents that parsed and passed the limits, by their text.
    parsed: BoundedCache<String, ExecutableDocument>,
    metrics: Metrics,
}

/// A request whose document parsed and passed the limits, ready to run.
pub struct Prepared {
    request: Request,
    operation: Option<OperationType>,
    /// The selected operation's name, as the document gives it.
    name: Option<String>,
}

impl Prepared {
    /// Whether the operation the request selects is a mutation.
    pub fn is_mutation(&self) -> bool {
        self.operation == Some(OperationType::Mutation)
    }
}

/// Every validation rule depends only on the document, the operation and
/// the variables, and the schema never changes: a query that passed them
/// once passes again. Such a query runs on a second schema that checks
/// only what running needs (the fragment cycles, the complexity and depth
/// limits: async-graphql's `ValidationMode::Fast`). Validating the page's
/// document was a twentieth of its instructions (bench/README.md).
/// Mutations, whose variables carry passwords and codes, are validated in
/// full each time, and nothing of a request is kept but a digest.
struct Validated<Q, M, S> {
    build: Box<dyn Fn() -> Schema<Q, M, S> + Send + Sync>,
    /// Built at the first request that needs it.
    schema: std::sync::OnceLock<Schema<Q, M, S>>,
    /// Queries that passed every rule, by [`validation_key`].
    passed: BoundedCache<[u8; 32], ()>,
}

/// Most queries kept as validated (a digest each).
const VALIDATED_QUERIES: usize = 4096;

/// What validating `request` depends on (its operation's name, its
/// variables and its document), as a SHA-256 digest.
fn validation_key(request: &Request) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let variables = serde_json::to_vec(&request.variables).unwrap_or_default();
    let operation = request.operation_name.as_deref().unwrap_or_default();
    let mut digest = Sha256::new();
    for part in [operation.as_bytes(), &variables, request.query.as_bytes()] {
        digest.update(part.len().to_le_bytes());
        digest.update(part);
    }
    digest.finalize().into()
}

impl<Q, M, S> Clone for Gateway<Q, M, S> {
    fn clone(&self) -> Self {
        Self {
            schema: self.schema.clone(),
            validated: self.validated.clone(),
            persisted: self.persisted.clone(),
            parsed: self.parsed.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

impl<Q, M, S> Gateway<Q, M, S>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    pub fn new(schema: Schema<Q, M, S>, persisted: PersistedQueries, metrics: Metrics) -> Self {
        Self {
            schema,
            validated: None,
            persisted,
            parsed: BoundedCache::new(PARSED_BUDGET_BYTES),
            metrics,
        }
    }

    /// This gateway, running a query that passed validation before on the
    /// schema `build` makes, the same one with `ValidationMode::Fast`
    /// ([`Validated`]).
    #[must_use]
    pub fn revalidating_only_once(
        mut self,
        build: impl Fn() -> Schema<Q, M, S> + Send + Sync + 'static,
    ) -> Self {
        self.validated = Some(Arc::new(Validated {
            build: Box::new(build),
            schema: std::sync::OnceLock::new(),
            passed: BoundedCache::new(VALIDATED_QUERIES),
        }));
        self
    }

    /// Gives a request that names its document (a trusted document's id, a
    /// persisted query's hash) its query, refuses one that may not run,
    /// parses its document (or takes it as it was parsed and checked
    /// before) and checks its shape. Transports that must look at the
    /// operation before running it (GET refuses mutations) call this, then
    /// [`Gateway::run`]; [`Executor::execute`] does both.
    pub fn prepare(&self, mut request: Request) -> Result<Prepared, ServerError> {
        let document_id = request
            .data
            .get(&TypeId::of::<DocumentId>())
            .and_then(|data| data.downcast_ref::<DocumentId>())
            .map(|id| id.0.clone());
        self.persisted
            .resolve(&mut request, document_id.as_deref())
            .map_err(|error| server_error(error, None))?;
        let document = match self.parsed.get(request.query.as_str()) {
            Some(document) => document,
            None => {
                let document = parse_query(&request.query).map_err(|error| {
                    let pos = error.positions().next();
                    server_error(AppError::bad_request(error.to_string()), pos)
                })?;
                limits::check(&document)?;
                let bytes = request.query.len();
                self.parsed
                    .put(request.query.clone(), document.clone(), bytes);
                document
            }
        };
        let (operation, name) = match selected(&document, request.operation_name.as_deref()) {
            Some((ty, name)) => (Some(ty), name.map(str::to_owned)),
            None => (None, request.operation_name.clone()),
        };
        request.set_parsed_query(document);
        Ok(Prepared {
            request,
            operation,
            name,
        })
    }

    /// The answer to a request [`Gateway::prepare`] refused, counted.
    pub fn refused(&self, request_name: Option<&str>, error: ServerError) -> Response {
        self.refusal(request_name, error, "")
    }

    fn refusal(
        &self,
        request_name: Option<&str>,
        error: ServerError,
        request_id: &str,
    ) -> Response {
        let response = coded(Response::from_errors(vec![error]), request_id);
        self.metrics
            .operation(request_name, "unknown", outcome(&response), Duration::ZERO);
        response
    }

    /// Runs a prepared request, giving every error its code; counts it and
    /// times it by its name.
    pub async fn run(&self, prepared: Prepared) -> Response {
        let request_id = request_id(&prepared.request);
        let kind = kind(prepared.operation);
        let span = tracing::debug_span!(
            "graphql",
            otel.name = %SpanName(kind, prepared.name.as_deref()),
            graphql.operation.name = prepared.name.as_deref(),
            graphql.operation.type = kind,
            error.type = tracing::field::Empty,
        );
        let started = Instant::now();
        let key = self
            .validated
            .as_ref()
            .filter(|_| prepared.operation == Some(OperationType::Query))
            .map(|_| validation_key(&prepared.request));
        let schema = match (&self.validated, &key) {
            (Some(validated), Some(key)) if validated.passed.get(key).is_some() => {
                validated.schema.get_or_init(|| (validated.build)())
            }
            _ => &self.schema,
        };
        // Loads of the same kind go out together, round by round.
        let request = prepared.request.data(Rounds::default());
        let response = schema.execute(request).instrument(span.clone()).await;
        if let (Some(validated), Some(key)) = (&self.validated, key)
            && !never_ran(&response)
        {
            validated.passed.put(key, (), 1);
        }
        let response = coded(response, &request_id);
        if let Some(code) = response.errors.first().and_then(errors::code_name) {
            span.record("error.type", code);
        }
        self.metrics.operation(
            prepared.name.as_deref(),
            kind,
            outcome(&response),
            started.elapsed(),
        );
        response
    }
}

/// An operation's span name, as OpenTelemetry's conventions for GraphQL
/// give it: its type, then its name when it has one.
struct SpanName<'a>(&'static str, Option<&'a str>);

impl std::fmt::Display for SpanName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.1 {
            Some(name) => write!(f, "{} {name}", self.0),
            None => f.write_str(self.0),
        }
    }
}

impl<Q, M, S> Executor for Gateway<Q, M, S>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    async fn execute(&self, request: Request) -> Response {
        let request_id = request_id(&request);
        let name = request.operation_name.clone();
        match self.prepare(request) {
            Ok(prepared) => self.run(prepared).await,
            Err(error) => self.refusal(name.as_deref(), error, &request_id),
        }
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let request_id = request_id(&request);
        let name = request.operation_name.clone();
        let responses = match self.prepare(request) {
            Ok(prepared) => {
                // A subscription is counted once, as it starts.
                self.metrics.operation(
                    prepared.name.as_deref(),
                    kind(prepared.operation),
                    "ok",
                    Duration::ZERO,
                );
                self.schema.execute_stream_with_session_data(
                    prepared.request.data(Rounds::default()),
                    session_data.unwrap_or_default(),
                )
            }
            Err(error) => {
                return stream::once(std::future::ready(self.refusal(
                    name.as_deref(),
                    error,
                    &request_id,
                )))
                .boxed();
            }
        };
        responses
            .map(move |response| coded(response, &request_id))
            .boxed()
    }
}

/// Whether `response` answers a request that did not run at all: it did
/// not parse, validate or pass the limits, or its variables did not coerce.
/// Errors of resolvers carry the path of their field; those of a request
/// refused before execution have none, and there is no data.
pub fn never_ran(response: &Response) -> bool {
    response.data == Value::Null && response.errors.iter().all(|error| error.path.is_empty())
}

/// The operation's kind, as the metrics name it.
fn kind(operation: Option<OperationType>) -> &'static str {
    match operation {
        Some(OperationType::Query) => "query",
        Some(OperationType::Mutation) => "mutation",
        Some(OperationType::Subscription) => "subscription",
        None => "unknown",
    }
}

/// `ok`, or the code of the response's first error.
fn outcome(response: &Response) -> &'static str {
    response
        .errors
        .first()
        .map_or("ok", |error| errors::code_name(error).unwrap_or("unknown"))
}

/// The operation `name` selects in `document`, when it selects one: its
/// type and its name.
fn selected<'d>(
    document: &'d ExecutableDocument,
    name: Option<&str>,
) -> Option<(OperationType, Option<&'d str>)> {
    let mut operations = document.operations.iter();
    let operation = match name {
        Some(name) => operations
            .find(|(candidate, _)| candidate.is_some_and(|candidate| candidate.as_str() == name)),
        None => operations
            .next()
            .filter(|_| document.operations.iter().count() == 1),
    };
    operation.map(|(name, operation)| (operation.node.ty, name.map(|name| name.as_str())))
}

fn request_id(request: &Request) -> String {
    request
        .data
        .get(&TypeId::of::<RequestId>())
        .and_then(|data| data.downcast_ref::<RequestId>())
        .map(|id| id.0.clone())
        .unwrap_or_default()
}

fn coded(mut response: Response, request_id: &str) -> Response {
    for error in &mut response.errors {
        errors::give_code(error, request_id);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_selected_operation_is_the_named_one_or_the_only_one() {
        let document =
            parse_query("query A { me { id } } mutation B { logout(refreshToken: \"x\") }")
                .expect("parses");
        assert_eq!(
            selected(&document, Some("B")),
            Some((OperationType::Mutation, Some("B")))
        );
        assert_eq!(
            selected(&document, Some("A")),
            Some((OperationType::Query, Some("A")))
        );
        assert_eq!(selected(&document, Some("C")), None);
        assert_eq!(
            selected(&document, None),
            None,
            "ambiguous: the schema refuses it"
        );
        let single = parse_query("mutation { logout(refreshToken: \"x\") }").expect("parses");
        assert_eq!(
            selected(&single, None),
            Some((OperationType::Mutation, None))
        );
    }
}
