//! Tasks with structure: priority, subtasks and the manual order the server
//! keeps, tried by an editor, a viewer and an outsider of a shared list.

use serde_json::{Value, json};

use crate::{
    helpers::{Session, TestApp, assert_bad_input, assert_error},
    sharing::{Sharing, sharing},
    ws_client::TASK_EVENTS,
};

const CREATE: &str = "mutation($input: CreateTaskInput!) { createTask(input: $input) {
    id title priority position parent { id } list { id } } }";
const MOVE: &str = "mutation($input: MoveTaskInput!) { moveTask(input: $input) {
    id position parent { id } list { id } } }";
const ORDER: &str = "query($id: ID!) { task(id: $id) { subtasks(first: 100) {
    totalCount edges { node { id title position } } } } }";
const TOP: &str =
    "query($list: ID!) { tasks(first: 100, orderBy: { field: POSITION, direction: ASC },
    filter: { listId: $list, topLevelOnly: true }) { edges { node { id title position } } } }";

/// A list of Ada's that Bob edits and Cy views; Dan is in none of it.
pub struct Team {
    pub sharing: Sharing,
    pub ada: Session,
    pub bob: Session,
    pub cy: Session,
    pub dan: Session,
    pub list: String,
}

pub async fn team() -> Team {
    let sharing = sharing().await;
    let ada = sharing.person("ada@example.com").await;
    let bob = sharing.person("bob@example.com").await;
    let cy = sharing.person("cy@example.com").await;
    let dan = sharing.person("dan@example.com").await;
    let list = sharing.list(&ada, "Release").await;
    sharing
        .join(&ada, &list, &bob, "bob@example.com", "EDITOR")
        .await;
    sharing
        .join(&ada, &list, &cy, "cy@example.com", "VIEWER")
        .await;
    Team {
        sharing,
        ada,
        bob,
        cy,
        dan,
        list,
    }
}

impl Team {
    pub fn app(&self) -> &TestApp {
        &self.sharing.app
    }

    async fn create(&self, who: &Session, input: Value) -> Value {
        self.app()
            .graphql(CREATE, json!({ "input": input }), Some(&who.access_token))
            .await
    }

    /// A task `title` in the list, under `parent` when given; its id.
    async fn task(&self, title: &str, parent: Option<&str>) -> String {
        let made = self
            .create(
                &self.bob,
                json!({ "title": title, "listId": self.list, "parentId": parent }),
            )
            .await;
        made["data"]["createTask"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("made: {made}"))
            .to_owned()
    }

    async fn move_task(&self, who: &Session, input: Value) -> Value {
        self.app()
            .graphql(MOVE, json!({ "input": input }), Some(&who.access_token))
            .await
    }

    /// The titles of the list's top-level tasks in the manual order, and
    /// their positions.
    async fn top(&self) -> Vec<(String, String)> {
        let page = self
            .app()
            .graphql(
                TOP,
                json!({ "list": self.list }),
                Some(&self.ada.access_token),
            )
            .await;
        ordered(&page["data"]["tasks"])
    }

    async fn subtasks(&self, parent: &str) -> Vec<(String, String)> {
        let page = self
            .app()
            .graphql(ORDER, json!({ "id": parent }), Some(&self.ada.access_token))
            .await;
        ordered(&page["data"]["task"]["subtasks"])
    }
}

