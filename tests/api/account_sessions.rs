//! Sessions a person can see and end, and the record of security events.

use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, Session, TestApp, TestDatabase, assert_bad_input, assert_error, spawn_app,
    spawn_app_on,
};
use crate::ws_client::TASK_EVENTS;

const SESSIONS: &str = "{ sessions { id createdAt lastUsedAt userAgent ip current } }";
const REVOKE: &str = "mutation($id: ID!) { revokeSession(id: $id) }";
const REVOKE_OTHERS: &str = "mutation { revokeOtherSessions }";
const EVENTS: &str =
    "query($first: Int, $after: String) { securityEvents(first: $first, after: $after) {
    edges { cursor node { id kind at ip userAgent } } pageInfo { hasNextPage endCursor } } }";

impl TestApp {
    async fn sessions(&self, token: &str) -> Vec<Value> {
        let response = self.graphql(SESSIONS, json!({}), Some(token)).await;
        response["data"]["sessions"]
            .as_array()
            .unwrap_or_else(|| panic!("sessions: {response}"))
            .clone()
    }

    pub async fn event_kinds(&self, token: &str) -> Vec<String> {
        let response = self
            .graphql(EVENTS, json!({ "first": 100 }), Some(token))
            .await;
        response["data"]["securityEvents"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("events: {response}"))
            .iter()
            .map(|edge| edge["node"]["kind"].as_str().expect("kind").to_owned())
            .collect()
    }
}

/// Ada on two devices: a laptop and a phone.
async fn two_devices(app: &TestApp) -> (Session, Session) {
    app.signup("ada@example.com", PASSWORD).await;
    let laptop = app.login_as("Laptop/1.0", "ada@example.com").await;
    let phone = app.login_as("Phone/2.0", "ada@example.com").await;
    (laptop, phone)
}

fn id_of<'a>(sessions: &'a [Value], agent: &str) -> &'a str {
    sessions
        .iter()
        .find(|session| session["userAgent"] == agent)
        .and_then(|session| session["id"].as_str())
        .unwrap_or_else(|| panic!("a session of {agent}: {sessions:?}"))
}

#[tokio::test]
async fn two_logins_are_two_sessions_and_revoking_one_ends_it_at_once() {
    let app = spawn_app().await;
    let (laptop, phone) = two_devices(&app).await;
    let sessions = app.sessions(&laptop.access_token).await;
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    assert_eq!(sessions[0]["userAgent"], "Phone/2.0", "newest first");
    assert_eq!(
        sessions
            .iter()
            .map(|s| (s["userAgent"].as_str(), s["current"].as_bool()))
            .collect::<Vec<_>>(),
        [
            (Some("Phone/2.0"), Some(false)),
            (Some("Laptop/1.0"), Some(true))
        ]
    );
    assert!(
        sessions.iter().all(|s| s["ip"] == "127.0.0.1"),
        "{sessions:?}"
    );

    let phone_id = id_of(&sessions, "Phone/2.0").to_owned();
    let revoked = app
        .graphql(
            REVOKE,
            json!({ "id": phone_id }),
            Some(&laptop.access_token),
        )
        .await;
    assert_eq!(revoked["data"]["revokeSession"], true, "{revoked}");
    // Refused at once, by the guard and by the page that checks the account
    // in its own statement, and its refresh token is dead.
    assert_error(&app.me(&phone.access_token).await, "UNAUTHENTICATED");
    let page = app
        .graphql(
            "{ tasks { edges { node { id } } } }",
            json!({}),
            Some(&phone.access_token),
        )
        .await;
    assert_error(&page, "UNAUTHENTICATED");
    assert_error(&app.refresh(&phone.refresh_token).await, "UNAUTHENTICATED");
    // The other session is untouched.
    assert_eq!(
        app.me(&laptop.access_token).await["data"]["me"]["email"],
        "ada@example.com"
    );
    assert!(app.refresh(&laptop.refresh_token).await["errors"].is_null());
    assert_eq!(app.sessions(&laptop.access_token).await.len(), 1);
    // Revoking it again: it is gone.
    let again = app
        .graphql(
            REVOKE,
            json!({ "id": phone_id }),
            Some(&laptop.access_token),
        )
        .await;
    assert_error(&again, "NOT_FOUND");
}

