//! Dates that mean something (SPEC §12): all-day and timed due dates in a
//! zone, recurrence and the record of completions, occurrences for calendar
//! views; tried by an editor, a viewer and an outsider of a shared list.

use serde_json::{Value, json};

use crate::{
    helpers::{Session, assert_bad_input, assert_error},
    structure::{Team, team},
};

const CREATE: &str = "mutation($input: CreateTaskInput!) { createTask(input: $input) {
    id dueAt dueOn timeZone recurrence repeatFrom completed } }";
const UPDATE: &str =
    "mutation($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) {
    id dueAt dueOn timeZone recurrence repeatFrom completed } }";
const COMPLETIONS: &str = "query($id: ID!) { task(id: $id) { completions(first: 10) {
    edges { node { dueAt dueOn completedAt by { displayName } } } } } }";
const OCCURRENCES: &str = "query($from: DateTime!, $to: DateTime!, $list: ID) {
    occurrences(from: $from, to: $to, listId: $list) { task { id title } dueAt dueOn } }";

impl Team {
    async fn make(&self, who: &Session, input: Value) -> Value {
        let mut input = input;
        input["listId"] = json!(self.list);
        self.app()
            .graphql(CREATE, json!({ "input": input }), Some(&who.access_token))
            .await
    }

    async fn change(&self, who: &Session, id: &str, input: Value) -> Value {
        self.app()
            .graphql(
                UPDATE,
                json!({ "id": id, "input": input }),
                Some(&who.access_token),
            )
            .await
    }
}

fn id_of(made: &Value) -> String {
    made["data"]["createTask"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("made: {made}"))
        .to_owned()
}

#[tokio::test]
async fn all_day_and_timed_due_dates_in_a_zone() {
    let team = team().await;
    let day = team
        .make(
            &team.bob,
            json!({ "title": "Christmas", "dueOn": "2026-12-24", "timeZone": "Europe/Berlin" }),
        )
        .await;
    let task = &day["data"]["createTask"];
    assert_eq!(task["dueOn"], "2026-12-24", "{day}");
    assert_eq!(task["dueAt"], Value::Null);
    assert_eq!(task["timeZone"], "Europe/Berlin");
    assert_eq!(task["repeatFrom"], "DUE");
    let id = id_of(&day);

    // Due at the start of its day in Berlin: 23:00 UTC the day before.
    let window = |before: &str| json!({ "first": 10, "filter": { "listId": team.list, "dueBefore": before } });
    let listed = |page: &Value| {
        page["data"]["tasks"]["edges"]
            .as_array()
            .map_or(0, Vec::len)
    };
    let query = "query($first: Int, $filter: TaskFilter) { tasks(first: $first, filter: $filter) { edges { node { id } } } }";
    let before = team
        .app()
        .graphql(
            query,
            window("2026-12-23T23:00:00Z"),
            Some(&team.cy.access_token),
        )
        .await;
    assert_eq!(listed(&before), 0, "{before}");
    let after = team
        .app()
        .graphql(
            query,
            window("2026-12-23T23:00:01Z"),
            Some(&team.cy.access_token),
        )
        .await;
    assert_eq!(listed(&after), 1, "{after}");

    // Setting a timed due date clears the all-day one, and back.
    let timed = team
        .change(
            &team.bob,
            &id,
            json!({ "dueAt": "2026-12-24T17:00:00+01:00" }),
        )
        .await;
    assert_eq!(
        timed["data"]["updateTask"]["dueAt"], "2026-12-24T16:00:00Z",
        "{timed}"
    );
    assert_eq!(timed["data"]["updateTask"]["dueOn"], Value::Null);
    let back = team
        .change(&team.bob, &id, json!({ "dueOn": "2026-12-25" }))
        .await;
    assert_eq!(back["data"]["updateTask"]["dueOn"], "2026-12-25", "{back}");
    assert_eq!(back["data"]["updateTask"]["dueAt"], Value::Null);

    // The viewer reads, and may not change; the outsider sees nothing.
    let refused = team
        .change(&team.cy, &id, json!({ "dueOn": "2027-01-01" }))
        .await;
    assert_error(&refused, "FORBIDDEN");
    let hidden = team
        .change(&team.dan, &id, json!({ "dueOn": "2027-01-01" }))
        .await;
    assert_error(&hidden, "NOT_FOUND");
}

