//! Traces over OTLP/HTTP: a collector in the test process receives what the
//! `taskql` binary exports, decoded with the OpenTelemetry protocol's own
//! types.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, body::Bytes, extract::State, http::header, routing::post};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse},
    common::v1::{AnyValue, KeyValue, any_value::Value},
    trace::v1::{Span, span::SpanKind},
};
use prost::Message;
use serde_json::json;

use crate::{
    binary::{Server, mail_token},
    helpers::{PASSWORD, TestDatabase},
};

/// What the collector received: every span with its service's name, and
/// every request body as it came.
#[derive(Clone, Default)]
struct Received {
    spans: Arc<Mutex<Vec<(String, Span)>>>,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Received {
    /// The spans of `trace`, once `done` holds for them (at most 20 s).
    async fn trace(&self, trace: &[u8], done: impl Fn(&[Span]) -> bool) -> Vec<Span> {
        for _ in 0..200 {
            let spans: Vec<Span> = self
                .spans
                .lock()
                .expect("lock")
                .iter()
                .filter(|(_, span)| span.trace_id == trace)
                .map(|(_, span)| span.clone())
                .collect();
            if done(&spans) {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let names: Vec<String> = self
            .spans
            .lock()
            .expect("lock")
            .iter()
            .map(|(_, span)| {
                format!(
                    "{} in {} (span {}, parent {})",
                    span.name,
                    hex::encode(&span.trace_id),
                    hex::encode(&span.span_id),
                    hex::encode(&span.parent_span_id)
                )
            })
            .collect();
        panic!("the trace never came whole; spans received: {names:#?}");
    }
}

/// An OTLP/HTTP receiver on a free port; answers every export with success.
async fn collector() -> (String, Received) {
    async fn export(
        State(received): State<Received>,
        body: Bytes,
    ) -> impl axum::response::IntoResponse {
        let request = ExportTraceServiceRequest::decode(body.clone()).expect("an OTLP export");
        for resource in request.resource_spans {
            let service = resource
                .resource
                .iter()
                .flat_map(|resource| &resource.attributes)
                .find(|attribute| attribute.key == "service.name")
                .and_then(|attribute| text(attribute.value.as_ref()))
                .unwrap_or_default();
            for scope in resource.scope_spans {
                received
                    .spans
                    .lock()
                    .expect("lock")
                    .extend(scope.spans.into_iter().map(|span| (service.clone(), span)));
            }
        }
        received.bodies.lock().expect("lock").push(body.to_vec());
        (
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            ExportTraceServiceResponse::default().encode_to_vec(),
        )
    }
    let received = Received::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let app = Router::new()
        .route("/v1/traces", post(export))
        .with_state(received.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}"), received)
}

fn text(value: Option<&AnyValue>) -> Option<String> {
    match value?.value.as_ref()? {
        Value::StringValue(text) => Some(text.clone()),
        Value::IntValue(number) => Some(number.to_string()),
        _ => None,
    }
}

fn attributes(span: &Span) -> HashMap<&str, String> {
    span.attributes
        .iter()
        .filter_map(|KeyValue { key, value, .. }| Some((key.as_str(), text(value.as_ref())?)))
        .collect()
}

/// Whether `span` lies beneath `ancestor` in `spans`.
fn beneath(spans: &[Span], span: &Span, ancestor: &Span) -> bool {
    let mut parent = span.parent_span_id.clone();
    while !parent.is_empty() {
        if parent == ancestor.span_id {
            return true;
        }
        parent = spans
            .iter()
            .find(|candidate| candidate.span_id == parent)
            .map(|candidate| candidate.parent_span_id.clone())
            .unwrap_or_default();
    }
    false
}

fn named<'a>(spans: &'a [Span], name: &str) -> Option<&'a Span> {
    spans.iter().find(|span| span.name == name)
}

const JOIN: &str = "mutation Join($input: SignupInput!) { signup(input: $input) { id } }";
const FORGOT: &str = "mutation Forgot($email: String!) { requestPasswordReset(email: $email) }";

#[tokio::test]
async fn a_requests_spans_continue_the_callers_trace_down_to_its_statements() {
    let (endpoint, received) = collector().await;
    let database = TestDatabase::create().await;
    let server = Server::start_with(
        &database.url,
        &[
            ("TASKQL_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("TASKQL_LOG", "info"),
        ],
    );
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller = "00f067aa0ba902b7";
    let input = json!({ "input": { "email": "ada@example.com", "password": PASSWORD } });
    let traceparent = format!("00-{trace}-{caller}-01");
    let joined = server
        .graphql_headers(JOIN, input, &[("traceparent", &traceparent)])
        .await;
    assert!(joined["errors"].is_null(), "{joined}");

    let trace_id = hex::decode(trace).expect("hex");
    let spans = received
        .trace(&trace_id, |spans| {
            named(spans, "POST /graphql").is_some()
                && named(spans, "mutation Join").is_some()
                && spans.iter().any(|span| span.name == "INSERT")
        })
        .await;
    let request = named(&spans, "POST /graphql").expect("the request's span");
    assert_eq!(
        request.parent_span_id,
        hex::decode(caller).expect("hex"),
        "the caller's span is its parent"
    );
    assert_eq!(request.kind, SpanKind::Server as i32);
    let http = attributes(request);
    assert_eq!(
        http.get("http.request.method").map(String::as_str),
        Some("POST")
    );
    assert_eq!(http.get("http.route").map(String::as_str), Some("/graphql"));
    assert_eq!(
        http.get("http.response.status_code").map(String::as_str),
        Some("200")
    );

    let operation = named(&spans, "mutation Join").expect("the operation's span");
    assert_eq!(operation.parent_span_id, request.span_id);
    let graphql = attributes(operation);
    assert_eq!(
        graphql.get("graphql.operation.name").map(String::as_str),
        Some("Join")
    );
    assert_eq!(
        graphql.get("graphql.operation.type").map(String::as_str),
        Some("mutation")
    );

    let hashing = named(&spans, "password hash").expect("the password's hashing");
    assert!(beneath(&spans, hashing, operation));
    let insert = spans
        .iter()
        .find(|span| span.name == "INSERT")
        .expect("a statement");
    assert!(
        beneath(&spans, insert, operation),
        "the statement lies beneath the operation"
    );
    assert_eq!(insert.kind, SpanKind::Client as i32);
    let statement = attributes(insert);
    let system = if database.url.starts_with("postgres") {
        "postgresql"
    } else {
        "sqlite"
    };
    assert_eq!(
        statement.get("db.system.name").map(String::as_str),
        Some(system)
    );
    assert!(
        statement
            .get("db.query.text")
            .is_some_and(|sql| sql.starts_with("INSERT INTO")),
        "{statement:?}"
    );
    let services: Vec<String> = received
        .spans
        .lock()
        .expect("lock")
        .iter()
        .map(|(service, _)| service.clone())
        .collect();
    assert!(
        services.iter().all(|service| service == "taskql"),
        "{services:?}"
    );

    // A mail is delivered after the request has been answered, in its trace.
    let reset_trace = "0af7651916cd43dd8448eb211c80319c";
    let traceparent = format!("00-{reset_trace}-b7ad6b7169203331-01");
    let asked = server
        .graphql_headers(
            FORGOT,
            json!({ "email": "ada@example.com" }),
            &[("traceparent", &traceparent)],
        )
        .await;
    assert_eq!(asked["data"]["requestPasswordReset"], true, "{asked}");
    let reset_spans = received
        .trace(&hex::decode(reset_trace).expect("hex"), |spans| {
            named(spans, "mail delivery").is_some() && named(spans, "mutation Forgot").is_some()
        })
        .await;
    let delivery = named(&reset_spans, "mail delivery").expect("the delivery");
    let forgot = named(&reset_spans, "mutation Forgot").expect("the operation");
    assert!(
        beneath(&reset_spans, delivery, forgot),
        "the delivery lies beneath the request"
    );
    assert!(
        reset_spans
            .iter()
            .any(|span| beneath(&reset_spans, span, delivery)),
        "the delivery's statements lie beneath it"
    );

    // The log names the trace of each request; the collector saw no secret.
    let mail = server.log_until("Reset your taskql password");
    let token = mail_token(mail.last().expect("the mail's line"));
    let (_, logs) = server.stop();
    let logged = logs.join("\n") + &mail.join("\n");
    assert!(
        logged.contains(&format!(r#""trace_id":"{trace}""#)),
        "the log names the trace: {logged}"
    );
    let bodies = received.bodies.lock().expect("lock").concat();
    for secret in [PASSWORD, token.as_str()] {
        assert!(
            !bodies
                .windows(secret.len())
                .any(|window| window == secret.as_bytes()),
            "a secret reached the collector"
        );
    }
}

/// A collector that takes connections and never answers: requests are
/// answered as ever, the log says once that traces are lost, and the server
/// still stops cleanly.
#[tokio::test]
async fn a_collector_that_never_answers_costs_requests_nothing() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", silent.local_addr().expect("address"));
    let held = Arc::new(Mutex::new(Vec::new()));
    let holder = Arc::clone(&held);
    std::thread::spawn(move || {
        for stream in silent.incoming().map_while(Result::ok) {
            holder.lock().expect("lock").push(stream);
        }
    });
    let database = TestDatabase::create().await;
    let server = Server::start_with(
        &database.url,
        &[
            ("TASKQL_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "20"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "500"),
            ("TASKQL_LOG", "info"),
        ],
    );
    let input = json!({ "input": { "email": "ada@example.com", "password": PASSWORD } });
    let joined = server.graphql(JOIN, input).await;
    assert!(joined["errors"].is_null(), "{joined}");
    for page in 0..300 {
        let answer = server.graphql("query Page { __typename }", json!({})).await;
        assert_eq!(
            answer["data"]["__typename"], "Query",
            "answer {page}: {answer}"
        );
    }
    server.log_until("cannot export traces");
    assert!(!held.lock().expect("lock").is_empty(), "the exporter tried");
    let (status, logs) = server.stop();
    assert!(status.success(), "{status}");
    let warnings = logs
        .iter()
        .filter(|line| line.contains("cannot export traces"))
        .count();
    assert_eq!(warnings, 0, "said once, before: {logs:#?}");
}

const NESTED: &str = "query Nested { lists { name labels { name } members { person { displayName } role }
    tasks(first: 20) { totalCount edges { node { title assignee { displayName } createdBy { displayName }
    labels { name } commentCount parent { title } subtasks(first: 5) { totalCount edges { node { title } } }
    } } } } }";

/// The statements of one run of [`NESTED`] by `token`, in a trace of its own.
async fn nested_statements(
    server: &Server,
    received: &Received,
    token: &str,
    trace: &str,
) -> Vec<String> {
    let traceparent = format!("00-{trace}-00f067aa0ba902b7-01");
    let bearer = format!("Bearer {token}");
    let answer = server
        .graphql_headers(
            NESTED,
            json!({}),
            &[("traceparent", &traceparent), ("authorization", &bearer)],
        )
        .await;
    assert!(answer["errors"].is_null(), "{answer}");
    let trace_id = hex::decode(trace).expect("hex");
    let spans = received
        .trace(&trace_id, |spans| named(spans, "POST /graphql").is_some())
        .await;
    spans
        .iter()
        .filter_map(|span| attributes(span).get("db.query.text").cloned())
        .collect()
}

/// No N+1: the nested query of lists, their members, their tasks and the
/// tasks' people runs the same statements for a viewer of 2 lists as for
/// one of 50, each list's page in the one windowed statement.
#[tokio::test]
async fn a_nested_query_runs_as_many_statements_for_50_lists_as_for_2() {
    let (endpoint, received) = collector().await;
    let database = TestDatabase::create().await;
    let server = Server::start_with(
        &database.url,
        &[
            ("TASKQL_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("TASKQL_LOG", "info"),
            ("TASKQL_AUTH_RATE_LIMIT", "off"),
        ],
    );
    let mut counts: Vec<Vec<String>> = Vec::new();
    for (lists, trace) in [
        (2, "4bf92f3577b34da6a3ce929d0e0e4701"),
        (50, "4bf92f3577b34da6a3ce929d0e0e4702"),
    ] {
        let email = format!("owner-of-{lists}@example.com");
        let input = json!({ "input": { "email": email, "password": PASSWORD } });
        server
            .graphql(
                "mutation($input: SignupInput!) { signup(input: $input) { id } }",
                input.clone(),
            )
            .await;
        let login = server
            .graphql("mutation($input: LoginInput!) { login(input: $input) { accessToken user { id } } }", input)
            .await;
        let token = login["data"]["login"]["accessToken"]
            .as_str()
            .expect("a token")
            .to_owned();
        let me = login["data"]["login"]["user"]["id"]
            .as_str()
            .expect("an id")
            .to_owned();
        let mut list_ids = vec![me.clone()];
        for n in 1..lists {
            let made = server
                .graphql_with(
                    "mutation($name: String!) { createList(input: { name: $name }) { id } }",
                    json!({ "name": format!("List {n}") }),
                    &token,
                )
                .await;
            list_ids.push(
                made["data"]["createList"]["id"]
                    .as_str()
                    .expect("a list")
                    .to_owned(),
            );
        }
        for list in &list_ids {
            for title in ["one", "two"] {
                let made = server
                    .graphql_with(
                        "mutation($l: ID!, $t: String!) { createTask(input: { listId: $l, title: $t }) { id } }",
                        json!({ "l": list, "t": title }),
                        &token,
                    )
                    .await;
                let id = made["data"]["createTask"]["id"]
                    .as_str()
                    .expect("a task")
                    .to_owned();
                server
                    .graphql_with(
                        "mutation($id: ID!, $p: ID) { assignTask(id: $id, personId: $p) { id } }",
                        json!({ "id": id, "p": me }),
                        &token,
                    )
                    .await;
                let commented = server
                    .graphql_with(
                        "mutation($id: ID!) { addComment(input: { taskId: $id, body: \"Noted\" }) { id } }",
                        json!({ "id": id }),
                        &token,
                    )
                    .await;
                assert!(commented["errors"].is_null(), "{commented}");
            }
        }
        let statements = nested_statements(&server, &received, &token, trace).await;
        assert!(
            statements
                .iter()
                .any(|sql| sql.contains(r#""tasks"."list_id" = "scope"."list_id""#)),
            "every list's page in one statement, a walk per list: {statements:#?}"
        );
        assert!(
            statements.iter().any(|sql| sql.contains("list_members")),
            "the rule is in the statements: {statements:#?}"
        );
        counts.push(statements);
    }
    assert_eq!(
        counts[0].len(),
        counts[1].len(),
        "statements for 2 lists and for 50: {counts:#?}"
    );
}
