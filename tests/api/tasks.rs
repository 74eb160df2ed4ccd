//! Task queries and mutations: the guard, ownership, input rules, changes.

use entity::task::Entity as Tasks;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, assert_bad_input, assert_error, spawn_app};

const TASK: &str =
    "query($id: ID!) { task(id: $id) { id title description completed dueAt updatedAt } }";
const UPDATE: &str =
    "mutation($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) {
    id title description completed dueAt createdAt updatedAt } }";
const DELETE: &str = "mutation($id: ID!) { deleteTask(id: $id) }";
const COUNT: &str = "{ tasks { totalCount } }";

#[tokio::test]
async fn every_task_operation_needs_a_valid_token() {
    let app = spawn_app().await;
    let session = app.register("ada@example.com").await;
    let id = app.task_id(&session.access_token, "Mine").await;
    let operations = [
        (TASK, json!({ "id": id })),
        ("{ tasks { edges { node { id } } } }", json!({})),
        (
            crate::helpers::CREATE_TASK,
            json!({ "input": { "title": "New" } }),
        ),
        (UPDATE, json!({ "id": id, "input": { "title": "Changed" } })),
        (DELETE, json!({ "id": id })),
    ];
    for token in [None, Some("not-a-token")] {
        for (query, variables) in &operations {
            let response = app.graphql(query, variables.clone(), token).await;
            assert_error(&response, "UNAUTHENTICATED");
        }
    }
    let task = app
        .graphql(TASK, json!({ "id": id }), Some(&session.access_token))
        .await;
    assert_eq!(
        task["data"]["task"]["title"], "Mine",
        "nothing changed: {task}"
    );
    assert_eq!(Tasks::find().count(&app.db).await.expect("count"), 1);
}

#[tokio::test]
async fn create_task_stores_a_trimmed_title_and_utc_dates() {
    let app = spawn_app().await;
    let token = app.register("ada@example.com").await.access_token;
    let response = app
        .create_task(&token, json!({ "title": "  Buy milk  ", "description": "two litres", "dueAt": "2026-12-01T10:30:00+02:00" }))
        .await;
    let task = &response["data"]["createTask"];
    assert_eq!(task["title"], "Buy milk", "{response}");
    assert_eq!(task["description"], "two litres");
    assert_eq!(task["completed"], false);
    assert_eq!(task["dueAt"], "2026-12-01T08:30:00Z");
    assert_eq!(task["createdAt"], task["updatedAt"]);
    let fetched = app
        .graphql(TASK, json!({ "id": task["id"] }), Some(&token))
        .await;
    assert_eq!(fetched["data"]["task"]["title"], "Buy milk");
}

#[tokio::test]
async fn invalid_task_input_is_bad_user_input_naming_the_field_and_stores_nothing() {
    let app = spawn_app().await;
    let token = app.register("ada@example.com").await.access_token;
    let cases = [
        (json!({ "title": "" }), "title", "empty title"),
        (json!({ "title": " \t\n " }), "title", "blank title"),
        (
            json!({ "title": "é".repeat(201) }),
            "title",
            "201-character title",
        ),
        (
            json!({ "title": "ok", "description": "x".repeat(10_001) }),
            "description",
            "long description",
        ),
        (
            json!({ "title": "ok", "dueAt": "tomorrow" }),
            "dueAt",
            "not a date",
        ),
        (
            json!({ "title": "ok", "dueAt": "2026-12-01" }),
            "dueAt",
            "a date without a time",
        ),
        (
            json!({ "title": "ok", "dueAt": 1_700_000_000 }),
            "dueAt",
            "a number",
        ),
        (json!({ "title": 42 }), "title", "a number for a title"),
        (
            json!({ "title": "ok", "owner": "someone" }),
            "owner",
            "an unknown field",
        ),
    ];
    for (input, field, why) in cases {
        let response = app.create_task(&token, input).await;
        assert_eq!(
            (
                response["errors"][0]["extensions"]["code"].as_str(),
                response["errors"][0]["extensions"]["field"].as_str()
            ),
            (Some("BAD_USER_INPUT"), Some(field)),
            "{why}: {response}"
        );
    }
    let limits = app
        .create_task(
            &token,
            json!({ "title": "é".repeat(200), "description": "é".repeat(10_000) }),
        )
        .await;
    assert!(
        limits["errors"].is_null(),
        "the limits themselves are allowed: {limits}"
    );
    assert_eq!(Tasks::find().count(&app.db).await.expect("count"), 1);
}

#[tokio::test]
async fn invalid_updates_change_nothing() {
    let app = spawn_app().await;
    let token = app.register("ada@example.com").await.access_token;
    let id = app.task_id(&token, "Original").await;
    let cases = [
        (json!({ "title": null }), "title"),
        (json!({ "completed": null }), "completed"),
        (json!({ "title": "" }), "title"),
        (json!({ "description": "x".repeat(10_001) }), "description"),
        (json!({ "dueAt": "next week" }), "dueAt"),
    ];
    for (input, field) in cases {
        let response = app
            .graphql(UPDATE, json!({ "id": id, "input": input }), Some(&token))
            .await;
        assert_bad_input(&response, field);
    }
    let task = app.graphql(TASK, json!({ "id": id }), Some(&token)).await;
    assert_eq!(task["data"]["task"]["title"], "Original", "{task}");
}

