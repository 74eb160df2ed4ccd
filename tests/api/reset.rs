//! Password reset by mail, through the real SMTP server of `smtp.rs`: the
//! whole flow, what voids a token, concurrent use, and delivery through an
//! outage, refusals and a restart.

use std::{sync::Arc, time::Duration};

use entity::mail_outbox::Entity as MailOutbox;
use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::{
    helpers::{
        CHANGE_PASSWORD, PASSWORD, TestApp, TestDatabase, assert_bad_input, assert_error,
        assert_nothing_arrives, spawn_app_on,
    },
    smtp::SmtpServer,
};

const REQUEST: &str = "mutation($email: String!) { requestPasswordReset(email: $email) }";
const RESET: &str = "mutation($input: ResetPasswordInput!) { resetPassword(input: $input) }";
const NEW_PASSWORD: &str = "a brand new passphrase";
/// The reset mail's subject; the tests here watch for it alone.
const RESET_SUBJECT: &str = "Reset your taskql password";

/// A server that sends its mail to `smtp`.
async fn app_mailing(smtp: &SmtpServer, vars: &[(&str, &str)]) -> TestApp {
    app_on(Arc::new(TestDatabase::create().await), smtp, vars).await
}

async fn app_on(database: Arc<TestDatabase>, smtp: &SmtpServer, vars: &[(&str, &str)]) -> TestApp {
    let url = smtp.url();
    let mut settings = vec![("TASKQL_SMTP_URL", url.as_str())];
    settings.extend_from_slice(vars);
    spawn_app_on(database, &settings).await
}

impl TestApp {
    async fn request_reset(&self, email: &str) -> Value {
        self.graphql(REQUEST, json!({ "email": email }), None).await
    }

    async fn reset(&self, token: &str, new_password: &str) -> Value {
        let input = json!({ "token": token, "newPassword": new_password });
        self.graphql(RESET, json!({ "input": input }), None).await
    }

    /// Reset mails in the queue.
    /// Asks for a reset of `email` (an account's) as a marker: its mail
    /// must be the next to arrive at `smtp`.
    async fn assert_next_mail_is_a_reset_of(&self, smtp: &SmtpServer, email: &str) {
        assert_nothing_arrives(
            &mut smtp.mailbox(),
            async {
                assert_true(&self.request_reset(email).await, "requestPasswordReset");
            },
            |mail| mail.to == [email],
        )
        .await;
    }

    async fn queued_mails(&self) -> u64 {
        MailOutbox::find()
            .filter(entity::mail_outbox::Column::Kind.eq("password_reset"))
            .count(&self.db)
            .await
            .expect("count")
    }
}

#[track_caller]
fn assert_true(response: &Value, field: &str) {
    assert_eq!(response["data"][field], true, "{response}");
}

#[tokio::test]
async fn a_reset_mail_lets_the_owner_choose_a_new_password_and_ends_every_session() {
    let smtp = SmtpServer::watching(RESET_SUBJECT).await;
    let app = app_mailing(
        &smtp,
        &[(
            "TASKQL_PASSWORD_RESET_URL",
            "https://app.example.com/reset?token={token}",
        )],
    )
    .await;
    let ada = app.register("ada@example.com").await;
    let mut ws = app.ws_subscribed(&ada.access_token, "1").await;

    assert_true(
        &app.request_reset("  Ada@Example.com ").await,
        "requestPasswordReset",
    );
    let mail = smtp.next_after(0).await;
    assert_eq!(mail.to, ["ada@example.com"]);
    assert_eq!(mail.from, "no-reply@localhost");
    assert_eq!(mail.subject, "Reset your taskql password");
    assert!(mail.message_id.is_some(), "a Message-ID");
    let token = mail.token();
    let link = format!("https://app.example.com/reset?token={token}");
    assert!(mail.text.contains(&link), "{}", mail.text);
    assert!(
        mail.html.contains(&format!("href=\"{link}\"")),
        "{}",
        mail.html
    );
    assert!(mail.html.contains(&token));

    assert_true(&app.reset(&token, NEW_PASSWORD).await, "resetPassword");
    assert_error(
        &app.login("ada@example.com", PASSWORD).await,
        "INVALID_CREDENTIALS",
    );
    let login = app.login("ada@example.com", NEW_PASSWORD).await;
    assert!(login["data"]["login"]["accessToken"].is_string(), "{login}");
    assert_error(&app.me(&ada.access_token).await, "UNAUTHENTICATED");
    assert_error(&app.refresh(&ada.refresh_token).await, "UNAUTHENTICATED");
    assert_eq!(ws.close_code().await, 4403, "the subscription ends");
}

