//! Checks that only mean something on PostgreSQL.

use std::{process::Command, sync::Arc};

use futures_util::future::join_all;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;

use crate::{
    helpers::{TestDatabase, assert_error, spawn_app_on, spawn_postgres_app},
    proxy::Relay,
};

/// CI sets `TASKQL_TEST_POSTGRES_URL`; this proves the suite really ran there.
#[tokio::test]
#[ignore = "needs PostgreSQL: TASKQL_TEST_POSTGRES_URL and --include-ignored"]
async fn the_suite_runs_on_postgres_when_configured() {
    let app = spawn_postgres_app().await;
    assert!(app.database.is_postgres());
    assert_eq!(app.db.get_database_backend(), DbBackend::Postgres);
}

/// Any number of instances started at the same moment on a new, empty
/// database all come up: the migrations run once, under a lock, and so does
/// `taskql migrate up` started next to them.
#[tokio::test]
#[ignore = "needs PostgreSQL: TASKQL_TEST_POSTGRES_URL and --include-ignored"]
async fn instances_started_together_on_an_empty_database_all_come_up() {
    let database = Arc::new(TestDatabase::postgres_only().await);
    let url = database.url.clone();
    let migrate = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_taskql"))
            .env_clear()
            .env("TASKQL_DATABASE_URL", url)
            .env("TASKQL_LOG", "warn")
            .args(["migrate", "up"])
            .output()
            .expect("runs")
    });
    let apps = join_all((0..4).map(|_| spawn_app_on(Arc::clone(&database), &[]))).await;
    let migrated = migrate.await.expect("joined");
    assert!(
        migrated.status.success(),
        "taskql migrate up: {}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    for (i, app) in apps.iter().enumerate() {
        let session = app.register(&format!("user{i}@example.com")).await;
        let me = app.me(&session.access_token).await;
        assert_eq!(me["data"]["me"]["id"], session.user_id, "{me}");
    }
}

/// A change made through one instance reaches a subscriber on another, and
/// a refresh token rotated on one is dead on the other.
#[tokio::test]
#[ignore = "needs PostgreSQL: TASKQL_TEST_POSTGRES_URL and --include-ignored"]
async fn two_instances_share_events_and_sessions() {
    let a = spawn_postgres_app().await;
    let b = spawn_app_on(Arc::clone(&a.database), &[]).await;
    let ada = a.register("ada@example.com").await;
    let mut ws = b.ws_subscribed(&ada.access_token, "1").await;
    let id = a.task_id(&ada.access_token, "Made on A").await;
    let event = ws.next_of("1").await;
    assert_eq!(event["data"]["taskEvents"]["kind"], "CREATED", "{event}");
    assert_eq!(event["data"]["taskEvents"]["taskId"], id.as_str());
    assert_eq!(event["data"]["taskEvents"]["task"]["title"], "Made on A");

    let rotated = a.refresh(&ada.refresh_token).await;
    assert!(rotated["errors"].is_null(), "{rotated}");
    assert_error(&b.refresh(&ada.refresh_token).await, "UNAUTHENTICATED");
}

/// When an instance's listening connection is cut, it listens again, and
/// its subscriptions catch up from the change log where they were: the
/// changes made meanwhile arrive once each, in order, and live ones after.
#[tokio::test]
#[ignore = "needs PostgreSQL: TASKQL_TEST_POSTGRES_URL and --include-ignored"]
async fn a_dropped_listener_reconnects_and_subscriptions_resume() {
    let app = spawn_postgres_app().await;
    let ada = app.register("ada@example.com").await;
    let mut ws = app.ws_subscribed(&ada.access_token, "1").await;
    app.task_id(&ada.access_token, "Before").await;
    let before = ws.next_of("1").await;
    assert_eq!(before["data"]["taskEvents"]["task"]["title"], "Before");

    let terminated = app
        .db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN %'",
        ))
        .await
        .expect("terminate the listener");
    assert_eq!(terminated.len(), 1, "one listening connection");
    // Made while the instance listens again: their notices may be lost.
    for title in ["During 1", "During 2"] {
        app.task_id(&ada.access_token, title).await;
    }
    let mut titles = Vec::new();
    while titles.len() < 2 {
        let event = ws.next_of("1").await;
        assert!(event["errors"].is_null(), "{event}");
        titles.push(event["data"]["taskEvents"]["task"]["title"].clone());
    }
    assert_eq!(titles, ["During 1", "During 2"]);
    crate::helpers::assert_nothing_arrives(
        &mut ws,
        async {
            app.task_id(&ada.access_token, "After").await;
        },
        |message| crate::ws_client::is_task_titled(message, "After"),
    )
    .await;
}

/// While the database cannot be reached, operations answer
/// `SERVICE_UNAVAILABLE` (a `503` for GraphQL-over-HTTP clients) and
/// `/readyz` a `503`; once it is back the server recovers by itself, and
/// what was stored before is all there.
#[tokio::test]
#[ignore = "needs PostgreSQL: TASKQL_TEST_POSTGRES_URL and --include-ignored"]
async fn a_database_out_of_reach_is_service_unavailable_until_it_is_back() {
    let database = Arc::new(TestDatabase::postgres_only().await);
    let direct = url::Url::parse(&database.url).expect("URL");
    let target = tokio::net::lookup_host((
        direct.host_str().expect("host"),
        direct.port().unwrap_or(5432),
    ))
    .await
    .expect("resolves")
    .next()
    .expect("an address");
    let relay = Relay::start(target).await;
    let mut relayed = direct.clone();
    relayed.set_host(Some("127.0.0.1")).expect("host");
    relayed.set_port(Some(relay.address.port())).expect("port");
    let app = spawn_app_on(
        Arc::clone(&database),
        &[("TASKQL_DATABASE_URL", relayed.as_str())],
    )
    .await;
    let session = app.register("ada@example.com").await;
    let token = session.access_token.as_str();
    app.create_task(token, json!({ "title": "stored before" }))
        .await;
    let titles = "{ tasks(first: 10) { edges { node { title } } } }";

    relay.cut().await;
    let answer = app.graphql(titles, json!({}), Some(token)).await;
    assert_error(&answer, "SERVICE_UNAVAILABLE");
    let message = answer["errors"][0]["message"].as_str().expect("message");
    assert!(
        !message.contains("127.0.0.1") && !message.contains("pool"),
        "{message}"
    );
    let strict = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .bearer_auth(token)
        .json(&json!({ "query": titles }))
        .send()
        .await
        .expect("answered");
    assert_eq!(strict.status(), 503);
    assert_eq!(strict.headers()["retry-after"], "1");
    assert_eq!(app.get("/readyz").await.status(), 503);
    let write = app
        .graphql(
            r#"mutation { createTask(input: { title: "while down" }) { id } }"#,
            json!({}),
            Some(token),
        )
        .await;
    assert_error(&write, "SERVICE_UNAVAILABLE");

    relay.restore().await;
    let mut recovered = None;
    for _ in 0..100 {
        let answer = app.graphql(titles, json!({}), Some(token)).await;
        if answer["errors"].is_null() {
            recovered = Some(answer);
            break;
        }
        assert_error(&answer, "SERVICE_UNAVAILABLE");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let recovered = recovered.expect("the server recovered by itself");
    assert_eq!(
        recovered["data"]["tasks"]["edges"],
        json!([{ "node": { "title": "stored before" } }])
    );
    assert_eq!(app.get("/readyz").await.status(), 200);
    let after = app.create_task(token, json!({ "title": "after" })).await;
    assert!(after["errors"].is_null(), "{after}");
}