#[tokio::test]
async fn malformed_ids_are_bad_user_input() {
    let app = spawn_app().await;
    let token = app.register("ada@example.com").await.access_token;
    for (query, variables) in [
        (TASK, json!({ "id": "42" })),
        (
            UPDATE,
            json!({ "id": "not-a-uuid", "input": { "title": "x" } }),
        ),
        (DELETE, json!({ "id": "" })),
    ] {
        assert_bad_input(&app.graphql(query, variables, Some(&token)).await, "id");
    }
}

#[tokio::test]
async fn update_task_changes_only_the_fields_given() {
    let app = spawn_app().await;
    let token = app.register("ada@example.com").await.access_token;
    let created = app
        .create_task(&token, json!({ "title": "Write report", "description": "Q3", "dueAt": "2026-12-01T09:00:00Z" }))
        .await;
    let created = &created["data"]["createTask"];
    let update = |input: Value| {
        app.graphql(
            UPDATE,
            json!({ "id": created["id"], "input": input }),
            Some(&token),
        )
    };

    let completed = update(json!({ "completed": true })).await;
    let task = &completed["data"]["updateTask"];
    assert_eq!(
        (
            &task["title"],
            &task["description"],
            &task["completed"],
            &task["dueAt"]
        ),
        (
            &json!("Write report"),
            &json!("Q3"),
            &json!(true),
            &json!("2026-12-01T09:00:00Z")
        ),
        "{completed}"
    );
    assert_eq!(task["createdAt"], created["createdAt"]);
    assert!(updated_after(task, created), "updatedAt moves: {completed}");

    let cleared = update(json!({ "description": null, "dueAt": null })).await;
    let cleared = &cleared["data"]["updateTask"];
    assert!(
        cleared["description"].is_null() && cleared["dueAt"].is_null(),
        "{cleared}"
    );
    assert_eq!(cleared["title"], "Write report");
    assert!(updated_after(cleared, task));

    let retitled = update(json!({ "title": "  Write the report " })).await;
    assert_eq!(retitled["data"]["updateTask"]["title"], "Write the report");
    assert_eq!(retitled["data"]["updateTask"]["completed"], true);
    let found = app
        .graphql(
            "{ tasks(filter: { search: \"THE REPORT\" }) { totalCount } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(
        found["data"]["tasks"]["totalCount"], 1,
        "search follows the new title: {found}"
    );
}

fn updated_after(later: &Value, earlier: &Value) -> bool {
    let time = |task: &Value| {
        chrono::DateTime::parse_from_rfc3339(task["updatedAt"].as_str().expect("updatedAt"))
            .expect("RFC 3339")
    };
    time(later) > time(earlier)
}

#[tokio::test]
async fn delete_task_removes_it_and_answers_its_id() {
    let app = spawn_app().await;
    let token = app.register("ada@example.com").await.access_token;
    let id = app.task_id(&token, "Temporary").await;
    let response = app.graphql(DELETE, json!({ "id": id }), Some(&token)).await;
    assert_eq!(response["data"]["deleteTask"], id.as_str(), "{response}");
    assert!(app.graphql(TASK, json!({ "id": id }), Some(&token)).await["data"]["task"].is_null());
    assert_error(
        &app.graphql(DELETE, json!({ "id": id }), Some(&token)).await,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn users_can_neither_see_count_change_nor_delete_each_others_tasks() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await.access_token;
    let bob = app.register("bob@example.com").await.access_token;
    let bobs = app.task_id(&bob, "Bob's secret").await;
    let missing = uuid::Uuid::now_v7().to_string();

    for id in [&bobs, &missing] {
        let task = app.graphql(TASK, json!({ "id": id }), Some(&ada)).await;
        assert!(
            task["data"]["task"].is_null() && task["errors"].is_null(),
            "{task}"
        );
        let update = app
            .graphql(
                UPDATE,
                json!({ "id": id, "input": { "title": "Mine now" } }),
                Some(&ada),
            )
            .await;
        assert_error(&update, "NOT_FOUND");
        let delete = app.graphql(DELETE, json!({ "id": id }), Some(&ada)).await;
        assert_error(&delete, "NOT_FOUND");
        assert_eq!(
            update["errors"][0]["message"],
            delete["errors"][0]["message"]
        );
    }
    let listing = app
        .graphql(
            "{ tasks { totalCount edges { node { id } } } }",
            json!({}),
            Some(&ada),
        )
        .await;
    assert_eq!(
        listing["data"]["tasks"],
        json!({ "totalCount": 0, "edges": [] })
    );
    let search = app
        .graphql(
            "{ tasks(filter: { search: \"secret\" }) { totalCount } }",
            json!({}),
            Some(&ada),
        )
        .await;
    assert_eq!(search["data"]["tasks"]["totalCount"], 0);

    let own = app.graphql(TASK, json!({ "id": bobs }), Some(&bob)).await;
    assert_eq!(
        own["data"]["task"]["title"], "Bob's secret",
        "untouched: {own}"
    );
    assert_eq!(
        app.graphql(COUNT, json!({}), Some(&bob)).await["data"]["tasks"]["totalCount"],
        1
    );
}

#[tokio::test]
async fn deleting_an_account_deletes_its_tasks() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await.access_token;
    let bob = app.register("bob@example.com").await.access_token;
    app.task_id(&ada, "Ada's").await;
    app.task_id(&bob, "Bob's").await;
    let deleted = app
        .graphql(
            "mutation($p: String!) { deleteAccount(password: $p) }",
            json!({ "p": PASSWORD }),
            Some(&ada),
        )
        .await;
    assert_eq!(deleted["data"]["deleteAccount"], true, "{deleted}");
    assert_eq!(Tasks::find().count(&app.db).await.expect("count"), 1);
}
