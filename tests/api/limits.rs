//! Operation limits and the checks GraphQL security auditors run: each
//! abusive operation is refused with one clear error, runs no resolver, and
//! leaves the server answering and the data unchanged.

use entity::user::Entity as Users;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, spawn_app, spawn_app_with};

/// Posts `query` and returns the body.
async fn run(app: &TestApp, query: &str, token: Option<&str>) -> Value {
    app.graphql(query, json!({}), token).await
}

/// One error, coded `BAD_USER_INPUT`, whose message contains `says`.
#[track_caller]
fn assert_refused(response: &Value, says: &str) {
    let errors = response["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("refused: {response}"));
    assert_eq!(errors.len(), 1, "one clear error: {response}");
    assert_eq!(
        errors[0]["extensions"]["code"], "BAD_USER_INPUT",
        "{response}"
    );
    let message = errors[0]["message"].as_str().expect("message");
    assert!(message.contains(says), "{message:?} should say {says:?}");
    assert!(response["data"].is_null(), "nothing ran: {response}");
}

async fn assert_still_serving(app: &TestApp) {
    let response = run(app, "{ __typename }", None).await;
    assert_eq!(response["data"]["__typename"], "Query", "{response}");
}

fn nested(depth: usize) -> String {
    let mut query = "leaf".to_owned();
    for level in (1..depth).rev() {
        query = format!("f{level} {{ {query} }}");
    }
    format!("{{ {query} }}")
}

/// Documents are parsed once and kept: a query seen before answers as it
/// did, and a refused one is refused again (it was never kept).
#[tokio::test]
async fn a_repeated_query_gets_the_same_answer_and_a_refused_one_the_same_refusal() {
    let app = spawn_app().await;
    for _ in 0..2 {
        assert_refused(&run(&app, &nested(11), None).await, "nested 11 deep");
        let answer = run(&app, "{ __typename }", None).await;
        assert_eq!(answer, json!({ "data": { "__typename": "Query" } }));
        let broken = run(&app, "{ __typename", None).await;
        assert_eq!(broken["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }
}

#[tokio::test]
async fn depth_beyond_ten_is_refused() {
    let app = spawn_app().await;
    assert_refused(&run(&app, &nested(11), None).await, "nested 11 deep");
    let ten = run(&app, &nested(10), None).await;
    assert!(
        !ten.to_string().contains("deep"),
        "depth 10 passes the limit: {ten}"
    );
    assert_still_serving(&app).await;
}

/// The limits live in the gateway that every transport runs operations
/// through, not in the HTTP handlers: a subscription over WebSocket is
/// refused the same way as a query over HTTP.
#[tokio::test]
async fn the_gateway_refuses_over_deep_and_over_aliased_operations_for_every_transport() {
    let app = spawn_app().await;
    let query = nested(11);
    assert_refused(&run(&app, &query, None).await, "nested 11 deep");

    let ada = app.register("ada@example.com").await;
    let mut ws = app.ws_session(&ada.access_token).await;
    let aliases: Vec<String> = (0..51).map(|i| format!("a{i}: __typename")).collect();
    for (id, subscription, says) in [
        ("deep", format!("subscription {query}"), "nested 11 deep"),
        (
            "aliased",
            format!("subscription {{ {} }}", aliases.join(" ")),
            "51 aliases",
        ),
    ] {
        ws.subscribe(id, &subscription).await;
        let refused = ws.message().await;
        assert_eq!(refused["type"], "error", "{refused}");
        assert_refused(&json!({ "errors": refused["payload"] }), says);
        ws.settle().await;
    }
}

#[tokio::test]
async fn thousands_of_levels_are_refused_with_one_error() {
    let app = spawn_app().await;
    for depth in [33, 50] {
        assert_refused(&run(&app, &nested(depth), None).await, "deep");
    }
    // Deeper still, the parser stops by itself.
    for depth in [300, 5_000] {
        assert_refused(&run(&app, &nested(depth), None).await, "");
    }
    let deep = nested(50);
    let fragments = format!("{{ ...F }} fragment F on Query {deep}");
    assert_refused(&run(&app, &fragments, None).await, "deep");
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn more_than_fifty_aliases_are_refused() {
    let app = spawn_app().await;
    let aliases = |n: usize| {
        format!(
            "{{ {} }}",
            (0..n)
                .map(|i| format!("a{i}: __typename"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    let fifty = run(&app, &aliases(50), None).await;
    assert!(fifty["errors"].is_null(), "{fifty}");
    assert_refused(&run(&app, &aliases(101), None).await, "101 aliases");
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn aliases_inside_fragments_count_each_time_the_fragment_is_used() {
    let app = spawn_app().await;
    let fields: Vec<String> = (0..10).map(|i| format!("a{i}: __typename")).collect();
    let spreads = "...F ".repeat(6);
    let query = format!(
        "{{ {spreads} }} fragment F on Query {{ {} }}",
        fields.join(" ")
    );
    assert_refused(&run(&app, &query, None).await, "60 aliases");
}

#[tokio::test]
async fn more_than_five_directives_on_a_field_are_refused() {
    let app = spawn_app().await;
    let six = format!("{{ __typename {} }}", "@skip(if: false) ".repeat(6));
    assert_refused(&run(&app, &six, None).await, "directives");
    let unknown = "{ __typename @a @b @c @d @e @f @g @h @i @j }";
    assert_refused(&run(&app, unknown, None).await, "directives");
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn fragment_cycles_and_deep_fragment_nesting_are_refused() {
    let app = spawn_app().await;
    let cycle = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
    assert_refused(&run(&app, cycle, None).await, "spreads itself");
    let mut chain = "{ ...F0 }".to_owned();
    for i in 0..12 {
        chain.push_str(&format!(
            " fragment F{i} on Query {{ __typename ...F{} }}",
            i + 1
        ));
    }
    chain.push_str(" fragment F12 on Query { __typename }");
    assert_refused(&run(&app, &chain, None).await, "");
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn a_page_of_a_hundred_tasks_passes_the_complexity_limit_and_two_do_not() {
    let app = spawn_app().await;
    let token = app.register("ada@example.com").await.access_token;
    let page = "tasks(first: 100) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id title description completed dueAt createdAt updatedAt } } }";
    let one = run(&app, &format!("{{ {page} }}"), Some(&token)).await;
    assert!(one["errors"].is_null(), "{one}");
    let two = run(&app, &format!("{{ a: {page} b: {page} }}"), Some(&token)).await;
    let errors = two["errors"].as_array().expect("refused");
    assert_eq!(errors.len(), 1, "{two}");
    assert!(
        errors[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("complex")),
        "{two}"
    );
}

/// A request that passed validation runs again without the full check;
/// the same document with other variables is checked again in full: a
/// variable of the wrong type is refused before anything runs, and values
/// that make the operation too complex are refused, as the first time.
#[tokio::test]
async fn a_request_validated_once_answers_alike_and_other_variables_are_checked_again() {
    let app = spawn_app().await;
    let token = app.register("ada@example.com").await.access_token;
    app.graphql(
        r#"mutation { createTask(input: { title: "Kept" }) { id } }"#,
        json!({}),
        Some(&token),
    )
    .await;
    let page = "tasks(first: $n) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id title description completed dueAt createdAt updatedAt } } }";
    let query = format!("query Pages($n: Int!) {{ a: {page} b: {page} }}");
    let small = app.graphql(&query, json!({ "n": 1 }), Some(&token)).await;
    assert!(small["errors"].is_null(), "{small}");
    assert_eq!(small["data"]["a"]["edges"][0]["node"]["title"], "Kept");
    for _ in 0..2 {
        let again = app.graphql(&query, json!({ "n": 1 }), Some(&token)).await;
        assert_eq!(again, small, "the same request answers alike");
        let wrong = app
            .graphql(&query, json!({ "n": "one" }), Some(&token))
            .await;
        assert!(wrong["data"].is_null(), "nothing ran: {wrong}");
        assert!(wrong["errors"][0]["path"].is_null(), "{wrong}");
        let big = app.graphql(&query, json!({ "n": 100 }), Some(&token)).await;
        assert!(big["data"].is_null(), "nothing ran: {big}");
        let message = big["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("complex"), "{big}");
    }
}

#[tokio::test]
async fn circular_introspection_is_refused_and_the_standard_query_passes() {
    let app = spawn_app().await;
    let mut deep = "name".to_owned();
    for _ in 0..8 {
        deep = format!("fields {{ type {{ {deep} }} }}");
    }
    assert_refused(
        &run(
            &app,
            &format!("{{ __schema {{ types {{ {deep} }} }} }}"),
            None,
        )
        .await,
        "introspection nested",
    );
    let standard = run(&app, STANDARD_INTROSPECTION, None).await;
    assert!(
        standard["errors"].is_null(),
        "GraphiQL and code generators still work: {standard}"
    );
    assert!(
        standard["data"]["__schema"]["types"]
            .as_array()
            .is_some_and(|t| t.len() > 10)
    );
}

#[tokio::test]
async fn twenty_aliased_logins_run_none_of_them() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;
    let logins: Vec<String> = (0..20)
        .map(|i| format!(r#"l{i}: login(input: {{ email: "ada@example.com", password: "guess number {i}" }}) {{ accessToken }}"#))
        .collect();
    let response = run(&app, &format!("mutation {{ {} }}", logins.join(" ")), None).await;
    assert_refused(&response, "at most one of signup, login");
    let failures = entity::rate_counter::Entity::find()
        .filter(entity::rate_counter::Column::Scope.eq("login"))
        .count(&app.db)
        .await
        .expect("count");
    assert_eq!(failures, 0, "no login ran, so none was counted");

    let mixed = format!(
        r#"mutation {{ signup(input: {{ email: "eve@example.com", password: "{PASSWORD}" }}) {{ id }}
           ...L }} fragment L on Mutation {{ login(input: {{ email: "ada@example.com", password: "x" }}) {{ accessToken }} }}"#
    );
    assert_refused(&run(&app, &mixed, None).await, "at most one of");
    assert_eq!(
        Users::find().count(&app.db).await.expect("count"),
        1,
        "no signup ran"
    );
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn a_ten_operation_batch_is_refused_unexecuted() {
    let app = spawn_app().await;
    let batch: Vec<Value> = (0..10)
        .map(|i| json!({ "query": format!(r#"mutation {{ signup(input: {{ email: "u{i}@example.com", password: "{PASSWORD}" }}) {{ id }} }}"#) }))
        .collect();
    let response = app
        .client
        .post(app.url("/graphql"))
        .json(&batch)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
    assert_eq!(Users::find().count(&app.db).await.expect("count"), 0);
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn responses_carry_no_tracing_data() {
    let app = spawn_app().await;
    let response = run(&app, "{ __typename }", None).await;
    assert_eq!(
        response,
        json!({ "data": { "__typename": "Query" } }),
        "no extensions"
    );
}

#[tokio::test]
async fn production_turns_off_introspection_and_suggestions() {
    let secret = (
        "TASKQL_JWT_SECRET",
        "production-secret-of-at-least-32-bytes!!",
    );
    let production = spawn_app_with(&[("TASKQL_ENV", "production"), secret]).await;
    let development = spawn_app().await;

    let introspection = "{ __schema { types { name } } }";
    let refused = run(&production, introspection, None).await;
    assert!(refused["data"]["__schema"].is_null(), "{refused}");
    assert!(
        !refused.to_string().contains("AuthPayload"),
        "no type leaks: {refused}"
    );
    assert!(run(&development, introspection, None).await["errors"].is_null());

    let typo = "{ taks { totalCount } }";
    let quiet = run(&production, typo, None).await;
    assert!(!quiet.to_string().contains("Did you mean"), "{quiet}");
    let helpful = run(&development, typo, None).await;
    assert!(
        helpful.to_string().contains("Did you mean"),
        "the check can fail: {helpful}"
    );

    let overridden = spawn_app_with(&[
        ("TASKQL_ENV", "production"),
        secret,
        ("TASKQL_INTROSPECTION", "true"),
    ])
    .await;
    assert!(run(&overridden, introspection, None).await["errors"].is_null());
}

const STANDARD_INTROSPECTION: &str = "query IntrospectionQuery { __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } } } }
  fragment FullType on __Type { kind name description
    fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
    inputFields { ...InputValue } interfaces { ...TypeRef }
    enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
    possibleTypes { ...TypeRef } }
  fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
  fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }";
