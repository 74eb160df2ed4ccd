//! Sign-in with an identity provider end to end, against a real OpenID
//! provider (node-oidc-provider, `tests/oidc/provider.mjs`, started here on
//! a free port) whose pages are driven like a browser would: an HTTP client
//! with a cookie jar that follows the provider's redirects and submits its
//! sign-in and consent forms. Every refusal SPEC §14 names, linking and
//! unlinking, the second factor, and a sign-in started on one instance and
//! finished on another.
//!
//! The provider needs Node.js and `npm ci` in `tests/oidc` (`.ci/run` does
//! it), so these tests are ignored by a plain `cargo test`.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::Arc,
};

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use taskql::auth::totp;

use crate::{
    helpers::{
        PASSWORD, Session, TestApp, TestDatabase, assert_bad_input, assert_error, spawn_app_on,
        spawn_app_with,
    },
    second_factor::fresh_step,
};

/// The app's page the provider answers to.
const REDIRECT: &str = "http://app.test/callback";
const CLIENT_SECRET: &str = "a-test-client-secret";
const START: &str = "mutation($input: StartExternalLoginInput!) {
    startExternalLogin(input: $input) { authorizationUrl state } }";
const FINISH: &str = "mutation($input: FinishExternalLoginInput!) {
    finishExternalLogin(input: $input) { accessToken refreshToken user { id email emailVerified } } }";
const START_LINK: &str = "mutation($input: StartIdentityLinkInput!) {
    startIdentityLink(input: $input) { authorizationUrl state } }";
const FINISH_LINK: &str = "mutation($input: FinishExternalLoginInput!) {
    finishIdentityLink(input: $input) { id provider email } }";
const IDENTITIES: &str = "{ identities { id provider email createdAt lastUsedAt } }";
const UNLINK: &str =
    "mutation($id: ID!, $password: String) { unlinkIdentity(id: $id, password: $password) }";

/// The test provider, running until dropped.
pub struct Provider {
    child: Child,
    /// Its output, open while it runs.
    _output: BufReader<std::process::ChildStdout>,
    pub issuer: String,
}

impl Provider {
    pub fn start() -> Self {
        Self::start_on(None)
    }