#[tokio::test]
async fn bad_dates_are_refused_by_field_and_nothing_changes() {
    let team = team().await;
    for (input, field) in [
        (
            json!({ "title": "t", "dueAt": "2026-12-24T09:00:00Z", "dueOn": "2026-12-24" }),
            "dueOn",
        ),
        (
            json!({ "title": "t", "dueOn": "2026-12-24", "timeZone": "Mars/Olympus" }),
            "timeZone",
        ),
        (
            json!({ "title": "t", "dueOn": "2026-12-24", "recurrence": "FREQ=SECONDLY" }),
            "recurrence",
        ),
        (
            json!({ "title": "t", "dueOn": "2026-12-24", "recurrence": "FREQ=DAILY;BYHOUR=9" }),
            "recurrence",
        ),
        (
            json!({ "title": "t", "recurrence": "FREQ=DAILY" }),
            "recurrence",
        ),
        (
            json!({ "title": "t", "dueOn": "2026-12-24", "recurrence": "FREQ=DAILY;COUNT=2;UNTIL=20270101" }),
            "recurrence",
        ),
    ] {
        let refused = team.make(&team.bob, input.clone()).await;
        assert_bad_input(&refused, field);
    }
    let bad_day = team
        .make(&team.bob, json!({ "title": "t", "dueOn": "2026-02-30" }))
        .await;
    assert_error(&bad_day, "BAD_USER_INPUT");

    let made = team
        .make(
            &team.bob,
            json!({ "title": "Keep", "dueOn": "2026-12-24", "recurrence": "FREQ=WEEKLY" }),
        )
        .await;
    let id = id_of(&made);
    let refused = team.change(&team.bob, &id, json!({ "dueOn": null })).await;
    assert_bad_input(&refused, "recurrence");
    let kept = team.change(&team.bob, &id, json!({})).await;
    assert_eq!(kept["data"]["updateTask"]["dueOn"], "2026-12-24", "{kept}");
    assert_eq!(kept["data"]["updateTask"]["recurrence"], "FREQ=WEEKLY");

    let wide = team
        .app()
        .graphql(
            OCCURRENCES,
            json!({ "from": "2026-01-01T00:00:00Z", "to": "2027-01-03T00:00:00Z" }),
            Some(&team.bob.access_token),
        )
        .await;
    assert_bad_input(&wide, "to");
}

#[tokio::test]
async fn completing_a_recurring_task_keeps_it_open_at_its_next_occurrence() {
    let team = team().await;
    let made = team
        .make(
            &team.bob,
            json!({
                "title": "Stand-up",
                "dueAt": "2027-03-22T08:00:00Z",
                "timeZone": "Europe/Berlin",
                "recurrence": "FREQ=WEEKLY;BYDAY=MO;COUNT=3",
            }),
        )
        .await;
    let id = id_of(&made);
    let first = team
        .change(&team.bob, &id, json!({ "completed": true }))
        .await;
    let task = &first["data"]["updateTask"];
    assert_eq!(task["completed"], false, "{first}");
    // 09:00 in Berlin, now in summer time.
    assert_eq!(task["dueAt"], "2027-03-29T07:00:00Z");
    team.change(&team.ada, &id, json!({ "completed": true }))
        .await;
    let last = team
        .change(&team.bob, &id, json!({ "completed": true }))
        .await;
    assert_eq!(
        last["data"]["updateTask"]["completed"], true,
        "COUNT=3 ends: {last}"
    );
    assert_eq!(last["data"]["updateTask"]["dueAt"], "2027-04-05T07:00:00Z");

    // Every completion is kept, newest first, with who did it; the viewer
    // reads them, the outsider nothing.
    let record = team
        .app()
        .graphql(
            COMPLETIONS,
            json!({ "id": id }),
            Some(&team.cy.access_token),
        )
        .await;
    let edges = record["data"]["task"]["completions"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("completions: {record}"));
    let due: Vec<&str> = edges
        .iter()
        .map(|edge| edge["node"]["dueAt"].as_str().expect("a due date"))
        .collect();
    assert_eq!(
        due,
        [
            "2027-04-05T07:00:00Z",
            "2027-03-29T07:00:00Z",
            "2027-03-22T08:00:00Z"
        ]
    );
    let by: Vec<&str> = edges
        .iter()
        .map(|edge| {
            edge["node"]["by"]["displayName"]
                .as_str()
                .expect("a person")
        })
        .collect();
    assert_eq!(by, ["bob", "ada", "bob"]);
    let hidden = team
        .app()
        .graphql(
            COMPLETIONS,
            json!({ "id": id }),
            Some(&team.dan.access_token),
        )
        .await;
    assert_eq!(hidden["data"]["task"], Value::Null, "{hidden}");
}

