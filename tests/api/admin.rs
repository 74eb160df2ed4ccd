//! The admin listener (`TASKQL_ADMIN_LISTEN`) end to end: who may call it
//! (an account marked by `taskql admin grant`, read on every request, with
//! a second factor from the last 15 minutes), what it shows and does, a
//! disabled account refused every way in, and `taskql admin` itself.

use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};
use taskql::auth::totp;

use crate::{
    authenticator::Authenticator,
    binary::{Server, taskql},
    helpers::{
        JWT_SECRET, PASSWORD, Session, TestApp, assert_bad_input, assert_error, spawn_app_on,
        spawn_app_with,
    },
    second_factor::fresh_step,
    sharing::{Sharing, sharing_with},
};

const ADMIN_LISTEN: (&str, &str) = ("TASKQL_ADMIN_LISTEN", "127.0.0.1:0");
const STATS: &str = "{ stats { users verifiedUsers disabledUsers lists tasks signupsLast7Days } }";
const USERS: &str = "query($search: String, $first: Int, $after: String) {
    users(search: $search, first: $first, after: $after) {
        edges { cursor node { id email displayName disabled lists tasks } }
        pageInfo { hasNextPage endCursor } } }";
const USER: &str = "query($id: ID!) { user(id: $id) { id email displayName emailVerified createdAt
    disabled disabledReason lastLoginAt sessions { id userAgent current }
    securityEvents(first: 5) { edges { node { kind ip } } } lists tasks } }";
const DISABLE: &str = "mutation($id: ID!, $reason: String!) {
    disableUser(id: $id, reason: $reason) { id disabled disabledReason } }";
const ENABLE: &str = "mutation($id: ID!) { enableUser(id: $id) { id disabled disabledReason } }";
const REVOKE_SESSIONS: &str = "mutation($id: ID!) { revokeUserSessions(id: $id) }";
const SEND_RESET: &str = "mutation($id: ID!) { sendPasswordReset(id: $id) }";
const DELETE_USER: &str = "mutation($id: ID!) { deleteUser(id: $id) }";

