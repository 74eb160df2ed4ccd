//! A second factor: TOTP with recovery codes, a two-step login, and
//! re-authentication for the changes that matter. Codes are computed here
//! from the secret the server hands out, as an authenticator app would.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use entity::totp_secret::Entity as TotpSecrets;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use taskql::auth::totp;

use crate::helpers::{
    CHANGE_PASSWORD, PASSWORD, Session, TestApp, TestDatabase, assert_bad_input, assert_error,
    spawn_app, spawn_app_on, spawn_app_with,
};

const START: &str = "mutation { startTotpSetup { secret otpauthUri qrCodeSvg } }";
const CONFIRM: &str = "mutation($code: String!) { confirmTotpSetup(code: $code) }";
const STATUS: &str = "{ twoFactor { totp recoveryCodesLeft } }";
const COMPLETE: &str = "mutation($input: CompleteLoginInput!) { completeLogin(input: $input) {
    accessToken refreshToken user { id } } }";
const REGENERATE: &str = "mutation($code: String!) { regenerateRecoveryCodes(code: $code) }";
const DISABLE: &str = "mutation($input: DisableTotpInput!) { disableTotp(input: $input) }";
const DELETE: &str = "mutation($password: String!, $code: String) { deleteAccount(password: $password, code: $code) }";

/// An account with TOTP on: its secret and recovery codes.
pub struct Enrolled {
    pub session: Session,
    pub secret: Vec<u8>,
    pub recovery: Vec<String>,
}