#[tokio::test]
async fn from_completion_the_next_date_counts_from_the_day_it_was_done() {
    let team = team().await;
    let made = team
        .make(
            &team.bob,
            json!({
                "title": "Water the plants",
                "dueOn": "2020-01-01",
                "recurrence": "FREQ=DAILY;INTERVAL=3",
                "repeatFrom": "COMPLETION",
            }),
        )
        .await;
    let id = id_of(&made);
    let done = team
        .change(&team.bob, &id, json!({ "completed": true }))
        .await;
    let next = done["data"]["updateTask"]["dueOn"]
        .as_str()
        .unwrap_or_else(|| panic!("{done}"));
    let today = chrono::Utc::now().date_naive();
    assert_eq!(
        next,
        (today + chrono::Duration::days(3)).to_string(),
        "{done}"
    );
}

#[tokio::test]
async fn occurrences_expand_what_the_viewer_sees_in_a_window() {
    let team = team().await;
    team.make(
        &team.bob,
        json!({ "title": "Weekly", "dueOn": "2027-01-04", "recurrence": "FREQ=WEEKLY" }),
    )
    .await;
    team.make(
        &team.bob,
        json!({ "title": "Once", "dueAt": "2027-01-10T12:00:00Z" }),
    )
    .await;
    team.make(
        &team.bob,
        json!({ "title": "Later", "dueAt": "2027-03-01T12:00:00Z" }),
    )
    .await;
    let window =
        json!({ "from": "2027-01-01T00:00:00Z", "to": "2027-01-25T00:00:00Z", "list": team.list });
    let seen = team
        .app()
        .graphql(OCCURRENCES, window.clone(), Some(&team.cy.access_token))
        .await;
    let found: Vec<(String, String)> = seen["data"]["occurrences"]
        .as_array()
        .unwrap_or_else(|| panic!("occurrences: {seen}"))
        .iter()
        .map(|occurrence| {
            let when = occurrence["dueOn"]
                .as_str()
                .or(occurrence["dueAt"].as_str())
                .expect("a date");
            (
                occurrence["task"]["title"]
                    .as_str()
                    .expect("a title")
                    .to_owned(),
                when.to_owned(),
            )
        })
        .collect();
    let expected = [
        ("Weekly", "2027-01-04"),
        ("Once", "2027-01-10T12:00:00Z"),
        ("Weekly", "2027-01-11"),
        ("Weekly", "2027-01-18"),
    ];
    assert_eq!(
        found,
        expected.map(|(title, when)| (title.to_owned(), when.to_owned())),
        "{seen}"
    );
    let outsider = team
        .app()
        .graphql(OCCURRENCES, window, Some(&team.dan.access_token))
        .await;
    assert_eq!(outsider["data"]["occurrences"], json!([]), "{outsider}");
}

const FEED: &str = "mutation($list: ID!) { createCalendarFeed(listId: $list) }";
const REVOKE: &str = "mutation($list: ID!) { revokeCalendarFeeds(listId: $list) }";

impl Team {
    async fn feed(&self, who: &Session) -> Value {
        self.app()
            .graphql(FEED, json!({ "list": self.list }), Some(&who.access_token))
            .await
    }
}

