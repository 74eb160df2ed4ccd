//! The metrics listener: its own port, the Prometheus text format, series
//! that count what was done, and label values no client can grow.

use serde_json::json;

use crate::{
    helpers::{TestApp, spawn_app_with},
    smtp::SmtpServer,
};

async fn metrics_app() -> TestApp {
    spawn_app_with(&[("TASKQL_METRICS_LISTEN", "127.0.0.1:0")]).await
}

pub async fn scrape(app: &TestApp) -> String {
    let address = app.metrics_address.as_deref().expect("a metrics listener");
    let answer = app
        .client
        .get(format!("{address}/metrics"))
        .send()
        .await
        .expect("scraped");
    assert_eq!(answer.status(), 200);
    assert!(
        answer.headers()["content-type"]
            .to_str()
            .expect("text")
            .starts_with("text/plain; version=0.0.4")
    );
    answer.text().await.expect("text")
}

/// The value of the series `series` (name and labels as printed).
pub fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().expect("a number"))
}

#[tokio::test]
async fn operations_logins_and_requests_are_counted_on_a_listener_of_their_own() {
    // Mail waits in the queue while its SMTP server is down.
    let smtp = SmtpServer::down_watching("any").await;
    let smtp_url = smtp.url();
    let app = spawn_app_with(&[
        ("TASKQL_METRICS_LISTEN", "127.0.0.1:0"),
        ("TASKQL_SMTP_URL", &smtp_url),
    ])
    .await;
    for _ in 0..3 {
        let answer = app
            .graphql("query Probe { __typename }", json!({}), None)
            .await;
        assert_eq!(answer["data"]["__typename"], "Query");
    }
    app.graphql("query Broken { nope }", json!({}), None).await;
    app.signup("ada@example.com", crate::helpers::PASSWORD)
        .await;
    app.login("ada@example.com", "not the password").await;
    app.login("ada@example.com", crate::helpers::PASSWORD).await;

    let text = scrape(&app).await;
    assert_eq!(
        value(
            &text,
            r#"taskql_graphql_operations_total{operation="Probe",kind="query",outcome="ok"}"#
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            r#"taskql_graphql_operation_duration_seconds_count{operation="Probe",kind="query"}"#
        ),
        Some(3.0)
    );
    assert_eq!(
        value(
            &text,
            r#"taskql_graphql_operations_total{operation="Broken",kind="query",outcome="BAD_USER_INPUT"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            r#"taskql_logins_total{outcome="INVALID_CREDENTIALS"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&text, r#"taskql_logins_total{outcome="ok"}"#),
        Some(1.0)
    );
    assert!(
        value(
            &text,
            r#"taskql_http_requests_total{route="/graphql",status="200"}"#
        )
        .is_some_and(|count| count >= 7.0),
        "{text}"
    );
    assert_eq!(
        value(&text, "taskql_password_hash_seconds_count"),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        value(&text, "taskql_mail_queue_depth"),
        Some(1.0),
        "Ada's verification mail, waiting: {text}"
    );
    assert!(value(&text, "process_resident_memory_bytes").is_some_and(|bytes| bytes > 1e6));

    // Not on the public listener; the health routes are on both.
    assert_eq!(app.get("/metrics").await.status(), 404);
    let metrics = app.metrics_address.as_deref().expect("listener");
    let ready = app
        .client
        .get(format!("{metrics}/readyz"))
        .send()
        .await
        .expect("answered");
    assert_eq!(ready.status(), 200);
    let not_found = scrape(&app).await;
    assert!(
        value(
            &not_found,
            r#"taskql_http_requests_total{route="other",status="404"}"#
        )
        .is_some(),
        "{not_found}"
    );
}

#[tokio::test]
async fn a_thousand_operation_names_keep_the_series_bounded() {
    let app = metrics_app().await;
    for i in 0..1000 {
        let answer = app
            .graphql(&format!("query Name{i} {{ __typename }}"), json!({}), None)
            .await;
        assert_eq!(answer["data"]["__typename"], "Query");
    }
    let long = format!("query {} {{ __typename }}", "L".repeat(65));
    app.graphql(&long, json!({}), None).await;
    let text = scrape(&app).await;
    let series = text
        .lines()
        .filter(|line| line.starts_with("taskql_graphql_operations_total{"))
        .count();
    assert!(
        series <= taskql::metrics::OPERATION_NAMES + 2,
        "{series} series"
    );
    assert_eq!(
        value(
            &text,
            r#"taskql_graphql_operations_total{operation="other",kind="query",outcome="ok"}"#
        ),
        Some(801.0),
        "800 names beyond the first 200, and one too long"
    );
}

#[tokio::test]
async fn subscriptions_and_websocket_connections_are_gauged() {
    let app = metrics_app().await;
    let session = app.register("ada@example.com").await;
    let ws = app.ws_subscribed(&session.access_token, "events").await;
    let text = scrape(&app).await;
    assert_eq!(
        value(&text, "taskql_websocket_connections"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(value(&text, "taskql_subscriptions"), Some(1.0), "{text}");
    drop(ws);
    let mut closed = None;
    for _ in 0..100 {
        let text = scrape(&app).await;
        if value(&text, "taskql_websocket_connections") == Some(0.0) {
            closed = Some(text);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let closed = closed.expect("the connection's gauge went back to 0");
    assert_eq!(
        value(&closed, "taskql_subscriptions"),
        Some(0.0),
        "{closed}"
    );
}