    fn start_on(port: Option<u16>) -> Self {
        let mut command = Command::new("node");
        command
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/oidc/provider.mjs"
            ))
            .env("OIDC_REDIRECT_URIS", REDIRECT)
            .env("OIDC_CLIENT_SECRET", CLIENT_SECRET)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(port) = port {
            command.env("OIDC_PORT", port.to_string());
        }
        let mut child = command
            .spawn()
            .expect("node runs tests/oidc/provider.mjs (npm ci in tests/oidc first)");
        let mut line = String::new();
        let mut output = BufReader::new(child.stdout.take().expect("stdout"));
        output
            .read_line(&mut line)
            .expect("the provider prints its issuer");
        assert!(
            line.starts_with("http://"),
            "the provider's issuer: {line:?}"
        );
        Self {
            child,
            _output: output,
            issuer: line.trim().to_owned(),
        }
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn settings(issuer: &str) -> Vec<(&'static str, String)> {
    vec![
        ("TASKQL_OIDC_PROVIDERS", "acme".to_owned()),
        ("TASKQL_OIDC_ACME_ISSUER", issuer.to_owned()),
        ("TASKQL_OIDC_ACME_CLIENT_ID", "taskql".to_owned()),
        ("TASKQL_OIDC_ACME_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("TASKQL_OIDC_ACME_DISPLAY_NAME", "Acme".to_owned()),
        ("TASKQL_OIDC_REDIRECT_URIS", REDIRECT.to_owned()),
    ]
}

/// A server that signs in with the test provider.
async fn app_of(provider: &Provider) -> TestApp {
    app_with(provider, &[]).await
}

/// The same, with `extra` settings.
async fn app_with(provider: &Provider, extra: &[(&str, &str)]) -> TestApp {
    let vars = settings(&provider.issuer);
    let mut vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}

/// What the provider sent back to the app's page.
#[derive(Debug, Clone)]
pub struct Answer {
    pub code: String,
    pub state: String,
    pub iss: Option<String>,
}

impl Answer {
    fn input(&self) -> Value {
        json!({ "input": { "state": self.state, "code": self.code, "iss": self.iss } })
    }
}

/// A browser at the provider: opens `authorization_url`, signs in as
/// `login` and consents, and returns what the provider sends to the
/// redirect URI.
///
/// `login` is `<sub>|<email>|<email_verified>` (`ada|ada@example.com|true`,
/// `bob||` for no email): what the provider will say of the account.
pub async fn at_provider(authorization_url: &str, login: &str) -> Answer {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let mut url = url::Url::parse(authorization_url).expect("a URL");
    let mut parts = login.split('|');
    let sub = parts.next().expect("a sub").to_owned();
    let mut claims = json!({ "sub": sub });
    if let Some(email) = parts.next().filter(|email| !email.is_empty()) {
        claims["email"] = json!(email);
    }
    if let Some(verified) = parts.next().filter(|verified| !verified.is_empty()) {
        claims["email_verified"] = json!(verified == "true");
    }
    browser
        .post(url.join("/test/accounts").expect("a URL"))
        .json(&claims)
        .send()
        .await
        .expect("the provider takes the account's claims");
    let login = sub.as_str();
    let mut pending_form: Option<Vec<(&str, String)>> = None;
    for _ in 0..20 {
        let response = match pending_form.take() {
            Some(form) => browser.post(url.clone()).form(&form).send().await,
            None => browser.get(url.clone()).send().await,
        }
        .expect("the provider answers");
        if response.status().is_redirection() {
            let location = response.headers()["location"].to_str().expect("text");
            let next = url.join(location).expect("a location");
            if next.as_str().starts_with(REDIRECT) {
                let pairs: std::collections::HashMap<String, String> =
                    next.query_pairs().into_owned().collect();
                return Answer {
                    code: pairs
                        .get("code")
                        .cloned()
                        .unwrap_or_else(|| panic!("the provider answered without a code: {next}")),
                    state: pairs["state"].clone(),
                    iss: pairs.get("iss").cloned(),
                };
            }
            url = next;
            continue;
        }
        let page = response.text().await.expect("a page");
        let action = page
            .split("action=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("a form on the provider's page: {page}"));
        url = url.join(action).expect("the form's action");
        pending_form = Some(if page.contains(r#"name="prompt" value="login""#) {
            vec![
                ("prompt", "login".to_owned()),
                ("login", login.to_owned()),
                ("password", "anything".to_owned()),
            ]
        } else {
            vec![("prompt", "consent".to_owned())]
        });
    }
    panic!("the provider never sent the browser back");
}

impl TestApp {
    async fn start_external(&self) -> (String, String) {
        let started = self
            .graphql(
                START,
                json!({ "input": { "provider": "acme", "redirectUri": REDIRECT } }),
                None,
            )
            .await;
        let sign_in = &started["data"]["startExternalLogin"];
        (
            sign_in["authorizationUrl"]
                .as_str()
                .unwrap_or_else(|| panic!("{started}"))
                .to_owned(),
            sign_in["state"].as_str().expect("state").to_owned(),
        )
    }

    /// A whole sign-in as `login` at the provider; the answer of
    /// `finishExternalLogin`.
    async fn external_sign_in(&self, login: &str) -> Value {
        let (url, _) = self.start_external().await;
        let answer = at_provider(&url, login).await;
        self.graphql(FINISH, answer.input(), None).await
    }

    async fn external_session(&self, login: &str) -> Session {
        let finished = self.external_sign_in(login).await;
        Session::from_login(&finished["data"]["finishExternalLogin"])
    }

    /// Links the identity `login` to the account of `session`.
    async fn link(&self, session: &Session, login: &str) -> Value {
        self.link_with_code(session, login, None).await
    }

    /// Links the identity `login` to the account of `session`, with a
    /// second-factor `code`.
    async fn link_with_code(&self, session: &Session, login: &str, code: Option<String>) -> Value {
        let input = json!({ "provider": "acme", "redirectUri": REDIRECT, "password": PASSWORD, "code": code });
        let started = self
            .graphql(
                START_LINK,
                json!({ "input": input }),
                Some(&session.access_token),
            )
            .await;
        let url = started["data"]["startIdentityLink"]["authorizationUrl"]
            .as_str()
            .unwrap_or_else(|| panic!("{started}"))
            .to_owned();
        let answer = at_provider(&url, login).await;
        self.graphql(FINISH_LINK, answer.input(), Some(&session.access_token))
            .await
    }

    async fn event_kinds_of(&self, token: &str) -> Vec<String> {
        let events = self
            .graphql(
                "{ securityEvents(first: 20) { edges { node { kind } } } }",
                json!({}),
                Some(token),
            )
            .await;
        events["data"]["securityEvents"]["edges"]
            .as_array()
            .expect("events")
            .iter()
            .map(|edge| edge["node"]["kind"].as_str().expect("kind").to_owned())
            .collect()
    }
}

#[tokio::test]
#[ignore = "needs Node.js and tests/oidc's packages (npm ci): .ci/run installs them"]
async fn a_vouched_new_identity_makes_an_account_and_signs_in_to_it_again_whatever_its_email() {
    let provider = Provider::start();
    let app = app_with(&provider, &[("TASKQL_METRICS_LISTEN", "127.0.0.1:0")]).await;
    let providers = app
        .graphql("{ identityProviders { id displayName } }", json!({}), None)
        .await;
    assert_eq!(
        providers["data"]["identityProviders"],
        json!([{ "id": "acme", "displayName": "Acme" }])
    );
    let (url, state) = app.start_external().await;
    let parsed = url::Url::parse(&url).expect("a URL");
    let query: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
    assert!(url.starts_with(&provider.issuer), "{url}");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["state"], state);
    assert!(query.contains_key("nonce"), "{url}");
    assert_eq!(query["redirect_uri"], REDIRECT);

    let answer = at_provider(&url, "ada-sub|ada@example.com|true").await;
    assert_eq!(answer.iss.as_deref(), Some(provider.issuer.as_str()));
    let finished = app.graphql(FINISH, answer.input(), None).await;
    let payload = &finished["data"]["finishExternalLogin"];
    assert_eq!(payload["user"]["email"], "ada@example.com", "{finished}");
    assert_eq!(payload["user"]["emailVerified"], true);
    let ada = Session::from_login(payload);
    let identities = app
        .graphql(IDENTITIES, json!({}), Some(&ada.access_token))
        .await;
    assert_eq!(identities["data"]["identities"][0]["provider"], "acme");
    assert_eq!(
        identities["data"]["identities"][0]["email"],
        "ada@example.com"
    );
    // The same sub with another email: the same account.
    let again = app
        .external_session("ada-sub|ada@elsewhere.example|true")
        .await;
    assert_eq!(again.user_id, ada.user_id);
    assert_eq!(
        &app.event_kinds_of(&again.access_token).await[..3],
        ["LOGGED_IN", "LOGGED_IN", "SIGNED_UP"]
    );
    let metrics = app.metrics_address.as_deref().expect("metrics");
    let scraped = reqwest::get(format!("{metrics}/metrics"))
        .await
        .expect("scraped")
        .text()
        .await
        .expect("text");
    assert!(
        scraped.contains(r#"external_logins_total{provider="acme",outcome="ok"} 2"#),
        "{scraped}"
    );
    // No password: a password login is refused like any wrong one, and a
    // password change says how to set one.
    assert_error(
        &app.login("ada@example.com", PASSWORD).await,
        "INVALID_CREDENTIALS",
    );
    assert_bad_input(
        &app.graphql(
            crate::helpers::CHANGE_PASSWORD,
            json!({ "input": { "currentPassword": "x", "newPassword": "a new passphrase" } }),
            Some(&again.access_token),
        )
        .await,
        "currentPassword",
    );
    // Changes that matter need no password here, but a recent sign-in.
    let change = "mutation($e: String!) { changeEmail(input: { newEmail: $e }) }";
    let changed = app
        .graphql(
            change,
            json!({ "e": "ada@new.example" }),
            Some(&again.access_token),
        )
        .await;
    assert_eq!(changed["data"]["changeEmail"], true, "{changed}");
    {
        use entity::session::{Column, Entity as Sessions};
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        Sessions::update_many()
            .col_expr(
                Column::CreatedAt,
                Expr::value(taskql::db::now() - chrono::Duration::hours(1)),
            )
            .filter(Column::UserId.eq(uuid::Uuid::parse_str(&again.user_id).expect("id")))
            .exec(&app.db)
            .await
            .expect("aged");
    }
    for (operation, variables) in [
        (change, json!({ "e": "ada@other.example" })),
        ("mutation { deleteAccount }", json!({})),
    ] {
        assert_bad_input(
            &app.graphql(operation, variables, Some(&again.access_token))
                .await,
            "password",
        );
    }
    // Signed in a moment ago: it may be deleted without a password.
    let fresh = app.external_session("ada-sub|ada@example.com|true").await;
    let deleted = app
        .graphql(
            "mutation { deleteAccount }",
            json!({}),
            Some(&fresh.access_token),
        )
        .await;
    assert_eq!(deleted["data"]["deleteAccount"], true, "{deleted}");
}

#[tokio::test]
#[ignore = "needs Node.js and tests/oidc's packages (npm ci): .ci/run installs them"]
async fn every_bad_answer_is_refused_and_nothing_is_made() {
    let provider = Provider::start();
    let app = app_of(&provider).await;
    let start = async |provider_id: &str, redirect: &str| {
        app.graphql(
            START,
            json!({ "input": { "provider": provider_id, "redirectUri": redirect } }),
            None,
        )
        .await
    };
    assert_bad_input(&start("elsewhere", REDIRECT).await, "provider");
    assert_bad_input(
        &start("acme", "http://app.test/callback/../evil").await,
        "redirectUri",
    );
    assert_bad_input(&start("acme", "https://evil.example/").await, "redirectUri");

    // A state used twice, and one nobody issued.
    let (url, _) = app.start_external().await;
    let answer = at_provider(&url, "sub-1|one@example.com|true").await;
    let first = app.graphql(FINISH, answer.input(), None).await;
    assert!(first["errors"].is_null(), "{first}");
    assert_bad_input(&app.graphql(FINISH, answer.input(), None).await, "state");
    let mut unknown = answer.clone();
    unknown.state = "no-such-state".into();
    assert_bad_input(&app.graphql(FINISH, unknown.input(), None).await, "state");

    // An expired one.
    let (url, state) = app.start_external().await;
    let answer = at_provider(&url, "sub-2|two@example.com|true").await;
    assert_eq!(answer.state, state);
    expire_flows(&app).await;
    assert_bad_input(&app.graphql(FINISH, answer.input(), None).await, "state");

    // The issuer on the answer tampered, or missing while the provider
    // always sends it.
    for iss in [Some("http://127.0.0.1:1"), None] {
        let (url, _) = app.start_external().await;
        let mut answer = at_provider(&url, "sub-3|three@example.com|true").await;
        answer.iss = iss.map(str::to_owned);
        let refused = app.graphql(FINISH, answer.input(), None).await;
        assert_error(&refused, "INVALID_CREDENTIALS");
        assert!(
            refused["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("issuer"),
            "{refused}"
        );
    }

    // A code of another sign-in: its PKCE verifier does not match.
    let (url_a, _) = app.start_external().await;
    let (_, state_b) = app.start_external().await;
    let mut answer = at_provider(&url_a, "sub-4|four@example.com|true").await;
    answer.state = state_b;
    assert_error(
        &app.graphql(FINISH, answer.input(), None).await,
        "INVALID_CREDENTIALS",
    );

    // A nonce changed on the way to the provider: the ID token answers
    // another sign-in.
    let (url, _) = app.start_external().await;
    let mut tampered = url::Url::parse(&url).expect("a URL");
    let pairs: Vec<(String, String)> = tampered
        .query_pairs()
        .map(|(key, value)| {
            let value = if key == "nonce" {
                "another-nonce".to_owned()
            } else {
                value.into_owned()
            };
            (key.into_owned(), value)
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(pairs);
    let answer = at_provider(tampered.as_str(), "sub-5|five@example.com|true").await;
    let refused = app.graphql(FINISH, answer.input(), None).await;
    assert_error(&refused, "INVALID_CREDENTIALS");
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("nonce"),
        "{refused}"
    );

    // Only the first sign-in made an account.
    let count = app
        .db
        .query_one_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM users",
        ))
        .await
        .expect("counted")
        .expect("a row");
    assert_eq!(count.try_get::<i64>("", "n").expect("n"), 1);
}

async fn expire_flows(app: &TestApp) {
    let sql = match app.db.get_database_backend() {
        DbBackend::Postgres => {
            "UPDATE external_logins SET expires_at = now() - interval '1 minute'"
        }
        _ => "UPDATE external_logins SET expires_at = '2000-01-01T00:00:00+00:00'",
    };
    app.db
        .execute_raw(Statement::from_string(app.db.get_database_backend(), sql))
        .await
        .expect("expired");
}

#[tokio::test]
#[ignore = "needs Node.js and tests/oidc's packages (npm ci): .ci/run installs them"]
async fn an_email_not_vouched_for_or_taken_makes_nothing_and_links_nothing() {
    let provider = Provider::start();
    let app = app_of(&provider).await;
    for login in [
        "u-1|grace@example.com|false",
        "u-2|grace@example.com|",
        "u-3||",
    ] {
        let refused = app.external_sign_in(login).await;
        assert_error(&refused, "EMAIL_NOT_VERIFIED");
        assert!(refused["data"].is_null(), "{refused}");
    }
    let grace = app.register("grace@example.com").await;
    let refused = app.external_sign_in("u-4|grace@example.com|true").await;
    assert_error(&refused, "ACCOUNT_EXISTS");
    assert!(
        app.graphql(IDENTITIES, json!({}), Some(&grace.access_token))
            .await["data"]["identities"]
            == json!([]),
        "nothing linked"
    );
    // An unverified email that an account has: the same answer as any.
    assert_error(
        &app.external_sign_in("u-5|grace@example.com|false").await,
        "EMAIL_NOT_VERIFIED",
    );
}

#[tokio::test]
#[ignore = "needs Node.js and tests/oidc's packages (npm ci): .ci/run installs them"]
async fn linking_needs_the_password_and_the_last_way_in_stays() {
    let provider = Provider::start();
    let smtp = crate::smtp::SmtpServer::start().await;
    let url = smtp.url();
    let app = app_with(&provider, &[("TASKQL_SMTP_URL", url.as_str())]).await;
    let grace = app.register("grace@example.com").await;
    let without = app
        .graphql(
            START_LINK,
            json!({ "input": { "provider": "acme", "redirectUri": REDIRECT } }),
            Some(&grace.access_token),
        )
        .await;
    assert_error(&without, "INVALID_CREDENTIALS");
    let wrong = app
        .graphql(
            START_LINK,
            json!({ "input": { "provider": "acme", "redirectUri": REDIRECT, "password": "wrong one" } }),
            Some(&grace.access_token),
        )
        .await;
    assert_error(&wrong, "INVALID_CREDENTIALS");
    let linked = app.link(&grace, "g-sub|grace@work.example|true").await;
    assert_eq!(
        linked["data"]["finishIdentityLink"]["provider"], "acme",
        "{linked}"
    );
    let identity = linked["data"]["finishIdentityLink"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // The identity now signs in to Grace's account.
    let via = app.external_session("g-sub|grace@work.example|true").await;
    assert_eq!(via.user_id, grace.user_id);
    assert!(
        app.event_kinds_of(&via.access_token)
            .await
            .contains(&"IDENTITY_LINKED".to_owned())
    );
    // Another account cannot take it.
    let alan = app.register("alan@example.com").await;
    assert_bad_input(
        &app.link(&alan, "g-sub|grace@work.example|true").await,
        "state",
    );
    // A login's state does not finish a link, nor a link's another viewer's.
    let (url, _) = app.start_external().await;
    let answer = at_provider(&url, "a-sub|alan@work.example|true").await;
    assert_bad_input(
        &app.graphql(FINISH_LINK, answer.input(), Some(&alan.access_token))
            .await,
        "state",
    );

    // An account made by the provider has that identity as its only way in.
    let ada = app.external_session("ada-sub|ada@example.com|true").await;
    let ada_identity = app
        .graphql(IDENTITIES, json!({}), Some(&ada.access_token))
        .await["data"]["identities"][0]["id"]
        .clone();
    assert_bad_input(
        &app.graphql(
            UNLINK,
            json!({ "id": ada_identity }),
            Some(&ada.access_token),
        )
        .await,
        "id",
    );
    // Grace keeps her password: she may unlink, with it.
    assert_error(
        &app.graphql(
            UNLINK,
            json!({ "id": identity, "password": "wrong one" }),
            Some(&grace.access_token),
        )
        .await,
        "INVALID_CREDENTIALS",
    );
    let unlinked = app
        .graphql(
            UNLINK,
            json!({ "id": identity, "password": PASSWORD }),
            Some(&grace.access_token),
        )
        .await;
    assert_eq!(unlinked["data"]["unlinkIdentity"], true, "{unlinked}");
    assert_eq!(
        app.event_kinds_of(&grace.access_token).await[0],
        "IDENTITY_UNLINKED"
    );
    // Both mailed to the owner.
    for subject in [
        "A sign-in was linked to your taskql account",
        "A sign-in was unlinked from your taskql account",
    ] {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        while !smtp
            .received()
            .iter()
            .any(|mail| mail.subject == subject && mail.to == ["grace@example.com"])
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no mail {subject:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
#[ignore = "needs Node.js and tests/oidc's packages (npm ci): .ci/run installs them"]
async fn with_totp_on_a_provider_sign_in_asks_for_the_code_and_a_disabled_account_gets_none() {
    let provider = Provider::start();
    let app = app_of(&provider).await;
    let grace = app.enrolled("grace@example.com").await;
    let step = fresh_step().await;
    let linked = app
        .link_with_code(
            &grace.session,
            "g-sub|grace@example.com|true",
            Some(totp::code(&grace.secret, step)),
        )
        .await;
    assert!(linked["errors"].is_null(), "{linked}");
    let asked = app.external_sign_in("g-sub|grace@example.com|true").await;
    assert_error(&asked, "MFA_REQUIRED");
    assert!(asked["data"].is_null(), "no tokens: {asked}");
    let mfa_token = asked["errors"][0]["extensions"]["mfaToken"]
        .as_str()
        .expect("an mfaToken");
    let step = step + 1;
    let completed = app
        .graphql(
            "mutation($input: CompleteLoginInput!) { completeLogin(input: $input) { accessToken user { id } } }",
            json!({ "input": { "mfaToken": mfa_token, "code": totp::code(&grace.secret, step) } }),
            None,
        )
        .await;
    assert_eq!(
        completed["data"]["completeLogin"]["user"]["id"], grace.session.user_id,
        "{completed}"
    );

    let ada = app.external_session("ada-sub|ada@example.com|true").await;
    {
        use entity::user::{Column, Entity as Users};
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        Users::update_many()
            .col_expr(Column::DisabledAt, Expr::value(taskql::db::now()))
            .filter(Column::Id.eq(uuid::Uuid::parse_str(&ada.user_id).expect("id")))
            .exec(&app.db)
            .await
            .expect("disabled");
    }
    assert_error(
        &app.external_sign_in("ada-sub|ada@example.com|true").await,
        "ACCOUNT_DISABLED",
    );
}

#[tokio::test]
#[ignore = "needs Node.js and tests/oidc's packages (npm ci): .ci/run installs them"]
async fn a_provider_down_at_start_is_unavailable_until_it_answers() {
    let port = {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        socket.local_addr().expect("address").port()
    };
    let issuer = format!("http://127.0.0.1:{port}");
    let vars = settings(&issuer);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(&vars).await;
    let refused = app
        .graphql(
            START,
            json!({ "input": { "provider": "acme", "redirectUri": REDIRECT } }),
            None,
        )
        .await;
    assert_error(&refused, "SERVICE_UNAVAILABLE");
    let _provider = Provider::start_on(Some(port));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(40);
    loop {
        let started = app
            .graphql(
                START,
                json!({ "input": { "provider": "acme", "redirectUri": REDIRECT } }),
                None,
            )
            .await;
        if started["errors"].is_null() {
            break;
        }
        assert_error(&started, "SERVICE_UNAVAILABLE");
        assert!(tokio::time::Instant::now() < deadline, "{started}");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let ada = app.external_session("ada-sub|ada@example.com|true").await;
    assert!(!ada.access_token.is_empty());
}

/// A provider that rotated its keys since the server read them: the
/// server reads them again, once, and the sign-in goes through.
#[tokio::test]
#[ignore = "needs Node.js and tests/oidc's packages (npm ci): .ci/run installs them"]
async fn a_key_the_server_has_not_seen_makes_it_read_the_keys_again() {
    let port = {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        socket.local_addr().expect("address").port()
    };
    let first = Provider::start_on(Some(port));
    let app = app_of(&first).await;
    app.external_session("ada-sub|ada@example.com|true").await;
    drop(first);
    let _second = Provider::start_on(Some(port));
    let again = app.external_sign_in("ada-sub|ada@example.com|true").await;
    assert!(
        again["data"]["finishExternalLogin"]["accessToken"].is_string(),
        "{again}"
    );
}

/// A sign-in at the most detailed log level: no code, state, token or
/// client secret reaches the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js and tests/oidc's packages (npm ci): .ci/run installs them"]
async fn no_code_state_token_or_client_secret_reaches_the_log() {
    let provider = Provider::start();
    let database = TestDatabase::create().await;
    let mut vars = settings(&provider.issuer);
    vars.push(("TASKQL_LOG", "trace".to_owned()));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = crate::binary::Server::start_with(&database.url, &vars);
    let started = server
        .graphql(
            START,
            json!({ "input": { "provider": "acme", "redirectUri": REDIRECT } }),
        )
        .await;
    let url = started["data"]["startExternalLogin"]["authorizationUrl"]
        .as_str()
        .unwrap_or_else(|| panic!("{started}"))
        .to_owned();
    let answer = at_provider(&url, "ada-sub|ada@example.com|true").await;
    let finished = server.graphql(FINISH, answer.input()).await;
    let payload = &finished["data"]["finishExternalLogin"];
    let secrets = [
        answer.code.clone(),
        answer.state.clone(),
        CLIENT_SECRET.to_owned(),
        payload["accessToken"].as_str().expect("access").to_owned(),
        payload["refreshToken"]
            .as_str()
            .expect("refresh")
            .to_owned(),
    ];
    let (_, logs) = server.stop();
    let all = logs.join("\n");
    assert!(
        all.contains("identity provider discovered"),
        "the log is read"
    );
    for secret in &secrets {
        assert!(
            !all.contains(secret.as_str()),
            "a secret reached the log: {secret}"
        );
    }
}

/// Started on one instance, finished on another.
#[tokio::test]
#[ignore = "needs PostgreSQL: TASKQL_TEST_POSTGRES_URL and --include-ignored"]
async fn a_sign_in_started_on_one_instance_finishes_on_another() {
    let provider = Provider::start();
    let vars = settings(&provider.issuer);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let database = Arc::new(TestDatabase::postgres_only().await);
    let a = spawn_app_on(Arc::clone(&database), &vars).await;
    let b = spawn_app_on(Arc::clone(&database), &vars).await;
    let (url, _) = a.start_external().await;
    let answer = at_provider(&url, "ada-sub|ada@example.com|true").await;
    let finished = b.graphql(FINISH, answer.input(), None).await;
    assert_eq!(
        finished["data"]["finishExternalLogin"]["user"]["email"], "ada@example.com",
        "{finished}"
    );
}