#[tokio::test]
async fn a_calendar_feed_serves_the_lists_dated_tasks_until_revoked_or_left() {
    let team = team().await;
    let made = team
        .make(
            &team.bob,
            json!({
                "title": "Stand-up",
                "dueAt": "2027-03-22T08:00:00Z",
                "timeZone": "Europe/Berlin",
                "recurrence": "FREQ=WEEKLY;BYDAY=MO;UNTIL=20270601",
                "priority": "URGENT",
            }),
        )
        .await;
    let standup = id_of(&made);
    team.make(
        &team.bob,
        json!({ "title": "Christmas", "dueOn": "2026-12-24" }),
    )
    .await;
    team.make(&team.bob, json!({ "title": "Someday" })).await;

    // Any member makes one; an outsider cannot.
    let url = team.feed(&team.cy).await["data"]["createCalendarFeed"]
        .as_str()
        .expect("a URL")
        .to_owned();
    assert!(url.starts_with(&team.app().address), "{url}");
    assert!(url.ends_with(".ics"));
    assert_error(&team.feed(&team.dan).await, "NOT_FOUND");

    let answer = team.app().client.get(&url).send().await.expect("sent");
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    let etag = answer.headers()["etag"].to_str().expect("text").to_owned();
    let text = answer.text().await.expect("a body");
    assert_eq!(text.matches("BEGIN:VTODO").count(), 2, "{text}");
    assert!(text.contains(&format!("UID:{standup}")), "{text}");
    assert!(
        text.contains("DUE;TZID=Europe/Berlin:20270322T090000"),
        "{text}"
    );
    assert!(
        text.contains("RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20270601T215959Z"),
        "{text}"
    );
    assert!(text.contains("PRIORITY:1"), "{text}");
    assert!(text.contains("DUE;VALUE=DATE:20261224"), "{text}");
    assert!(
        text.contains("BEGIN:VTIMEZONE") && text.contains("TZID:Europe/Berlin"),
        "{text}"
    );
    assert!(!text.contains("Someday"));

    let again = team
        .app()
        .client
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("sent");
    assert_eq!(again.status(), 304);

    // Someone else's revoking leaves it; its maker's ends it.
    let none = team
        .app()
        .graphql(
            REVOKE,
            json!({ "list": team.list }),
            Some(&team.bob.access_token),
        )
        .await;
    assert_eq!(none["data"]["revokeCalendarFeeds"], 0, "{none}");
    assert_eq!(
        team.app()
            .client
            .get(&url)
            .send()
            .await
            .expect("sent")
            .status(),
        200
    );
    let revoked = team
        .app()
        .graphql(
            REVOKE,
            json!({ "list": team.list }),
            Some(&team.cy.access_token),
        )
        .await;
    assert_eq!(revoked["data"]["revokeCalendarFeeds"], 1, "{revoked}");
    assert_eq!(
        team.app()
            .client
            .get(&url)
            .send()
            .await
            .expect("sent")
            .status(),
        404
    );

    // A feed of someone who left the list serves nothing.
    let kept = team.feed(&team.bob).await["data"]["createCalendarFeed"]
        .as_str()
        .expect("a URL")
        .to_owned();
    assert_eq!(
        team.app()
            .client
            .get(&kept)
            .send()
            .await
            .expect("sent")
            .status(),
        200
    );
    let left = team
        .app()
        .graphql(
            "mutation($id: ID!) { leaveList(id: $id) }",
            json!({ "id": team.list }),
            Some(&team.bob.access_token),
        )
        .await;
    assert!(left["errors"].is_null(), "{left}");
    assert_eq!(
        team.app()
            .client
            .get(&kept)
            .send()
            .await
            .expect("sent")
            .status(),
        404
    );
    let wrong = team.app().get("/calendar/not-a-token.ics").await;
    assert_eq!(wrong.status(), 404);
}

const REMIND: &str = "mutation($input: AddReminderInput!) { addReminder(input: $input) {
    id at beforeDue sentAt } }";
const REMINDERS: &str =
    "query($id: ID!) { task(id: $id) { reminders { id at beforeDue sentAt } } }";

/// `seconds` from now, in RFC 3339.
fn in_seconds(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(seconds)).to_rfc3339()
}

/// Task `title` in `list` by `who` with a reminder `seconds` from now; the
/// task's and the reminder's ids.
async fn reminded(
    app: &crate::helpers::TestApp,
    who: &Session,
    list: Option<&str>,
    title: &str,
    seconds: i64,
) -> (String, String) {
    let made = app
        .graphql(
            CREATE,
            json!({ "input": { "title": title, "listId": list, "dueAt": in_seconds(3600) } }),
            Some(&who.access_token),
        )
        .await;
    let task = id_of(&made);
    let reminder = app
        .graphql(
            REMIND,
            json!({ "input": { "taskId": task, "at": in_seconds(seconds) } }),
            Some(&who.access_token),
        )
        .await;
    let id = reminder["data"]["addReminder"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("a reminder: {reminder}"))
        .to_owned();
    (task, id)
}

