//! Signup, login, password change and account deletion.

use entity::user::{self, Entity as Users};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::helpers::{
    CHANGE_PASSWORD, PASSWORD, Session, TestApp, assert_bad_input, assert_error, spawn_app,
    spawn_app_on, spawn_app_with,
};

async fn stored_user(app: &TestApp, email: &str) -> user::Model {
    Users::find()
        .filter(user::Column::Email.eq(email))
        .one(&app.db)
        .await
        .expect("query")
        .expect("user stored")
}

#[tokio::test]
async fn signup_creates_an_account_with_a_normalised_email() {
    let app = spawn_app().await;
    let response = app.signup("  Ada.Lovelace@Example.COM ", PASSWORD).await;
    let user = &response["data"]["signup"];
    assert_eq!(user["email"], "ada.lovelace@example.com", "{response}");
    let id = uuid::Uuid::parse_str(user["id"].as_str().expect("id")).expect("a UUID");
    assert_eq!(id.get_version_num(), 7);
    assert!(
        user["createdAt"]
            .as_str()
            .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok())
    );
}

#[tokio::test]
async fn signup_refuses_invalid_emails() {
    let app = spawn_app().await;
    for (email, why) in [
        ("", "empty"),
        ("not-an-email", "no @"),
        ("ada@localhost", "no domain dot"),
        ("ada lovelace@example.com", "space"),
        ("ada@@example.com", "two @"),
    ] {
        let response = app.signup(email, PASSWORD).await;
        assert_bad_input(&response, "email");
        assert!(response["data"].is_null(), "{why}: {response}");
    }
    assert_eq!(
        Users::find().count(&app.db).await.expect("count"),
        0,
        "nothing stored"
    );
}

#[tokio::test]
async fn signup_refuses_short_and_over_long_passwords() {
    let app = spawn_app().await;
    let over_long = "x".repeat(129);
    for (password, why) in [
        ("", "empty"),
        ("seven77", "seven characters"),
        ("ééééééé", "seven characters in fourteen bytes"),
        (over_long.as_str(), "129 characters"),
    ] {
        let response = app.signup("ada@example.com", password).await;
        assert_bad_input(&response, "password");
        assert!(response["data"].is_null(), "{why}: {response}");
    }
    let exactly_max = "é".repeat(128);
    let response = app.signup("ada@example.com", &exactly_max).await;
    assert!(
        response["errors"].is_null(),
        "128 characters are allowed: {response}"
    );
}

#[tokio::test]
async fn signup_refuses_an_email_taken_in_any_case() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    let response = app.signup("ADA@example.com", "another password").await;
    assert_error(&response, "EMAIL_TAKEN");
}

#[tokio::test]
async fn twelve_concurrent_signups_of_one_email_make_exactly_one_account() {
    let app = spawn_app().await;
    let attempts = (0..12).map(|i| {
        let app = &app;
        async move {
            app.signup("race@example.com", &format!("{PASSWORD} {i}"))
                .await
        }
    });
    let responses = futures_util::future::join_all(attempts).await;
    let created = responses.iter().filter(|r| r["errors"].is_null()).count();
    let taken = responses
        .iter()
        .filter(|r| r["errors"][0]["extensions"]["code"] == "EMAIL_TAKEN")
        .count();
    assert_eq!((created, taken), (1, 11), "{responses:#?}");
    assert_eq!(Users::find().count(&app.db).await.expect("count"), 1);
}