#[tokio::test]
async fn an_unknown_email_gets_the_same_answer_and_no_mail() {
    let smtp = SmtpServer::watching(RESET_SUBJECT).await;
    let app = app_mailing(&smtp, &[]).await;
    app.register("ada@example.com").await;
    let mut mailbox = smtp.mailbox();
    let unknown = app.request_reset("nobody@example.com").await;
    let mut known = Value::Null;
    // Mail goes out in the order it was asked for: once Ada's is here, the
    // unknown address has had its turn.
    assert_nothing_arrives(
        &mut mailbox,
        async {
            known = app.request_reset("ada@example.com").await;
        },
        |mail| mail.to == ["ada@example.com"],
    )
    .await;
    assert_eq!(unknown, known, "the answers are the same");
    assert_true(&known, "requestPasswordReset");
    assert_eq!(smtp.offered(), 1);
}

#[tokio::test]
async fn a_token_works_once_and_not_after_its_time() {
    let smtp = SmtpServer::watching(RESET_SUBJECT).await;
    let app = app_mailing(&smtp, &[("TASKQL_PASSWORD_RESET_TTL", "1s")]).await;
    app.register("ada@example.com").await;
    app.request_reset("ada@example.com").await;
    let token = smtp.next_after(0).await.token();
    assert_true(&app.reset(&token, NEW_PASSWORD).await, "resetPassword");
    assert_bad_input(&app.reset(&token, "another new passphrase").await, "token");

    app.request_reset("ada@example.com").await;
    let token = smtp.next_after(1).await.token();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_bad_input(&app.reset(&token, "another new passphrase").await, "token");
    assert_bad_input(
        &app.reset("not-a-token", "another new passphrase").await,
        "token",
    );
    let login = app.login("ada@example.com", NEW_PASSWORD).await;
    assert!(login["data"]["login"].is_object(), "unchanged: {login}");
}

#[tokio::test]
async fn a_newer_request_or_a_password_change_voids_a_token() {
    let smtp = SmtpServer::watching(RESET_SUBJECT).await;
    let app = app_mailing(&smtp, &[]).await;
    let ada = app.register("ada@example.com").await;
    app.request_reset("ada@example.com").await;
    let older = smtp.next_after(0).await.token();
    app.request_reset("ada@example.com").await;
    let newer = smtp.next_after(1).await.token();
    assert_bad_input(&app.reset(&older, NEW_PASSWORD).await, "token");

    let change = json!({ "input": { "currentPassword": PASSWORD, "newPassword": "changed in the meantime" } });
    let changed = app
        .graphql(CHANGE_PASSWORD, change, Some(&ada.access_token))
        .await;
    assert_true(&changed, "changePassword");
    assert_bad_input(&app.reset(&newer, NEW_PASSWORD).await, "token");
    let login = app
        .login("ada@example.com", "changed in the meantime")
        .await;
    assert!(login["data"]["login"].is_object(), "{login}");
}

#[tokio::test]
async fn a_newer_request_voids_a_token_before_its_own_mail_leaves() {
    let mut smtp = SmtpServer::watching(RESET_SUBJECT).await;
    let app = app_mailing(&smtp, &[]).await;
    app.register("ada@example.com").await;
    app.request_reset("ada@example.com").await;
    let older = smtp.next_after(0).await.token();
    smtp.stop();
    app.request_reset("ada@example.com").await;
    wait_for_attempts(&app, 1).await;
    assert_bad_input(&app.reset(&older, NEW_PASSWORD).await, "token");
    smtp.resume().await;
    let newer = smtp.next_after(1).await.token();
    assert_true(&app.reset(&newer, NEW_PASSWORD).await, "resetPassword");
}

