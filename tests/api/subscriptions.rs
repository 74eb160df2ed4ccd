//! Live task events over WebSocket (`graphql-transport-ws` at `/graphql/ws`):
//! authentication in `connection_init`, the close codes, events of the
//! viewer's own tasks in commit order, and the limits every operation obeys.

use serde_json::json;

use crate::{
    helpers::{CHANGE_PASSWORD, PASSWORD, assert_nothing_arrives, spawn_app, spawn_app_with},
    ws_client::{Received, TASK_EVENTS, is_task_titled},
};

const UPDATE_TASK: &str =
    "mutation($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { id } }";
const DELETE_TASK: &str = "mutation($id: ID!) { deleteTask(id: $id) }";

#[tokio::test]
async fn a_subscriber_receives_its_own_changes_in_commit_order() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let mut ws = app.ws_session(&ada.access_token).await;
    ws.subscribe("1", TASK_EVENTS).await;
    // The subscription is running once the server has answered something
    // after it; a round trip through the socket makes sure.
    ws.settle().await;

    let id = app.task_id(&ada.access_token, "Buy milk").await;
    let created = ws.next_of("1").await;
    assert_eq!(
        created["data"]["taskEvents"]["kind"], "CREATED",
        "{created}"
    );
    assert_eq!(created["data"]["taskEvents"]["taskId"], id.as_str());
    assert_eq!(created["data"]["taskEvents"]["task"]["title"], "Buy milk");

    for title in ["Buy oat milk", "Buy almond milk"] {
        let updated = app
            .graphql(
                UPDATE_TASK,
                json!({ "id": id, "input": { "title": title } }),
                Some(&ada.access_token),
            )
            .await;
        assert!(updated["errors"].is_null(), "{updated}");
    }
    for title in ["Buy oat milk", "Buy almond milk"] {
        let event = ws.next_of("1").await;
        assert_eq!(event["data"]["taskEvents"]["kind"], "UPDATED");
        assert_eq!(
            event["data"]["taskEvents"]["task"]["title"], title,
            "in commit order"
        );
    }
    app.graphql(DELETE_TASK, json!({ "id": id }), Some(&ada.access_token))
        .await;
    let deleted = ws.next_of("1").await;
    assert_eq!(deleted["data"]["taskEvents"]["kind"], "DELETED");
    assert_eq!(deleted["data"]["taskEvents"]["taskId"], id.as_str());
    assert!(deleted["data"]["taskEvents"]["task"].is_null(), "{deleted}");
}

#[tokio::test]
async fn a_missing_or_invalid_token_closes_with_4403() {
    let app = spawn_app().await;
    for payload in [
        json!({}),
        json!({ "authorization": "Bearer not-a-token" }),
        json!(null),
    ] {
        let mut ws = app.ws_connect().await;
        ws.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        assert_eq!(ws.close_code().await, 4403, "{payload}");
    }
}

#[tokio::test]
async fn a_bare_token_is_accepted() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let mut ws = app.ws_connect().await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": ada.access_token } }))
        .await;
    assert_eq!(ws.message().await["type"], "connection_ack");
}

#[tokio::test]
async fn no_connection_init_within_ten_seconds_closes_with_4408() {
    let app = spawn_app().await;
    let mut ws = app.ws_connect().await;
    assert_eq!(ws.close_code().await, 4408);
}

#[tokio::test]
async fn events_never_reach_another_user() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let bob = app.register("bob@example.com").await;
    let mut ada_ws = app.ws_subscribed(&ada.access_token, "events").await;
    let mut bob_ws = app.ws_subscribed(&bob.access_token, "events").await;
    app.task_id(&ada.access_token, "Ada's secret").await;
    let ada_event = ada_ws.next_of("events").await;
    assert_eq!(
        ada_event["data"]["taskEvents"]["task"]["title"],
        "Ada's secret"
    );
    // Bob's own next change comes after anything of Ada's that could reach
    // him, and so does Ada's after Bob's secret.
    assert_nothing_arrives(
        &mut bob_ws,
        async {
            app.task_id(&bob.access_token, "Bob's secret").await;
        },
        |message| is_task_titled(message, "Bob's secret"),
    )
    .await;
    assert_nothing_arrives(
        &mut ada_ws,
        async {
            app.task_id(&ada.access_token, "Ada's marker").await;
        },
        |message| is_task_titled(message, "Ada's marker"),
    )
    .await;
}

