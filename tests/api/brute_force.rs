//! Brakes on guessing: the per-IP rate on authentication mutations, the
//! per-email lockout, the common-password list, and the bounded hashing
//! queue.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{
    CHANGE_PASSWORD, PASSWORD, TestApp, assert_bad_input, assert_error, spawn_app, spawn_app_on,
    spawn_app_with,
};

async fn login_from(
    app: &TestApp,
    email: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> Value {
    let body = json!({ "query": "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
                       "variables": { "i": { "email": email, "password": password } } });
    let mut request = app.client.post(app.url("/graphql")).json(&body);
    if let Some(ip) = forwarded_for {
        request = request.header("x-forwarded-for", ip);
    }
    request
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn auth_mutations_are_rate_limited_per_client_ip() {
    let app = spawn_app_with(&[("TASKQL_AUTH_RATE_LIMIT", "3/min")]).await;
    for _ in 0..3 {
        assert_error(
            &login_from(&app, "ada@example.com", "wrong password", None).await,
            "INVALID_CREDENTIALS",
        );
    }
    assert_error(
        &login_from(&app, "ada@example.com", "wrong password", None).await,
        "RATE_LIMITED",
    );
    assert_error(&app.refresh("whatever").await, "RATE_LIMITED");
    assert_error(
        &app.signup("new@example.com", PASSWORD).await,
        "RATE_LIMITED",
    );
    let spoofed = login_from(
        &app,
        "ada@example.com",
        "wrong password",
        Some("203.0.113.9"),
    )
    .await;
    assert_error(&spoofed, "RATE_LIMITED");
    let other = app.graphql("{ __typename }", json!({}), None).await;
    assert_eq!(
        other["data"]["__typename"], "Query",
        "other operations are not limited"
    );
}

#[tokio::test]
async fn the_per_ip_limit_holds_across_instances() {
    let limit = [("TASKQL_AUTH_RATE_LIMIT", "3/min")];
    let first = spawn_app_with(&limit).await;
    let second = spawn_app_on(first.database.clone(), &limit).await;
    for app in [&first, &second, &first] {
        let response = login_from(app, "ada@example.com", "wrong password", None).await;
        assert_error(&response, "INVALID_CREDENTIALS");
    }
    for app in [&second, &first] {
        let response = login_from(app, "ada@example.com", "wrong password", None).await;
        assert_error(&response, "RATE_LIMITED");
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_allowance() {
    let app = spawn_app_with(&[
        ("TASKQL_AUTH_RATE_LIMIT", "1/min"),
        ("TASKQL_TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await;
    let first = login_from(
        &app,
        "ada@example.com",
        "wrong password",
        Some("203.0.113.1"),
    )
    .await;
    assert_error(&first, "INVALID_CREDENTIALS");
    let again = login_from(
        &app,
        "ada@example.com",
        "wrong password",
        Some("203.0.113.1"),
    )
    .await;
    assert_error(&again, "RATE_LIMITED");
    let another = login_from(
        &app,
        "ada@example.com",
        "wrong password",
        Some("203.0.113.2"),
    )
    .await;
    assert_error(&another, "INVALID_CREDENTIALS");
}

/// The codes and messages of `attempts` logins to `email`.
async fn attempts(app: &TestApp, email: &str, passwords: &[&str]) -> Vec<(String, String)> {
    let mut outcomes = Vec::new();
    for password in passwords {
        let response = login_from(app, email, password, None).await;
        let error = &response["errors"][0];
        outcomes.push((
            error["extensions"]["code"]
                .as_str()
                .unwrap_or("OK")
                .to_owned(),
            error["message"].as_str().unwrap_or("").to_owned(),
        ));
    }
    outcomes
}

#[tokio::test]
async fn the_lockout_engages_for_a_made_up_email_exactly_as_for_a_real_one() {
    let app = spawn_app_with(&[("TASKQL_LOGIN_MAX_FAILURES", "3")]).await;
    let signup = app.signup("ada@example.com", PASSWORD).await;
    assert_eq!(
        signup["data"]["signup"]["email"], "ada@example.com",
        "the real account exists: {signup}"
    );
    let guesses = [
        "guess one",
        "guess two",
        "guess three",
        PASSWORD,
        "guess four",
    ];
    let real = attempts(&app, "ada@example.com", &guesses).await;
    let made_up = attempts(&app, "nobody@example.com", &guesses).await;
    let codes: Vec<&str> = real.iter().map(|(code, _)| code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "INVALID_CREDENTIALS",
            "INVALID_CREDENTIALS",
            "INVALID_CREDENTIALS",
            "RATE_LIMITED",
            "RATE_LIMITED"
        ],
        "even the right password is refused once locked"
    );
    assert_eq!(
        real, made_up,
        "no oracle: the same answers, the same messages"
    );
    let other = attempts(&app, "bob@example.com", &["guess one"]).await;
    assert_eq!(
        other[0].0, "INVALID_CREDENTIALS",
        "other emails are not locked"
    );
}

#[tokio::test]
async fn a_successful_login_resets_the_count() {
    let app = spawn_app_with(&[("TASKQL_LOGIN_MAX_FAILURES", "3")]).await;
    let signup = app.signup("ada@example.com", PASSWORD).await;
    assert_eq!(
        signup["data"]["signup"]["email"], "ada@example.com",
        "the real account exists: {signup}"
    );
    let outcomes = attempts(
        &app,
        "ada@example.com",
        &["bad 1", "bad 2", PASSWORD, "bad 3", "bad 4", PASSWORD],
    )
    .await;
    let codes: Vec<&str> = outcomes.iter().map(|(code, _)| code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "INVALID_CREDENTIALS",
            "INVALID_CREDENTIALS",
            "OK",
            "INVALID_CREDENTIALS",
            "INVALID_CREDENTIALS",
            "OK"
        ]
    );
}

#[tokio::test]
async fn the_lockout_holds_across_instances_and_ends_with_its_window() {
    let first = spawn_app_with(&[
        ("TASKQL_LOGIN_MAX_FAILURES", "2"),
        ("TASKQL_LOGIN_LOCKOUT", "2s"),
    ])
    .await;
    first.signup("ada@example.com", PASSWORD).await;
    attempts(&first, "ada@example.com", &["bad 1", "bad 2"]).await;
    let second = spawn_app_on(
        first.database.clone(),
        &[
            ("TASKQL_LOGIN_MAX_FAILURES", "2"),
            ("TASKQL_LOGIN_LOCKOUT", "2s"),
        ],
    )
    .await;
    assert_eq!(
        attempts(&second, "ada@example.com", &[PASSWORD]).await[0].0,
        "RATE_LIMITED"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        attempts(&second, "ada@example.com", &[PASSWORD]).await[0].0,
        "OK"
    );
}

#[tokio::test]
async fn common_passwords_are_refused_for_new_passwords() {
    let app = spawn_app().await;
    for common in ["password1", "Iloveyou", "qwertyuiop"] {
        assert_bad_input(&app.signup("ada@example.com", common).await, "password");
    }
    let session = app.register("ada@example.com").await;
    let change = app
        .graphql(
            CHANGE_PASSWORD,
            json!({ "input": { "currentPassword": PASSWORD, "newPassword": "Password123" } }),
            Some(&session.access_token),
        )
        .await;
    assert_bad_input(&change, "newPassword");
}

#[tokio::test]
async fn a_login_flood_gets_rate_limited_quickly_while_health_keeps_answering() {
    // The real Argon2 cost on one worker: the queue behind it fills.
    let app = spawn_app_with(&[
        ("TASKQL_ARGON2_M_KIB", "19456"),
        ("TASKQL_ARGON2_T", "2"),
        ("TASKQL_HASH_WORKERS", "1"),
        ("TASKQL_LOGIN_MAX_FAILURES", "1000"),
    ])
    .await;
    let emails: Vec<String> = (0..60).map(|i| format!("user{i}@example.com")).collect();
    let flood = async {
        let logins = emails
            .iter()
            .map(|email| login_from(&app, email, "some password", None));
        let outcomes = futures_util::future::join_all(logins).await;
        (outcomes, std::time::Instant::now())
    };
    let health = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let status = app.get("/healthz").await.status();
        (status, std::time::Instant::now())
    };
    let ((outcomes, flood_done), (status, healthy_at)) = tokio::join!(flood, health);
    assert_eq!(status, 200);
    assert!(
        healthy_at < flood_done,
        "health answered while logins were still queued"
    );
    let codes: Vec<&str> = outcomes
        .iter()
        .map(|r| {
            r["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap_or("none")
        })
        .collect();
    assert!(
        codes
            .iter()
            .all(|c| *c == "INVALID_CREDENTIALS" || *c == "RATE_LIMITED"),
        "{codes:?}"
    );
    assert!(
        codes.contains(&"RATE_LIMITED"),
        "a full queue answers at once: {codes:?}"
    );
    assert!(
        codes.contains(&"INVALID_CREDENTIALS"),
        "the queue still works: {codes:?}"
    );
}
