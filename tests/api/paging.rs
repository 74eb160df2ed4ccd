//! The `tasks` connection: keyset paging in every order and both
//! directions, page sizes, cursors, filters and counts.

use chrono::{DateTime, Duration, TimeZone, Utc};
use entity::task;
use sea_orm::{EntityTrait, prelude::Uuid};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_bad_input, spawn_app};

const PAGE: &str = "query($first: Int, $after: String, $last: Int, $before: String, $order: TaskOrder, $filter: TaskFilter) {
    tasks(first: $first, after: $after, last: $last, before: $before, orderBy: $order, filter: $filter) {
        edges { cursor node { id } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";

const TITLES: [&str; 5] = ["alpha", "Beta", "beta", "gamma", "Éclair"];

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0)
        .single()
        .expect("valid date")
}

/// `count` tasks for `owner` with many equal sort keys in every order.
async fn seed(app: &TestApp, owner: &str, count: usize) -> Vec<task::Model> {
    let owner = Uuid::parse_str(owner).expect("uuid");
    let tasks: Vec<task::Model> = (0..count)
        .map(|i| {
            let n = i64::try_from(i).expect("small");
            let title = TITLES[i % TITLES.len()].to_owned();
            let description = match i % 3 {
                0 => Some(format!("{}% off, code a_b{i}", i % 7)),
                1 => Some("plain words".to_owned()),
                _ => None,
            };
            let due_at = (i % 4 != 0).then(|| base() + Duration::days(n % 5));
            task::Model {
                created_by: Some(owner),
                // Equal keys, which only the id tells apart.
                position: format!("a{}", i % 4),
                priority: i32::try_from(i % 5).expect("small"),
                completed: i % 2 == 0,
                due_at,
                due: due_at,
                created_at: base() + Duration::seconds(n / 4),
                updated_at: base() + Duration::minutes(n % 3),
                // The owner's inbox has the owner's id.
                ..taskql::tasks::row(owner, title, description, base())
            }
        })
        .collect();
    for chunk in tasks.chunks(50) {
        task::Entity::insert_many(chunk.iter().cloned().map(task::ActiveModel::from))
            .exec_without_returning(&app.db)
            .await
            .expect("seed tasks");
    }
    tasks
}

/// The ids of `tasks` as the server must list them.
fn expected(tasks: &[task::Model], field: &str, ascending: bool) -> Vec<String> {
    let mut sorted = tasks.to_vec();
    sorted.sort_by(|a, b| {
        let by_key = match field {
            "CREATED_AT" => a.created_at.cmp(&b.created_at),
            "UPDATED_AT" => a.updated_at.cmp(&b.updated_at),
            "TITLE" => a.title.as_bytes().cmp(b.title.as_bytes()),
            "PRIORITY" => a.priority.cmp(&b.priority),
            "POSITION" => a.position.as_bytes().cmp(b.position.as_bytes()),
            "DUE_AT" => {
                // Tasks without a due date last, whatever the direction.
                let missing = a.due_at.is_none().cmp(&b.due_at.is_none());
                let due = a.due_at.cmp(&b.due_at);
                let due = if ascending { due } else { due.reverse() };
                let by_id = if ascending {
                    a.id.cmp(&b.id)
                } else {
                    b.id.cmp(&a.id)
                };
                return missing.then(due).then(by_id);
            }
            other => panic!("unknown field {other}"),
        };
        let ordering = by_key.then(a.id.cmp(&b.id));
        if ascending {
            ordering
        } else {
            ordering.reverse()
        }
    });
    sorted.into_iter().map(|task| task.id.to_string()).collect()
}

async fn page(app: &TestApp, token: &str, variables: Value) -> Value {
    let response = app.graphql(PAGE, variables, Some(token)).await;
    assert!(response["errors"].is_null(), "{response}");
    response["data"]["tasks"].clone()
}