#[tokio::test]
async fn a_long_description_is_delivered_whole() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let mut ws = app.ws_subscribed(&ada.access_token, "1").await;
    let description = "ü".repeat(10_000);
    let created = app
        .create_task(
            &ada.access_token,
            json!({ "title": "Long", "description": description }),
        )
        .await;
    assert!(created["errors"].is_null(), "{created}");
    let event = ws.next_of("1").await;
    assert_eq!(
        event["data"]["taskEvents"]["task"]["description"],
        description.as_str()
    );
}

#[tokio::test]
async fn the_connection_closes_with_4403_when_the_token_expires() {
    let app = spawn_app_with(&[("TASKQL_ACCESS_TOKEN_TTL", "2s")]).await;
    let ada = app.register("ada@example.com").await;
    let mut ws = app.ws_session(&ada.access_token).await;
    ws.subscribe("1", TASK_EVENTS).await;
    assert_eq!(ws.close_code().await, 4403);
}

#[tokio::test]
async fn a_password_change_or_account_deletion_closes_the_connection_with_4403() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let mut ws = app.ws_session(&ada.access_token).await;
    ws.subscribe("1", TASK_EVENTS).await;
    let changed = app
        .graphql(
            CHANGE_PASSWORD,
            json!({ "input": { "currentPassword": PASSWORD, "newPassword": "a brand new passphrase" } }),
            Some(&ada.access_token),
        )
        .await;
    assert!(changed["errors"].is_null(), "{changed}");
    assert_eq!(ws.close_code().await, 4403, "after the password change");

    let bob = app.register("bob@example.com").await;
    let mut ws = app.ws_session(&bob.access_token).await;
    ws.subscribe("1", TASK_EVENTS).await;
    let deleted = app
        .graphql(
            "mutation($p: String!) { deleteAccount(password: $p) }",
            json!({ "p": PASSWORD }),
            Some(&bob.access_token),
        )
        .await;
    assert!(deleted["errors"].is_null(), "{deleted}");
    assert_eq!(ws.close_code().await, 4403, "after the account deletion");
}

#[tokio::test]
async fn over_deep_and_over_aliased_subscriptions_are_refused() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let mut ws = app.ws_session(&ada.access_token).await;
    let deep = "subscription { taskEvents { task { a { b { c { d { e { f { g { h { i { j } } } } } } } } } } } }";
    let aliases: Vec<String> = (0..51)
        .map(|i| format!("a{i}: taskEvents {{ kind }}"))
        .collect();
    let aliased = format!("subscription {{ {} }}", aliases.join(" "));
    for (id, query, says) in [
        ("deep", deep, "deep"),
        ("aliased", aliased.as_str(), "aliases"),
    ] {
        ws.subscribe(id, query).await;
        // Refused before it starts: the protocol's `error`, with the
        // GraphQL errors as its payload, and no `complete` after it.
        let message = ws.message().await;
        let errors = &message["payload"];
        assert_eq!(
            (message["type"].as_str(), message["id"].as_str()),
            (Some("error"), Some(id)),
            "{message}"
        );
        assert_eq!(
            errors[0]["extensions"]["code"], "BAD_USER_INPUT",
            "{message}"
        );
        assert!(
            errors[0]["message"]
                .as_str()
                .is_some_and(|m| m.contains(says)),
            "{message}"
        );
        ws.settle().await;
    }
    // So is one that does not validate; the id may then be used again.
    ws.subscribe("unknown", "subscription { noSuchField }")
        .await;
    let message = ws.message().await;
    assert_eq!(message["type"], "error", "{message}");
    assert_eq!(
        message["payload"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{message}"
    );
    ws.subscribe("unknown", TASK_EVENTS).await;
    ws.settle().await;
    app.task_id(&ada.access_token, "Heard").await;
    assert_eq!(
        ws.next_of("unknown").await["data"]["taskEvents"]["kind"],
        "CREATED"
    );
}

