//! Verified email, email change and the notices by mail, through the real
//! SMTP server of `smtp.rs`.

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};

use crate::{
    helpers::{
        CHANGE_PASSWORD, PASSWORD, TestApp, TestDatabase, assert_bad_input, assert_error,
        assert_nothing_arrives, spawn_app_on,
    },
    smtp::{Received, SmtpServer},
};

const VERIFY: &str = "mutation($token: String!) { verifyEmail(token: $token) }";
const RESEND: &str = "mutation { resendVerificationEmail }";
const CHANGE: &str = "mutation($input: ChangeEmailInput!) { changeEmail(input: $input) }";
const ME: &str = "{ me { email emailVerified } }";
const VERIFY_SUBJECT: &str = "Confirm your taskql address";

async fn app_mailing(smtp: &SmtpServer, vars: &[(&str, &str)]) -> TestApp {
    let url = smtp.url();
    let mut settings = vec![("TASKQL_SMTP_URL", url.as_str())];
    settings.extend_from_slice(vars);
    spawn_app_on(Arc::new(TestDatabase::create().await), &settings).await
}

impl TestApp {
    async fn verify(&self, token: &str) -> Value {
        self.graphql(VERIFY, json!({ "token": token }), None).await
    }

    async fn me_verified(&self, token: &str) -> (String, bool) {
        let me = self.graphql(ME, json!({}), Some(token)).await;
        (
            me["data"]["me"]["email"]
                .as_str()
                .expect("email")
                .to_owned(),
            me["data"]["me"]["emailVerified"]
                .as_bool()
                .expect("verified"),
        )
    }
}