#[tokio::test]
async fn two_concurrent_uses_of_one_token_give_one_success() {
    let smtp = SmtpServer::watching(RESET_SUBJECT).await;
    let app = app_mailing(&smtp, &[]).await;
    app.register("ada@example.com").await;
    app.request_reset("ada@example.com").await;
    let token = smtp.next_after(0).await.token();
    let passwords = ["first new passphrase", "second new passphrase"];
    let answers = join_all(passwords.map(|password| app.reset(&token, password))).await;
    let won: Vec<_> = answers
        .iter()
        .zip(passwords)
        .filter(|(answer, _)| answer["data"]["resetPassword"] == true)
        .map(|(_, password)| password)
        .collect();
    assert_eq!(won.len(), 1, "{answers:?}");
    let lost = answers.iter().find(|answer| answer["errors"].is_array());
    assert_bad_input(lost.expect("one refused"), "token");
    let login = app.login("ada@example.com", won[0]).await;
    assert!(login["data"]["login"].is_object(), "{login}");
}

#[tokio::test]
async fn a_refused_new_password_leaves_the_token_usable() {
    let smtp = SmtpServer::watching(RESET_SUBJECT).await;
    let app = app_mailing(&smtp, &[]).await;
    app.register("ada@example.com").await;
    app.request_reset("ada@example.com").await;
    let token = smtp.next_after(0).await.token();
    assert_bad_input(&app.reset(&token, "short").await, "newPassword");
    assert_bad_input(&app.reset(&token, "password123").await, "newPassword");
    assert_true(&app.reset(&token, NEW_PASSWORD).await, "resetPassword");
}

#[tokio::test]
async fn one_email_gets_at_most_three_mails_an_hour_across_instances() {
    let smtp = SmtpServer::watching(RESET_SUBJECT).await;
    let first = app_mailing(&smtp, &[]).await;
    let second = app_on(Arc::clone(&first.database), &smtp, &[]).await;
    first.register("ada@example.com").await;
    for app in [&first, &second, &first, &second, &second] {
        assert_true(
            &app.request_reset("ada@example.com").await,
            "requestPasswordReset",
        );
    }
    smtp.wait_for(3).await;
    wait_until_sent(&first).await;
    first.register("bob@example.com").await;
    second
        .assert_next_mail_is_a_reset_of(&smtp, "bob@example.com")
        .await;
    assert_eq!(smtp.offered(), 4, "Ada's three and Bob's");
}

