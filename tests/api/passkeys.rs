//! Passkeys end to end with a software authenticator: registration,
//! listing, sign-in by email and with a discoverable credential, removal,
//! and each refusal SPEC §5.4 names; a ceremony started on one instance
//! finishes on another.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::{
    authenticator::Authenticator,
    helpers::{
        Session, TestApp, TestDatabase, assert_error, spawn_app, spawn_app_on, spawn_app_with,
    },
};

const START_REGISTRATION: &str = "mutation { startPasskeyRegistration { challengeId options } }";
const FINISH_REGISTRATION: &str = "mutation($input: FinishPasskeyRegistrationInput!) {
    finishPasskeyRegistration(input: $input) { id name createdAt lastUsedAt } }";
const START_LOGIN: &str =
    "mutation($email: String) { startPasskeyLogin(email: $email) { challengeId options } }";
const FINISH_LOGIN: &str = "mutation($input: FinishPasskeyLoginInput!) {
    finishPasskeyLogin(input: $input) { accessToken refreshToken user { id email } } }";
const PASSKEYS: &str = "{ twoFactor { passkeys { id name createdAt lastUsedAt } } }";
const REMOVE: &str = "mutation($id: ID!, $code: String) { removePasskey(id: $id, code: $code) }";

impl TestApp {
    async fn start_registration(&self, token: &str) -> (String, Value) {
        let started = self
            .graphql(START_REGISTRATION, json!({}), Some(token))
            .await;
        let challenge = &started["data"]["startPasskeyRegistration"];
        assert!(challenge.is_object(), "{started}");
        (
            challenge["challengeId"].as_str().expect("id").to_owned(),
            challenge["options"].clone(),
        )
    }

    async fn finish_registration(&self, token: &str, challenge: &str, credential: Value) -> Value {
        self.graphql(
            FINISH_REGISTRATION,
            json!({ "input": { "challengeId": challenge, "credential": credential, "name": "Laptop" } }),
            Some(token),
        )
        .await
    }

    /// Registers `authenticator` for the account of `token`.
    pub async fn add_passkey(&self, token: &str, authenticator: &mut Authenticator) -> Value {
        let (challenge, options) = self.start_registration(token).await;
        let added = self
            .finish_registration(token, &challenge, authenticator.register(&options))
            .await;
        assert!(added["errors"].is_null(), "{added}");
        added["data"]["finishPasskeyRegistration"].clone()
    }

    async fn start_login(&self, email: Option<&str>) -> (String, Value) {
        let started = self
            .graphql(START_LOGIN, json!({ "email": email }), None)
            .await;
        let challenge = &started["data"]["startPasskeyLogin"];
        assert!(challenge.is_object(), "{started}");
        (
            challenge["challengeId"].as_str().expect("id").to_owned(),
            challenge["options"].clone(),
        )
    }

    async fn finish_login(&self, challenge: &str, credential: Value) -> Value {
        self.graphql(
            FINISH_LOGIN,
            json!({ "input": { "challengeId": challenge, "credential": credential } }),
            None,
        )
        .await
    }

    /// Signs in with `authenticator` alone.
    pub async fn passkey_login(
        &self,
        email: Option<&str>,
        authenticator: &mut Authenticator,
    ) -> Value {
        let (challenge, options) = self.start_login(email).await;
        self.finish_login(&challenge, authenticator.assert(&options))
            .await
    }
}

fn assert_refused(response: &Value, reason: &str) {
    assert_error(response, "INVALID_CREDENTIALS");
    let message = response["errors"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.starts_with("the passkey was refused") && message.contains(reason),
        "{reason:?} in {response}"
    );
    assert!(response["data"].is_null(), "no tokens: {response}");
}