#[tokio::test]
async fn the_stored_hash_is_argon2id_with_the_configured_cost_and_no_password_is_stored() {
    let app = spawn_app_with(&[("TASKQL_ARGON2_M_KIB", "2048"), ("TASKQL_ARGON2_T", "2")]).await;
    let session = app.register("ada@example.com").await;
    let user = stored_user(&app, "ada@example.com").await;
    assert!(
        user.password_hash
            .starts_with("$argon2id$v=19$m=2048,t=2,p=1$"),
        "{}",
        user.password_hash
    );
    let everything = format!("{user:?}");
    assert!(!everything.contains(PASSWORD), "the password is not stored");
    let tokens = entity::refresh_token::Entity::find()
        .all(&app.db)
        .await
        .expect("tokens");
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].token_hash.len(), 32, "a SHA-256 digest");
    assert!(
        !format!("{tokens:?}").contains(&session.refresh_token),
        "only the digest is stored"
    );
}

#[tokio::test]
async fn the_user_type_exposes_no_password_or_hash() {
    let app = spawn_app().await;
    let response = app
        .graphql(
            r#"{ __type(name: "User") { fields { name } } }"#,
            json!({}),
            None,
        )
        .await;
    let fields: Vec<&str> = response["data"]["__type"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert_eq!(
        fields,
        ["id", "email", "emailVerified", "displayName", "createdAt"]
    );
}

#[tokio::test]
async fn login_returns_tokens_that_identify_the_user() {
    let app = spawn_app().await;
    app.signup("ada@example.com", PASSWORD).await;
    let response = app.login("  ADA@example.com", PASSWORD).await;
    let payload = &response["data"]["login"];
    assert_eq!(payload["tokenType"], "Bearer", "{response}");
    assert_eq!(payload["expiresIn"], 1800);
    assert_eq!(payload["user"]["email"], "ada@example.com");
    let token = payload["accessToken"].as_str().expect("token");
    let me = app.me(token).await;
    assert_eq!(me["data"]["me"]["email"], "ada@example.com", "{me}");
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    let body = |email: &str| {
        json!({ "query": "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
                "variables": { "i": { "email": email, "password": "wrong password!" } } })
    };
    let wrong_password = app.post_graphql(&body("ada@example.com"), None).await;
    let unknown_email = app.post_graphql(&body("nobody@example.com"), None).await;
    assert_eq!(wrong_password.status(), unknown_email.status());
    let wrong_password: serde_json::Value = wrong_password.json().await.expect("json");
    let unknown_email: serde_json::Value = unknown_email.json().await.expect("json");
    assert_error(&wrong_password, "INVALID_CREDENTIALS");
    assert_eq!(
        wrong_password["errors"], unknown_email["errors"],
        "identical errors"
    );
}

#[tokio::test]
async fn login_refuses_an_over_long_password_before_hashing() {
    let app = spawn_app().await;
    let response = app.login("ada@example.com", &"x".repeat(10_000)).await;
    assert_bad_input(&response, "password");
}

#[tokio::test]
async fn login_rehashes_a_hash_made_with_other_costs() {
    let old = spawn_app_with(&[("TASKQL_ARGON2_M_KIB", "1024")]).await;
    old.signup("ada@example.com", PASSWORD).await;
    let new = spawn_app_on(old.database.clone(), &[("TASKQL_ARGON2_M_KIB", "2048")]).await;
    let response = new.login("ada@example.com", PASSWORD).await;
    assert!(response["errors"].is_null(), "{response}");
    let user = stored_user(&new, "ada@example.com").await;
    assert!(
        user.password_hash.contains("m=2048,t=1,p=1"),
        "{}",
        user.password_hash
    );
    let again = new.login("ada@example.com", PASSWORD).await;
    assert!(again["errors"].is_null(), "the new hash verifies: {again}");
}

/// Neither of the session's tokens works any more, nor the old password.
async fn assert_signed_out(app: &TestApp, session: &Session, email: &str) {
    assert_error(&app.me(&session.access_token).await, "UNAUTHENTICATED");
    assert_error(
        &app.refresh(&session.refresh_token).await,
        "UNAUTHENTICATED",
    );
    assert_error(&app.login(email, PASSWORD).await, "INVALID_CREDENTIALS");
}

#[tokio::test]
async fn change_password_needs_the_current_password() {
    let app = spawn_app().await;
    let session = app.register("ada@example.com").await;
    let input = json!({ "input": { "currentPassword": "not my password", "newPassword": "a brand new password" } });
    let response = app
        .graphql(CHANGE_PASSWORD, input, Some(&session.access_token))
        .await;
    assert_error(&response, "INVALID_CREDENTIALS");
    let login = app.login("ada@example.com", PASSWORD).await;
    assert!(
        login["errors"].is_null(),
        "the password is unchanged: {login}"
    );
}

#[tokio::test]
async fn change_password_refuses_a_short_new_password() {
    let app = spawn_app().await;
    let session = app.register("ada@example.com").await;
    let input = json!({ "input": { "currentPassword": PASSWORD, "newPassword": "short" } });
    let response = app
        .graphql(CHANGE_PASSWORD, input, Some(&session.access_token))
        .await;
    assert_bad_input(&response, "newPassword");
}

#[tokio::test]
async fn change_password_replaces_the_password_and_ends_every_session() {
    let app = spawn_app().await;
    let session = app.register("ada@example.com").await;
    let input =
        json!({ "input": { "currentPassword": PASSWORD, "newPassword": "a brand new password" } });
    let response = app
        .graphql(CHANGE_PASSWORD, input, Some(&session.access_token))
        .await;
    assert_eq!(response["data"]["changePassword"], true, "{response}");

    assert_signed_out(&app, &session, "ada@example.com").await;
    let login = app.login("ada@example.com", "a brand new password").await;
    let token = login["data"]["login"]["accessToken"]
        .as_str()
        .expect("logged in");
    assert_eq!(
        app.me(token).await["data"]["me"]["email"],
        "ada@example.com"
    );
}

const DELETE_ACCOUNT: &str = "mutation($password: String!) { deleteAccount(password: $password) }";

#[tokio::test]
async fn delete_account_needs_the_password() {
    let app = spawn_app().await;
    let session = app.register("ada@example.com").await;
    let response = app
        .graphql(
            DELETE_ACCOUNT,
            json!({ "password": "not my password" }),
            Some(&session.access_token),
        )
        .await;
    assert_error(&response, "INVALID_CREDENTIALS");
    assert_eq!(
        Users::find().count(&app.db).await.expect("count"),
        1,
        "still there"
    );
}

#[tokio::test]
async fn delete_account_removes_the_user_and_its_sessions() {
    let app = spawn_app().await;
    let session = app.register("ada@example.com").await;
    let bystander = app.register("bob@example.com").await;
    let response = app
        .graphql(
            DELETE_ACCOUNT,
            json!({ "password": PASSWORD }),
            Some(&session.access_token),
        )
        .await;
    assert_eq!(response["data"]["deleteAccount"], true, "{response}");

    assert_signed_out(&app, &session, "ada@example.com").await;
    assert_eq!(Users::find().count(&app.db).await.expect("count"), 1);
    let tokens = entity::refresh_token::Entity::find()
        .all(&app.db)
        .await
        .expect("tokens");
    assert!(!tokens.is_empty(), "the bystander's session is kept");
    assert!(
        tokens
            .iter()
            .all(|t| t.user_id.to_string() == bystander.user_id),
        "cascaded"
    );
    assert_eq!(
        app.me(&bystander.access_token).await["data"]["me"]["email"],
        "bob@example.com"
    );
}

#[tokio::test]
async fn guarded_operations_without_a_token_are_unauthenticated() {
    let app = spawn_app().await;
    for (query, variables) in [
        ("{ me { id } }", json!({})),
        (
            CHANGE_PASSWORD,
            json!({ "input": { "currentPassword": PASSWORD, "newPassword": "a brand new password" } }),
        ),
        (DELETE_ACCOUNT, json!({ "password": PASSWORD })),
    ] {
        let response = app.graphql(query, variables, None).await;
        assert_error(&response, "UNAUTHENTICATED");
    }
}