#[tokio::test]
async fn a_reminder_fires_once_to_whose_task_it_is_and_a_removed_one_never() {
    let team = team().await;
    let app = team.app();
    let mut mailbox = team.sharing.smtp.mailbox();
    let mut events = app.ws_session(&team.cy.access_token).await;
    events
        .subscribe(
            "r",
            "subscription { taskEvents { kind task { title reminders { sentAt } } } }",
        )
        .await;
    events.settle().await;
    let (rent, _) = reminded(app, &team.bob, Some(&team.list), "Pay the rent", 2).await;
    let (_, removed) = reminded(app, &team.bob, Some(&team.list), "Removed", 2).await;
    let gone = app
        .graphql(
            "mutation($id: ID!) { removeReminder(id: $id) }",
            json!({ "id": removed }),
            Some(&team.ada.access_token),
        )
        .await;
    assert!(gone["errors"].is_null(), "{gone}");
    let (deleted, _) = reminded(app, &team.bob, Some(&team.list), "Deleted", 2).await;
    app.graphql(
        "mutation($id: ID!) { deleteTask(id: $id) }",
        json!({ "id": deleted }),
        Some(&team.bob.access_token),
    )
    .await;

    // The viewer may not add one; the outsider sees no task.
    for (who, code) in [(&team.cy, "FORBIDDEN"), (&team.dan, "NOT_FOUND")] {
        let refused = app
            .graphql(
                REMIND,
                json!({ "input": { "taskId": rent, "beforeDue": 10 } }),
                Some(&who.access_token),
            )
            .await;
        assert_error(&refused, code);
    }
    let both = app
        .graphql(
            REMIND,
            json!({ "input": { "taskId": rent, "beforeDue": 10, "at": in_seconds(60) } }),
            Some(&team.bob.access_token),
        )
        .await;
    assert_bad_input(&both, "beforeDue");
    let past = app
        .graphql(
            REMIND,
            json!({ "input": { "taskId": rent, "at": in_seconds(-60) } }),
            Some(&team.bob.access_token),
        )
        .await;
    assert_bad_input(&past, "at");

    let mail = crate::helpers::Channel::next_arrival(&mut mailbox).await;
    assert_eq!(mail.subject, "Reminder: Pay the rent", "{mail:?}");
    assert_eq!(mail.to, ["bob@example.com"]);
    assert!(
        mail.text.contains("Release"),
        "the list's name: {}",
        mail.text
    );
    // Nothing of the removed reminder or the deleted task, nor a second
    // mail of the first, before a marker that fires after them all.
    crate::helpers::assert_nothing_arrives(
        &mut mailbox,
        async {
            reminded(app, &team.ada, Some(&team.list), "Marker", 3).await;
        },
        |mail| mail.subject == "Reminder: Marker",
    )
    .await;
    // The viewer heard of it: the task's UPDATED with `sentAt`.
    loop {
        let event = events.next_of("r").await;
        let task = &event["data"]["taskEvents"]["task"];
        if task["title"] == "Pay the rent" && task["reminders"][0]["sentAt"].is_string() {
            assert_eq!(event["data"]["taskEvents"]["kind"], "UPDATED");
            break;
        }
    }
    let read = app
        .graphql(
            REMINDERS,
            json!({ "id": rent }),
            Some(&team.cy.access_token),
        )
        .await;
    assert!(
        read["data"]["task"]["reminders"][0]["sentAt"].is_string(),
        "{read}"
    );
}