fn ids(page: &Value) -> Vec<String> {
    page["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| edge["node"]["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn paging_both_ways_in_every_order_lists_each_task_exactly_once() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let bob = app.register("bob@example.com").await;
    let tasks = seed(&app, &ada.user_id, 47).await;
    seed(&app, &bob.user_id, 5).await;

    for field in [
        "CREATED_AT",
        "UPDATED_AT",
        "DUE_AT",
        "TITLE",
        "PRIORITY",
        "POSITION",
    ] {
        for direction in ["ASC", "DESC"] {
            let order = json!({ "field": field, "direction": direction });
            let want = expected(&tasks, field, direction == "ASC");
            let case = format!("{field} {direction}");

            let (mut forward, mut after, mut pages) = (Vec::new(), Value::Null, 0);
            loop {
                let page = page(
                    &app,
                    &ada.access_token,
                    json!({ "first": 7, "after": after, "order": order }),
                )
                .await;
                let info = &page["pageInfo"];
                assert_eq!(
                    info["hasPreviousPage"],
                    pages > 0,
                    "{case}: page {pages} {info}"
                );
                forward.extend(ids(&page));
                pages += 1;
                if info["hasNextPage"] == false {
                    break;
                }
                after = info["endCursor"].clone();
            }
            assert_eq!(forward, want, "{case}: forwards");
            assert_eq!(pages, 7, "{case}: 47 tasks in pages of 7");

            let (mut backward, mut before, mut pages) = (Vec::new(), Value::Null, 0);
            loop {
                let page = page(
                    &app,
                    &ada.access_token,
                    json!({ "last": 7, "before": before, "order": order }),
                )
                .await;
                let info = &page["pageInfo"];
                assert_eq!(
                    info["hasNextPage"],
                    pages > 0,
                    "{case}: page {pages} from the end {info}"
                );
                let mut ids = ids(&page);
                ids.extend(backward);
                backward = ids;
                pages += 1;
                if info["hasPreviousPage"] == false {
                    break;
                }
                before = info["startCursor"].clone();
            }
            assert_eq!(backward, want, "{case}: backwards");
        }
    }
}

#[tokio::test]
async fn a_window_between_two_cursors_holds_what_lies_between() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let tasks = seed(&app, &ada.user_id, 30).await;
    let order = json!({ "field": "TITLE", "direction": "ASC" });
    let all = page(
        &app,
        &ada.access_token,
        json!({ "first": 30, "order": order }),
    )
    .await;
    let cursor = |i: usize| all["edges"][i]["cursor"].clone();
    let window = page(
        &app,
        &ada.access_token,
        json!({ "first": 100, "after": cursor(4), "before": cursor(12), "order": order }),
    )
    .await;
    assert_eq!(
        ids(&window),
        expected(&tasks, "TITLE", true)[5..12].to_vec()
    );
    assert_eq!(window["pageInfo"]["hasPreviousPage"], true);
}

#[tokio::test]
async fn pages_default_to_twenty_and_never_exceed_a_hundred() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    seed(&app, &ada.user_id, 105).await;
    let default = page(&app, &ada.access_token, json!({})).await;
    assert_eq!(ids(&default).len(), 20);
    assert_eq!(default["pageInfo"]["hasNextPage"], true);
    for (variables, why) in [
        (json!({ "first": 500 }), "first"),
        (json!({ "last": 500 }), "last"),
    ] {
        assert_eq!(
            ids(&page(&app, &ada.access_token, variables).await).len(),
            100,
            "{why}"
        );
    }
    let empty = page(&app, &ada.access_token, json!({ "first": 0 })).await;
    assert_eq!(ids(&empty).len(), 0);
    let count = app
        .graphql(
            "{ tasks(first: 1) { totalCount } }",
            json!({}),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(count["data"]["tasks"]["totalCount"], 105);
}