#[tokio::test]
async fn reset_mutations_count_toward_the_per_ip_limit_and_come_one_per_request() {
    let smtp = SmtpServer::watching(RESET_SUBJECT).await;
    let app = app_mailing(&smtp, &[("TASKQL_AUTH_RATE_LIMIT", "2/min")]).await;
    let both = "mutation { a: requestPasswordReset(email: \"a@example.com\")
                           b: requestPasswordReset(email: \"b@example.com\") }";
    let response = app.graphql(both, json!({}), None).await;
    assert!(response["data"].is_null(), "{response}");
    assert!(
        response["errors"][0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("requestPasswordReset")),
        "{response}"
    );
    assert_true(
        &app.request_reset("ada@example.com").await,
        "requestPasswordReset",
    );
    assert_bad_input(&app.reset("not-a-token", NEW_PASSWORD).await, "token");
    assert_error(&app.request_reset("ada@example.com").await, "RATE_LIMITED");
    assert_error(
        &app.reset("not-a-token", NEW_PASSWORD).await,
        "RATE_LIMITED",
    );
}

#[tokio::test]
async fn mail_asked_for_while_the_smtp_server_is_down_arrives_once_it_is_up() {
    let mut smtp = SmtpServer::down_watching(RESET_SUBJECT).await;
    let app = app_mailing(&smtp, &[]).await;
    app.register("ada@example.com").await;
    assert_true(
        &app.request_reset("ada@example.com").await,
        "requestPasswordReset",
    );
    wait_for_attempts(&app, 2).await;
    smtp.resume().await;
    let mail = smtp.next_after(0).await;
    assert_true(
        &app.reset(&mail.token(), NEW_PASSWORD).await,
        "resetPassword",
    );
    wait_until_sent(&app).await;
}

#[tokio::test]
async fn a_4xx_answer_is_tried_again_and_a_5xx_answer_is_given_up() {
    let smtp = SmtpServer::watching(RESET_SUBJECT).await;
    let app = app_mailing(&smtp, &[]).await;
    app.register("ada@example.com").await;
    app.register("bob@example.com").await;
    smtp.refuse_next("451 4.3.0 mailbox busy, try again later");
    app.request_reset("ada@example.com").await;
    let mail = smtp.next_after(0).await;
    assert_eq!(mail.to, ["ada@example.com"]);
    assert_eq!(smtp.offered(), 2, "refused once, then accepted");

    smtp.refuse_next("550 5.1.1 no such mailbox");
    app.request_reset("bob@example.com").await;
    wait_until_sent(&app).await;
    // Not tried again: the next mail is Ada's new one.
    app.assert_next_mail_is_a_reset_of(&smtp, "ada@example.com")
        .await;
    assert_eq!(smtp.offered(), 4, "Bob's refused once, not tried again");
}

#[tokio::test]
async fn a_queued_mail_survives_a_restart_and_arrives_once() {
    let mut smtp = SmtpServer::down_watching(RESET_SUBJECT).await;
    let database = Arc::new(TestDatabase::create().await);
    let first = app_on(Arc::clone(&database), &smtp, &[]).await;
    first.register("ada@example.com").await;
    first.request_reset("ada@example.com").await;
    wait_for_attempts(&first, 1).await;
    let stopping = first.shutdown.clone();
    drop(first);
    stopping.stopped().await;

    smtp.resume().await;
    let second = app_on(database, &smtp, &[]).await;
    let mail = smtp.next_after(0).await;
    assert_eq!(mail.to, ["ada@example.com"]);
    wait_until_sent(&second).await;
    second.register("bob@example.com").await;
    second
        .assert_next_mail_is_a_reset_of(&smtp, "bob@example.com")
        .await;
    assert_eq!(smtp.offered(), 2, "Ada's sent once, then Bob's");
    assert_true(
        &second.reset(&mail.token(), NEW_PASSWORD).await,
        "resetPassword",
    );
}

/// On PostgreSQL, instances share the queue and each mail leaves once,
/// even when both retry the same backlog after an outage.
#[tokio::test]
#[ignore = "needs PostgreSQL: TASKQL_TEST_POSTGRES_URL and --include-ignored"]
async fn two_instances_send_each_mail_once() {
    let mut smtp = SmtpServer::down_watching(RESET_SUBJECT).await;
    let database = Arc::new(TestDatabase::postgres_only().await);
    let a = app_on(Arc::clone(&database), &smtp, &[]).await;
    let b = app_on(database, &smtp, &[]).await;
    let emails: Vec<String> = (0..8).map(|i| format!("user{i}@example.com")).collect();
    for email in &emails {
        a.register(email).await;
    }
    for (i, email) in emails.iter().enumerate() {
        let app = if i % 2 == 0 { &a } else { &b };
        assert_true(&app.request_reset(email).await, "requestPasswordReset");
    }
    wait_for_attempts(&a, 1).await;
    smtp.resume().await;
    smtp.wait_for(emails.len()).await;
    wait_until_sent(&a).await;
    a.register("marker@example.com").await;
    b.assert_next_mail_is_a_reset_of(&smtp, "marker@example.com")
        .await;
    let mut recipients: Vec<String> = smtp.received().into_iter().flat_map(|m| m.to).collect();
    recipients.pop();
    recipients.sort();
    assert_eq!(recipients, emails, "each mail once");
    assert_eq!(smtp.offered(), emails.len() + 1, "and the marker");
}

/// Waits until the queue is empty.
async fn wait_until_sent(app: &TestApp) {
    for _ in 0..1000 {
        if app.queued_mails().await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("mail still queued");
}

/// Waits until the queued mail has been tried `attempts` times.
async fn wait_for_attempts(app: &TestApp, attempts: i32) {
    for _ in 0..1000 {
        let queued = MailOutbox::find()
            .filter(entity::mail_outbox::Column::Kind.eq("password_reset"))
            .one(&app.db)
            .await
            .expect("read");
        if queued.is_some_and(|mail| mail.attempts >= attempts && mail.leased_until.is_none()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("mail not tried {attempts} time(s)");
}