#[tokio::test]
async fn a_relative_reminder_fires_for_each_occurrence() {
    let team = team().await;
    let app = team.app();
    let mut mailbox = team.sharing.smtp.mailbox();
    let due = chrono::Utc::now() + chrono::Duration::seconds(62);
    let made = team
        .make(
            &team.bob,
            json!({ "title": "Daily", "dueAt": due.to_rfc3339(), "recurrence": "FREQ=DAILY" }),
        )
        .await;
    let task = id_of(&made);
    let added = app
        .graphql(
            REMIND,
            json!({ "input": { "taskId": task, "beforeDue": 1 } }),
            Some(&team.bob.access_token),
        )
        .await;
    assert_eq!(added["data"]["addReminder"]["beforeDue"], 1, "{added}");
    let mail = crate::helpers::Channel::next_arrival(&mut mailbox).await;
    assert_eq!(mail.subject, "Reminder: Daily");
    // Done: the next occurrence is tomorrow, and so is its reminder.
    team.change(&team.bob, &task, json!({ "completed": true }))
        .await;
    let fire_at: Option<String> = {
        use sea_orm::{ConnectionTrait, Statement};
        let row = app
            .db
            .query_one_raw(Statement::from_string(
                app.db.get_database_backend(),
                "SELECT fire_at FROM reminders",
            ))
            .await
            .expect("read")
            .expect("a reminder");
        row.try_get_by_index::<Option<chrono::DateTime<chrono::Utc>>>(0)
            .expect("a time")
            .map(|at| at.to_rfc3339())
    };
    let next = fire_at.expect("set again for the next occurrence");
    let expected = due + chrono::Duration::days(1) - chrono::Duration::minutes(1);
    assert_eq!(&next[..16], &expected.to_rfc3339()[..16], "{next}");
}

#[tokio::test]
async fn a_reminder_fires_after_a_restart_that_came_before_its_time() {
    use crate::{helpers::spawn_app_on, smtp::SmtpServer};
    let smtp = SmtpServer::watching("Reminder: Survive").await;
    let url = smtp.url();
    let settings = [("TASKQL_SMTP_URL", url.as_str())];
    let first = crate::helpers::spawn_app_with(&settings).await;
    let ada = first.register("ada@example.com").await;
    reminded(&first, &ada, None, "Survive", 3).await;
    let database = first.database.clone();
    first.shutdown.stop();
    drop(first);
    let second = spawn_app_on(database, &settings).await;
    let mail = smtp.wait_for(1).await;
    assert_eq!(mail[0].to, ["ada@example.com"]);
    drop(second);
}

#[tokio::test]
#[ignore = "needs PostgreSQL: TASKQL_TEST_POSTGRES_URL"]
async fn with_two_instances_each_reminder_fires_once() {
    use crate::{
        helpers::{TestDatabase, spawn_app_on},
        smtp::SmtpServer,
    };
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let settings = [("TASKQL_SMTP_URL", url.as_str())];
    let database = std::sync::Arc::new(TestDatabase::postgres_only().await);
    let one = spawn_app_on(database.clone(), &settings).await;
    let two = spawn_app_on(database, &settings).await;
    let ada = one.register("ada@example.com").await;
    let mut mailbox = smtp.mailbox();
    for n in 0..6 {
        let app = if n % 2 == 0 { &one } else { &two };
        reminded(app, &ada, None, &format!("Twice {n}"), 2).await;
    }
    reminded(&two, &ada, None, "Marker", 6).await;
    let mut subjects = Vec::new();
    loop {
        let mail = crate::helpers::Channel::next_arrival(&mut mailbox).await;
        if mail.subject == "Reminder: Marker" {
            break;
        }
        // Ada's verification mail may come meanwhile.
        if mail.subject.starts_with("Reminder: ") {
            subjects.push(mail.subject);
        }
    }
    subjects.sort();
    let expected: Vec<String> = (0..6).map(|n| format!("Reminder: Twice {n}")).collect();
    assert_eq!(subjects, expected, "each once, by one of the two");
    drop((one, two));
}

#[tokio::test]
async fn waiting_reminders_are_in_the_metrics_and_not_in_the_mail_queue() {
    use crate::metrics::{scrape, value};
    let app = crate::helpers::spawn_app_with(&[("TASKQL_METRICS_LISTEN", "127.0.0.1:0")]).await;
    let ada = app.register("ada@example.com").await;
    // Ada's verification mail leaves first (to the log, without SMTP).
    let mut before = value(&scrape(&app).await, "taskql_mail_queue_depth");
    for _ in 0..200 {
        if before == Some(0.0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        before = value(&scrape(&app).await, "taskql_mail_queue_depth");
    }
    assert_eq!(before, Some(0.0), "the verification mail went");
    reminded(&app, &ada, None, "Later", 3600).await;
    reminded(&app, &ada, None, "Much later", 7200).await;
    let text = scrape(&app).await;
    assert_eq!(
        value(&text, "taskql_reminders_pending"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(value(&text, "taskql_reminder_overdue_seconds"), Some(0.0));
    assert_eq!(
        value(&text, "taskql_mail_queue_depth"),
        before,
        "timers are no mail"
    );
}