#[tokio::test]
async fn another_users_session_is_not_found_and_a_malformed_id_is_bad_input() {
    let app = spawn_app().await;
    let (laptop, _) = two_devices(&app).await;
    let grace = app.register("grace@example.com").await;
    let ada_session = app.sessions(&laptop.access_token).await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let foreign = app
        .graphql(
            REVOKE,
            json!({ "id": ada_session }),
            Some(&grace.access_token),
        )
        .await;
    assert_error(&foreign, "NOT_FOUND");
    let unknown = app
        .graphql(
            REVOKE,
            json!({ "id": uuid::Uuid::now_v7().to_string() }),
            Some(&grace.access_token),
        )
        .await;
    assert_eq!(
        foreign["errors"][0]["message"],
        unknown["errors"][0]["message"]
    );
    let malformed = app
        .graphql(REVOKE, json!({ "id": "nope" }), Some(&grace.access_token))
        .await;
    assert_bad_input(&malformed, "id");
    assert_eq!(
        app.sessions(&laptop.access_token).await.len(),
        2,
        "nothing ended"
    );
}

#[tokio::test]
async fn revoking_the_other_sessions_keeps_the_current_one() {
    let app = spawn_app().await;
    let (laptop, phone) = two_devices(&app).await;
    let tablet = app.login_as("Tablet/3.0", "ada@example.com").await;
    let response = app
        .graphql(REVOKE_OTHERS, json!({}), Some(&laptop.access_token))
        .await;
    assert_eq!(response["data"]["revokeOtherSessions"], 2, "{response}");
    for other in [&phone, &tablet] {
        assert_error(&app.me(&other.access_token).await, "UNAUTHENTICATED");
    }
    let left = app.sessions(&laptop.access_token).await;
    assert_eq!((left.len(), &left[0]["current"]), (1, &json!(true)));
    let kinds = app.event_kinds(&laptop.access_token).await;
    assert_eq!(
        &kinds[..2],
        ["SESSION_REVOKED", "SESSION_REVOKED"],
        "{kinds:?}"
    );
}

#[tokio::test]
async fn a_revoked_sessions_subscription_closes_with_4403_and_the_others_stay() {
    let app = spawn_app().await;
    let (laptop, phone) = two_devices(&app).await;
    let mut on_laptop = app.ws_subscribed(&laptop.access_token, "1").await;
    let mut on_phone = app.ws_subscribed(&phone.access_token, "1").await;
    let phone_id = id_of(&app.sessions(&laptop.access_token).await, "Phone/2.0").to_owned();
    app.graphql(
        REVOKE,
        json!({ "id": phone_id }),
        Some(&laptop.access_token),
    )
    .await;
    assert_eq!(on_phone.close_code().await, 4403);
    on_laptop.settle().await;
    app.task_id(&laptop.access_token, "Still heard").await;
    let heard = on_laptop.next_of("1").await;
    assert_eq!(heard["data"]["taskEvents"]["kind"], "CREATED", "{heard}");
}

#[tokio::test]
#[ignore = "needs PostgreSQL: TASKQL_TEST_POSTGRES_URL and --include-ignored"]
async fn a_session_revoked_through_one_instance_is_refused_by_another_and_its_subscription_there_closes()
 {
    let database = std::sync::Arc::new(TestDatabase::postgres_only().await);
    let one = spawn_app_on(std::sync::Arc::clone(&database), &[]).await;
    let two = spawn_app_on(database, &[]).await;
    let (laptop, phone) = two_devices(&one).await;
    let mut on_two = two.ws_session(&phone.access_token).await;
    on_two.subscribe("1", TASK_EVENTS).await;
    on_two.settle().await;
    let phone_id = id_of(&one.sessions(&laptop.access_token).await, "Phone/2.0").to_owned();
    one.graphql(
        REVOKE,
        json!({ "id": phone_id }),
        Some(&laptop.access_token),
    )
    .await;
    assert_error(&two.me(&phone.access_token).await, "UNAUTHENTICATED");
    assert_eq!(on_two.close_code().await, 4403);
    assert_eq!(
        two.me(&laptop.access_token).await["data"]["me"]["email"],
        "ada@example.com"
    );
}

