//! Lists shared with people: the inbox, invitations through the real SMTP
//! server, roles, and the one rule for who sees what, tried from every side
//! by a member of each role and by an outsider who must see nothing.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    helpers::{Session, TestApp, assert_error, assert_nothing_arrives, spawn_app_with},
    smtp::{Received, SmtpServer},
    ws_client::{TASK_EVENTS, is_task_titled},
};

const VERIFY_SUBJECT: &str = "Confirm your taskql address";
const INVITATION_SUBJECT: &str = "You are invited to a taskql list";

pub const LISTS: &str = "{ lists { id name inbox role } }";
const CREATE_LIST: &str =
    "mutation($input: CreateListInput!) { createList(input: $input) { id name inbox role } }";
const INVITE: &str = "mutation($input: InviteToListInput!) { inviteToList(input: $input) {
    id listName email role invitedBy { id displayName } createdAt expiresAt } }";
const ACCEPT: &str =
    "mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { id name role } }";
const TASK: &str = "query($id: ID!) { task(id: $id) { id title list { id } } }";
const LIST_TASKS: &str = "query($id: ID!) { list(id: $id) { id tasks(first: 50) {
    totalCount edges { cursor node { id title } } } } }";
const ROOT_TASKS: &str = "query($filter: TaskFilter) { tasks(first: 100, filter: $filter) {
    totalCount edges { cursor node { id title } } } }";

/// A server that mails to a test SMTP server keeping every mail.
pub struct Sharing {
    pub app: TestApp,
    pub smtp: SmtpServer,
}

pub async fn sharing() -> Sharing {
    sharing_with(&[]).await
}

pub async fn sharing_with(vars: &[(&str, &str)]) -> Sharing {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let link = "https://app.example.com/invite?token={token}";
    let mut settings = vec![
        ("TASKQL_SMTP_URL", url.as_str()),
        ("TASKQL_INVITATION_URL", link),
    ];
    settings.extend_from_slice(vars);
    let app = spawn_app_with(&settings).await;
    Sharing { app, smtp }
}