/// The current step, at least 5 s before it ends, so that the codes of it
/// and of the steps either side stay good for the rest of a test step.
pub async fn fresh_step() -> u64 {
    loop {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        if now % totp::STEP_SECONDS < totp::STEP_SECONDS - 5 {
            return now / totp::STEP_SECONDS;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

impl TestApp {
    async fn two_factor(&self, token: &str) -> Value {
        self.graphql(STATUS, json!({}), Some(token)).await["data"]["twoFactor"].clone()
    }

    /// Registers `email` and turns TOTP on with the code of the step before
    /// the current one (the later steps stay free for the test).
    pub async fn enrolled(&self, email: &str) -> Enrolled {
        let session = self.register(email).await;
        let setup = self
            .graphql(START, json!({}), Some(&session.access_token))
            .await;
        let setup = &setup["data"]["startTotpSetup"];
        let secret = data_encoding::BASE32_NOPAD
            .decode(setup["secret"].as_str().expect("secret").as_bytes())
            .expect("base32");
        let step = fresh_step().await;
        let confirmed = self
            .graphql(
                CONFIRM,
                json!({ "code": totp::code(&secret, step - 1) }),
                Some(&session.access_token),
            )
            .await;
        let recovery = confirmed["data"]["confirmTotpSetup"]
            .as_array()
            .unwrap_or_else(|| panic!("confirmed: {confirmed}"))
            .iter()
            .map(|code| code.as_str().expect("code").to_owned())
            .collect();
        Enrolled {
            session,
            secret,
            recovery,
        }
    }

    /// The `mfaToken` a correct login of `email` answers with.
    async fn mfa_token(&self, email: &str) -> String {
        let login = self.login(email, PASSWORD).await;
        assert_error(&login, "MFA_REQUIRED");
        assert!(login["data"].is_null(), "no tokens: {login}");
        login["errors"][0]["extensions"]["mfaToken"]
            .as_str()
            .unwrap_or_else(|| panic!("an mfaToken: {login}"))
            .to_owned()
    }

    /// Logs in with `password`, then completes the login with `code`;
    /// returns the access token.
    pub async fn sign_in_with(&self, email: &str, password: &str, code: &str) -> String {
        let login = self.login(email, password).await;
        assert_error(&login, "MFA_REQUIRED");
        let mfa_token = login["errors"][0]["extensions"]["mfaToken"]
            .as_str()
            .expect("token");
        let signed_in = self.complete(mfa_token, code).await;
        signed_in["data"]["completeLogin"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("signed in: {signed_in}"))
            .to_owned()
    }

    async fn complete(&self, mfa_token: &str, code: &str) -> Value {
        let input = json!({ "mfaToken": mfa_token, "code": code });
        self.graphql(COMPLETE, json!({ "input": input }), None)
            .await
    }
}

#[tokio::test]
async fn totp_is_set_up_with_a_current_code_and_logins_then_take_two_steps() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    assert_eq!(
        app.two_factor(&ada.access_token).await,
        json!({ "totp": false, "recoveryCodesLeft": 0 })
    );
    let setup = app.graphql(START, json!({}), Some(&ada.access_token)).await;
    let setup = &setup["data"]["startTotpSetup"];
    let uri = setup["otpauthUri"].as_str().expect("uri");
    assert!(
        uri.starts_with("otpauth://totp/taskql:ada%40example.com?secret="),
        "{uri}"
    );
    assert!(uri.contains("&issuer=taskql"), "{uri}");
    assert!(
        setup["qrCodeSvg"]
            .as_str()
            .is_some_and(|svg| svg.contains("<svg"))
    );
    let secret = data_encoding::BASE32_NOPAD
        .decode(setup["secret"].as_str().expect("secret").as_bytes())
        .expect("base32");
    let step = fresh_step().await;
    let wrong = app
        .graphql(
            CONFIRM,
            json!({ "code": totp::code(&secret, step + 5) }),
            Some(&ada.access_token),
        )
        .await;
    assert_bad_input(&wrong, "code");
    let confirmed = app
        .graphql(
            CONFIRM,
            json!({ "code": totp::code(&secret, step - 1) }),
            Some(&ada.access_token),
        )
        .await;
    let codes = confirmed["data"]["confirmTotpSetup"]
        .as_array()
        .expect("codes")
        .clone();
    assert_eq!(codes.len(), 10, "{confirmed}");
    assert_eq!(
        app.two_factor(&ada.access_token).await,
        json!({ "totp": true, "recoveryCodesLeft": 10 })
    );
    assert_error(
        &app.graphql(START, json!({}), Some(&ada.access_token)).await,
        "BAD_USER_INPUT",
    );

    let mfa_token = app.mfa_token("ada@example.com").await;
    let code = totp::code(&secret, step);
    let signed_in = app.complete(&mfa_token, &code).await;
    let session = Session::from_login(&signed_in["data"]["completeLogin"]);
    assert_eq!(
        app.me(&session.access_token).await["data"]["me"]["email"],
        "ada@example.com"
    );
    assert_eq!(session.user_id, ada.user_id);
    // The mfaToken was used up; the same code is spent; two steps ago is too old.
    assert_bad_input(
        &app.complete(&mfa_token, &totp::code(&secret, step + 1))
            .await,
        "mfaToken",
    );
    let again = app.mfa_token("ada@example.com").await;
    assert_error(&app.complete(&again, &code).await, "INVALID_CREDENTIALS");
    assert_error(
        &app.complete(&again, &totp::code(&secret, step - 2)).await,
        "INVALID_CREDENTIALS",
    );
    // A client that knows nothing of MFA sees one clear error.
    let plain = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(plain["errors"].as_array().map(Vec::len), Some(1), "{plain}");
}

#[tokio::test]
async fn each_recovery_code_works_once_and_regenerating_voids_the_old_ones() {
    let app = spawn_app().await;
    let ada = app.enrolled("ada@example.com").await;
    for (used, code) in ada.recovery.iter().take(2).enumerate() {
        let mfa_token = app.mfa_token("ada@example.com").await;
        let signed_in = app.complete(&mfa_token, code).await;
        assert!(
            signed_in["data"]["completeLogin"]["accessToken"].is_string(),
            "{signed_in}"
        );
        let left = app.two_factor(&ada.session.access_token).await["recoveryCodesLeft"].clone();
        assert_eq!(left, json!(9 - used));
        let again = app.mfa_token("ada@example.com").await;
        assert_error(&app.complete(&again, code).await, "INVALID_CREDENTIALS");
    }
    let token = &ada.session.access_token;
    let regenerated = app
        .graphql(REGENERATE, json!({ "code": ada.recovery[2] }), Some(token))
        .await;
    let fresh = regenerated["data"]["regenerateRecoveryCodes"]
        .as_array()
        .expect("codes")
        .clone();
    assert_eq!(fresh.len(), 10);
    assert_eq!(app.two_factor(token).await["recoveryCodesLeft"], 10);
    let mfa_token = app.mfa_token("ada@example.com").await;
    assert_error(
        &app.complete(&mfa_token, &ada.recovery[3]).await,
        "INVALID_CREDENTIALS",
    );
    let fresh_code = fresh[0].as_str().expect("code");
    assert!(app.complete(&mfa_token, fresh_code).await["data"]["completeLogin"].is_object());
    let kinds = app
        .graphql(
            "{ securityEvents { edges { node { kind } } } }",
            json!({}),
            Some(token),
        )
        .await
        .to_string();
    for kind in [
        "TOTP_ENABLED",
        "RECOVERY_CODE_USED",
        "RECOVERY_CODES_REGENERATED",
    ] {
        assert!(kinds.contains(kind), "{kind}: {kinds}");
    }
}

#[tokio::test]
async fn five_wrong_codes_end_the_mfa_token_and_wrong_codes_count_toward_the_lockout() {
    let app = spawn_app_with(&[("TASKQL_LOGIN_MAX_FAILURES", "7")]).await;
    let ada = app.enrolled("ada@example.com").await;
    // One login (attempt 1), then five wrong codes (attempts 2 to 6).
    let mfa_token = app.mfa_token("ada@example.com").await;
    for _ in 0..5 {
        assert_error(
            &app.complete(&mfa_token, "000000").await,
            "INVALID_CREDENTIALS",
        );
    }
    let step = fresh_step().await;
    assert_bad_input(
        &app.complete(&mfa_token, &totp::code(&ada.secret, step))
            .await,
        "mfaToken",
    );
    // Attempt 7 still logs in; attempt 8 is past the lockout.
    app.mfa_token("ada@example.com").await;
    assert_error(
        &app.login("ada@example.com", PASSWORD).await,
        "RATE_LIMITED",
    );
}

#[tokio::test]
async fn an_mfa_token_is_bound_to_its_account() {
    let app = spawn_app().await;
    let ada = app.enrolled("ada@example.com").await;
    let grace = app.enrolled("grace@example.com").await;
    let step = fresh_step().await;
    let ada_token = app.mfa_token("ada@example.com").await;
    // Grace's code does not finish Ada's login.
    assert_error(
        &app.complete(&ada_token, &totp::code(&grace.secret, step))
            .await,
        "INVALID_CREDENTIALS",
    );
    let signed_in = app
        .complete(&ada_token, &totp::code(&ada.secret, step))
        .await;
    assert_eq!(
        signed_in["data"]["completeLogin"]["user"]["id"],
        ada.session.user_id.as_str()
    );
    assert_bad_input(&app.complete("not-a-token", "123456").await, "mfaToken");
}

#[tokio::test]
async fn the_changes_that_matter_ask_for_a_current_code() {
    let app = spawn_app().await;
    let ada = app.enrolled("ada@example.com").await;
    let token = ada.session.access_token.as_str();
    let change = |code: Option<&str>| json!({ "input": { "currentPassword": PASSWORD, "newPassword": "an entirely new passphrase", "code": code } });
    assert_error(
        &app.graphql(CHANGE_PASSWORD, change(None), Some(token))
            .await,
        "MFA_REQUIRED",
    );
    assert_error(
        &app.graphql(CHANGE_PASSWORD, change(Some("000000")), Some(token))
            .await,
        "INVALID_CREDENTIALS",
    );
    let email = json!({ "input": { "newEmail": "ada@new.example", "password": PASSWORD } });
    let change_email = "mutation($input: ChangeEmailInput!) { changeEmail(input: $input) }";
    assert_error(
        &app.graphql(change_email, email, Some(token)).await,
        "MFA_REQUIRED",
    );
    assert_error(
        &app.graphql(DELETE, json!({ "password": PASSWORD }), Some(token))
            .await,
        "MFA_REQUIRED",
    );
    assert_error(
        &app.graphql(REGENERATE, json!({ "code": "000000" }), Some(token))
            .await,
        "INVALID_CREDENTIALS",
    );
    let disable = json!({ "input": { "password": PASSWORD, "code": "000000" } });
    assert_error(
        &app.graphql(DISABLE, disable, Some(token)).await,
        "INVALID_CREDENTIALS",
    );
    let wrong_password =
        json!({ "input": { "password": "not the password", "code": ada.recovery[0] } });
    assert_error(
        &app.graphql(DISABLE, wrong_password, Some(token)).await,
        "INVALID_CREDENTIALS",
    );

    // A recovery code does, for someone who lost the phone.
    let changed = app
        .graphql(CHANGE_PASSWORD, change(Some(&ada.recovery[0])), Some(token))
        .await;
    assert_eq!(changed["data"]["changePassword"], true, "{changed}");
    let token = app
        .sign_in_with(
            "ada@example.com",
            "an entirely new passphrase",
            &ada.recovery[1],
        )
        .await;
    let disable =
        json!({ "input": { "password": "an entirely new passphrase", "code": ada.recovery[2] } });
    assert_eq!(
        app.graphql(DISABLE, disable, Some(&token)).await["data"]["disableTotp"],
        true
    );
    assert_eq!(
        app.two_factor(&token).await,
        json!({ "totp": false, "recoveryCodesLeft": 0 })
    );
    let plain = app
        .login("ada@example.com", "an entirely new passphrase")
        .await;
    assert!(
        plain["data"]["login"]["accessToken"].is_string(),
        "one step again: {plain}"
    );
}

#[tokio::test]
async fn the_secret_is_sealed_in_the_database() {
    let app = spawn_app().await;
    let ada = app.enrolled("ada@example.com").await;
    let rows = TotpSecrets::find().all(&app.db).await.expect("read");
    assert_eq!(rows.len(), 1);
    let stored = &rows[0].sealed;
    let base32 = data_encoding::BASE32_NOPAD.encode(&ada.secret);
    assert!(
        !stored
            .windows(ada.secret.len())
            .any(|w| w == ada.secret.as_slice()),
        "raw secret"
    );
    assert!(
        !stored.windows(base32.len()).any(|w| w == base32.as_bytes()),
        "base32 secret"
    );
    assert!(
        stored.len() >= ada.secret.len() + 12 + 16,
        "nonce, ciphertext and tag"
    );
}

#[tokio::test]
#[ignore = "needs PostgreSQL: TASKQL_TEST_POSTGRES_URL and --include-ignored"]
async fn a_login_begun_on_one_instance_is_completed_on_another() {
    let database = Arc::new(TestDatabase::postgres_only().await);
    let one = spawn_app_on(Arc::clone(&database), &[]).await;
    let two = spawn_app_on(database, &[]).await;
    let ada = one.enrolled("ada@example.com").await;
    let mfa_token = one.mfa_token("ada@example.com").await;
    let step = fresh_step().await;
    let signed_in = two
        .complete(&mfa_token, &totp::code(&ada.secret, step))
        .await;
    let token = signed_in["data"]["completeLogin"]["accessToken"]
        .as_str()
        .expect("token");
    assert_eq!(
        one.me(token).await["data"]["me"]["email"],
        "ada@example.com"
    );
    // The step is spent on every instance.
    let again = two.mfa_token("ada@example.com").await;
    assert_error(
        &one.complete(&again, &totp::code(&ada.secret, step)).await,
        "INVALID_CREDENTIALS",
    );
}

#[tokio::test]
async fn a_reset_leaves_the_second_factor_on_and_the_owner_hears_of_recovery_codes_and_turning_it_off()
 {
    use crate::smtp::SmtpServer;
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = spawn_app_with(&[("TASKQL_SMTP_URL", &url)]).await;
    let ada = app.enrolled("ada@example.com").await;
    let mail = |subject: &'static str| {
        let smtp = &smtp;
        async move {
            for _ in 0..1000 {
                if let Some(mail) = smtp
                    .received()
                    .into_iter()
                    .find(|mail| mail.subject == subject)
                {
                    return mail;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("no mail {subject:?}: {:?}", smtp.received());
        }
    };
    app.graphql(
        "mutation($email: String!) { requestPasswordReset(email: $email) }",
        json!({ "email": "ada@example.com" }),
        None,
    )
    .await;
    let token = mail("Reset your taskql password").await.token();
    let input = json!({ "token": token, "newPassword": "an entirely new passphrase" });
    let reset = app
        .graphql(
            "mutation($input: ResetPasswordInput!) { resetPassword(input: $input) }",
            json!({ "input": input }),
            None,
        )
        .await;
    assert_eq!(reset["data"]["resetPassword"], true, "{reset}");
    // The reset left TOTP on: the login still takes a second step.
    let token = app
        .sign_in_with(
            "ada@example.com",
            "an entirely new passphrase",
            &ada.recovery[0],
        )
        .await;
    mail("A taskql recovery code was used").await;
    let disable =
        json!({ "input": { "password": "an entirely new passphrase", "code": ada.recovery[1] } });
    assert_eq!(
        app.graphql(DISABLE, disable, Some(&token)).await["data"]["disableTotp"],
        true
    );
    let off = mail("The second factor of your taskql account was turned off").await;
    assert!(!off.text.contains(&ada.recovery[1]), "no code in the mail");
}

#[tokio::test]
async fn a_secret_that_no_longer_opens_leaves_the_recovery_codes_working() {
    let database = Arc::new(TestDatabase::create().await);
    let before = spawn_app_on(Arc::clone(&database), &[]).await;
    let ada = before.enrolled("ada@example.com").await;
    // The same database under another data key.
    let after = spawn_app_on(
        database,
        &[("TASKQL_DATA_KEY", "another data key, of 32 bytes or more")],
    )
    .await;
    let step = fresh_step().await;
    let mfa_token = after.mfa_token("ada@example.com").await;
    let totp_code = after
        .complete(&mfa_token, &totp::code(&ada.secret, step))
        .await;
    assert_error(&totp_code, "INVALID_CREDENTIALS");
    let token = after
        .sign_in_with("ada@example.com", PASSWORD, &ada.recovery[0])
        .await;
    let disable = json!({ "input": { "password": PASSWORD, "code": ada.recovery[1] } });
    assert_eq!(
        after.graphql(DISABLE, disable, Some(&token)).await["data"]["disableTotp"],
        true
    );
}