fn ordered(page: &Value) -> Vec<(String, String)> {
    let pairs: Vec<(String, String)> = page["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("a page: {page}"))
        .iter()
        .map(|edge| {
            (
                edge["node"]["title"].as_str().expect("title").to_owned(),
                edge["node"]["position"]
                    .as_str()
                    .expect("position")
                    .to_owned(),
            )
        })
        .collect();
    for pair in pairs.windows(2) {
        assert!(pair[0].1 < pair[1].1, "strictly increasing: {pairs:?}");
    }
    pairs
}

fn titles(pairs: &[(String, String)]) -> Vec<&str> {
    pairs.iter().map(|(title, _)| title.as_str()).collect()
}

#[tokio::test]
async fn new_tasks_go_last_and_moves_take_a_key_between_their_neighbours() {
    let team = team().await;
    let a = team.task("A", None).await;
    let b = team.task("B", None).await;
    let c = team.task("C", None).await;
    let before = team.top().await;
    assert_eq!(titles(&before), ["A", "B", "C"]);
    assert_eq!(before[0].1, "a0", "the reference's first key");

    // C between A and B: only C changes.
    let moved = team
        .move_task(&team.bob, json!({ "id": c, "after": a, "before": b }))
        .await;
    assert!(moved["errors"].is_null(), "{moved}");
    let after = team.top().await;
    assert_eq!(titles(&after), ["A", "C", "B"]);
    assert_eq!(after[0], before[0]);
    assert_eq!(after[2], before[1], "B kept its key");

    // Neither neighbour: first. Only `before`: right before it.
    team.move_task(&team.bob, json!({ "id": b })).await;
    assert_eq!(titles(&team.top().await), ["B", "A", "C"]);
    team.move_task(&team.bob, json!({ "id": b, "before": c }))
        .await;
    assert_eq!(titles(&team.top().await), ["A", "B", "C"]);

    // Neighbours no longer next to each other: right after `after`.
    let d = team.task("D", None).await;
    team.move_task(&team.bob, json!({ "id": d, "after": a, "before": c }))
        .await;
    assert_eq!(titles(&team.top().await), ["A", "D", "B", "C"]);

    // Many drops into the same gap stay in strict order.
    for n in 0..30 {
        let e = team.task(&format!("E{n}"), None).await;
        let moved = team
            .move_task(&team.ada, json!({ "id": e, "after": a, "before": d }))
            .await;
        assert!(moved["errors"].is_null(), "{moved}");
    }
    let many = team.top().await;
    assert_eq!(many.len(), 34);
    assert_eq!(many[1].0, "E29", "the last drop is right after A");
}

#[tokio::test]
async fn subtasks_nest_four_levels_in_their_parents_list_without_cycles() {
    let team = team().await;
    let top = team.task("Top", None).await;
    let two = team.task("Two", Some(&top)).await;
    let three = team.task("Three", Some(&two)).await;
    let four = team.task("Four", Some(&three)).await;
    let fifth = team
        .create(
            &team.bob,
            json!({ "title": "Five", "parentId": four, "listId": team.list }),
        )
        .await;
    assert_error(&fifth, "BAD_USER_INPUT");
    assert_eq!(fifth["errors"][0]["extensions"]["field"], "parentId");

    let sibling = team.task("Two b", Some(&top)).await;
    assert_eq!(titles(&team.subtasks(&top).await), ["Two", "Two b"]);
    let read = team
        .app()
        .graphql(
            "query($id: ID!) { task(id: $id) { parent { id title } subtasks { totalCount } } }",
            json!({ "id": two }),
            Some(&team.cy.access_token),
        )
        .await;
    assert_eq!(read["data"]["task"]["parent"]["title"], "Top", "{read}");
    assert_eq!(read["data"]["task"]["subtasks"]["totalCount"], 1, "{read}");

    // A parent in another list, or unseen, or a cycle: refused on parentId.
    let elsewhere = team.sharing.list(&team.ada, "Elsewhere").await;
    let cases = [
        (
            json!({ "title": "x", "listId": elsewhere, "parentId": top }),
            "a parent in another list",
        ),
        (
            json!({ "title": "x", "parentId": uuid::Uuid::now_v7().to_string() }),
            "no such parent",
        ),
    ];
    for (input, why) in cases {
        let made = team.create(&team.ada, input).await;
        assert_error(&made, "BAD_USER_INPUT");
        assert_eq!(
            made["errors"][0]["extensions"]["field"], "parentId",
            "{why}: {made}"
        );
    }
    for (parent, why) in [(&three, "under its own subtask"), (&two, "under itself")] {
        let moved = team
            .move_task(&team.bob, json!({ "id": two, "parentId": parent }))
            .await;
        assert_error(&moved, "BAD_USER_INPUT");
        assert_eq!(
            moved["errors"][0]["extensions"]["field"], "parentId",
            "{why}: {moved}"
        );
    }
    // Two (with three levels) under its sibling would make five levels.
    let deep = team
        .move_task(&team.bob, json!({ "id": two, "parentId": sibling }))
        .await;
    assert_eq!(
        deep["errors"][0]["extensions"]["field"], "parentId",
        "{deep}"
    );
    // A neighbour that is not a sibling.
    let stranger = team
        .move_task(&team.bob, json!({ "id": sibling, "after": three }))
        .await;
    assert_eq!(
        stranger["errors"][0]["extensions"]["field"], "after",
        "{stranger}"
    );
    // Top-level, and back under Top, first.
    let out = team
        .move_task(&team.bob, json!({ "id": sibling, "parentId": null }))
        .await;
    assert!(out["data"]["moveTask"]["parent"].is_null(), "{out}");
    team.move_task(&team.bob, json!({ "id": sibling, "parentId": top }))
        .await;
    assert_eq!(titles(&team.subtasks(&top).await), ["Two b", "Two"]);
}

#[tokio::test]
async fn deleting_or_moving_a_task_takes_its_subtree_each_reaching_subscribers() {
    let team = team().await;
    let top = team.task("Top", None).await;
    let child = team.task("Child", Some(&top)).await;
    let grandchild = team.task("Grandchild", Some(&child)).await;
    let mut events = team.app().ws_session(&team.cy.access_token).await;
    events.subscribe("tasks", TASK_EVENTS).await;
    events.settle().await;

    // Moved to Ada's inbox, where Cy is not: each arrives as DELETED.
    let inbox = team.ada.user_id.clone();
    let moved = team
        .app()
        .graphql(
            "mutation($id: ID!, $l: ID!) { updateTask(id: $id, input: { listId: $l }) { id list { id } } }",
            json!({ "id": top, "l": inbox }),
            Some(&team.ada.access_token),
        )
        .await;
    assert_eq!(
        moved["data"]["updateTask"]["list"]["id"],
        inbox.as_str(),
        "{moved}"
    );
    let mut gone = Vec::new();
    for _ in 0..3 {
        let event = events.next_of("tasks").await;
        assert_eq!(event["data"]["taskEvents"]["kind"], "DELETED", "{event}");
        gone.push(
            event["data"]["taskEvents"]["taskId"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    gone.sort();
    let mut expected = vec![top.clone(), child.clone(), grandchild.clone()];
    expected.sort();
    assert_eq!(gone, expected);
    let subtree = team
        .app()
        .graphql(
            "query($id: ID!) { task(id: $id) { list { id } parent { id } } }",
            json!({ "id": grandchild }),
            Some(&team.ada.access_token),
        )
        .await;
    assert_eq!(
        subtree["data"]["task"]["list"]["id"],
        inbox.as_str(),
        "{subtree}"
    );
    assert_eq!(
        subtree["data"]["task"]["parent"]["id"],
        child.as_str(),
        "{subtree}"
    );

    // Back in the shared list, then deleted: three DELETED again.
    team.app()
        .graphql(
            "mutation($id: ID!, $l: ID!) { updateTask(id: $id, input: { listId: $l }) { id } }",
            json!({ "id": top, "l": team.list }),
            Some(&team.ada.access_token),
        )
        .await;
    for _ in 0..3 {
        let event = events.next_of("tasks").await;
        assert_eq!(event["data"]["taskEvents"]["kind"], "UPDATED", "{event}");
    }
    let deleted = team
        .app()
        .graphql(
            "mutation($id: ID!) { deleteTask(id: $id) }",
            json!({ "id": top }),
            Some(&team.bob.access_token),
        )
        .await;
    assert_eq!(deleted["data"]["deleteTask"], top.as_str(), "{deleted}");
    for _ in 0..3 {
        let event = events.next_of("tasks").await;
        assert_eq!(event["data"]["taskEvents"]["kind"], "DELETED", "{event}");
    }
    let left = team
        .app()
        .graphql(
            "query($id: ID!) { task(id: $id) { id } }",
            json!({ "id": grandchild }),
            Some(&team.ada.access_token),
        )
        .await;
    assert!(left["data"]["task"].is_null(), "{left}");
}

#[tokio::test]
async fn priority_filters_and_orders_and_a_viewer_changes_no_structure() {
    let team = team().await;
    for (title, priority) in [
        ("Low", "LOW"),
        ("Urgent", "URGENT"),
        ("None", "NONE"),
        ("High", "HIGH"),
    ] {
        let made = team
            .create(
                &team.bob,
                json!({ "title": title, "listId": team.list, "priority": priority }),
            )
            .await;
        assert_eq!(made["data"]["createTask"]["priority"], priority, "{made}");
    }
    let page = team
        .app()
        .graphql(
            "query($l: ID!) { tasks(filter: { listId: $l, priorityAtLeast: HIGH },
                orderBy: { field: PRIORITY, direction: DESC }) { edges { node { title } } } }",
            json!({ "l": team.list }),
            Some(&team.cy.access_token),
        )
        .await;
    let shown: Vec<&str> = page["data"]["tasks"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .map(|edge| edge["node"]["title"].as_str().expect("title"))
        .collect();
    assert_eq!(shown, ["Urgent", "High"]);

    let task = team.task("Viewer's target", None).await;
    let other = team.task("Other", None).await;
    // A viewer sees and is forbidden; an outsider does not see.
    let attempts = [
        (
            "mutation($id: ID!) { updateTask(id: $id, input: { priority: LOW }) { id } }",
            json!({ "id": task }),
            "priority",
        ),
        (
            "mutation($id: ID!, $o: ID!) { moveTask(input: { id: $id, after: $o }) { id } }",
            json!({ "id": task, "o": other }),
            "order",
        ),
        (
            "mutation($id: ID!, $o: ID!) { moveTask(input: { id: $id, parentId: $o }) { id } }",
            json!({ "id": task, "o": other }),
            "parent",
        ),
        (
            "mutation($l: ID!, $o: ID!) { createTask(input: { title: \"x\", listId: $l, parentId: $o }) { id } }",
            json!({ "l": team.list, "o": other, "id": task }),
            "a subtask",
        ),
    ];
    for (query, variables, what) in attempts {
        let viewer = team
            .app()
            .graphql(query, variables.clone(), Some(&team.cy.access_token))
            .await;
        assert_eq!(
            crate::helpers::error_code(&viewer),
            Some("FORBIDDEN"),
            "a viewer's {what}: {viewer}"
        );
        let outsider = team
            .app()
            .graphql(query, variables, Some(&team.dan.access_token))
            .await;
        let code = crate::helpers::error_code(&outsider);
        assert!(
            code == Some("NOT_FOUND") || code == Some("BAD_USER_INPUT"),
            "an outsider's {what} finds nothing: {outsider}"
        );
        assert_ne!(code, Some("FORBIDDEN"), "{outsider}");
    }
    let unchanged = team
        .app()
        .graphql(
            "query($id: ID!) { task(id: $id) { priority parent { id } } }",
            json!({ "id": task }),
            Some(&team.ada.access_token),
        )
        .await;
    assert_eq!(
        unchanged["data"]["task"],
        json!({ "priority": "NONE", "parent": null }),
        "{unchanged}"
    );
}

#[tokio::test]
#[ignore = "needs PostgreSQL: TASKQL_TEST_POSTGRES_URL and --include-ignored"]
async fn eight_moves_into_one_gap_on_two_instances_end_in_a_strict_order() {
    let smtp = crate::smtp::SmtpServer::start().await;
    let url = smtp.url();
    let settings = [("TASKQL_SMTP_URL", url.as_str())];
    let database = std::sync::Arc::new(crate::helpers::TestDatabase::postgres_only().await);
    let one = crate::helpers::spawn_app_on(std::sync::Arc::clone(&database), &settings).await;
    let two = crate::helpers::spawn_app_on(database, &settings).await;
    let ada = one.register("ada@example.com").await;
    let inbox = ada.user_id.clone();
    let mut ids = Vec::new();
    for title in [
        "Left", "Right", "m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7",
    ] {
        ids.push(one.task_in(&ada, &inbox, title).await);
    }
    let (left, right) = (ids[0].clone(), ids[1].clone());
    let moves = ids[2..].iter().enumerate().map(|(n, id)| {
        let app = if n % 2 == 0 { &one } else { &two };
        let input = json!({ "input": { "id": id, "after": left, "before": right } });
        app.graphql(MOVE, input, Some(&ada.access_token))
    });
    for moved in futures_util::future::join_all(moves).await {
        assert!(moved["errors"].is_null(), "{moved}");
    }
    let page = one
        .graphql(TOP, json!({ "list": inbox }), Some(&ada.access_token))
        .await;
    let pairs = ordered(&page["data"]["tasks"]);
    let shown = titles(&pairs);
    assert_eq!(shown.len(), 10);
    assert_eq!(shown[0], "Left");
    assert_eq!(shown[9], "Right");
}

const CREATE_LABEL: &str = "mutation($input: CreateLabelInput!) { createLabel(input: $input) {
    id name color } }";

impl Team {
    async fn label(&self, who: &Session, list: &str, name: &str, color: &str) -> Value {
        self.app()
            .graphql(
                CREATE_LABEL,
                json!({ "input": { "listId": list, "name": name, "color": color } }),
                Some(&who.access_token),
            )
            .await
    }

    /// The names of the labels task `id` carries, as `who` reads them.
    async fn labels_of(&self, who: &Session, id: &str) -> Vec<String> {
        let read = self
            .app()
            .graphql(
                "query($id: ID!) { task(id: $id) { labels { name } } }",
                json!({ "id": id }),
                Some(&who.access_token),
            )
            .await;
        read["data"]["task"]["labels"]
            .as_array()
            .unwrap_or_else(|| panic!("labels: {read}"))
            .iter()
            .map(|label| label["name"].as_str().expect("name").to_owned())
            .collect()
    }
}

fn id_of(made: &Value, field: &str) -> String {
    made["data"][field]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{field}: {made}"))
        .to_owned()
}

#[tokio::test]
async fn labels_belong_to_a_list_unique_by_name_whatever_the_case() {
    let team = team().await;
    let bug = team.label(&team.bob, &team.list, "Bug", "#FF0000").await;
    assert_eq!(
        bug["data"]["createLabel"]["color"], "#ff0000",
        "lower case out: {bug}"
    );
    let bug = id_of(&bug, "createLabel");
    let docs = id_of(
        &team.label(&team.ada, &team.list, "Docs", "#00aa00").await,
        "createLabel",
    );
    let refused = [
        (
            "bUG",
            "#123456",
            "name",
            "a name the list has, in another case",
        ),
        ("  ", "#123456", "name", "an empty name"),
        (
            &*"x".repeat(51),
            "#123456",
            "name",
            "a name over 50 characters",
        ),
        ("Fine", "red", "color", "not #rrggbb"),
        ("Fine", "#12345g", "color", "not hexadecimal"),
    ];
    for (name, color, field, why) in refused {
        let made = team.label(&team.bob, &team.list, name, color).await;
        assert_error(&made, "BAD_USER_INPUT");
        assert_eq!(
            made["errors"][0]["extensions"]["field"], field,
            "{why}: {made}"
        );
    }
    // A viewer is forbidden; an outsider finds no list.
    assert_error(
        &team.label(&team.cy, &team.list, "Mine", "#000000").await,
        "FORBIDDEN",
    );
    assert_error(
        &team.label(&team.dan, &team.list, "Mine", "#000000").await,
        "NOT_FOUND",
    );
    for (who, code) in [(&team.cy, "FORBIDDEN"), (&team.dan, "NOT_FOUND")] {
        let renamed = team
            .app()
            .graphql(
                "mutation($id: ID!) { updateLabel(id: $id, input: { name: \"Mine\" }) { id } }",
                json!({ "id": bug }),
                Some(&who.access_token),
            )
            .await;
        assert_error(&renamed, code);
    }
    let renamed = team
        .app()
        .graphql(
            "mutation($id: ID!) { updateLabel(id: $id, input: { name: \"docs\" }) { id } }",
            json!({ "id": bug }),
            Some(&team.bob.access_token),
        )
        .await;
    assert_eq!(
        renamed["errors"][0]["extensions"]["field"], "name",
        "{renamed}"
    );

    // Labels of the task's list only; the filter wants every label given.
    let task = team
        .create(
            &team.bob,
            json!({ "title": "Both", "listId": team.list, "labelIds": [bug, docs] }),
        )
        .await;
    let both = id_of(&task, "createTask");
    let one = id_of(
        &team
            .create(
                &team.bob,
                json!({ "title": "One", "listId": team.list, "labelIds": [bug] }),
            )
            .await,
        "createTask",
    );
    assert_eq!(team.labels_of(&team.cy, &both).await, ["Bug", "Docs"]);
    let elsewhere = team.sharing.list(&team.ada, "Elsewhere").await;
    let foreign = team
        .create(
            &team.ada,
            json!({ "title": "x", "listId": elsewhere, "labelIds": [bug] }),
        )
        .await;
    assert_eq!(
        foreign["errors"][0]["extensions"]["field"], "labelIds",
        "{foreign}"
    );
    let filtered = team
        .app()
        .graphql(
            "query($l: [ID!]) { tasks(filter: { labelIds: $l }) { edges { node { id } } } }",
            json!({ "l": [bug, docs] }),
            Some(&team.cy.access_token),
        )
        .await;
    assert_eq!(
        filtered["data"]["tasks"]["edges"],
        json!([{ "node": { "id": both } }]),
        "{filtered}"
    );
    let outsider = team
        .app()
        .graphql(
            "query($l: [ID!]) { tasks(filter: { labelIds: $l }) { totalCount } }",
            json!({ "l": [bug] }),
            Some(&team.dan.access_token),
        )
        .await;
    assert_eq!(outsider["data"]["tasks"]["totalCount"], 0, "{outsider}");
    // A label named twice is one; at most 50 labels, more is bad input
    // rather than a statement the database refuses.
    let page = "query($l: [ID!]) { tasks(filter: { labelIds: $l }) { totalCount } }";
    let many = |count: usize| {
        let mut labels: Vec<_> = (0..count)
            .map(|_| json!(uuid::Uuid::now_v7().to_string()))
            .collect();
        labels.truncate(count.saturating_sub(2));
        labels.extend([json!(bug), json!(docs)]);
        json!({ "l": labels })
    };
    let twice = json!({ "l": [bug, docs, bug] });
    for (variables, total) in [(twice, 1), (many(50), 0)] {
        let found = team
            .app()
            .graphql(page, variables, Some(&team.cy.access_token))
            .await;
        assert_eq!(found["data"]["tasks"]["totalCount"], total, "{found}");
    }
    let refused = team
        .app()
        .graphql(page, many(51), Some(&team.cy.access_token))
        .await;
    assert_bad_input(&refused, "labelIds");
    let listed = team
        .app()
        .graphql(
            "query($id: ID!) { list(id: $id) { labels { name color } } }",
            json!({ "id": team.list }),
            Some(&team.cy.access_token),
        )
        .await;
    assert_eq!(
        listed["data"]["list"]["labels"],
        json!([{ "name": "Bug", "color": "#ff0000" }, { "name": "Docs", "color": "#00aa00" }]),
        "{listed}"
    );
    // A viewer cannot relabel.
    let relabel = team
        .app()
        .graphql(
            "mutation($id: ID!) { updateTask(id: $id, input: { labelIds: [] }) { id } }",
            json!({ "id": one }),
            Some(&team.cy.access_token),
        )
        .await;
    assert_error(&relabel, "FORBIDDEN");

    // Moved to a list with a "bug" label: it carries that one; Docs drops.
    let target = team.sharing.list(&team.ada, "Target").await;
    let target_bug = id_of(
        &team.label(&team.ada, &target, "BUG", "#0000ff").await,
        "createLabel",
    );
    let moved = team
        .app()
        .graphql(
            "mutation($id: ID!, $l: ID!) { updateTask(id: $id, input: { listId: $l }) { labels { id } } }",
            json!({ "id": both, "l": target }),
            Some(&team.ada.access_token),
        )
        .await;
    assert_eq!(
        moved["data"]["updateTask"]["labels"],
        json!([{ "id": target_bug }]),
        "{moved}"
    );

    // Deleting a label takes it off its tasks, which subscribers hear of.
    let mut events = team.app().ws_session(&team.cy.access_token).await;
    events
        .subscribe(
            "tasks",
            "subscription { taskEvents { kind taskId task { labels { name } } } }",
        )
        .await;
    events.settle().await;
    let deleted = team
        .app()
        .graphql(
            "mutation($id: ID!) { deleteLabel(id: $id) }",
            json!({ "id": bug }),
            Some(&team.bob.access_token),
        )
        .await;
    assert_eq!(deleted["data"]["deleteLabel"], bug.as_str(), "{deleted}");
    let event = events.next_of("tasks").await;
    assert_eq!(
        event["data"]["taskEvents"],
        json!({ "kind": "UPDATED", "taskId": one, "task": { "labels": [] } }),
        "{event}"
    );
    assert!(team.labels_of(&team.ada, &one).await.is_empty());
}

const ADD_COMMENT: &str = "mutation($input: AddCommentInput!) { addComment(input: $input) {
    id body author { displayName } editedAt } }";