#[tokio::test]
async fn bad_paging_arguments_are_bad_user_input() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let bob = app.register("bob@example.com").await;
    seed(&app, &ada.user_id, 3).await;
    seed(&app, &bob.user_id, 3).await;
    let by_title = json!({ "field": "TITLE", "direction": "ASC" });
    let adas = page(
        &app,
        &ada.access_token,
        json!({ "first": 1, "order": by_title }),
    )
    .await;
    let adas_cursor = adas["pageInfo"]["endCursor"].clone();
    let bobs = page(
        &app,
        &bob.access_token,
        json!({ "first": 1, "order": by_title }),
    )
    .await;
    let bobs_cursor = bobs["pageInfo"]["endCursor"].clone();
    let mut tampered = adas_cursor.as_str().expect("cursor").to_owned();
    tampered.insert(3, 'x');

    let cases = [
        (json!({ "first": -1 }), "first", "negative first"),
        (json!({ "last": -5 }), "last", "negative last"),
        (json!({ "first": 2, "last": 2 }), "last", "first and last"),
        (json!({ "after": "not a cursor" }), "after", "garbage"),
        (json!({ "before": "" }), "before", "empty"),
        (
            json!({ "after": tampered, "order": by_title }),
            "after",
            "tampered",
        ),
        (
            json!({ "after": bobs_cursor, "order": by_title }),
            "after",
            "another user's cursor",
        ),
        (
            json!({ "after": adas_cursor, "order": { "field": "CREATED_AT" } }),
            "after",
            "another ordering",
        ),
        (
            json!({ "order": { "field": "URGENCY" } }),
            "field",
            "unknown order field",
        ),
        (
            json!({ "filter": { "search": "x".repeat(201) } }),
            "search",
            "over-long search",
        ),
        (
            json!({ "filter": { "dueBefore": "soon" } }),
            "dueBefore",
            "not a date",
        ),
    ];
    for (variables, field, why) in cases {
        let response = app.graphql(PAGE, variables, Some(&ada.access_token)).await;
        assert_eq!(
            response["errors"][0]["extensions"]["field"], field,
            "{why}: {response}"
        );
        assert_bad_input(&response, field);
    }
}

#[tokio::test]
async fn filters_narrow_the_listing_alone_and_combined() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let tasks = seed(&app, &ada.user_id, 47).await;
    let day = |n: i64| (base() + Duration::days(n)).to_rfc3339();
    let count_where =
        |keep: &dyn Fn(&task::Model) -> bool| tasks.iter().filter(|t| keep(t)).count();
    let cases: Vec<(Value, usize, &str)> = vec![
        (
            json!({ "completed": true }),
            count_where(&|t| t.completed),
            "completed",
        ),
        (
            json!({ "completed": false }),
            count_where(&|t| !t.completed),
            "not completed",
        ),
        (
            json!({ "search": "ÉCLAIR" }),
            count_where(&|t| t.title == "Éclair"),
            "case-insensitive beyond ASCII",
        ),
        (
            json!({ "search": "BETA" }),
            count_where(&|t| t.title.eq_ignore_ascii_case("beta")),
            "case-insensitive",
        ),
        (
            json!({ "search": "3% off" }),
            count_where(&|t| {
                t.description
                    .as_deref()
                    .is_some_and(|d| d.starts_with("3% off"))
            }),
            "% taken literally",
        ),
        (
            json!({ "search": "%" }),
            count_where(&|t| t.description.as_deref().is_some_and(|d| d.contains('%'))),
            "lone %",
        ),
        (
            json!({ "search": "a_b1" }),
            count_where(&|t| t.description.as_deref().is_some_and(|d| d.contains("a_b1"))),
            "_ taken literally",
        ),
        (json!({ "search": "a.b" }), 0, "no wildcard at all"),
        (
            json!({ "search": "plain" }),
            count_where(&|t| t.description.as_deref() == Some("plain words")),
            "description",
        ),
        (
            json!({ "dueBefore": day(2) }),
            count_where(&|t| t.due_at.is_some_and(|d| d < base() + Duration::days(2))),
            "dueBefore",
        ),
        (
            json!({ "dueAfter": day(2) }),
            count_where(&|t| t.due_at.is_some_and(|d| d > base() + Duration::days(2))),
            "dueAfter",
        ),
        (
            json!({ "completed": false, "search": "beta", "dueAfter": day(0), "dueBefore": day(4) }),
            count_where(&|t| {
                !t.completed
                    && t.title.eq_ignore_ascii_case("beta")
                    && t.due_at
                        .is_some_and(|d| d > base() && d < base() + Duration::days(4))
            }),
            "combined",
        ),
    ];
    let query = "query($filter: TaskFilter) { tasks(first: 100, filter: $filter) { totalCount edges { node { id } } } }";
    for (filter, want, why) in cases {
        assert!(
            want > 0 || why == "no wildcard at all",
            "{why}: the seed exercises this filter"
        );
        let response = app
            .graphql(query, json!({ "filter": filter }), Some(&ada.access_token))
            .await;
        let listing = &response["data"]["tasks"];
        assert_eq!(listing["totalCount"], want, "{why}: {response}");
        assert_eq!(
            listing["edges"].as_array().map(Vec::len),
            Some(want),
            "{why}"
        );
    }
}

