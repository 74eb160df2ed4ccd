//! Automatic persisted queries (Apollo Client's and urql's protocol): the
//! hash alone once the server knows the query, over POST or GET, through the
//! same limits and rules as any other operation.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, assert_error, spawn_app};

fn hash(query: &str) -> String {
    Sha256::digest(query.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn extension(query: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash(query) } })
}

async fn post(app: &TestApp, body: Value) -> Value {
    let response = app.post_graphql(&body, None).await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

async fn get(app: &TestApp, query: Option<&str>, extensions: &Value) -> reqwest::Response {
    let mut params = vec![("extensions", extensions.to_string())];
    if let Some(query) = query {
        params.push(("query", query.to_owned()));
    }
    app.client
        .get(app.url("/graphql"))
        .query(&params)
        .send()
        .await
        .expect("sent")
}

#[tokio::test]
async fn a_query_is_sent_once_and_then_named_by_its_hash() {
    let app = spawn_app().await;
    let query = "{ __typename }";
    let unknown = post(&app, json!({ "extensions": extension(query) })).await;
    assert_error(&unknown, "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(unknown["errors"][0]["message"], "PersistedQueryNotFound");

    let registered = post(
        &app,
        json!({ "query": query, "extensions": extension(query) }),
    )
    .await;
    assert_eq!(registered["data"]["__typename"], "Query", "{registered}");
    let by_hash = post(&app, json!({ "extensions": extension(query) })).await;
    assert_eq!(by_hash["data"]["__typename"], "Query", "{by_hash}");
    let over_get = get(&app, None, &extension(query)).await;
    assert_eq!(over_get.status(), 200);
    let over_get: Value = over_get.json().await.expect("JSON");
    assert_eq!(over_get["data"]["__typename"], "Query", "{over_get}");
}

#[tokio::test]
async fn a_hash_that_does_not_match_its_query_is_refused() {
    let app = spawn_app().await;
    let body = json!({ "query": "{ __typename }", "extensions": extension("{ me { id } }") });
    let response = post(&app, body).await;
    assert_error(&response, "BAD_USER_INPUT");
    let bad = json!({ "persistedQuery": { "version": 2, "sha256Hash": "nothex" } });
    assert_error(
        &post(&app, json!({ "extensions": bad })).await,
        "BAD_USER_INPUT",
    );
}

#[tokio::test]
async fn a_persisted_mutation_cannot_run_over_get() {
    let app = spawn_app().await;
    let signup = r#"mutation { signup(input: { email: "ada@example.com", password: "correct horse battery staple" }) { id } }"#;
    let ran = post(
        &app,
        json!({ "query": signup, "extensions": extension(signup) }),
    )
    .await;
    assert!(ran["errors"].is_null(), "{ran}");
    let again = get(&app, None, &extension(signup)).await;
    assert_eq!(again.status(), 405, "mutations need POST, even by hash");
}

#[tokio::test]
async fn a_query_named_by_hash_obeys_the_operation_limits() {
    let app = spawn_app().await;
    let mut deep = "leaf".to_owned();
    for level in (1..11).rev() {
        deep = format!("f{level} {{ {deep} }}");
    }
    let deep = format!("{{ {deep} }}");
    let first = post(
        &app,
        json!({ "query": deep, "extensions": extension(&deep) }),
    )
    .await;
    assert_error(&first, "BAD_USER_INPUT");
    let by_hash = post(&app, json!({ "extensions": extension(&deep) })).await;
    assert_error(&by_hash, "BAD_USER_INPUT");
    let message = by_hash["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("deep"), "{by_hash}");
}