#[tokio::test]
async fn each_security_event_is_recorded_once_with_the_clients_address_and_agent() {
    let app = spawn_app().await;
    app.graphql_as(
        "Laptop/1.0",
        "mutation($input: SignupInput!) { signup(input: $input) { id } }",
        json!({ "input": { "email": "ada@example.com", "password": PASSWORD } }),
        None,
    )
    .await;
    let wrong = app
        .graphql_as(
            "Laptop/1.0",
            "mutation { login(input: { email: \"ada@example.com\", password: \"not the password\" }) { accessToken } }",
            json!({}),
            None,
        )
        .await;
    assert_error(&wrong, "INVALID_CREDENTIALS");
    // An unknown email is recorded against nobody.
    app.login("nobody@example.com", PASSWORD).await;
    let laptop = app.login_as("Laptop/1.0", "ada@example.com").await;
    let phone = app.login_as("Phone/2.0", "ada@example.com").await;
    app.graphql(
        "mutation($token: String!) { logout(refreshToken: $token) }",
        json!({ "token": phone.refresh_token }),
        None,
    )
    .await;
    let response = app
        .graphql(EVENTS, json!({}), Some(&laptop.access_token))
        .await;
    let edges = response["data"]["securityEvents"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{response}"))
        .clone();
    let kinds: Vec<&str> = edges
        .iter()
        .filter_map(|e| e["node"]["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "LOGGED_OUT",
            "LOGGED_IN",
            "LOGGED_IN",
            "LOGIN_FAILED",
            "SIGNED_UP"
        ],
        "newest first, each once"
    );
    assert_eq!(edges[2]["node"]["userAgent"], "Laptop/1.0");
    assert_eq!(edges[1]["node"]["userAgent"], "Phone/2.0");
    assert!(
        edges.iter().all(|e| e["node"]["ip"] == "127.0.0.1"),
        "{edges:?}"
    );
    let printed = response.to_string();
    assert!(!printed.contains(PASSWORD) && !printed.contains(&phone.refresh_token));

    // Two at a time, on from the end cursor, to the end.
    let first = app
        .graphql(EVENTS, json!({ "first": 2 }), Some(&laptop.access_token))
        .await;
    let page = &first["data"]["securityEvents"];
    assert_eq!(page["pageInfo"]["hasNextPage"], true, "{first}");
    let after = page["pageInfo"]["endCursor"].as_str().expect("cursor");
    let rest = app
        .graphql(
            EVENTS,
            json!({ "first": 10, "after": after }),
            Some(&laptop.access_token),
        )
        .await;
    let rest_kinds: Vec<&str> = rest["data"]["securityEvents"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter_map(|e| e["node"]["kind"].as_str())
        .collect();
    assert_eq!(rest_kinds, ["LOGGED_IN", "LOGIN_FAILED", "SIGNED_UP"]);
    assert_eq!(
        rest["data"]["securityEvents"]["pageInfo"]["hasNextPage"],
        false
    );
    let bad = app
        .graphql(EVENTS, json!({ "after": "!!" }), Some(&laptop.access_token))
        .await;
    assert_bad_input(&bad, "after");
}

#[tokio::test]
async fn password_changes_revocations_and_reuse_are_recorded() {
    let app = spawn_app().await;
    let (laptop, phone) = two_devices(&app).await;
    let renewed = app.refresh(&phone.refresh_token).await;
    assert!(renewed["errors"].is_null(), "{renewed}");
    assert_error(&app.refresh(&phone.refresh_token).await, "UNAUTHENTICATED");
    app.graphql(REVOKE_OTHERS, json!({}), Some(&laptop.access_token))
        .await;
    let changed = app
        .graphql(
            crate::helpers::CHANGE_PASSWORD,
            json!({ "input": { "currentPassword": PASSWORD, "newPassword": "an entirely new passphrase" } }),
            Some(&laptop.access_token),
        )
        .await;
    assert_eq!(changed["data"]["changePassword"], true, "{changed}");
    let again = app
        .login("ada@example.com", "an entirely new passphrase")
        .await;
    let token = again["data"]["login"]["accessToken"]
        .as_str()
        .expect("token");
    let kinds = app.event_kinds(token).await;
    assert_eq!(
        kinds,
        [
            "LOGGED_IN",
            "PASSWORD_CHANGED",
            "REFRESH_TOKEN_REUSED",
            "LOGGED_IN",
            "LOGGED_IN",
            "SIGNED_UP"
        ],
        "the reuse ended the phone's session, so there was nothing left to revoke"
    );
}