const COMMENTS: &str = "query($id: ID!, $after: String) { task(id: $id) { commentCount
    comments(first: 2, after: $after) { edges { cursor node { body author { displayName } } }
    pageInfo { hasNextPage endCursor } } } }";

#[tokio::test]
async fn members_of_any_role_comment_authors_edit_and_the_owner_deletes() {
    let team = &team().await;
    let task = team.task("Discuss", None).await;
    let mut events = team.app().ws_session(&team.ada.access_token).await;
    events
        .subscribe(
            "tasks",
            "subscription { taskEvents { kind taskId task { commentCount } } }",
        )
        .await;
    events.settle().await;
    let comment = |who: &Session, body: String| {
        let input = json!({ "input": { "taskId": task, "body": body } });
        let token = who.access_token.clone();
        async move { team.app().graphql(ADD_COMMENT, input, Some(&token)).await }
    };
    let by_cy = comment(&team.cy, "A viewer may comment".into()).await;
    assert_eq!(
        by_cy["data"]["addComment"]["author"]["displayName"], "cy",
        "{by_cy}"
    );
    let event = events.next_of("tasks").await;
    assert_eq!(
        event["data"]["taskEvents"],
        json!({ "kind": "UPDATED", "taskId": task, "task": { "commentCount": 1 } }),
        "{event}"
    );
    let by_bob = comment(&team.bob, "An editor too".into()).await;
    comment(&team.ada, "And the owner".into()).await;
    assert_error(&comment(&team.dan, "An outsider".into()).await, "NOT_FOUND");
    for (body, why) in [
        (String::new(), "empty"),
        ("  \n".into(), "blank"),
        ("x".repeat(10_001), "too long"),
    ] {
        let refused = comment(&team.bob, body).await;
        assert_error(&refused, "BAD_USER_INPUT");
        assert_eq!(
            refused["errors"][0]["extensions"]["field"], "body",
            "{why}: {refused}"
        );
    }
    let long = comment(&team.bob, "x".repeat(10_000)).await;
    assert!(long["errors"].is_null(), "10,000 characters: {long}");

    // Oldest first, two a page.
    let first = team
        .app()
        .graphql(COMMENTS, json!({ "id": task }), Some(&team.cy.access_token))
        .await;
    let page = &first["data"]["task"];
    assert_eq!(page["commentCount"], 4, "{first}");
    assert_eq!(
        page["comments"]["edges"][0]["node"]["body"],
        "A viewer may comment"
    );
    assert_eq!(
        page["comments"]["edges"][1]["node"]["body"],
        "An editor too"
    );
    assert_eq!(page["comments"]["pageInfo"]["hasNextPage"], true);
    let after = page["comments"]["pageInfo"]["endCursor"].clone();
    let second = team
        .app()
        .graphql(
            COMMENTS,
            json!({ "id": task, "after": after }),
            Some(&team.cy.access_token),
        )
        .await;
    assert_eq!(
        second["data"]["task"]["comments"]["edges"][0]["node"]["body"], "And the owner",
        "{second}"
    );
    // Another viewer's cursor does not work.
    let foreign = team
        .app()
        .graphql(
            COMMENTS,
            json!({ "id": task, "after": after }),
            Some(&team.bob.access_token),
        )
        .await;
    assert_eq!(
        foreign["errors"][0]["extensions"]["field"], "after",
        "{foreign}"
    );

    let cy_comment = by_cy["data"]["addComment"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let bob_comment = by_bob["data"]["addComment"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let edit = |who: &Session, id: String| {
        let token = who.access_token.clone();
        async move {
            team.app()
                .graphql(
                    "mutation($id: ID!) { editComment(id: $id, body: \"Changed\") { body editedAt } }",
                    json!({ "id": id }),
                    Some(&token),
                )
                .await
        }
    };
    let delete = |who: &Session, id: String| {
        let token = who.access_token.clone();
        async move {
            team.app()
                .graphql(
                    "mutation($id: ID!) { deleteComment(id: $id) }",
                    json!({ "id": id }),
                    Some(&token),
                )
                .await
        }
    };
    assert_error(&edit(&team.bob, cy_comment.clone()).await, "FORBIDDEN");
    assert_error(&edit(&team.ada, cy_comment.clone()).await, "FORBIDDEN");
    assert_error(&edit(&team.dan, cy_comment.clone()).await, "NOT_FOUND");
    let edited = edit(&team.cy, cy_comment.clone()).await;
    assert_eq!(edited["data"]["editComment"]["body"], "Changed", "{edited}");
    assert!(
        edited["data"]["editComment"]["editedAt"].is_string(),
        "{edited}"
    );
    assert_error(&delete(&team.bob, cy_comment.clone()).await, "FORBIDDEN");
    assert_error(&delete(&team.dan, bob_comment.clone()).await, "NOT_FOUND");
    let by_owner = delete(&team.ada, bob_comment.clone()).await;
    assert_eq!(
        by_owner["data"]["deleteComment"],
        bob_comment.as_str(),
        "{by_owner}"
    );

    // Cy leaves; her comment stays, with her name.
    let removed = team
        .app()
        .graphql(
            "mutation($l: ID!, $p: ID!) { removeMember(listId: $l, personId: $p) }",
            json!({ "l": team.list, "p": team.cy.user_id }),
            Some(&team.ada.access_token),
        )
        .await;
    assert_eq!(removed["data"]["removeMember"], true, "{removed}");
    let kept = team
        .app()
        .graphql(
            COMMENTS,
            json!({ "id": task }),
            Some(&team.ada.access_token),
        )
        .await;
    assert_eq!(
        kept["data"]["task"]["comments"]["edges"][0]["node"],
        json!({ "body": "Changed", "author": { "displayName": "cy" } }),
        "{kept}"
    );
    assert_error(&edit(&team.cy, cy_comment).await, "NOT_FOUND");
}

/// Each refusal of the structure mutations' input, with its code and the
/// input field it names; nothing is changed by any of them.
#[tokio::test]
async fn bad_structure_input_is_refused_on_its_field() {
    let team = team().await;
    let task = team.task("Target", None).await;
    let unseen = uuid::Uuid::now_v7().to_string();
    let cases: [(&str, Value, &str, &str); 14] = [
        (
            "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
            json!({ "i": { "title": "x", "parentId": "not-an-id" } }),
            "parentId",
            "a malformed parent id",
        ),
        (
            "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
            json!({ "i": { "title": "x", "labelIds": ["not-an-id"] } }),
            "labelIds",
            "a malformed label id",
        ),
        (
            "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
            json!({ "i": { "title": "x", "listId": team.list, "labelIds": [unseen] } }),
            "labelIds",
            "a label that is not the list's",
        ),
        (
            "mutation($id: ID!) { updateTask(id: $id, input: { priority: null }) { id } }",
            json!({ "id": task }),
            "priority",
            "a null priority",
        ),
        (
            "mutation($id: ID!) { updateTask(id: $id, input: { labelIds: null }) { id } }",
            json!({ "id": task }),
            "labelIds",
            "null labels",
        ),
        (
            "mutation($i: MoveTaskInput!) { moveTask(input: $i) { id } }",
            json!({ "i": { "id": "nope" } }),
            "id",
            "a malformed task id",
        ),
        (
            "mutation($i: MoveTaskInput!) { moveTask(input: $i) { id } }",
            json!({ "i": { "id": task, "after": "nope" } }),
            "after",
            "a malformed neighbour",
        ),
        (
            "mutation($i: MoveTaskInput!) { moveTask(input: $i) { id } }",
            json!({ "i": { "id": task, "before": unseen } }),
            "before",
            "a neighbour that is no sibling",
        ),
        (
            "mutation($i: MoveTaskInput!) { moveTask(input: $i) { id } }",
            json!({ "i": { "id": task, "parentId": unseen } }),
            "parentId",
            "an unseen parent",
        ),
        (
            "mutation($i: CreateLabelInput!) { createLabel(input: $i) { id } }",
            json!({ "i": { "listId": "nope", "name": "x", "color": "#000000" } }),
            "listId",
            "a malformed list id",
        ),
        (
            "mutation($id: ID!) { updateLabel(id: $id, input: { color: null }) { id } }",
            json!({ "id": unseen }),
            "color",
            "a null colour",
        ),
        (
            "mutation($i: AddCommentInput!) { addComment(input: $i) { id } }",
            json!({ "i": { "taskId": "nope", "body": "x" } }),
            "taskId",
            "a malformed task id",
        ),
        (
            "mutation { editComment(id: \"nope\", body: \"x\") { id } }",
            json!({}),
            "id",
            "a malformed comment id",
        ),
        (
            "query($id: ID!) { task(id: $id) { comments(first: 1, after: \"junk\") { edges { cursor } } } }",
            json!({ "id": task }),
            "after",
            "a cursor that is not one",
        ),
    ];
    for (query, variables, field, why) in cases {
        let answer = team
            .app()
            .graphql(query, variables, Some(&team.bob.access_token))
            .await;
        assert_error(&answer, "BAD_USER_INPUT");
        assert_eq!(
            answer["errors"][0]["extensions"]["field"], field,
            "{why}: {answer}"
        );
    }
    let unchanged = team
        .app()
        .graphql(
            "query($id: ID!) { task(id: $id) { priority position parent { id } labels { id } commentCount } }",
            json!({ "id": task }),
            Some(&team.ada.access_token),
        )
        .await;
    assert_eq!(
        unchanged["data"]["task"],
        json!({ "priority": "NONE", "position": "a0", "parent": null, "labels": [], "commentCount": 0 }),
        "{unchanged}"
    );
}

/// A page answers its tasks' people, labels, comment counts, parents and
/// subtasks in one pass (loaded for the whole page); the answer is the one
/// the ordinary resolution gives, aliases, fragments and `__typename`
/// included. Subtasks asked with different arguments in different places,
/// or with a bad one, are answered field by field.
#[tokio::test]
async fn a_page_answers_its_loaded_fields_in_one_pass_as_field_by_field() {
    let team = &team().await;
    let bug = id_of(
        &team.label(&team.bob, &team.list, "Bug", "#ff0000").await,
        "createLabel",
    );
    let task = team
        .create(
            &team.bob,
            json!({ "title": "Labelled", "listId": team.list, "labelIds": [bug] }),
        )
        .await;
    let task = id_of(&task, "createTask");
    team.app()
        .graphql(
            "mutation($id: ID!, $p: ID) { assignTask(id: $id, personId: $p) { id } }",
            json!({ "id": task, "p": team.cy.user_id }),
            Some(&team.ada.access_token),
        )
        .await;
    team.task("Plain", None).await;
    team.task("Sub one", Some(&task)).await;
    team.create(
        &team.bob,
        json!({ "title": "Sub two", "listId": team.list, "parentId": task, "labelIds": [bug] }),
    )
    .await;
    team.app()
        .graphql(
            ADD_COMMENT,
            json!({ "input": { "taskId": task, "body": "Seen" } }),
            Some(&team.cy.access_token),
        )
        .await;
    let selection = "id title who: assignee { __typename id displayName } createdBy { ...P }
        labels { __typename name color } commentCount parent { title createdBy { ...P } }
        subtasks(first: 1) { totalCount pageInfo { hasNextPage endCursor }
            edges { cursor node { title labels { name } parent { id } } } }";
    let fragment = "fragment P on Person { displayName }";
    let read = |extra: &str| {
        let query = format!(
            "query($l: ID!) {{ list(id: $l) {{ tasks(orderBy: {{ field: POSITION, direction: ASC }}) {{
                edges {{ node {{ {selection} {extra} }} }} }} }} }} {fragment}"
        );
        let token = team.dan.access_token.clone();
        let ada = team.ada.access_token.clone();
        async move {
            let mine = team
                .app()
                .graphql(&query, json!({ "l": team.list }), Some(&ada))
                .await;
            let outsider = team
                .app()
                .graphql(&query, json!({ "l": team.list }), Some(&token))
                .await;
            assert!(outsider["data"]["list"].is_null(), "{outsider}");
            mine
        }
    };
    let plain = read("").await;
    // `list` is never loaded for a page: the tasks resolve field by field.
    let mut ordinary = read("list { id }").await;
    for edge in ordinary["data"]["list"]["tasks"]["edges"]
        .as_array_mut()
        .expect("edges")
    {
        edge["node"].as_object_mut().expect("node").remove("list");
    }
    assert_eq!(plain, ordinary);
    let node = |answer: &Value, title: &str| {
        answer["data"]["list"]["tasks"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|edge| edge["node"].clone())
            .find(|node| node["title"] == title)
            .unwrap_or_else(|| panic!("{title} in {answer}"))
    };
    let first = &node(&plain, "Labelled");
    assert_eq!(
        first["who"],
        json!({ "__typename": "Person", "id": team.cy.user_id, "displayName": "cy" }),
        "{plain}"
    );
    assert_eq!(first["createdBy"], json!({ "displayName": "bob" }));
    assert_eq!(
        first["labels"],
        json!([{ "__typename": "Label", "name": "Bug", "color": "#ff0000" }])
    );
    assert_eq!(first["commentCount"], 1);
    assert_eq!(first["parent"], Value::Null);
    assert_eq!(first["subtasks"]["totalCount"], 2, "{plain}");
    assert_eq!(first["subtasks"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(
        first["subtasks"]["edges"][0]["node"],
        json!({ "title": "Sub one", "labels": [], "parent": { "id": task } })
    );
    let second = &node(&plain, "Plain");
    assert_eq!(second["who"], Value::Null);
    assert_eq!(second["labels"], json!([]));
    assert_eq!(second["commentCount"], 0);
    assert_eq!(second["subtasks"]["totalCount"], 0);
    let sub = &node(&plain, "Sub two");
    assert_eq!(
        sub["parent"],
        json!({ "title": "Labelled", "createdBy": { "displayName": "bob" } })
    );
    assert_eq!(sub["labels"][0]["name"], "Bug");

    // Two pages of subtasks of different sizes: each its own.
    let query = "query($l: ID!) { list(id: $l) { tasks { edges { node { title
        one: subtasks(first: 1) { edges { node { title } } }
        two: subtasks(first: 2) { edges { node { title } } } } } } } }";
    let both = team
        .app()
        .graphql(
            query,
            json!({ "l": team.list }),
            Some(&team.ada.access_token),
        )
        .await;
    let labelled = node(&both, "Labelled");
    assert_eq!(
        labelled["one"]["edges"].as_array().map(Vec::len),
        Some(1),
        "{both}"
    );
    assert_eq!(
        labelled["two"]["edges"].as_array().map(Vec::len),
        Some(2),
        "{both}"
    );
    // A bad argument is reported on the field that has it.
    let query = "query($l: ID!) { list(id: $l) { tasks { edges { node { title
        labels { name } subtasks(first: -1) { totalCount } } } } } }";
    let bad = team
        .app()
        .graphql(
            query,
            json!({ "l": team.list }),
            Some(&team.ada.access_token),
        )
        .await;
    assert_eq!(
        bad["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{bad}"
    );
    let path = bad["errors"][0]["path"].as_array().expect("a path");
    assert_eq!(path.last(), Some(&json!("subtasks")), "{bad}");
}