#[tokio::test]
async fn a_page_answers_fragments_aliases_and_directives_in_the_order_asked() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let alpha = app.task_id(&ada.access_token, "alpha").await;
    let beta = app.task_id(&ada.access_token, "beta").await;
    let query = "query($withDone: Boolean!) {
        tasks(first: 2, orderBy: { field: TITLE, direction: ASC }) {
            __typename
            edges { ...Edge node { name: title done: completed @include(if: $withDone) description @skip(if: true) } }
            pageInfo { __typename ... on PageInfo { next: hasNextPage } hasNextPage }
        } }
        fragment Edge on TaskEdge { __typename node { __typename id ... { title } } }";
    let response = app
        .post_graphql(
            &json!({ "query": query, "variables": { "withDone": true } }),
            Some(&ada.access_token),
        )
        .await;
    let edge = |id: &str, title: &str| {
        format!(
            r#"{{"__typename":"TaskEdge","node":{{"__typename":"Task","id":"{id}","title":"{title}","name":"{title}","done":false}}}}"#
        )
    };
    let expected = format!(
        r#"{{"data":{{"tasks":{{"__typename":"TaskConnection","edges":[{},{}],"pageInfo":{{"__typename":"PageInfo","next":false,"hasNextPage":false}}}}}}}}"#,
        edge(&alpha, "alpha"),
        edge(&beta, "beta"),
    );
    assert_eq!(response.text().await.expect("body"), expected);
}

/// The selection of every field of the type `name`, as the server's own
/// introspection lists them, objects with every field of theirs in turn.
async fn every_field(app: &TestApp, name: &str) -> String {
    fields_of(app, name, &mut Vec::new())
        .await
        .into_iter()
        .map(|(_, selection)| selection)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Each field of the object `name` with its selection: its own name, or
/// for an object its name and every field of that object, leaving out the
/// objects already on the way there (`path`) and fields that take
/// arguments.
async fn fields_of(app: &TestApp, name: &str, path: &mut Vec<String>) -> Vec<(String, String)> {
    let query = "query($name: String!) { __type(name: $name) { fields { name args { name }
        type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }";
    let found = app.graphql(query, json!({ "name": name }), None).await;
    let fields = found["data"]["__type"]["fields"]
        .as_array()
        .expect("fields")
        .clone();
    path.push(name.to_owned());
    let mut selection = Vec::new();
    for field in fields {
        let field_name = field["name"].as_str().expect("name").to_owned();
        let mut ty = &field["type"];
        while ty["kind"] == "NON_NULL" || ty["kind"] == "LIST" {
            ty = &ty["ofType"];
        }
        if ty["kind"] != "OBJECT" {
            selection.push((field_name.clone(), field_name));
            continue;
        }
        let object = ty["name"].as_str().expect("object name").to_owned();
        let takes_arguments = field["args"]
            .as_array()
            .is_some_and(|args| !args.is_empty());
        if path.contains(&object) || takes_arguments {
            continue;
        }
        let inner = Box::pin(fields_of(app, &object, path)).await;
        let inner: Vec<String> = inner.into_iter().map(|(_, selection)| selection).collect();
        selection.push((
            field_name.clone(),
            format!("{field_name} {{ {} }}", inner.join(" ")),
        ));
    }
    path.pop();
    selection
}

