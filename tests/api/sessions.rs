//! Refresh tokens: rotation, reuse detection, logout, expiry.

use serde_json::json;

use crate::helpers::{assert_error, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_refresh_token_is_exchanged_for_a_new_pair_once() {
    let app = spawn_app().await;
    let session = app.register("ada@example.com").await;
    let response = app.refresh(&session.refresh_token).await;
    let payload = &response["data"]["refreshToken"];
    assert_eq!(payload["user"]["email"], "ada@example.com", "{response}");
    let new_refresh = payload["refreshToken"].as_str().expect("new refresh token");
    assert_ne!(new_refresh, session.refresh_token);
    let access = payload["accessToken"].as_str().expect("new access token");
    assert_eq!(
        app.me(access).await["data"]["me"]["email"],
        "ada@example.com"
    );
    let next = app.refresh(new_refresh).await;
    assert!(next["errors"].is_null(), "the new one works: {next}");
}

#[tokio::test]
async fn reusing_a_refresh_token_revokes_its_whole_family() {
    let app = spawn_app().await;
    let session = app.register("ada@example.com").await;
    let first = app.refresh(&session.refresh_token).await;
    let successor = first["data"]["refreshToken"]["refreshToken"]
        .as_str()
        .expect("successor")
        .to_owned();

    let reused = app.refresh(&session.refresh_token).await;
    assert_error(&reused, "UNAUTHENTICATED");
    let after_reuse = app.refresh(&successor).await;
    assert_error(&after_reuse, "UNAUTHENTICATED");
}

#[tokio::test]
async fn reuse_in_one_session_leaves_other_sessions_alone() {
    let app = spawn_app().await;
    let phone = app.register("ada@example.com").await;
    let laptop = app.login("ada@example.com", crate::helpers::PASSWORD).await;
    let laptop = laptop["data"]["login"]["refreshToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let rotated = app.refresh(&phone.refresh_token).await;
    assert!(
        rotated["errors"].is_null(),
        "the first exchange works: {rotated}"
    );
    assert_error(&app.refresh(&phone.refresh_token).await, "UNAUTHENTICATED");
    let response = app.refresh(&laptop).await;
    assert!(response["errors"].is_null(), "{response}");
}

#[tokio::test]
async fn concurrent_exchanges_of_one_token_let_at_most_one_through_and_end_the_session() {
    let app = spawn_app().await;
    let session = app.register("ada@example.com").await;
    // A control: an exchange on its own goes through, so none going through
    // below is the reuse's doing.
    let alone = app.refresh(&session.refresh_token).await;
    let token = alone["data"]["refreshToken"]["refreshToken"]
        .as_str()
        .unwrap_or_else(|| panic!("an exchange on its own works: {alone}"))
        .to_owned();
    let attempts = (0..6).map(|_| app.refresh(&token));
    let responses = futures_util::future::join_all(attempts).await;
    let winners: Vec<&str> = responses
        .iter()
        .filter_map(|r| r["data"]["refreshToken"]["refreshToken"].as_str())
        .collect();
    assert!(winners.len() <= 1, "{responses:#?}");
    assert!(responses.iter().all(
        |r| r["errors"].is_null() || r["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    ));
    // The others were a reuse, which ends the session, the winner's token
    // with it: whichever came first, nothing of the session is left.
    for token in winners.iter().copied().chain([token.as_str()]) {
        assert_error(&app.refresh(token).await, "UNAUTHENTICATED");
    }
}

#[tokio::test]
async fn unknown_refresh_tokens_are_unauthenticated() {
    let app = spawn_app().await;
    for token in ["", "nonsense", &"A".repeat(43)] {
        assert_error(&app.refresh(token).await, "UNAUTHENTICATED");
    }
}

#[tokio::test]
async fn an_expired_refresh_token_is_unauthenticated() {
    let app = spawn_app_with(&[("TASKQL_REFRESH_TOKEN_TTL", "1s")]).await;
    let session = app.register("ada@example.com").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_error(
        &app.refresh(&session.refresh_token).await,
        "UNAUTHENTICATED",
    );
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    let session = app.register("ada@example.com").await;
    let logout = "mutation($t: String!) { logout(refreshToken: $t) }";
    let response = app
        .graphql(logout, json!({ "t": session.refresh_token }), None)
        .await;
    assert_eq!(response["data"]["logout"], true, "{response}");
    assert_error(
        &app.refresh(&session.refresh_token).await,
        "UNAUTHENTICATED",
    );
    let again = app
        .graphql(logout, json!({ "t": session.refresh_token }), None)
        .await;
    assert_eq!(
        again["data"]["logout"], true,
        "logging out twice is harmless: {again}"
    );
}
