//! Stopping the application: requests in flight finish, new connections
//! are refused, and the whole application (workers included) comes to a stop.

use std::time::Duration;

use entity::rate_counter::Entity as RateCounters;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

use crate::helpers::{assert_error, spawn_app, spawn_app_with};

#[tokio::test]
async fn stopping_finishes_requests_in_flight_then_refuses_new_connections() {
    // Costly hashing keeps a login in flight long enough to stop during it.
    let app = spawn_app_with(&[("TASKQL_ARGON2_M_KIB", "65536"), ("TASKQL_ARGON2_T", "3")]).await;
    let login = app.client.post(app.url("/graphql")).json(&json!({
        "query": "mutation { login(input: { email: \"ada@example.com\", password: \"a guess\" }) { accessToken } }"
    }));
    let in_flight = tokio::spawn(login.send());
    // A login counts its attempt before it hashes: once the count is there,
    // the request is being answered.
    while RateCounters::find()
        .count(&app.db)
        .await
        .expect("count attempts")
        == 0
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    app.shutdown.stop();

    let answered = in_flight.await.expect("joined").expect("answered");
    assert_eq!(answered.status(), 200);
    let body: serde_json::Value = answered.json().await.expect("JSON");
    assert_error(&body, "INVALID_CREDENTIALS");
    // A hang here would mean the application never stopped.
    tokio::time::timeout(Duration::from_secs(30), app.shutdown.stopped())
        .await
        .expect("the application stopped");
    let refused = app.client.get(app.url("/healthz")).send().await;
    assert!(refused.is_err(), "no longer accepting: {refused:?}");
}

/// A drain says "not ready" at once and goes on serving, over connections
/// already open and new ones, until it ends; then subscriptions close with
/// `1001` and new connections are refused. The order of these is what is
/// checked, not how long they take: the drain is ended early by a stop.
#[tokio::test]
async fn a_drain_answers_not_ready_at_once_and_serves_until_it_ends() {
    let app = spawn_app().await;
    let session = app.register("ada@example.com").await;
    let mut ws = app.ws_subscribed(&session.access_token, "events").await;
    assert_eq!(app.get("/readyz").await.status(), 200);

    // Far longer than the test: it ends only when stopped.
    let draining = tokio::spawn({
        let shutdown = app.shutdown.clone();
        async move { shutdown.drain(Duration::from_secs(3600)).await }
    });
    while !app.shutdown.is_draining() {
        tokio::task::yield_now().await;
    }
    assert_eq!(app.get("/readyz").await.status(), 503);
    assert_eq!(app.get("/healthz").await.status(), 200);
    // A new connection, not the client's pooled one.
    let fresh = reqwest::Client::new();
    let answer: serde_json::Value = fresh
        .post(app.url("/graphql"))
        .bearer_auth(&session.access_token)
        .json(&json!({ "query": "{ me { email } }" }))
        .send()
        .await
        .expect("served while draining")
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["data"]["me"]["email"], "ada@example.com", "{answer}");
    // The subscription is still open: it answers a ping.
    ws.settle().await;
    assert!(!draining.is_finished(), "all of it inside the drain");

    app.shutdown.stop();
    assert_eq!(ws.close_code().await, 1001);
    draining.await.expect("the drain ends with the stop");
    tokio::time::timeout(Duration::from_secs(30), app.shutdown.stopped())
        .await
        .expect("the application stopped");
    let refused = reqwest::Client::new().get(app.url("/healthz")).send().await;
    assert!(refused.is_err(), "no longer accepting: {refused:?}");
}

/// A drain ends by itself once its time is up, and the stop follows.
#[tokio::test]
async fn a_drain_ends_by_itself_when_its_time_is_up() {
    let app = spawn_app().await;
    let session = app.register("ada@example.com").await;
    let mut ws = app.ws_subscribed(&session.access_token, "events").await;
    app.shutdown.drain(Duration::from_millis(200)).await;
    assert_eq!(ws.close_code().await, 1001);
    tokio::time::timeout(Duration::from_secs(30), app.shutdown.stopped())
        .await
        .expect("the application stopped");
}