/// The mails `smtp` received for `to` with `subject`, waiting for `count`.
async fn mails(smtp: &SmtpServer, to: &str, subject: &str, count: usize) -> Vec<Received> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found: Vec<Received> = smtp
            .received()
            .into_iter()
            .filter(|mail| mail.subject == subject && mail.to == [to])
            .collect();
        if found.len() >= count {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{count} mail(s) {subject:?} to {to} expected: {:?}",
            smtp.received()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn signup_mails_a_token_that_verifies_the_address_once() {
    let smtp = SmtpServer::watching(VERIFY_SUBJECT).await;
    let link = "https://app.example.com/verify?token={token}";
    let app = app_mailing(&smtp, &[("TASKQL_EMAIL_VERIFICATION_URL", link)]).await;
    let ada = app.register("ada@example.com").await;
    assert_eq!(
        app.me_verified(&ada.access_token).await,
        ("ada@example.com".into(), false)
    );
    let mail = smtp.next_after(0).await;
    let token = mail.token();
    assert!(
        mail.text
            .contains(&format!("https://app.example.com/verify?token={token}")),
        "{}",
        mail.text
    );
    assert!(mail.html.contains(&token), "{}", mail.html);

    assert_eq!(app.verify(&token).await["data"]["verifyEmail"], true);
    assert!(app.me_verified(&ada.access_token).await.1, "verified");
    assert_bad_input(&app.verify(&token).await, "token");
    assert_bad_input(&app.verify("not-a-token").await, "token");
    // Already verified: true, and no mail; the next mail is Bob's.
    let resent = app
        .graphql(RESEND, json!({}), Some(&ada.access_token))
        .await;
    assert_eq!(resent["data"]["resendVerificationEmail"], true, "{resent}");
    assert_nothing_arrives(
        &mut smtp.mailbox(),
        async {
            app.register("bob@example.com").await;
        },
        |mail| mail.to == ["bob@example.com"],
    )
    .await;
}

#[tokio::test]
async fn a_verification_token_past_its_time_is_refused() {
    let smtp = SmtpServer::watching(VERIFY_SUBJECT).await;
    let app = app_mailing(&smtp, &[("TASKQL_EMAIL_VERIFICATION_TTL", "1s")]).await;
    app.register("ada@example.com").await;
    let token = smtp.next_after(0).await.token();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_bad_input(&app.verify(&token).await, "token");
}

#[tokio::test]
async fn a_resend_voids_older_tokens_and_an_account_gets_three_mails_an_hour() {
    let smtp = SmtpServer::watching(VERIFY_SUBJECT).await;
    let app = app_mailing(&smtp, &[]).await;
    let ada = app.register("ada@example.com").await;
    let first = smtp.next_after(0).await.token();
    for _ in 0..2 {
        let resent = app
            .graphql(RESEND, json!({}), Some(&ada.access_token))
            .await;
        assert_eq!(resent["data"]["resendVerificationEmail"], true, "{resent}");
    }
    let fourth = app
        .graphql(RESEND, json!({}), Some(&ada.access_token))
        .await;
    assert_error(&fourth, "RATE_LIMITED");
    let received = smtp.wait_for(3).await;
    // The refused fourth sends nothing: the next mail is Bob's.
    assert_nothing_arrives(
        &mut smtp.mailbox(),
        async {
            app.register("bob@example.com").await;
        },
        |mail| mail.to == ["bob@example.com"],
    )
    .await;
    assert_eq!(received.len(), 3, "the signup's and two more");
    assert_bad_input(&app.verify(&first).await, "token");
    let newest = received[2].token();
    assert_eq!(app.verify(&newest).await["data"]["verifyEmail"], true);
}

#[tokio::test]
async fn the_policy_refuses_unverified_logins_only_once_the_password_checked_out() {
    let smtp = SmtpServer::watching(VERIFY_SUBJECT).await;
    let app = app_mailing(&smtp, &[("TASKQL_REQUIRE_VERIFIED_EMAIL", "true")]).await;
    app.signup("ada@example.com", PASSWORD).await;
    smtp.next_after(0).await;
    let wrong = app.login("ada@example.com", "not the password").await;
    assert_error(&wrong, "INVALID_CREDENTIALS");
    let unknown = app.login("nobody@example.com", "not the password").await;
    assert_eq!(
        wrong["errors"][0]["message"],
        unknown["errors"][0]["message"]
    );
    let unverified = app.login("ada@example.com", PASSWORD).await;
    assert_error(&unverified, "EMAIL_NOT_VERIFIED");
    assert!(unverified["data"].is_null(), "no tokens: {unverified}");
    // That login mailed a fresh token, which verifies the address.
    let token = smtp.next_after(1).await.token();
    assert_eq!(app.verify(&token).await["data"]["verifyEmail"], true);
    let login = app.login("ada@example.com", PASSWORD).await;
    assert!(login["data"]["login"]["accessToken"].is_string(), "{login}");
}

#[tokio::test]
async fn an_email_change_mails_both_addresses_and_changes_once_its_token_is_used() {
    let smtp = SmtpServer::start().await;
    let app = app_mailing(&smtp, &[]).await;
    let ada = app.register("ada@example.com").await;
    let input = json!({ "newEmail": "Ada@New.example", "password": PASSWORD });
    let changed = app
        .graphql(CHANGE, json!({ "input": input }), Some(&ada.access_token))
        .await;
    assert_eq!(changed["data"]["changeEmail"], true, "{changed}");
    let token = mails(
        &smtp,
        "ada@new.example",
        "Confirm the new address of your taskql account",
        1,
    )
    .await[0]
        .token();
    let notice = &mails(
        &smtp,
        "ada@example.com",
        "Your taskql address may change",
        1,
    )
    .await[0];
    assert!(
        !notice.text.contains(&token),
        "the token goes to the new address alone"
    );
    assert_eq!(
        app.me_verified(&ada.access_token).await.0,
        "ada@example.com",
        "nothing changed yet"
    );

    assert_eq!(app.verify(&token).await["data"]["verifyEmail"], true);
    assert_eq!(
        app.me_verified(&ada.access_token).await,
        ("ada@new.example".into(), true)
    );
    mails(
        &smtp,
        "ada@example.com",
        "Your taskql address was changed",
        1,
    )
    .await;
    let login = app.login("ada@new.example", PASSWORD).await;
    assert!(login["data"]["login"]["accessToken"].is_string(), "{login}");
    assert_error(
        &app.login("ada@example.com", PASSWORD).await,
        "INVALID_CREDENTIALS",
    );
}

#[tokio::test]
async fn a_newer_change_voids_the_older_and_an_address_taken_meanwhile_is_refused() {
    let smtp = SmtpServer::start().await;
    let app = app_mailing(&smtp, &[]).await;
    let ada = app.register("ada@example.com").await;
    let change = |email: &str, password: &str| json!({ "input": { "newEmail": email, "password": password } });
    let wrong = app
        .graphql(
            CHANGE,
            change("b@example.com", "not the password"),
            Some(&ada.access_token),
        )
        .await;
    assert_error(&wrong, "INVALID_CREDENTIALS");
    let taken_now = app.register("grace@example.com").await;
    let taken = app
        .graphql(
            CHANGE,
            change("grace@example.com", PASSWORD),
            Some(&ada.access_token),
        )
        .await;
    assert_error(&taken, "EMAIL_TAKEN");
    let subject = "Confirm the new address of your taskql account";
    app.graphql(
        CHANGE,
        change("b@example.com", PASSWORD),
        Some(&ada.access_token),
    )
    .await;
    let older = mails(&smtp, "b@example.com", subject, 1).await[0].token();
    app.graphql(
        CHANGE,
        change("c@example.com", PASSWORD),
        Some(&ada.access_token),
    )
    .await;
    let newer = mails(&smtp, "c@example.com", subject, 1).await[0].token();
    assert_bad_input(&app.verify(&older).await, "token");
    // Someone else takes the address before the token is used.
    app.signup("c@example.com", PASSWORD).await;
    assert_error(&app.verify(&newer).await, "EMAIL_TAKEN");
    assert_eq!(
        app.me_verified(&ada.access_token).await.0,
        "ada@example.com"
    );
    assert!(app.me(&taken_now.access_token).await["errors"].is_null());
}

#[tokio::test]
async fn the_owner_hears_of_a_password_change_and_of_a_refresh_token_presented_twice() {
    let smtp = SmtpServer::start().await;
    let app = app_mailing(&smtp, &[]).await;
    let ada = app.register("ada@example.com").await;
    app.refresh(&ada.refresh_token).await;
    assert_error(&app.refresh(&ada.refresh_token).await, "UNAUTHENTICATED");
    let reused = &mails(&smtp, "ada@example.com", "A taskql session was ended", 1).await[0];
    assert!(
        reused.text.contains("presented a second time"),
        "{}",
        reused.text
    );

    let again = app.login("ada@example.com", PASSWORD).await;
    let token = again["data"]["login"]["accessToken"]
        .as_str()
        .expect("token");
    let input = json!({ "currentPassword": PASSWORD, "newPassword": "an entirely new passphrase" });
    app.graphql(CHANGE_PASSWORD, json!({ "input": input }), Some(token))
        .await;
    let changed = &mails(
        &smtp,
        "ada@example.com",
        "Your taskql password was changed",
        1,
    )
    .await[0];
    assert!(!changed.text.contains("an entirely new passphrase"));
}
