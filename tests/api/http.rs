//! The HTTP surface: routes, request forms, request ids.

use serde_json::json;

use crate::helpers::{PASSWORD, spawn_app, spawn_app_with};

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let response = app.client.get(app.url(path)).send().await.expect("sent");
        assert_eq!(response.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("sent");
    let id = response
        .headers()
        .get("x-request-id")
        .expect("x-request-id");
    assert!(uuid::Uuid::parse_str(id.to_str().expect("text")).is_ok());
}

#[tokio::test]
async fn browsers_get_graphiql_in_development_only() {
    let dev = spawn_app().await;
    let page = dev
        .client
        .get(dev.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("sent");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("body").contains("graphiql"));

    let prod = spawn_app_with(&[("TASKQL_ENV", "production")]).await;
    let page = prod
        .client
        .get(prod.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("sent");
    assert_ne!(page.status(), 200);
    assert!(!page.text().await.expect("body").contains("graphiql"));
}

#[tokio::test]
async fn queries_can_be_sent_with_get() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "{ __typename }")])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["data"]["__typename"], "Query");
}

#[tokio::test]
async fn mutations_over_get_are_refused_unexecuted() {
    let app = spawn_app().await;
    let mutation = format!(
        r#"mutation {{ signup(input: {{email: "ada@example.com", password: "{PASSWORD}"}}) {{ id }} }}"#
    );
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", mutation.as_str())])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 405);
    let signup = app.signup("ada@example.com", PASSWORD).await;
    assert!(
        signup["errors"].is_null(),
        "nothing was created by the GET: {signup}"
    );
}

#[tokio::test]
async fn posts_that_are_not_json_are_refused_unexecuted() {
    let app = spawn_app().await;
    let body = json!({ "query": format!(r#"mutation {{ signup(input: {{email: "ada@example.com", password: "{PASSWORD}"}}) {{ id }} }}"#) }).to_string();
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let response = app
            .client
            .post(app.url("/graphql"))
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 415, "{content_type}");
    }
    let signup = app.signup("ada@example.com", PASSWORD).await;
    assert!(signup["errors"].is_null(), "nothing was created: {signup}");
}

#[tokio::test]
async fn malformed_and_batched_bodies_are_refused() {
    let app = spawn_app().await;
    for (body, why) in [
        ("{ not json", "malformed JSON"),
        (
            r#"[{"query":"{ __typename }"},{"query":"{ __typename }"}]"#,
            "a batch",
        ),
        (r#"{"variables":{}}"#, "no query"),
    ] {
        let response = app
            .client
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 400, "{why}");
        let body: serde_json::Value = response.json().await.expect("a GraphQL-shaped error");
        assert!(body["errors"][0]["message"].is_string(), "{why}: {body}");
    }
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_refused() {
    let app = spawn_app().await;
    let padding = " ".repeat(1024 * 1024);
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(format!(r#"{{"query":"{{ __typename }}"{padding}}}"#))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 413);
}
