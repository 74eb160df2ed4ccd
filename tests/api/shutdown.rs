//! Stopping the application: requests in flight finish, new connections
//! are refused, and the whole application (workers included) comes to a stop.

use std::time::Duration;

use entity::rate_counter::Entity as RateCounters;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

use crate::helpers::{assert_error, spawn_app_with};

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