#[tokio::test]
async fn a_passkey_is_registered_listed_signs_in_alone_and_is_removed() {
    let app = spawn_app().await;
    let Session {
        access_token,
        user_id,
        ..
    } = app.register("ann@example.com").await;
    let (challenge, options) = app.start_registration(&access_token).await;
    // The options as navigator.credentials.create takes them from JSON.
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert_eq!(
        options["authenticatorSelection"]["residentKey"],
        "preferred"
    );
    assert!(
        options["challenge"].as_str().is_some_and(|c| c.len() >= 22),
        "{options}"
    );
    assert!(
        options["pubKeyCredParams"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
    );
    let mut authenticator = Authenticator::new();
    let added = app
        .finish_registration(&access_token, &challenge, authenticator.register(&options))
        .await;
    let passkey = &added["data"]["finishPasskeyRegistration"];
    assert_eq!(passkey["name"], "Laptop", "{added}");
    assert!(passkey["lastUsedAt"].is_null());
    let listed = app.graphql(PASSKEYS, json!({}), Some(&access_token)).await;
    assert_eq!(listed["data"]["twoFactor"]["passkeys"], json!([passkey]));

    // By email: the options name this passkey.
    let (challenge, options) = app.start_login(Some("ann@example.com")).await;
    assert_eq!(
        options["allowCredentials"],
        json!([{ "type": "public-key", "id": authenticator.credential_id() }])
    );
    assert_eq!(options["userVerification"], "required");
    let signed_in = app
        .finish_login(&challenge, authenticator.assert(&options))
        .await;
    let payload = &signed_in["data"]["finishPasskeyLogin"];
    assert_eq!(payload["user"]["id"], user_id.as_str(), "{signed_in}");
    let token = payload["accessToken"].as_str().expect("a token");
    assert_eq!(
        app.me(token).await["data"]["me"]["email"],
        "ann@example.com"
    );

    // Without an email: the discoverable credential finds its account.
    let (_, options) = app.start_login(None).await;
    assert_eq!(options["allowCredentials"], json!([]), "{options}");
    let discovered = app.passkey_login(None, &mut authenticator).await;
    assert_eq!(
        discovered["data"]["finishPasskeyLogin"]["user"]["email"], "ann@example.com",
        "{discovered}"
    );
    let listed = app.graphql(PASSKEYS, json!({}), Some(token)).await;
    assert!(
        listed["data"]["twoFactor"]["passkeys"][0]["lastUsedAt"].is_string(),
        "{listed}"
    );

    let id = passkey["id"].as_str().expect("id");
    let removed = app.graphql(REMOVE, json!({ "id": id }), Some(token)).await;
    assert_eq!(removed["data"]["removePasskey"], true, "{removed}");
    let again = app.graphql(REMOVE, json!({ "id": id }), Some(token)).await;
    assert_error(&again, "NOT_FOUND");
    let kinds = app.event_kinds(token).await;
    for kind in ["PASSKEY_ADDED", "PASSKEY_REMOVED"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    assert_refused(
        &app.passkey_login(None, &mut authenticator).await,
        "not registered here",
    );
}

#[tokio::test]
async fn an_email_without_passkeys_gets_options_shaped_the_same() {
    let app = spawn_app().await;
    let ann = app.register("ann@example.com").await;
    app.add_passkey(&ann.access_token, &mut Authenticator::new())
        .await;
    app.register("bob@example.com").await;
    let (_, known) = app.start_login(Some("ann@example.com")).await;
    let (_, unknown) = app.start_login(Some("nobody@example.com")).await;
    let (_, unknown_again) = app.start_login(Some("nobody@example.com")).await;
    let (_, without) = app.start_login(Some("bob@example.com")).await;
    let keys = |options: &Value| {
        let mut keys: Vec<String> = options
            .as_object()
            .expect("an object")
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    for options in [&unknown, &without] {
        assert_eq!(keys(options), keys(&known));
        let allowed = options["allowCredentials"].as_array().expect("a list");
        assert_eq!(allowed.len(), 1, "{options}");
        assert_eq!(
            allowed[0]["id"].as_str().map(str::len),
            known["allowCredentials"][0]["id"].as_str().map(str::len),
        );
    }
    assert_eq!(
        unknown["allowCredentials"], unknown_again["allowCredentials"],
        "the same every time"
    );
    assert_ne!(unknown["allowCredentials"], without["allowCredentials"]);
    assert_ne!(unknown["challenge"], unknown_again["challenge"]);
}

#[tokio::test]
async fn refused_another_origin_another_rp_id_a_replay_a_counter_backwards_and_another_account() {
    let app = spawn_app().await;
    let ann = app.register("ann@example.com").await;
    let bob = app.register("bob@example.com").await;

    // Registration from a page of another origin, or for another RP id.
    let (challenge, options) = app.start_registration(&ann.access_token).await;
    let mut elsewhere = Authenticator::new();
    elsewhere.origin = "http://evil.example:8000".into();
    assert_refused(
        &app.finish_registration(&ann.access_token, &challenge, elsewhere.register(&options))
            .await,
        "origin",
    );
    let (challenge, options) = app.start_registration(&ann.access_token).await;
    let mut other_rp = Authenticator::new();
    other_rp.rp_id = Some("example.com".into());
    assert_refused(
        &app.finish_registration(&ann.access_token, &challenge, other_rp.register(&options))
            .await,
        "relying party id",
    );

    let mut key = Authenticator::new();
    app.add_passkey(&ann.access_token, &mut key).await;
    let mut bobs = Authenticator::new();
    app.add_passkey(&bob.access_token, &mut bobs).await;

    // Sign-in from another origin, or for another RP id.
    let (challenge, options) = app.start_login(Some("ann@example.com")).await;
    let mut wrong = key.clone();
    wrong.origin = "https://localhost.evil.example".into();
    assert_refused(
        &app.finish_login(&challenge, wrong.assert(&options)).await,
        "origin",
    );
    let (challenge, options) = app.start_login(Some("ann@example.com")).await;
    let mut wrong = key.clone();
    wrong.rp_id = Some("example.com".into());
    assert_refused(
        &app.finish_login(&challenge, wrong.assert(&options)).await,
        "relying party id",
    );

    // A challenge answers once.
    let (challenge, options) = app.start_login(Some("ann@example.com")).await;
    let assertion = key.assert(&options);
    let first = app.finish_login(&challenge, assertion.clone()).await;
    assert!(first["errors"].is_null(), "{first}");
    assert_refused(
        &app.finish_login(&challenge, assertion).await,
        "used already or has expired",
    );

    // A clone of the authenticator, its counter behind the original's.
    let mut clone = key.clone();
    for _ in 0..3 {
        let signed_in = app.passkey_login(Some("ann@example.com"), &mut key).await;
        assert!(signed_in["errors"].is_null(), "{signed_in}");
    }
    assert_refused(
        &app.passkey_login(Some("ann@example.com"), &mut clone).await,
        "counter went backwards",
    );

    // Bob's passkey answering a sign-in started with Ann's email.
    assert_refused(
        &app.passkey_login(Some("ann@example.com"), &mut bobs).await,
        "another account",
    );
    // Any passkey answering a sign-in by an email without one.
    assert_refused(
        &app.passkey_login(Some("nobody@example.com"), &mut bobs)
            .await,
        "another account",
    );

    // Not a credential at all.
    let (challenge, _) = app.start_login(None).await;
    let garbage = app.finish_login(&challenge, json!({ "id": "x" })).await;
    assert_error(&garbage, "BAD_USER_INPUT");
}

#[tokio::test]
async fn a_ceremony_started_on_one_instance_finishes_on_another() {
    let database = Arc::new(TestDatabase::create().await);
    let first = spawn_app_on(Arc::clone(&database), &[]).await;
    let second = spawn_app_on(database, &[]).await;
    let ann = first.register("ann@example.com").await;
    let mut key = Authenticator::new();
    let (challenge, options) = first.start_registration(&ann.access_token).await;
    let added = second
        .finish_registration(&ann.access_token, &challenge, key.register(&options))
        .await;
    assert!(added["errors"].is_null(), "{added}");
    let (challenge, options) = second.start_login(None).await;
    let signed_in = first.finish_login(&challenge, key.assert(&options)).await;
    assert_eq!(
        signed_in["data"]["finishPasskeyLogin"]["user"]["email"], "ann@example.com",
        "{signed_in}"
    );
}

#[tokio::test]
async fn removing_a_passkey_with_totp_on_asks_for_a_code() {
    let app = spawn_app().await;
    let enrolled = app.enrolled("ann@example.com").await;
    let token = &enrolled.session.access_token;
    let passkey = app.add_passkey(token, &mut Authenticator::new()).await;
    let id = passkey["id"].as_str().expect("id");
    assert_error(
        &app.graphql(REMOVE, json!({ "id": id }), Some(token)).await,
        "MFA_REQUIRED",
    );
    assert_error(
        &app.graphql(REMOVE, json!({ "id": id, "code": "000000" }), Some(token))
            .await,
        "INVALID_CREDENTIALS",
    );
    let removed = app
        .graphql(
            REMOVE,
            json!({ "id": id, "code": enrolled.recovery[0] }),
            Some(token),
        )
        .await;
    assert_eq!(removed["data"]["removePasskey"], true, "{removed}");
}

#[tokio::test]
async fn passkey_sign_ins_count_toward_the_per_ip_limit() {
    let app = spawn_app_with(&[("TASKQL_AUTH_RATE_LIMIT", "3/min")]).await;
    for _ in 0..3 {
        let started = app.graphql(START_LOGIN, json!({}), None).await;
        assert!(started["errors"].is_null(), "{started}");
    }
    assert_error(
        &app.graphql(START_LOGIN, json!({}), None).await,
        "RATE_LIMITED",
    );
}

#[tokio::test]
async fn a_challenge_past_its_five_minutes_is_refused() {
    use entity::passkey_challenge::{Column, Entity as PasskeyChallenges};
    use sea_orm::{Database, EntityTrait, sea_query::Expr};

    let app = spawn_app().await;
    let ann = app.register("ann@example.com").await;
    let mut key = Authenticator::new();
    app.add_passkey(&ann.access_token, &mut key).await;
    let (challenge, options) = app.start_login(None).await;
    let db = Database::connect(app.database.url.as_str())
        .await
        .expect("connect");
    let kept = PasskeyChallenges::find_by_id(uuid::Uuid::parse_str(&challenge).expect("an id"))
        .one(&db)
        .await
        .expect("read")
        .expect("kept");
    let five_minutes = kept.expires_at - chrono::Utc::now();
    assert!(
        (chrono::Duration::seconds(290)..=chrono::Duration::seconds(300)).contains(&five_minutes),
        "{five_minutes}"
    );
    PasskeyChallenges::update_many()
        .col_expr(
            Column::ExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)),
        )
        .exec(&db)
        .await
        .expect("aged");
    assert_refused(
        &app.finish_login(&challenge, key.assert(&options)).await,
        "expired",
    );
}