#[tokio::test]
async fn a_connection_holds_at_most_twenty_subscriptions() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let mut ws = app.ws_session(&ada.access_token).await;
    for i in 0..21 {
        ws.subscribe(&i.to_string(), TASK_EVENTS).await;
    }
    let refused = ws.message().await;
    assert_eq!(
        (refused["type"].as_str(), refused["id"].as_str()),
        (Some("error"), Some("20")),
        "{refused}"
    );
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    // Ending one makes room for another.
    ws.send(json!({ "type": "complete", "id": "0" })).await;
    assert_eq!(ws.message().await, json!({ "type": "complete", "id": "0" }));
    ws.subscribe("21", TASK_EVENTS).await;
    // Every subscription is running once a later ping has been answered.
    ws.settle().await;
    app.task_id(&ada.access_token, "Counted").await;
    let mut heard = std::collections::HashSet::new();
    while heard.len() < 20 {
        let message = ws.message().await;
        assert_eq!(message["type"], "next", "{message}");
        heard.insert(message["id"].as_str().expect("id").to_owned());
    }
    assert!(heard.contains("21") && !heard.contains("0"), "{heard:?}");
}

#[tokio::test]
async fn browsers_may_subscribe_only_from_allowed_origins() {
    let app = spawn_app_with(&[("TASKQL_CORS_ORIGINS", "https://app.example.com")]).await;
    assert!(
        app.ws_connect_from(Some("https://app.example.com"))
            .await
            .is_ok()
    );
    assert!(
        app.ws_connect_from(Some(&app.address)).await.is_ok(),
        "the server's own page"
    );
    assert_eq!(
        app.ws_connect_from(Some("https://evil.example"))
            .await
            .err(),
        Some(403)
    );
}

#[tokio::test]
async fn shutting_down_closes_connections_with_1001() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let mut ws = app.ws_session(&ada.access_token).await;
    ws.subscribe("1", TASK_EVENTS).await;
    app.shutdown.stop();
    assert_eq!(ws.close_code().await, 1001);
    let stopped =
        tokio::time::timeout(std::time::Duration::from_secs(30), app.shutdown.stopped()).await;
    assert!(stopped.is_ok(), "the application stopped");
}

/// A client that stops reading is disconnected once the server has waited
/// for it a while, instead of having its events buffered without bound.
#[tokio::test]
async fn a_subscriber_that_stops_reading_is_disconnected() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let mut ws = app.ws_subscribed(&ada.access_token, "1").await;
    // About 20 MB of events, far more than the sockets' buffers hold.
    let description = "ü".repeat(10_000);
    for i in 0..1_000 {
        let input = json!({ "title": format!("Long {i}"), "description": description });
        let created = app.create_task(&ada.access_token, input).await;
        assert!(created["errors"].is_null(), "{created}");
    }
    // Longer than the server waits for a client to take a message.
    tokio::time::sleep(std::time::Duration::from_secs(12)).await;
    let mut events = 0;
    loop {
        match ws.receive().await {
            Received::Message(message) if message["type"] == "next" => events += 1,
            Received::Message(message) => panic!("{message}"),
            Received::Closed(code, _) => {
                assert_eq!(code, 1006, "dropped, not closed in order");
                break;
            }
        }
    }
    assert!(
        events < 1_000,
        "the server stopped sending: {events} events"
    );
}

/// Idle proxies cut quiet connections; the server pings every 15 s.
#[tokio::test]
async fn an_idle_connection_is_pinged() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let mut ws = app.ws_session(&ada.access_token).await;
    let ping = ws.next_text(std::time::Duration::from_secs(20)).await;
    assert_eq!(ping, json!({ "type": "ping" }));
}