#[tokio::test]
async fn every_field_of_a_page_and_its_tasks_is_answered() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let input =
        json!({ "title": "alpha", "description": "the first", "dueAt": "2026-12-24T18:00:00Z" });
    let fields = fields_of(&app, "Task", &mut Vec::new()).await;
    let task_fields = fields
        .iter()
        .map(|(_, selection)| selection.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let created = app
        .graphql(
            &format!("mutation($input: CreateTaskInput!) {{ createTask(input: $input) {{ {task_fields} }} }}"),
            json!({ "input": input }),
            Some(&ada.access_token),
        )
        .await;
    let task = &created["data"]["createTask"];
    assert_eq!(task["dueAt"], "2026-12-24T18:00:00Z", "{created}");
    for (field, _) in &fields {
        assert!(task.get(field).is_some(), "{field} in {created}");
    }

    let query = format!(
        "{{ tasks(first: 1) {{ edges {{ {} }} pageInfo {{ {} }} }} }}",
        every_field(&app, "TaskEdge").await,
        every_field(&app, "PageInfo").await
    );
    let page = app
        .graphql(&query, json!({}), Some(&ada.access_token))
        .await;
    assert!(page.get("errors").is_none(), "{page}");
    let edge = &page["data"]["tasks"]["edges"][0];
    assert_eq!(&edge["node"], task, "the page's task is the created one");
    let cursor = edge["cursor"].as_str().expect("a cursor");
    let info = &page["data"]["tasks"]["pageInfo"];
    assert_eq!(info["startCursor"], cursor, "{page}");
    assert_eq!(info["endCursor"], cursor, "{page}");
    assert_eq!(
        (&info["hasNextPage"], &info["hasPreviousPage"]),
        (&json!(false), &json!(false))
    );

    // A page reads only what it shows: each field alone, and in fragments.
    for (field, selection) in &fields {
        let field = field.as_str();
        let queries = [
            format!("{{ tasks {{ edges {{ node {{ {selection} }} }} }} }}"),
            format!(
                "{{ tasks {{ edges {{ ...on TaskEdge {{ node {{ ...T }} }} }} }} }} fragment T on Task {{ {selection} }}"
            ),
        ];
        for query in queries {
            let alone = app
                .graphql(&query, json!({}), Some(&ada.access_token))
                .await;
            assert_eq!(
                alone["data"]["tasks"]["edges"][0]["node"][field], task[field],
                "{query}: {alone}"
            );
        }
    }
    for cursors in [
        "edges { cursor }",
        "pageInfo { startCursor }",
        "pageInfo { endCursor }",
    ] {
        let query = format!("{{ tasks {{ {cursors} }} }}");
        let alone = app
            .graphql(&query, json!({}), Some(&ada.access_token))
            .await;
        assert!(alone.get("errors").is_none(), "{query}: {alone}");
        assert!(alone.to_string().contains(cursor), "{query}: {alone}");
    }

    let one = app
        .graphql(
            &format!("query($id: ID!) {{ task(id: $id) {{ {task_fields} }} }}"),
            json!({ "id": task["id"] }),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(&one["data"]["task"], task, "{one}");
}