/// Runs `taskql admin <args>` on the database of `app`: its exit status
/// and what it printed (stdout, stderr).
fn admin_command(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let output = taskql()
        .env("TASKQL_DATABASE_URL", &app.database.url)
        .env("TASKQL_LOG", "warn")
        .arg("admin")
        .args(args)
        .output()
        .expect("runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn grant(app: &TestApp, email: &str) {
    let (ok, out, err) = admin_command(app, &["grant", email]);
    assert!(ok, "grant {email}: {out}{err}");
}

impl TestApp {
    /// An operation on the admin listener.
    pub async fn admin_graphql(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        let address = self.admin_address.as_deref().expect("an admin listener");
        let mut request = self
            .client
            .post(format!("{address}/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json")
    }

    /// An account marked admin and signed in with its TOTP code: its access
    /// token (from `completeLogin`, so with a recent second factor) and the
    /// session it belongs to.
    pub async fn admin(&self, email: &str) -> (String, Session) {
        let enrolled = self.enrolled(email).await;
        grant(self, email);
        let step = fresh_step().await;
        let token = self
            .sign_in_with(email, PASSWORD, &totp::code(&enrolled.secret, step))
            .await;
        (token, enrolled.session)
    }
}

/// `token` with its claims changed by `change`, signed with the test key.
fn resigned(token: &str, change: impl FnOnce(&mut Value)) -> String {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_aud = false;
    let key = DecodingKey::from_secret(JWT_SECRET.as_bytes());
    let mut claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("our token")
        .claims;
    change(&mut claims);
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .expect("signed")
}

fn message(response: &Value) -> &str {
    response["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn only_an_admin_with_a_recent_second_factor_gets_in_and_the_mark_is_read_every_time() {
    let app = spawn_app_with(&[ADMIN_LISTEN, ("TASKQL_METRICS_LISTEN", "127.0.0.1:0")]).await;
    // Nothing of it on the public listener.
    let public = app.graphql(STATS, json!({}), None).await;
    assert!(
        message(&public).contains("stats"),
        "not in the public schema: {public}"
    );

    assert_error(
        &app.admin_graphql(STATS, json!({}), None).await,
        "UNAUTHENTICATED",
    );
    assert_error(
        &app.admin_graphql(STATS, json!({}), Some("not.a.token"))
            .await,
        "UNAUTHENTICATED",
    );
    let grace = app.register("grace@example.com").await;
    let ordinary = app
        .admin_graphql(STATS, json!({}), Some(&grace.access_token))
        .await;
    assert_error(&ordinary, "FORBIDDEN");
    assert!(message(&ordinary).contains("not an admin"), "{ordinary}");

    // Marked, but signed in with a password alone.
    grant(&app, "grace@example.com");
    let without = app
        .admin_graphql(STATS, json!({}), Some(&grace.access_token))
        .await;
    assert_error(&without, "FORBIDDEN");
    assert!(message(&without).contains("second factor"), "{without}");

    let (token, _) = app.admin("ada@example.com").await;
    let stats = app.admin_graphql(STATS, json!({}), Some(&token)).await;
    assert_eq!(stats["data"]["stats"]["users"], 2, "{stats}");

    // Its second factor sixteen minutes ago: too long.
    let stale = resigned(&token, |claims| {
        let at = claims["mfa_at"].as_i64().expect("the claim") - 16 * 60;
        claims["mfa_at"] = json!(at);
    });
    let refused = app.admin_graphql(STATS, json!({}), Some(&stale)).await;
    assert_error(&refused, "FORBIDDEN");
    let fourteen = resigned(&token, |claims| {
        let at = claims["mfa_at"].as_i64().expect("the claim") - 14 * 60;
        claims["mfa_at"] = json!(at);
    });
    let allowed = app.admin_graphql(STATS, json!({}), Some(&fourteen)).await;
    assert!(allowed["errors"].is_null(), "{allowed}");

    // The mark taken off: refused from the next request.
    let (ok, out, _) = admin_command(&app, &["revoke", "ada@example.com"]);
    assert!(ok && out.contains("ada@example.com"), "{out}");
    assert_error(
        &app.admin_graphql(STATS, json!({}), Some(&token)).await,
        "FORBIDDEN",
    );
    // The admin listener's GraphiQL, told which it is.
    let address = app.admin_address.as_deref().expect("admin");
    let page = app
        .client
        .get(format!("{address}/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    assert!(page.contains("data-taskql-admin"), "{page}");
    // Counted apart from the public listener's requests.
    let metrics = app.metrics_address.as_deref().expect("metrics");
    let scraped = app
        .client
        .get(format!("{metrics}/metrics"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    assert!(
        scraped.contains(r#"route="admin:/graphql",status="200""#),
        "{scraped}"
    );
}

#[tokio::test]
async fn a_refreshed_token_keeps_its_sign_ins_second_factor_and_a_passkey_counts() {
    let app = spawn_app_with(&[ADMIN_LISTEN]).await;
    let enrolled = app.enrolled("ada@example.com").await;
    grant(&app, "ada@example.com");
    let step = fresh_step().await;
    let login = app.login("ada@example.com", PASSWORD).await;
    let mfa_token = login["errors"][0]["extensions"]["mfaToken"]
        .as_str()
        .expect("second step");
    let completed = app
        .graphql(
            "mutation($input: CompleteLoginInput!) { completeLogin(input: $input) {
                accessToken refreshToken user { id } } }",
            json!({ "input": { "mfaToken": mfa_token, "code": totp::code(&enrolled.secret, step) } }),
            None,
        )
        .await;
    let session = Session::from_login(&completed["data"]["completeLogin"]);
    let renewed = app.refresh(&session.refresh_token).await;
    let renewed = renewed["data"]["refreshToken"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{renewed}"))
        .to_owned();
    let stats = app.admin_graphql(STATS, json!({}), Some(&renewed)).await;
    assert!(stats["errors"].is_null(), "{stats}");

    // A passkey is a second factor too.
    let grace = app.register("grace@example.com").await;
    let mut authenticator = Authenticator::new();
    app.add_passkey(&grace.access_token, &mut authenticator)
        .await;
    grant(&app, "grace@example.com");
    let signed_in = app
        .passkey_login(Some("grace@example.com"), &mut authenticator)
        .await;
    let token = signed_in["data"]["finishPasskeyLogin"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{signed_in}"));
    let me = app
        .admin_graphql("{ me { email } }", json!({}), Some(token))
        .await;
    assert_eq!(me["data"]["me"]["email"], "grace@example.com", "{me}");
}

/// Grace has a shared list with Alan, two tasks and a second session.
async fn grace_with_a_list(sharing: &Sharing) -> (Session, Session, String) {
    let app = &sharing.app;
    let grace = sharing.person("grace@example.com").await;
    let alan = sharing.person("alan@example.com").await;
    let list = sharing.list(&grace, "Garden").await;
    sharing
        .join(&grace, &list, &alan, "alan@example.com", "EDITOR")
        .await;
    app.task_in(&grace, &list, "Rake the leaves").await;
    app.task_id(&grace.access_token, "Call the plumber").await;
    app.login_as("Phone/2.0", "grace@example.com").await;
    (grace, alan, list)
}

#[tokio::test]
async fn users_are_found_paged_and_shown_without_their_content_and_the_figures_add_up() {
    let sharing = sharing_with(&[ADMIN_LISTEN]).await;
    let app = &sharing.app;
    let (grace, _alan, _) = grace_with_a_list(&sharing).await;
    app.graphql(
        "mutation { updateProfile(input: { displayName: \"Rear Admiral\" }) { id } }",
        json!({}),
        Some(&grace.access_token),
    )
    .await;
    let (token, _) = app.admin("ada@example.com").await;
    let query = async |variables: Value| app.admin_graphql(USERS, variables, Some(&token)).await;

    let all = query(json!({})).await;
    let emails: Vec<&str> = all["data"]["users"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{all}"))
        .iter()
        .map(|edge| edge["node"]["email"].as_str().expect("email"))
        .collect();
    assert_eq!(
        emails,
        ["ada@example.com", "alan@example.com", "grace@example.com"],
        "newest first"
    );
    let by_name = query(json!({ "search": "ADMIRAL" })).await;
    assert_eq!(
        by_name["data"]["users"]["edges"][0]["node"]["email"], "grace@example.com",
        "{by_name}"
    );
    let node = &by_name["data"]["users"]["edges"][0]["node"];
    assert_eq!((&node["lists"], &node["tasks"]), (&json!(2), &json!(2)));
    assert_eq!(
        query(json!({ "search": "%" })).await["data"]["users"]["edges"],
        json!([]),
        "a wildcard is a character"
    );
    let first = query(json!({ "first": 2 })).await;
    let page = &first["data"]["users"];
    assert_eq!(page["pageInfo"]["hasNextPage"], true, "{first}");
    let rest = query(json!({ "first": 2, "after": page["pageInfo"]["endCursor"] })).await;
    assert_eq!(
        rest["data"]["users"]["edges"][0]["node"]["email"], "grace@example.com",
        "{rest}"
    );
    assert_eq!(rest["data"]["users"]["pageInfo"]["hasNextPage"], false);
    assert_bad_input(&query(json!({ "after": "garbage" })).await, "after");

    let shown = app
        .admin_graphql(USER, json!({ "id": grace.user_id }), Some(&token))
        .await;
    let user = &shown["data"]["user"];
    assert_eq!(user["displayName"], "Rear Admiral", "{shown}");
    assert_eq!(user["emailVerified"], true);
    assert_eq!(user["disabled"], false);
    assert!(user["lastLoginAt"].is_string(), "{shown}");
    assert_eq!(user["sessions"].as_array().map(Vec::len), Some(2));
    assert_eq!(user["sessions"][0]["userAgent"], "Phone/2.0");
    assert_eq!(
        user["securityEvents"]["edges"][0]["node"]["kind"],
        "LOGGED_IN"
    );
    let unknown = app
        .admin_graphql(
            USER,
            json!({ "id": uuid::Uuid::now_v7().to_string() }),
            Some(&token),
        )
        .await;
    assert_eq!(unknown["data"]["user"], Value::Null, "{unknown}");
    // Nothing a list or a task holds can be asked for.
    let content = app
        .admin_graphql(
            "query($id: ID!) { user(id: $id) { tasks { title } } }",
            json!({ "id": grace.user_id }),
            Some(&token),
        )
        .await;
    assert!(content["data"].is_null(), "{content}");

    let stats = app.admin_graphql(STATS, json!({}), Some(&token)).await;
    assert_eq!(
        stats["data"]["stats"],
        json!({
            "users": 3, "verifiedUsers": 2, "disabledUsers": 0,
            // Three inboxes and the shared list.
            "lists": 4, "tasks": 2, "signupsLast7Days": 3,
        }),
        "{stats}"
    );
}

#[tokio::test]
async fn a_disabled_account_is_refused_every_way_in_its_lists_stay_and_it_comes_back_enabled() {
    let sharing = sharing_with(&[ADMIN_LISTEN]).await;
    let app = &sharing.app;
    let (grace, alan, list) = grace_with_a_list(&sharing).await;
    let mut authenticator = Authenticator::new();
    app.add_passkey(&grace.access_token, &mut authenticator)
        .await;
    let (token, admin) = app.admin("ada@example.com").await;
    let mut socket = app.ws_subscribed(&grace.access_token, "1").await;

    assert_bad_input(
        &app.admin_graphql(
            DISABLE,
            json!({ "id": grace.user_id, "reason": "  " }),
            Some(&token),
        )
        .await,
        "reason",
    );
    assert_bad_input(
        &app.admin_graphql(
            DISABLE,
            json!({ "id": admin.user_id, "reason": "testing" }),
            Some(&token),
        )
        .await,
        "id",
    );
    assert_error(
        &app.admin_graphql(
            DISABLE,
            json!({ "id": uuid::Uuid::now_v7().to_string(), "reason": "spam" }),
            Some(&token),
        )
        .await,
        "NOT_FOUND",
    );
    let disabled = app
        .admin_graphql(
            DISABLE,
            json!({ "id": grace.user_id, "reason": "sends spam" }),
            Some(&token),
        )
        .await;
    assert_eq!(
        disabled["data"]["disableUser"],
        json!({ "id": grace.user_id, "disabled": true, "disabledReason": "sends spam" }),
        "{disabled}"
    );
    assert_eq!(socket.close_code().await, 4403, "the subscription ends");
    assert_error(&app.me(&grace.access_token).await, "UNAUTHENTICATED");
    assert_error(&app.refresh(&grace.refresh_token).await, "UNAUTHENTICATED");
    assert_error(
        &app.login("grace@example.com", "not her password").await,
        "INVALID_CREDENTIALS",
    );
    let login = app.login("grace@example.com", PASSWORD).await;
    assert_error(&login, "ACCOUNT_DISABLED");
    assert!(login["data"].is_null(), "no tokens: {login}");
    assert_error(
        &app.passkey_login(Some("grace@example.com"), &mut authenticator)
            .await,
        "ACCOUNT_DISABLED",
    );
    // Her list stays with its members.
    let seen = app
        .graphql(
            "query($id: ID!) { list(id: $id) { name tasks(first: 5) { totalCount } } }",
            json!({ "id": list }),
            Some(&alan.access_token),
        )
        .await;
    assert_eq!(
        seen["data"]["list"],
        json!({ "name": "Garden", "tasks": { "totalCount": 1 } }),
        "{seen}"
    );
    let stats = app.admin_graphql(STATS, json!({}), Some(&token)).await;
    assert_eq!(stats["data"]["stats"]["disabledUsers"], 1, "{stats}");

    let enabled = app
        .admin_graphql(ENABLE, json!({ "id": grace.user_id }), Some(&token))
        .await;
    assert_eq!(
        enabled["data"]["enableUser"],
        json!({ "id": grace.user_id, "disabled": false, "disabledReason": null }),
        "{enabled}"
    );
    let again = app.login("grace@example.com", PASSWORD).await;
    assert!(again["data"]["login"]["accessToken"].is_string(), "{again}");
    let shown = app
        .admin_graphql(USER, json!({ "id": grace.user_id }), Some(&token))
        .await;
    let events: Vec<(&str, &Value)> = shown["data"]["user"]["securityEvents"]["edges"]
        .as_array()
        .expect("events")
        .iter()
        .map(|edge| {
            (
                edge["node"]["kind"].as_str().expect("kind"),
                &edge["node"]["ip"],
            )
        })
        .collect();
    assert_eq!(events[0].0, "LOGGED_IN", "{shown}");
    let by_admin: Vec<_> = events
        .iter()
        .filter(|(kind, _)| kind.starts_with("ADMIN_"))
        .collect();
    assert_eq!(
        by_admin,
        [
            &("ADMIN_ENABLED", &Value::Null),
            &("ADMIN_DISABLED", &Value::Null)
        ],
        "newest first, without the admin's address: {shown}"
    );
}

#[tokio::test]
async fn a_disabled_account_with_a_second_factor_is_refused_before_the_code() {
    let app = spawn_app_with(&[ADMIN_LISTEN]).await;
    let grace = app.enrolled("grace@example.com").await;
    let (token, _) = app.admin("ada@example.com").await;
    let disabled = app
        .admin_graphql(
            DISABLE,
            json!({ "id": grace.session.user_id, "reason": "stolen" }),
            Some(&token),
        )
        .await;
    assert!(disabled["errors"].is_null(), "{disabled}");
    assert_error(
        &app.login("grace@example.com", PASSWORD).await,
        "ACCOUNT_DISABLED",
    );
}

#[tokio::test]
async fn sessions_are_revoked_a_reset_is_mailed_and_an_account_is_deleted_its_list_handed_on() {
    let sharing = sharing_with(&[ADMIN_LISTEN]).await;
    let app = &sharing.app;
    let (grace, alan, list) = grace_with_a_list(&sharing).await;
    let (token, admin) = app.admin("ada@example.com").await;

    let revoked = app
        .admin_graphql(
            REVOKE_SESSIONS,
            json!({ "id": grace.user_id }),
            Some(&token),
        )
        .await;
    assert_eq!(revoked["data"]["revokeUserSessions"], 2, "{revoked}");
    assert_error(&app.me(&grace.access_token).await, "UNAUTHENTICATED");

    let sent = app
        .admin_graphql(SEND_RESET, json!({ "id": grace.user_id }), Some(&token))
        .await;
    assert_eq!(sent["data"]["sendPasswordReset"], true, "{sent}");
    let mail = sharing
        .mail("grace@example.com", "Reset your taskql password", 0)
        .await;
    assert!(!mail.token().is_empty());

    assert_bad_input(
        &app.admin_graphql(DELETE_USER, json!({ "id": admin.user_id }), Some(&token))
            .await,
        "id",
    );
    let deleted = app
        .admin_graphql(DELETE_USER, json!({ "id": grace.user_id }), Some(&token))
        .await;
    assert_eq!(deleted["data"]["deleteUser"], grace.user_id, "{deleted}");
    assert_error(
        &app.admin_graphql(DELETE_USER, json!({ "id": grace.user_id }), Some(&token))
            .await,
        "NOT_FOUND",
    );
    assert_error(
        &app.login("grace@example.com", PASSWORD).await,
        "INVALID_CREDENTIALS",
    );
    let handed = app
        .graphql(
            "query($id: ID!) { list(id: $id) { name role } }",
            json!({ "id": list }),
            Some(&alan.access_token),
        )
        .await;
    assert_eq!(
        handed["data"]["list"],
        json!({ "name": "Garden", "role": "OWNER" }),
        "{handed}"
    );
}

#[tokio::test]
async fn the_command_line_grants_revokes_and_lists_and_names_an_unknown_email() {
    let app = spawn_app_with(&[]).await;
    app.register("grace@example.com").await;
    app.register("ada@example.com").await;
    let (ok, _, err) = admin_command(&app, &["grant", "nobody@example.com"]);
    assert!(!ok, "an unknown email fails");
    assert!(err.contains("nobody@example.com"), "{err}");
    grant(&app, "Grace@Example.com");
    grant(&app, "ada@example.com");
    let (ok, listed, _) = admin_command(&app, &["list"]);
    assert!(ok);
    assert_eq!(listed, "ada@example.com\ngrace@example.com\n");
    let (ok, _, _) = admin_command(&app, &["revoke", "ada@example.com"]);
    assert!(ok);
    assert_eq!(admin_command(&app, &["list"]).1, "grace@example.com\n");
    let (ok, _, err) = admin_command(&app, &["revoke", "nobody@example.com"]);
    assert!(!ok && err.contains("nobody@example.com"), "{err}");
}

/// Disabled through one instance, an account's subscription on another
/// closes at once.
#[tokio::test]
#[ignore = "needs PostgreSQL: TASKQL_TEST_POSTGRES_URL and --include-ignored"]
async fn a_disabled_accounts_socket_on_another_instance_closes() {
    let database = Arc::new(crate::helpers::TestDatabase::postgres_only().await);
    let a = spawn_app_on(Arc::clone(&database), &[ADMIN_LISTEN]).await;
    let b = spawn_app_on(Arc::clone(&database), &[]).await;
    let grace = b.register("grace@example.com").await;
    let mut socket = b.ws_subscribed(&grace.access_token, "1").await;
    let (token, _) = a.admin("ada@example.com").await;
    let disabled = a
        .admin_graphql(
            DISABLE,
            json!({ "id": grace.user_id, "reason": "abuse" }),
            Some(&token),
        )
        .await;
    assert!(disabled["errors"].is_null(), "{disabled}");
    assert_eq!(socket.close_code().await, 4403);
    assert_error(&b.me(&grace.access_token).await, "UNAUTHENTICATED");
    assert_error(
        &b.login("grace@example.com", PASSWORD).await,
        "ACCOUNT_DISABLED",
    );
}

/// An admin's action is a line under `taskql::audit` naming the admin, the
/// account and the reason; no password, token or TOTP secret reaches the
/// log on the way, at its most detailed level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admins_action_is_audited_with_who_and_why_and_no_secret_is_logged() {
    let database = crate::helpers::TestDatabase::create().await;
    let server = Server::start_with(&database.url, &[ADMIN_LISTEN, ("TASKQL_LOG", "trace")]);
    let announced = server.log_until("admin listener on http://");
    let admin_address = announced
        .last()
        .and_then(|line| line.split("admin listener on http://").nth(1))
        .and_then(|rest| rest.split('/').next())
        .expect("the admin address")
        .to_owned();
    let signup = "mutation($input: SignupInput!) { signup(input: $input) { id } }";
    let mut ids = Vec::new();
    for email in ["ada@example.com", "grace@example.com"] {
        let input = json!({ "input": { "email": email, "password": PASSWORD } });
        let made = server.graphql(signup, input).await;
        ids.push(
            made["data"]["signup"]["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let login = "mutation($input: LoginInput!) { login(input: $input) { accessToken } }";
    let input = json!({ "input": { "email": "ada@example.com", "password": PASSWORD } });
    let first = server.graphql(login, input.clone()).await;
    let first = first["data"]["login"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let setup = server
        .graphql_with("mutation { startTotpSetup { secret } }", json!({}), &first)
        .await;
    let secret_text = setup["data"]["startTotpSetup"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let secret = data_encoding::BASE32_NOPAD
        .decode(secret_text.as_bytes())
        .expect("base32");
    let step = fresh_step().await;
    server
        .graphql_with(
            "mutation($code: String!) { confirmTotpSetup(code: $code) }",
            json!({ "code": totp::code(&secret, step - 1) }),
            &first,
        )
        .await;
    let granted = taskql()
        .env("TASKQL_DATABASE_URL", &database.url)
        .args(["admin", "grant", "ada@example.com"])
        .output()
        .expect("runs");
    assert!(granted.status.success());
    let challenged = server.graphql(login, input).await;
    let mfa_token = challenged["errors"][0]["extensions"]["mfaToken"]
        .as_str()
        .expect("second step")
        .to_owned();
    let completed = server
        .graphql(
            "mutation($input: CompleteLoginInput!) { completeLogin(input: $input) { accessToken refreshToken } }",
            json!({ "input": { "mfaToken": mfa_token, "code": totp::code(&secret, step) } }),
        )
        .await;
    let token = completed["data"]["completeLogin"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let refresh = completed["data"]["completeLogin"]["refreshToken"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let disabled: Value = reqwest::Client::new()
        .post(format!("http://{admin_address}/graphql"))
        .bearer_auth(&token)
        .json(&json!({ "query": DISABLE, "variables": { "id": ids[1], "reason": "sends spam" } }))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(
        disabled["data"]["disableUser"]["disabled"], true,
        "{disabled}"
    );
    let mut logs = announced.clone();
    logs.extend(server.log_until("admin_disabled"));
    logs.extend(server.stop().1);
    let audited: Vec<Value> = logs
        .iter()
        .filter(|line| line.contains(r#""target":"taskql::audit""#))
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let line = audited
        .iter()
        .find(|line| line["event"] == "admin_disabled")
        .expect("the action is audited");
    assert_eq!(line["user"], ids[1].as_str(), "{line}");
    assert_eq!(line["admin"], ids[0].as_str(), "{line}");
    assert_eq!(line["reason"], "sends spam", "{line}");
    assert_eq!(line["by"], "admin listener", "{line}");
    let all = logs.join("\n");
    for secret in [PASSWORD, &first, &token, &refresh, &mfa_token, &secret_text] {
        assert!(!all.contains(secret), "a secret reached the log: {secret}");
    }
}
