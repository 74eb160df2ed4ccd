//! Trusted documents (`TASKQL_TRUSTED_DOCUMENTS`): a manifest as the client
//! preset writes it; `documentId` over POST, GET and WebSocket; in
//! production only its documents run, still under the gateway's limits.

use std::sync::Arc;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    helpers::{TestApp, TestDatabase, assert_error, spawn_app_on},
    ws_client::TASK_EVENTS,
};

const ME: &str = "query Me { me { email } }";
const ADD: &str = "mutation Add($input: CreateTaskInput!) { createTask(input: $input) { id } }";
const TOO_DEEP: &str =
    "query Deep { f1 { f2 { f3 { f4 { f5 { f6 { f7 { f8 { f9 { f10 { leaf } } } } } } } } } } }";

fn id(document: &str) -> String {
    format!("sha256:{}", hex(document))
}

fn hex(document: &str) -> String {
    Sha256::digest(document.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A manifest file of `documents`, in a directory that lives as long as it.
fn manifest(documents: &[&str]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("directory");
    let path = dir.path().join("persisted-documents.json");
    let entries: serde_json::Map<String, Value> = documents
        .iter()
        .map(|document| (id(document), json!(document)))
        .collect();
    std::fs::write(&path, Value::Object(entries).to_string()).expect("written");
    (dir, path.display().to_string())
}

async fn post(app: &TestApp, body: Value, token: Option<&str>) -> Value {
    let response = app.post_graphql(&body, token).await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

/// A token of an account made through a server that runs anything, for the
/// production server on the same database.
async fn account(database: &Arc<TestDatabase>) -> String {
    let open = spawn_app_on(Arc::clone(database), &[]).await;
    open.register("trusted@example.com").await.access_token
}

#[tokio::test]
async fn in_production_only_the_manifests_documents_run_by_id_hash_or_text() {
    let database = Arc::new(TestDatabase::create().await);
    let token = account(&database).await;
    let (_dir, path) = manifest(&[ME, ADD, TASK_EVENTS, TOO_DEEP]);
    let app = spawn_app_on(
        database,
        &[
            ("TASKQL_ENV", "production"),
            ("TASKQL_TRUSTED_DOCUMENTS", &path),
        ],
    )
    .await;
    let me = json!({ "me": { "email": "trusted@example.com" } });

    for document_id in [id(ME), hex(ME)] {
        let answer = post(&app, json!({ "documentId": document_id }), Some(&token)).await;
        assert_eq!(answer["data"], me, "{document_id}: {answer}");
    }
    let same_text = post(&app, json!({ "query": ME }), Some(&token)).await;
    assert_eq!(same_text["data"], me, "{same_text}");
    let by_hash = post(
        &app,
        json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hex(ME) } } }),
        Some(&token),
    )
    .await;
    assert_eq!(by_hash["data"], me, "{by_hash}");

    // Anything else is refused, however it comes.
    let other = "query Other { me { id } }";
    let sent = post(&app, json!({ "query": other }), Some(&token)).await;
    assert_error(&sent, "PERSISTED_QUERY_NOT_FOUND");
    assert!(
        sent["errors"][0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("trusted documents")),
        "{sent}"
    );
    let unknown = post(&app, json!({ "documentId": id(other) }), Some(&token)).await;
    assert_error(&unknown, "PERSISTED_QUERY_NOT_FOUND");
    let registered = post(
        &app,
        json!({ "query": other,
                "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hex(other) } } }),
        Some(&token),
    )
    .await;
    assert_error(&registered, "PERSISTED_QUERY_NOT_FOUND");
    let unregistered = post(
        &app,
        json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hex(other) } } }),
        Some(&token),
    )
    .await;
    assert_error(&unregistered, "PERSISTED_QUERY_NOT_FOUND");
    let nothing_sent = post(&app, json!({ "query": "{ __typename }" }), None).await;
    assert_error(&nothing_sent, "PERSISTED_QUERY_NOT_FOUND");

    // A trusted document is still held to the limits.
    let deep = post(&app, json!({ "documentId": id(TOO_DEEP) }), Some(&token)).await;
    assert_error(&deep, "BAD_USER_INPUT");
    assert!(deep.to_string().contains("deep"), "{deep}");

    // A request names its document one way.
    let both = post(
        &app,
        json!({ "documentId": id(ME), "query": ME }),
        Some(&token),
    )
    .await;
    assert_error(&both, "BAD_USER_INPUT");
    let malformed = post(&app, json!({ "documentId": "md5:abc" }), Some(&token)).await;
    assert_error(&malformed, "BAD_USER_INPUT");

    // Over GET, with the header production asks of GET.
    let over_get: Value = app
        .client
        .get(app.url("/graphql"))
        .query(&[("documentId", id(ME))])
        .bearer_auth(&token)
        .header("x-apollo-operation-name", "Me")
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    assert_eq!(over_get["data"], me, "{over_get}");

    // Over WebSocket: a trusted subscription starts, any other is refused.
    let mut socket = app.ws_session(&token).await;
    socket
        .send(json!({ "type": "subscribe", "id": "other",
                      "payload": { "query": "subscription { taskEvents { kind } }" } }))
        .await;
    let refused = socket.message().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );
    socket
        .send(json!({ "type": "subscribe", "id": "trusted",
                      "payload": { "documentId": id(TASK_EVENTS) } }))
        .await;
    socket.settle().await;
    let added = post(
        &app,
        json!({ "documentId": id(ADD), "variables": { "input": { "title": "Seen live" } } }),
        Some(&token),
    )
    .await;
    assert!(added["errors"].is_null(), "{added}");
    let event = socket.message().await;
    assert_eq!(event["type"], "next", "{event}");
    assert_eq!(event["id"], "trusted");
    assert_eq!(
        event["payload"]["data"]["taskEvents"]["task"]["title"],
        "Seen live"
    );
}

#[tokio::test]
async fn in_development_documents_run_by_id_and_anything_else_still_runs() {
    let database = Arc::new(TestDatabase::create().await);
    let token = account(&database).await;
    let (_dir, path) = manifest(&[ME]);
    let app = spawn_app_on(database, &[("TASKQL_TRUSTED_DOCUMENTS", &path)]).await;
    let by_id = post(&app, json!({ "documentId": id(ME) }), Some(&token)).await;
    assert_eq!(
        by_id["data"]["me"]["email"], "trusted@example.com",
        "{by_id}"
    );
    let other = post(&app, json!({ "query": "{ me { id } }" }), Some(&token)).await;
    assert!(other["errors"].is_null(), "{other}");
    let unknown = post(
        &app,
        json!({ "documentId": id("{ me { id } }") }),
        Some(&token),
    )
    .await;
    assert_error(&unknown, "PERSISTED_QUERY_NOT_FOUND");
}

#[test]
fn a_manifest_that_does_not_hold_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("directory");
    let path = dir.path().join("persisted-documents.json");
    std::fs::write(
        &path,
        json!({ id(ME): "query Me { me { id } }" }).to_string(),
    )
    .expect("written");
    let path = path.display().to_string();
    let missing = dir.path().join("missing.json").display().to_string();
    for manifest in [path.as_str(), missing.as_str()] {
        let vars = [("TASKQL_TRUSTED_DOCUMENTS", manifest)];
        let error = taskql::config::Config::from_vars(vars).expect_err("refused");
        let error = error.to_string();
        assert!(error.contains("TASKQL_TRUSTED_DOCUMENTS"), "{error}");
    }
}
