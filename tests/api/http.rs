//! The HTTP surface: routes, request forms, request ids.

use serde_json::json;

use crate::helpers::{PASSWORD, spawn_app, spawn_app_with};

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    let id = response
        .headers()
        .get("x-request-id")
        .expect("x-request-id");
    assert!(uuid::Uuid::parse_str(id.to_str().expect("text")).is_ok());
}

#[tokio::test]
async fn browsers_get_graphiql_in_development_only() {
    let dev = spawn_app().await;
    let page = dev.graphiql_page().await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("body").contains("graphiql"));

    let prod = spawn_app_with(&[("TASKQL_ENV", "production")]).await;
    let page = prod.graphiql_page().await;
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

#[tokio::test]
async fn responses_carry_security_headers_even_when_refusing() {
    let app = spawn_app().await;
    let ok = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("sent");
    let too_big = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .expect("sent");
    let get_mutation = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "mutation { logout(refreshToken: \"x\") }")])
        .send()
        .await
        .expect("sent");
    for response in [ok, too_big, get_mutation] {
        let headers = response.headers();
        assert_eq!(
            headers["x-content-type-options"],
            "nosniff",
            "{}",
            response.status()
        );
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert!(
            headers["content-security-policy"]
                .to_str()
                .expect("text")
                .starts_with("default-src 'none'")
        );
        assert!(headers.contains_key("x-request-id"));
    }
    let page = app.graphiql_page().await;
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(
        csp.contains("script-src 'self';")
            && csp.contains("connect-src 'self';")
            && csp.contains("frame-ancestors 'none'")
            && !csp.contains("http"),
        "GraphiQL's own, this server only: {csp}"
    );
}

#[tokio::test]
async fn cors_answers_only_configured_origins() {
    let app = spawn_app_with(&[("TASKQL_CORS_ORIGINS", "https://app.example.com")]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, authorization",
            )
            .send()
    };
    let allowed = preflight("https://app.example.com").await.expect("sent");
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let foreign = preflight("https://evil.example").await.expect("sent");
    assert!(
        !foreign
            .headers()
            .contains_key("access-control-allow-origin")
    );

    let closed = spawn_app().await;
    let response = closed
        .client
        .post(closed.url("/graphql"))
        .header("origin", "https://app.example.com")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("sent");
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin"),
        "no CORS unless configured"
    );
}

#[tokio::test]
async fn a_request_that_runs_too_long_is_cut_off() {
    let app = spawn_app_with(&[
        ("TASKQL_REQUEST_TIMEOUT", "20ms"),
        ("TASKQL_ARGON2_M_KIB", "65536"),
        ("TASKQL_ARGON2_T", "4"),
    ])
    .await;
    let body = json!({ "query": "mutation($i: SignupInput!) { signup(input: $i) { id } }",
                       "variables": { "i": { "email": "ada@example.com", "password": PASSWORD } } });
    let response = app.post_graphql(&body, None).await;
    assert_eq!(response.status(), 503);
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200, "the server goes on");
}

#[tokio::test]
async fn unexpected_failures_answer_only_a_code_and_a_request_id() {
    let app = spawn_app().await;
    let token = app.register("ada@example.com").await.access_token;
    sea_orm::ConnectionTrait::execute_unprepared(&app.db, "ALTER TABLE tasks RENAME TO tasks_gone")
        .await
        .expect("break the database");
    let response = app
        .post_graphql(
            &json!({ "query": "{ tasks { totalCount } }" }),
            Some(&token),
        )
        .await;
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .expect("text")
        .to_owned();
    let body: serde_json::Value = response.json().await.expect("json");
    let error = &body["errors"][0];
    assert_eq!(error["message"], "internal server error", "{body}");
    assert_eq!(error["extensions"]["code"], "INTERNAL_SERVER_ERROR");
    assert_eq!(error["extensions"]["requestId"], request_id.as_str());
    let text = body.to_string().to_lowercase();
    for leak in ["tasks", "table", "sql", "relation", "select"] {
        assert!(
            !text.replace("\"tasks\"]", "").contains(leak),
            "{leak} leaked: {body}"
        );
    }
    let me = app.me(&token).await;
    assert_eq!(
        me["data"]["me"]["email"], "ada@example.com",
        "the rest still works"
    );
}