impl Sharing {
    /// The first mail to `to` with `subject` after `seen` of them, waiting
    /// for it.
    pub async fn mail(&self, to: &str, subject: &str, seen: usize) -> Received {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let mut found: Vec<Received> = self
                .smtp
                .received()
                .into_iter()
                .filter(|mail| mail.subject == subject && mail.to == [to])
                .collect();
            if found.len() > seen {
                return found.swap_remove(seen);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no mail {subject:?} to {to}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// An account whose address is verified, through its mail.
    pub async fn person(&self, email: &str) -> Session {
        let session = self.app.register(email).await;
        let token = self.mail(email, VERIFY_SUBJECT, 0).await.token();
        let verified = self
            .app
            .graphql(
                "mutation($token: String!) { verifyEmail(token: $token) }",
                json!({ "token": token }),
                None,
            )
            .await;
        assert_eq!(verified["data"]["verifyEmail"], true, "{verified}");
        session
    }

    /// A new list of `owner`'s; its id.
    pub async fn list(&self, owner: &Session, name: &str) -> String {
        let made = self
            .app
            .graphql(
                CREATE_LIST,
                json!({ "input": { "name": name } }),
                Some(&owner.access_token),
            )
            .await;
        made["data"]["createList"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("list made: {made}"))
            .to_owned()
    }

    /// Invites `email` to `list` as `role`; the answer.
    pub async fn invite(&self, owner: &Session, list: &str, email: &str, role: &str) -> Value {
        let input = json!({ "listId": list, "email": email, "role": role });
        self.app
            .graphql(INVITE, json!({ "input": input }), Some(&owner.access_token))
            .await
    }

    /// `member` (of `email`) joins `list` as `role` with the token of the
    /// invitation mail.
    pub async fn join(
        &self,
        owner: &Session,
        list: &str,
        member: &Session,
        email: &str,
        role: &str,
    ) {
        let seen = self.invitations_to(email);
        let invited = self.invite(owner, list, email, role).await;
        assert!(invited["errors"].is_null(), "{invited}");
        let token = self.mail(email, INVITATION_SUBJECT, seen).await.token();
        let accepted = self
            .app
            .graphql(
                ACCEPT,
                json!({ "input": { "token": token } }),
                Some(&member.access_token),
            )
            .await;
        assert_eq!(
            accepted["data"]["acceptInvitation"]["id"], list,
            "{accepted}"
        );
    }

    fn invitations_to(&self, email: &str) -> usize {
        self.smtp
            .received()
            .iter()
            .filter(|mail| mail.subject == INVITATION_SUBJECT && mail.to == [email])
            .count()
    }
}

impl TestApp {
    /// Creates a task titled `title` in `list`; its id.
    pub async fn task_in(&self, session: &Session, list: &str, title: &str) -> String {
        let made = self
            .create_task(
                &session.access_token,
                json!({ "title": title, "listId": list }),
            )
            .await;
        made["data"]["createTask"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("task made: {made}"))
            .to_owned()
    }
}

fn titles(page: &Value) -> Vec<String> {
    page["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("a page: {page}"))
        .iter()
        .map(|edge| edge["node"]["title"].as_str().expect("title").to_owned())
        .collect()
}

#[tokio::test]
async fn a_new_account_has_its_inbox_where_tasks_go_when_no_list_is_named() {
    let team = sharing().await;
    let ada = team.app.register("ada@example.com").await;
    let lists = team
        .app
        .graphql(LISTS, json!({}), Some(&ada.access_token))
        .await;
    assert_eq!(
        lists["data"]["lists"],
        json!([{ "id": ada.user_id, "name": "Inbox", "inbox": true, "role": "OWNER" }]),
        "{lists}"
    );
    let id = team.app.task_id(&ada.access_token, "Buy milk").await;
    let task = team
        .app
        .graphql(TASK, json!({ "id": id }), Some(&ada.access_token))
        .await;
    assert_eq!(task["data"]["task"]["list"]["id"], ada.user_id, "{task}");
    let me = team
        .app
        .graphql("{ me { displayName } }", json!({}), Some(&ada.access_token))
        .await;
    assert_eq!(me["data"]["me"]["displayName"], "ada", "{me}");
    // The inbox is never shared, deleted or left.
    let shared = team
        .invite(&ada, &ada.user_id, "bob@example.com", "EDITOR")
        .await;
    crate::helpers::assert_bad_input(&shared, "listId");
    let deleted = team
        .app
        .graphql(
            "mutation($id: ID!) { deleteList(id: $id) }",
            json!({ "id": ada.user_id }),
            Some(&ada.access_token),
        )
        .await;
    crate::helpers::assert_bad_input(&deleted, "id");
}

#[tokio::test]
async fn an_outsider_sees_nothing_of_a_list_through_any_path() {
    let team = sharing().await;
    let app = &team.app;
    let ada = team.person("ada@example.com").await;
    let bob = team.person("bob@example.com").await;
    let eve = team.person("eve@example.com").await;
    let list = team.list(&ada, "Household").await;
    team.join(&ada, &list, &bob, "bob@example.com", "EDITOR")
        .await;
    let mut eve_ws = app.ws_subscribed(&eve.access_token, "1").await;
    let task = app.task_in(&ada, &list, "Secret plan").await;
    let eve_token = Some(eve.access_token.as_str());

    // Reads: nothing, and no FORBIDDEN that would tell it exists.
    let lists = app.graphql(LISTS, json!({}), eve_token).await;
    assert_eq!(
        lists["data"]["lists"].as_array().map(Vec::len),
        Some(1),
        "only her inbox: {lists}"
    );
    let found = app
        .graphql(LIST_TASKS, json!({ "id": list }), eve_token)
        .await;
    assert!(found["data"]["list"].is_null(), "{found}");
    let found = app.graphql(TASK, json!({ "id": task }), eve_token).await;
    assert!(found["data"]["task"].is_null(), "{found}");
    for filter in [
        json!(null),
        json!({ "listId": list }),
        json!({ "assigneeId": ada.user_id }),
    ] {
        let page = app
            .graphql(ROOT_TASKS, json!({ "filter": filter }), eve_token)
            .await;
        assert_eq!(page["data"]["tasks"]["totalCount"], 0, "{filter}: {page}");
        assert_eq!(
            titles(&page["data"]["tasks"]),
            Vec::<String>::new(),
            "{filter}"
        );
    }
    // A cursor a member made is refused, not followed.
    let bobs = app
        .graphql(LIST_TASKS, json!({ "id": list }), Some(&bob.access_token))
        .await;
    let cursor = bobs["data"]["list"]["tasks"]["edges"][0]["cursor"]
        .as_str()
        .unwrap_or_else(|| panic!("bob sees the task: {bobs}"))
        .to_owned();
    let followed = app
        .graphql(
            "query($after: String) { tasks(after: $after) { edges { node { title } } } }",
            json!({ "after": cursor }),
            eve_token,
        )
        .await;
    crate::helpers::assert_bad_input(&followed, "after");

    // Writes: NOT_FOUND, as for what does not exist, and nothing changes.
    let cases = [
        (
            "mutation($id: ID!) { updateTask(id: $id, input: { title: \"Mine\" }) { id } }",
            json!({ "id": task }),
        ),
        (
            "mutation($id: ID!) { deleteTask(id: $id) }",
            json!({ "id": task }),
        ),
        (
            "mutation($id: ID!, $p: ID) { assignTask(id: $id, personId: $p) { id } }",
            json!({ "id": task, "p": eve.user_id }),
        ),
        (
            "mutation($l: ID!) { createTask(input: { title: \"Planted\", listId: $l }) { id } }",
            json!({ "l": list }),
        ),
        (
            "mutation($id: ID!) { renameList(id: $id, name: \"Mine\") { id } }",
            json!({ "id": list }),
        ),
        (
            "mutation($id: ID!) { deleteList(id: $id) }",
            json!({ "id": list }),
        ),
        (
            "mutation($id: ID!) { leaveList(id: $id) }",
            json!({ "id": list }),
        ),
        (
            "mutation($l: ID!, $p: ID!) { removeMember(listId: $l, personId: $p) }",
            json!({ "l": list, "p": bob.user_id }),
        ),
        (
            "mutation($l: ID!, $p: ID!) { transferListOwnership(listId: $l, personId: $p) { id } }",
            json!({ "l": list, "p": eve.user_id }),
        ),
        (
            "mutation($i: ChangeMemberRoleInput!) { changeMemberRole(input: $i) { role } }",
            json!({ "i": { "listId": list, "personId": bob.user_id, "role": "VIEWER" } }),
        ),
        (
            "mutation($i: InviteToListInput!) { inviteToList(input: $i) { id } }",
            json!({ "i": { "listId": list, "email": "mallory@example.com", "role": "EDITOR" } }),
        ),
    ];
    for (mutation, variables) in cases {
        let answer = app.graphql(mutation, variables, eve_token).await;
        assert_error(&answer, "NOT_FOUND");
        assert!(answer["data"].is_null(), "{mutation}: {answer}");
    }
    let moved_in = app
        .graphql(
            "mutation($id: ID!, $l: ID!) { updateTask(id: $id, input: { listId: $l }) { id } }",
            json!({ "id": app.task_id(&eve.access_token, "Hers").await, "l": list }),
            eve_token,
        )
        .await;
    assert_error(&moved_in, "NOT_FOUND");
    let still = app
        .graphql(LIST_TASKS, json!({ "id": list }), Some(&ada.access_token))
        .await;
    assert_eq!(
        titles(&still["data"]["list"]["tasks"]),
        ["Secret plan"],
        "{still}"
    );

    // Events: her own change arrives, and nothing of the list before it.
    app.task_in(&ada, &list, "Another secret").await;
    assert_nothing_arrives(
        &mut eve_ws,
        async {
            app.task_id(&eve.access_token, "Eve's marker").await;
        },
        |message| is_task_titled(message, "Eve's marker") || is_task_titled(message, "Hers"),
    )
    .await;
}

/// What each role may do, mutation by mutation: the owner everything, an
/// editor the tasks, a viewer nothing but reading (`FORBIDDEN`, since it
/// sees the list).
#[tokio::test]
async fn each_role_may_do_what_it_allows_and_is_forbidden_the_rest() {
    let team = sharing().await;
    let app = &team.app;
    let ada = team.person("ada@example.com").await;
    let bob = team.person("bob@example.com").await;
    let cy = team.person("cy@example.com").await;
    let list = team.list(&ada, "Release").await;
    team.join(&ada, &list, &bob, "bob@example.com", "EDITOR")
        .await;
    team.join(&ada, &list, &cy, "cy@example.com", "VIEWER")
        .await;
    let task = app.task_in(&ada, &list, "Ship it").await;

    struct Case {
        what: &'static str,
        mutation: &'static str,
        variables: Value,
        editor: Option<&'static str>,
        viewer: Option<&'static str>,
    }
    let cases = [
        Case {
            what: "add a task",
            mutation: "mutation($l: ID!) { createTask(input: { title: \"More\", listId: $l }) { id } }",
            variables: json!({ "l": list }),
            editor: None,
            viewer: Some("FORBIDDEN"),
        },
        Case {
            what: "change a task",
            mutation: "mutation($id: ID!) { updateTask(id: $id, input: { completed: true }) { id } }",
            variables: json!({ "id": task }),
            editor: None,
            viewer: Some("FORBIDDEN"),
        },
        Case {
            what: "assign a task",
            mutation: "mutation($id: ID!, $p: ID) { assignTask(id: $id, personId: $p) { assignee { id } } }",
            variables: json!({ "id": task, "p": bob.user_id }),
            editor: None,
            viewer: Some("FORBIDDEN"),
        },
        Case {
            what: "rename the list",
            mutation: "mutation($id: ID!) { renameList(id: $id, name: \"Renamed\") { id } }",
            variables: json!({ "id": list }),
            editor: Some("FORBIDDEN"),
            viewer: Some("FORBIDDEN"),
        },
        Case {
            what: "invite",
            mutation: "mutation($i: InviteToListInput!) { inviteToList(input: $i) { id } }",
            variables: json!({ "i": { "listId": list, "email": "dan@example.com", "role": "VIEWER" } }),
            editor: Some("FORBIDDEN"),
            viewer: Some("FORBIDDEN"),
        },
        Case {
            what: "change a role",
            mutation: "mutation($i: ChangeMemberRoleInput!) { changeMemberRole(input: $i) { role } }",
            variables: json!({ "i": { "listId": list, "personId": cy.user_id, "role": "EDITOR" } }),
            editor: Some("FORBIDDEN"),
            viewer: Some("FORBIDDEN"),
        },
        Case {
            what: "remove a member",
            mutation: "mutation($l: ID!, $p: ID!) { removeMember(listId: $l, personId: $p) }",
            variables: json!({ "l": list, "p": cy.user_id }),
            editor: Some("FORBIDDEN"),
            viewer: Some("FORBIDDEN"),
        },
        Case {
            what: "hand the list on",
            mutation: "mutation($l: ID!, $p: ID!) { transferListOwnership(listId: $l, personId: $p) { id } }",
            variables: json!({ "l": list, "p": bob.user_id }),
            editor: Some("FORBIDDEN"),
            viewer: Some("FORBIDDEN"),
        },
        Case {
            what: "delete the list",
            mutation: "mutation($id: ID!) { deleteList(id: $id) }",
            variables: json!({ "id": list }),
            editor: Some("FORBIDDEN"),
            viewer: Some("FORBIDDEN"),
        },
        Case {
            what: "delete a task",
            mutation: "mutation($id: ID!) { deleteTask(id: $id) }",
            variables: json!({ "id": task }),
            editor: None,
            viewer: Some("FORBIDDEN"),
        },
    ];
    for case in &cases {
        for (who, session, expected) in
            [("viewer", &cy, case.viewer), ("editor", &bob, case.editor)]
        {
            let answer = app
                .graphql(
                    case.mutation,
                    case.variables.clone(),
                    Some(&session.access_token),
                )
                .await;
            match expected {
                Some(code) => {
                    assert_eq!(
                        crate::helpers::error_code(&answer),
                        Some(code),
                        "the {who} may not {}: {answer}",
                        case.what
                    );
                }
                None => assert!(
                    answer["errors"].is_null(),
                    "the {who} may {}: {answer}",
                    case.what
                ),
            }
        }
    }
    // A task goes only to a member of its list.
    let dan = team.person("dan@example.com").await;
    let kept = app.task_in(&ada, &list, "Kept").await;
    let outside = app
        .graphql(
            "mutation($id: ID!, $p: ID) { assignTask(id: $id, personId: $p) { id } }",
            json!({ "id": kept, "p": dan.user_id }),
            Some(&ada.access_token),
        )
        .await;
    crate::helpers::assert_bad_input(&outside, "personId");
    // Everyone reads; the owner's own powers work.
    for session in [&bob, &cy] {
        let lists = app
            .graphql(LISTS, json!({}), Some(&session.access_token))
            .await;
        assert_eq!(
            lists["data"]["lists"].as_array().map(Vec::len),
            Some(2),
            "{lists}"
        );
        // The pages that start from the reader's memberships, a viewer's too.
        let pages = app
            .graphql(
                "{ tasks { edges { node { title } } } lists { tasks { edges { node { title } } } } }",
                json!({}),
                Some(&session.access_token),
            )
            .await;
        assert_eq!(pages.to_string().matches("\"Kept\"").count(), 2, "{pages}");
    }
    let renamed = app
        .graphql(
            "mutation($id: ID!) { renameList(id: $id, name: \"Renamed\") { name } }",
            json!({ "id": list }),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(
        renamed["data"]["renameList"]["name"], "Renamed",
        "{renamed}"
    );
    let members = app
        .graphql(
            "query($id: ID!) { list(id: $id) { members { person { id displayName } role } invitations { id } } }",
            json!({ "id": list }),
            Some(&cy.access_token),
        )
        .await;
    assert_eq!(
        members["data"]["list"]["members"],
        json!([
            { "person": { "id": ada.user_id, "displayName": "ada" }, "role": "OWNER" },
            { "person": { "id": bob.user_id, "displayName": "bob" }, "role": "EDITOR" },
            { "person": { "id": cy.user_id, "displayName": "cy" }, "role": "VIEWER" },
        ]),
        "{members}"
    );
    assert_eq!(
        members["data"]["list"]["invitations"],
        json!([]),
        "only the owner sees them"
    );
    assert!(
        !members.to_string().contains("@example.com"),
        "no email of anyone else: {members}"
    );
}

#[tokio::test]
async fn invitations_come_by_mail_or_in_the_app_and_work_once_for_the_verified_address_alone() {
    let team = sharing().await;
    let app = &team.app;
    let ada = team.person("ada@example.com").await;
    let bob = team.person("bob@example.com").await;
    let list = team.list(&ada, "Trip").await;

    // The same answer whether or not the address has an account.
    let to_bob = team.invite(&ada, &list, "bob@example.com", "EDITOR").await;
    let to_nobody = team
        .invite(&ada, &list, "nobody@example.com", "EDITOR")
        .await;
    let shape = |answer: &Value, key: &str| {
        let mut invitation = answer["data"]["inviteToList"].clone();
        for field in ["id", "email", "createdAt", "expiresAt"] {
            invitation[field] = json!(key);
        }
        invitation
    };
    assert_eq!(
        shape(&to_bob, "x"),
        shape(&to_nobody, "x"),
        "{to_bob} {to_nobody}"
    );
    let mail = team.mail("bob@example.com", INVITATION_SUBJECT, 0).await;
    let token = mail.token();
    assert!(
        mail.text
            .contains(&format!("https://app.example.com/invite?token={token}")),
        "{}",
        mail.text
    );
    assert!(mail.text.contains("Trip"), "{}", mail.text);

    // In the app too, with the same id.
    let mine = app
        .graphql(
            "{ myInvitations { id listName role invitedBy { displayName } } }",
            json!({}),
            Some(&bob.access_token),
        )
        .await;
    assert_eq!(
        mine["data"]["myInvitations"],
        json!([{ "id": to_bob["data"]["inviteToList"]["id"], "listName": "Trip", "role": "EDITOR", "invitedBy": { "displayName": "ada" } }]),
        "{mine}"
    );

    // Another account, even one that has the token, is refused.
    let cy = team.person("cy@example.com").await;
    let stolen = app
        .graphql(
            ACCEPT,
            json!({ "input": { "token": token } }),
            Some(&cy.access_token),
        )
        .await;
    assert_error(&stolen, "NOT_FOUND");
    let by_id = app
        .graphql(
            ACCEPT,
            json!({ "input": { "id": to_bob["data"]["inviteToList"]["id"] } }),
            Some(&cy.access_token),
        )
        .await;
    assert_error(&by_id, "NOT_FOUND");

    let accepted = app
        .graphql(
            ACCEPT,
            json!({ "input": { "token": token } }),
            Some(&bob.access_token),
        )
        .await;
    assert_eq!(
        accepted["data"]["acceptInvitation"]["role"], "EDITOR",
        "{accepted}"
    );
    let again = app
        .graphql(
            ACCEPT,
            json!({ "input": { "token": token } }),
            Some(&bob.access_token),
        )
        .await;
    crate::helpers::assert_bad_input(&again, "token");
    let bad = app
        .graphql(
            ACCEPT,
            json!({ "input": { "token": "not-a-token" } }),
            Some(&bob.access_token),
        )
        .await;
    crate::helpers::assert_bad_input(&bad, "token");

    // An unverified account with the invited address is refused.
    let dan = app.register("dan@example.com").await;
    team.invite(&ada, &list, "dan@example.com", "VIEWER").await;
    let dan_token = team
        .mail("dan@example.com", INVITATION_SUBJECT, 0)
        .await
        .token();
    let unverified = app
        .graphql(
            ACCEPT,
            json!({ "input": { "token": dan_token } }),
            Some(&dan.access_token),
        )
        .await;
    assert_error(&unverified, "NOT_FOUND");
    let none = app
        .graphql(
            "{ myInvitations { id } }",
            json!({}),
            Some(&dan.access_token),
        )
        .await;
    assert_eq!(none["data"]["myInvitations"], json!([]), "{none}");

    // Revoked: the token no longer works.
    let revoked_invitation = team.invite(&ada, &list, "cy@example.com", "VIEWER").await;
    let cy_token = team
        .mail("cy@example.com", INVITATION_SUBJECT, 0)
        .await
        .token();
    let revoked = app
        .graphql(
            "mutation($id: ID!) { revokeInvitation(id: $id) }",
            json!({ "id": revoked_invitation["data"]["inviteToList"]["id"] }),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(revoked["data"]["revokeInvitation"], true, "{revoked}");
    let late = app
        .graphql(
            ACCEPT,
            json!({ "input": { "token": cy_token } }),
            Some(&cy.access_token),
        )
        .await;
    crate::helpers::assert_bad_input(&late, "token");

    // Inviting a member is refused on the email.
    let member = team.invite(&ada, &list, "bob@example.com", "VIEWER").await;
    crate::helpers::assert_bad_input(&member, "email");
}

#[tokio::test]
async fn removal_takes_effect_at_once_left_arrives_and_nothing_more_of_the_list() {
    let team = sharing().await;
    let app = &team.app;
    let ada = team.person("ada@example.com").await;
    let bob = team.person("bob@example.com").await;
    let list = team.list(&ada, "Garden").await;
    team.join(&ada, &list, &bob, "bob@example.com", "EDITOR")
        .await;
    let task = app.task_in(&ada, &list, "Water the roses").await;
    let assigned = app
        .graphql(
            "mutation($id: ID!, $p: ID) { assignTask(id: $id, personId: $p) { assignee { displayName } } }",
            json!({ "id": task, "p": bob.user_id }),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(
        assigned["data"]["assignTask"]["assignee"]["displayName"], "bob",
        "{assigned}"
    );

    let mut events = app.ws_session(&bob.access_token).await;
    events
        .subscribe(
            "tasks",
            "subscription { taskEvents { kind listId task { title list { name } createdBy { displayName } } } }",
        )
        .await;
    events
        .subscribe(
            "lists",
            "subscription { listEvents { kind listId list { id } } }",
        )
        .await;
    events.settle().await;
    app.task_in(&ada, &list, "Heard by Bob").await;
    let heard = events.next_of("tasks").await;
    assert_eq!(
        heard["data"]["taskEvents"],
        json!({ "kind": "CREATED", "listId": list, "task": {
            "title": "Heard by Bob", "list": { "name": "Garden" }, "createdBy": { "displayName": "ada" } } }),
        "{heard}"
    );

    let seen = app
        .graphql(
            "{ tasks(first: 100) { edges { node { title } } } }",
            json!({}),
            Some(&bob.access_token),
        )
        .await;
    assert!(seen.to_string().contains("Water the roses"), "{seen}");
    let removed = app
        .graphql(
            "mutation($l: ID!, $p: ID!) { removeMember(listId: $l, personId: $p) }",
            json!({ "l": list, "p": bob.user_id }),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(removed["data"]["removeMember"], true, "{removed}");
    let left = events.next_of("lists").await;
    assert_eq!(
        left["data"]["listEvents"],
        json!({ "kind": "LEFT", "listId": list, "list": null }),
        "{left}"
    );
    let gone = app
        .graphql(LIST_TASKS, json!({ "id": list }), Some(&bob.access_token))
        .await;
    assert!(gone["data"]["list"].is_null(), "{gone}");
    // Nor through the pages that start from the viewer's memberships.
    let everywhere = app
        .graphql(
            "{ tasks(first: 100) { edges { node { title } } } lists { tasks { edges { node { title } } } } }",
            json!({}),
            Some(&bob.access_token),
        )
        .await;
    assert!(everywhere["errors"].is_null(), "{everywhere}");
    assert!(
        !everywhere.to_string().contains("Water the roses"),
        "{everywhere}"
    );
    let unassigned = app
        .graphql(
            "query($id: ID!) { task(id: $id) { assignee { id } } }",
            json!({ "id": task }),
            Some(&ada.access_token),
        )
        .await;
    assert!(
        unassigned["data"]["task"]["assignee"].is_null(),
        "{unassigned}"
    );

    app.task_in(&ada, &list, "Not for Bob").await;
    assert_nothing_arrives(
        &mut events,
        async {
            app.task_id(&bob.access_token, "Bob's marker").await;
        },
        |message| is_task_titled(message, "Bob's marker"),
    )
    .await;
}

#[tokio::test]
async fn a_task_moved_out_of_a_members_lists_reaches_them_as_deleted() {
    let team = sharing().await;
    let app = &team.app;
    let ada = team.person("ada@example.com").await;
    let bob = team.person("bob@example.com").await;
    let shared = team.list(&ada, "Shared").await;
    let private = team.list(&ada, "Private").await;
    team.join(&ada, &shared, &bob, "bob@example.com", "VIEWER")
        .await;
    let task = app.task_in(&ada, &shared, "Moving out").await;
    let mut events = app.ws_subscribed(&bob.access_token, "1").await;
    let moved = app
        .graphql(
            "mutation($id: ID!, $l: ID!) { updateTask(id: $id, input: { listId: $l }) { list { id name } } }",
            json!({ "id": task, "l": private }),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(
        moved["data"]["updateTask"]["list"]["name"], "Private",
        "{moved}"
    );
    let event = events.next_of("1").await;
    assert_eq!(
        event["data"]["taskEvents"],
        json!({ "kind": "DELETED", "taskId": task, "task": null }),
        "{event}"
    );
    let found = app
        .graphql(TASK, json!({ "id": task }), Some(&bob.access_token))
        .await;
    assert!(found["data"]["task"].is_null(), "{found}");
}

#[tokio::test]
async fn deleting_an_account_hands_its_shared_lists_to_the_longest_standing_editor() {
    let team = sharing().await;
    let app = &team.app;
    let ada = team.person("ada@example.com").await;
    let bob = team.person("bob@example.com").await;
    let cy = team.person("cy@example.com").await;
    let shared = team.list(&ada, "Shared").await;
    let alone = team.list(&ada, "Alone").await;
    team.join(&ada, &shared, &cy, "cy@example.com", "VIEWER")
        .await;
    team.join(&ada, &shared, &bob, "bob@example.com", "EDITOR")
        .await;
    let kept = app.task_in(&ada, &shared, "Stays").await;
    app.task_in(&ada, &alone, "Goes").await;
    let deleted = app
        .graphql(
            "mutation($p: String!) { deleteAccount(password: $p) }",
            json!({ "p": crate::helpers::PASSWORD }),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(deleted["data"]["deleteAccount"], true, "{deleted}");
    let lists = app.graphql(LISTS, json!({}), Some(&bob.access_token)).await;
    let names: Vec<(&str, &str)> = lists["data"]["lists"]
        .as_array()
        .expect("lists")
        .iter()
        .map(|list| {
            (
                list["name"].as_str().unwrap_or_default(),
                list["role"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(names, [("Inbox", "OWNER"), ("Shared", "OWNER")], "{lists}");
    let task = app
        .graphql(
            "query($id: ID!) { task(id: $id) { title createdBy { id } } }",
            json!({ "id": kept }),
            Some(&cy.access_token),
        )
        .await;
    assert_eq!(
        task["data"]["task"],
        json!({ "title": "Stays", "createdBy": null }),
        "{task}"
    );
    let gone = app
        .graphql(
            "query($id: ID!) { list(id: $id) { id } }",
            json!({ "id": alone }),
            Some(&bob.access_token),
        )
        .await;
    assert!(gone["data"]["list"].is_null(), "{gone}");
}

#[tokio::test]
async fn each_lists_own_tasks_page_like_the_root_tasks_and_the_root_spans_every_list() {
    let team = sharing().await;
    let app = &team.app;
    let ada = team.person("ada@example.com").await;
    let bob = team.person("bob@example.com").await;
    let errands = team.list(&ada, "Errands").await;
    let work = team.list(&ada, "Work").await;
    team.join(&ada, &work, &bob, "bob@example.com", "EDITOR")
        .await;
    for title in ["e1", "e2", "e3"] {
        app.task_in(&ada, &errands, title).await;
    }
    let w1 = app.task_in(&bob, &work, "w1").await;
    app.graphql(
        "mutation($id: ID!, $p: ID) { assignTask(id: $id, personId: $p) { id } }",
        json!({ "id": w1, "p": bob.user_id }),
        Some(&ada.access_token),
    )
    .await;
    let nested = app
        .graphql(
            "{ lists { name tasks(first: 2) { totalCount pageInfo { hasNextPage endCursor }
                edges { node { title createdBy { displayName } assignee { displayName } } } } } }",
            json!({}),
            Some(&ada.access_token),
        )
        .await;
    let lists = nested["data"]["lists"]
        .as_array()
        .unwrap_or_else(|| panic!("{nested}"));
    let summary: Vec<(String, Vec<String>, bool, i64)> = lists
        .iter()
        .map(|list| {
            let page = &list["tasks"];
            (
                list["name"].as_str().expect("name").to_owned(),
                titles(page),
                page["pageInfo"]["hasNextPage"]
                    .as_bool()
                    .expect("hasNextPage"),
                page["totalCount"].as_i64().expect("totalCount"),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("Inbox".to_owned(), vec![], false, 0),
            (
                "Errands".to_owned(),
                vec!["e3".to_owned(), "e2".to_owned()],
                true,
                3
            ),
            ("Work".to_owned(), vec!["w1".to_owned()], false, 1),
        ],
        "{nested}"
    );
    assert_eq!(
        lists[2]["tasks"]["edges"][0]["node"],
        json!({ "title": "w1", "createdBy": { "displayName": "bob" }, "assignee": { "displayName": "bob" } })
    );
    let after = lists[1]["tasks"]["pageInfo"]["endCursor"].clone();
    let next = app
        .graphql(
            "query($id: ID!, $after: String) { list(id: $id) { tasks(first: 2, after: $after) {
                pageInfo { hasNextPage hasPreviousPage } edges { node { title } } } } }",
            json!({ "id": errands, "after": after }),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(titles(&next["data"]["list"]["tasks"]), ["e1"], "{next}");
    assert_eq!(
        next["data"]["list"]["tasks"]["pageInfo"],
        json!({ "hasNextPage": false, "hasPreviousPage": true })
    );
    // The root spans every list; filters narrow it to one, or to an assignee.
    let root = app
        .graphql(
            ROOT_TASKS,
            json!({ "filter": null }),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(
        titles(&root["data"]["tasks"]),
        ["w1", "e3", "e2", "e1"],
        "{root}"
    );
    let mine = app
        .graphql(
            ROOT_TASKS,
            json!({ "filter": { "assigneeId": bob.user_id } }),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(titles(&mine["data"]["tasks"]), ["w1"], "{mine}");
    let bobs = app
        .graphql(
            ROOT_TASKS,
            json!({ "filter": null }),
            Some(&bob.access_token),
        )
        .await;
    assert_eq!(
        titles(&bobs["data"]["tasks"]),
        ["w1"],
        "Bob is not in Errands: {bobs}"
    );
}

/// Removal through one instance reaches the person's socket on another at
/// once: `LEFT`, then nothing more of the list.
#[tokio::test]
#[ignore = "needs PostgreSQL: TASKQL_TEST_POSTGRES_URL and --include-ignored"]
async fn a_removal_through_one_instance_reaches_a_socket_on_another() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let settings = [("TASKQL_SMTP_URL", url.as_str())];
    let database = std::sync::Arc::new(crate::helpers::TestDatabase::postgres_only().await);
    let one = crate::helpers::spawn_app_on(std::sync::Arc::clone(&database), &settings).await;
    let two = crate::helpers::spawn_app_on(database, &settings).await;
    let team = Sharing { app: one, smtp };
    let ada = team.person("ada@example.com").await;
    let bob = team.person("bob@example.com").await;
    let list = team.list(&ada, "Across").await;
    team.join(&ada, &list, &bob, "bob@example.com", "VIEWER")
        .await;

    let mut events = two.ws_session(&bob.access_token).await;
    events.subscribe("tasks", TASK_EVENTS).await;
    events
        .subscribe("lists", "subscription { listEvents { kind listId } }")
        .await;
    events.settle().await;
    team.app.task_in(&ada, &list, "Before").await;
    let before = events.next_of("tasks").await;
    assert_eq!(
        before["data"]["taskEvents"]["task"]["title"], "Before",
        "{before}"
    );

    let removed = team
        .app
        .graphql(
            "mutation($l: ID!, $p: ID!) { removeMember(listId: $l, personId: $p) }",
            json!({ "l": list, "p": bob.user_id }),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(removed["data"]["removeMember"], true, "{removed}");
    let left = events.next_of("lists").await;
    assert_eq!(
        left["data"]["listEvents"],
        json!({ "kind": "LEFT", "listId": list }),
        "{left}"
    );
    team.app.task_in(&ada, &list, "After").await;
    assert_nothing_arrives(
        &mut events,
        async {
            two.task_id(&bob.access_token, "Bob's marker").await;
        },
        |message| is_task_titled(message, "Bob's marker"),
    )
    .await;
}

#[tokio::test]
async fn a_newer_invitation_replaces_the_older_one_past_its_time_is_refused_and_an_inviter_sends_20_an_hour()
 {
    use sea_orm::{EntityTrait, sea_query::Expr};

    let team = sharing().await;
    let app = &team.app;
    let ada = team.person("ada@example.com").await;
    let bob = team.person("bob@example.com").await;
    let list = team.list(&ada, "Club").await;
    team.invite(&ada, &list, "bob@example.com", "VIEWER").await;
    let older = team
        .mail("bob@example.com", INVITATION_SUBJECT, 0)
        .await
        .token();
    let newer = team.invite(&ada, &list, "bob@example.com", "EDITOR").await;
    let newer_token = team
        .mail("bob@example.com", INVITATION_SUBJECT, 1)
        .await
        .token();
    let mine = app
        .graphql(
            "{ myInvitations { id role } }",
            json!({}),
            Some(&bob.access_token),
        )
        .await;
    assert_eq!(
        mine["data"]["myInvitations"],
        json!([{ "id": newer["data"]["inviteToList"]["id"], "role": "EDITOR" }]),
        "{mine}"
    );
    let replaced = app
        .graphql(
            ACCEPT,
            json!({ "input": { "token": older } }),
            Some(&bob.access_token),
        )
        .await;
    crate::helpers::assert_bad_input(&replaced, "token");

    // Past its seven days.
    entity::list_invitation::Entity::update_many()
        .col_expr(
            entity::list_invitation::Column::ExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)),
        )
        .exec(&app.db)
        .await
        .expect("aged");
    let expired = app
        .graphql(
            ACCEPT,
            json!({ "input": { "token": newer_token } }),
            Some(&bob.access_token),
        )
        .await;
    crate::helpers::assert_bad_input(&expired, "token");

    // Twenty an hour: two made above, eighteen more, then no more.
    for n in 0..18 {
        let sent = team
            .invite(&ada, &list, &format!("guest{n}@example.com"), "VIEWER")
            .await;
        assert!(sent["errors"].is_null(), "{n}: {sent}");
    }
    let one_more = team
        .invite(&ada, &list, "one.more@example.com", "VIEWER")
        .await;
    assert_error(&one_more, "RATE_LIMITED");
}

/// A bad argument of a list's own `tasks` is the request's fault on every
/// list it is asked of, not an internal error of their shared statement.
#[tokio::test]
async fn a_bad_argument_of_every_lists_tasks_is_bad_user_input_on_each() {
    let team = sharing().await;
    let app = &team.app;
    let ada = team.person("ada@example.com").await;
    for name in ["One", "Two"] {
        team.list(&ada, name).await;
    }
    for (arguments, field) in [("first: -1", "first"), ("after: \"not a cursor\"", "after")] {
        let answer = app
            .graphql(
                &format!("{{ lists {{ id tasks({arguments}) {{ edges {{ cursor }} }} }} }}"),
                json!({}),
                Some(&ada.access_token),
            )
            .await;
        let errors = answer["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{answer}"));
        assert_eq!(errors.len(), 3, "one for each list: {answer}");
        for error in errors {
            assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{answer}");
            assert_eq!(error["extensions"]["field"], field, "{answer}");
        }
    }
}