/// GraphQL over HTTP: a client that accepts `application/graphql-response+json`
/// gets 400 and no `data` for a request that cannot run, and 200 for one that
/// ran, errors or not. `application/json` clients get 200 either way.
#[tokio::test]
async fn graphql_response_json_clients_get_status_codes_for_requests_that_cannot_run() {
    let app = spawn_app().await;
    let post = |body: serde_json::Value, accept: &'static str| {
        app.client
            .post(app.url("/graphql"))
            .header("accept", accept)
            .json(&body)
            .send()
    };
    let cannot_run = [
        (json!({ "query": "{ me { id " }), "does not parse"),
        (json!({ "query": "{ nothingHere }" }), "does not validate"),
        (
            json!({ "query": "query($n: Int) { tasks(first: $n) { totalCount } }", "variables": { "n": "many" } }),
            "variables do not coerce",
        ),
        (
            json!({ "query": "{ __typename }", "operationName": "Missing" }),
            "no such operation",
        ),
    ];
    for (body, why) in cannot_run {
        let response = post(body.clone(), "application/graphql-response+json")
            .await
            .expect("sent");
        assert_eq!(response.status(), 400, "{why}");
        assert_eq!(
            response.headers()["content-type"],
            "application/graphql-response+json"
        );
        let answer: serde_json::Value = response.json().await.expect("JSON");
        assert!(answer.get("data").is_none(), "{why}: {answer}");
        assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");

        let legacy = post(body, "application/json").await.expect("sent");
        assert_eq!(legacy.status(), 200, "{why}, as application/json");
    }
    let ran = [
        (json!({ "query": "{ __typename }" }), false),
        (json!({ "query": "{ me { id } }" }), true),
    ];
    for (body, failed) in ran {
        let response = post(body, "application/graphql-response+json")
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);
        let answer: serde_json::Value = response.json().await.expect("JSON");
        assert!(answer.get("data").is_some(), "{answer}");
        assert_eq!(answer.get("errors").is_some(), failed, "{answer}");
    }
}

/// In production a GET query runs only with a header that a cross-site form
/// or link cannot send without a CORS preflight.
#[tokio::test]
async fn in_production_a_get_query_needs_a_preflight_forcing_header() {
    let app = spawn_app_with(&[("TASKQL_ENV", "production")]).await;
    let get = || {
        app.client
            .get(app.url("/graphql"))
            .query(&[("query", "{ __typename }")])
    };
    let bare = get().send().await.expect("sent");
    assert_eq!(bare.status(), 400);
    let body: serde_json::Value = bare.json().await.expect("json");
    assert!(body.get("data").is_none(), "unexecuted: {body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    for (name, value) in [
        ("content-type", "application/json"),
        ("apollo-require-preflight", "true"),
        ("x-apollo-operation-name", "Anything"),
    ] {
        let answered = get().header(name, value).send().await.expect("sent");
        assert_eq!(answered.status(), 200, "{name}");
        let body: serde_json::Value = answered.json().await.expect("json");
        assert_eq!(body["data"]["__typename"], "Query", "{name}");
    }
}

/// GraphiQL's page and every file it loads come from this server, the files
/// under content-hashed names that may be cached for good.
#[tokio::test]
async fn graphiql_is_served_from_the_binary() {
    let app = spawn_app().await;
    let page = app.graphiql_page().await.text().await.expect("text");
    let assets: Vec<&str> = page
        .split('"')
        .filter(|part| part.starts_with("/graphql/assets/"))
        .collect();
    assert_eq!(assets.len(), 2, "a script and a stylesheet: {page}");
    assert!(!page.contains("http"), "nothing from elsewhere: {page}");
    for asset in assets {
        let response = app.get(asset).await;
        assert_eq!(response.status(), 200, "{asset}");
        assert_eq!(
            response.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert!(
            response.bytes().await.expect("body").len() > 1_000,
            "{asset}"
        );
    }
    assert_eq!(app.get("/graphql/assets/nothing.js").await.status(), 404);
}
