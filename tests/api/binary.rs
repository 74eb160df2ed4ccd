//! The `taskql` binary itself: configuration errors, the CLI, logs and
//! graceful shutdown.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::json;

use sea_orm::{EntityTrait, PaginatorTrait};

use crate::{
    helpers::{JWT_SECRET, PASSWORD, TestDatabase},
    smtp::SmtpServer,
};

pub fn taskql() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_taskql"));
    // Only what each test sets: nothing from a developer's environment or .env.
    command.env_clear().current_dir(env!("CARGO_TARGET_TMPDIR"));
    command
}

#[test]
fn invalid_configuration_stops_the_start_naming_the_variable() {
    for (name, value) in [
        ("TASKQL_ARGON2_T", "two"),
        ("TASKQL_LISTEN", "nowhere"),
        ("TASKQL_JWT_SECRET", "too-short"),
        ("TASKQL_ACCESS_TOKEN_TTL", "a while"),
    ] {
        let output = taskql()
            .env(name, value)
            .arg("serve")
            .output()
            .expect("runs");
        assert!(!output.status.success(), "{name}={value} started");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(name), "{name}: {stderr}");
    }
}

#[test]
fn production_without_a_secret_refuses_to_start() {
    let output = taskql()
        .env("TASKQL_ENV", "production")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("TASKQL_JWT_SECRET"));
}

#[test]
fn schema_graphql_is_what_the_server_prints() {
    let output = taskql().arg("schema").output().expect("runs");
    assert!(output.status.success());
    let printed = String::from_utf8(output.stdout).expect("utf-8");
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
            .expect("schema.graphql exists");
    assert!(
        printed == checked_in,
        "schema.graphql is out of date: regenerate it with `cargo run -- schema > schema.graphql`"
    );
    assert_eq!(printed, taskql::graphql::sdl());
}

#[test]
fn admin_graphql_is_what_the_server_prints_and_shares_nothing_with_the_public_schema_but_signing_in()
 {
    let output = taskql().args(["schema", "--admin"]).output().expect("runs");
    assert!(output.status.success());
    let printed = String::from_utf8(output.stdout).expect("utf-8");
    let checked_in = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/admin.graphql"))
        .expect("admin.graphql exists");
    assert!(
        printed == checked_in,
        "admin.graphql is out of date: regenerate it with `cargo run -- schema --admin > admin.graphql`"
    );
    let public = taskql::graphql::sdl();
    for admin_only in [
        "disableUser",
        "enableUser",
        "revokeUserSessions",
        "sendPasswordReset",
        "deleteUser",
        "AdminUser",
        "Stats",
        "isAdmin",
        "disabledReason",
        "users(",
    ] {
        assert!(
            !public.contains(admin_only),
            "{admin_only} is in the public schema"
        );
    }
}

#[tokio::test]
async fn migrate_applies_reports_and_rolls_back() {
    let database = TestDatabase::create().await;
    let migrate = |args: &[&str]| {
        let output = taskql()
            .env("TASKQL_DATABASE_URL", &database.url)
            .arg("migrate")
            .args(args)
            .output()
            .expect("runs");
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8")
    };
    assert!(migrate(&["status"]).contains("Pending\tm20261123_000001_create_users"));
    migrate(&["up"]);
    let status = migrate(&["status"]);
    assert!(
        !status.contains("Pending") && status.contains("Applied"),
        "{status}"
    );
    migrate(&["down", "--num", "1"]);
    assert!(migrate(&["status"]).contains("Pending"));
    migrate(&["fresh"]);
    assert!(!migrate(&["status"]).contains("Pending"));
}

/// A server process on a free port, with its log lines collected.
pub struct Server {
    child: Child,
    pub address: String,
    /// The lines logged up to the one with the address.
    startup: Vec<String>,
    logs: std::sync::mpsc::Receiver<String>,
    /// The thread that reads the log; it ends when the process's stderr does.
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn start(database_url: &str) -> Self {
        Self::start_with(database_url, &[])
    }

    /// A server with `vars` set as well (they win over the test settings).
    pub fn start_with(database_url: &str, vars: &[(&str, &str)]) -> Self {
        let mut command = taskql();
        command
            .env("TASKQL_DATABASE_URL", database_url)
            .env("TASKQL_LISTEN", "127.0.0.1:0")
            .env("TASKQL_JWT_SECRET", JWT_SECRET)
            .env("TASKQL_ARGON2_M_KIB", "1024")
            .env("TASKQL_LOG", "debug")
            .env("TASKQL_LOG_FORMAT", "json")
            .envs(vars.iter().copied())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("starts");
        let stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let (sender, logs) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut startup = Vec::new();
        let address = loop {
            let line = logs
                .recv_timeout(Duration::from_secs(30))
                .expect("server logs its address");
            let address = line
                .split("listening on http://")
                .nth(1)
                .map(|rest| rest.split('/').next().expect("address").to_owned());
            startup.push(line);
            if let Some(address) = address {
                break address;
            }
        };
        Self {
            child,
            address,
            startup,
            logs,
            reader: Some(reader),
        }
    }

    /// Runs an operation against the server.
    pub async fn graphql(&self, query: &str, variables: serde_json::Value) -> serde_json::Value {
        self.graphql_headers(query, variables, &[]).await
    }

    /// Runs an operation with an access token.
    pub async fn graphql_with(
        &self,
        query: &str,
        variables: serde_json::Value,
        token: &str,
    ) -> serde_json::Value {
        let bearer = format!("Bearer {token}");
        self.graphql_headers(query, variables, &[("authorization", &bearer)])
            .await
    }

    /// Runs an operation with the given request headers.
    pub async fn graphql_headers(
        &self,
        query: &str,
        variables: serde_json::Value,
        headers: &[(&str, &str)],
    ) -> serde_json::Value {
        let mut request = reqwest::Client::new()
            .post(format!("http://{}/graphql", self.address))
            .json(&json!({ "query": query, "variables": variables }));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json")
    }

    /// Waits for the mail written to the log whose text holds `subject`
    /// and returns the token in it.
    pub fn logged_mail_token(&self, subject: &str) -> String {
        mail_token(self.log_until(subject).last().expect("the mail's line"))
    }

    /// Waits (at most 20 s) for a log line holding `text`, and returns it
    /// with the lines before it.
    pub fn log_until(&self, text: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self
                .logs
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("no log line holds {text:?}: {lines:#?}"));
            let found = line.contains(text);
            lines.push(line);
            if found {
                return lines;
            }
        }
    }

    /// Sends SIGTERM, waits for the exit, and returns every log line.
    pub fn stop(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        let status = self.child.wait().expect("exits");
        // Every line the process wrote has been read once the reader has
        // met the end of its stderr.
        if let Some(reader) = self.reader.take() {
            reader.join().expect("the log reader ends");
        }
        let mut lines = std::mem::take(&mut self.startup);
        lines.extend(self.logs.try_iter());
        (status, lines)
    }
}

/// A test that fails midway leaves no server behind.
impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[tokio::test]
async fn the_server_logs_request_ids_never_passwords_and_stops_gracefully() {
    let database = TestDatabase::create().await;
    let server = Server::start(&database.url);
    let client = reqwest::Client::new();
    let post = |body: serde_json::Value, token: Option<&str>| {
        let mut request = client
            .post(format!("http://{}/graphql", server.address))
            .json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.expect("sent");
            response.json::<serde_json::Value>().await.expect("json")
        }
    };
    let password = "a-very-recognisable-password-1234";
    let input = json!({ "input": { "email": "ada@example.com", "password": password } });
    let signup = "mutation($input: SignupInput!) { signup(input: $input) { id } }";
    let login = "mutation($input: LoginInput!) { login(input: $input) { accessToken } }";
    let signed_up = post(json!({ "query": signup, "variables": input }), None).await;
    assert!(signed_up["errors"].is_null(), "{signed_up}");
    let logged_in = post(json!({ "query": login, "variables": input }), None).await;
    let token = logged_in["data"]["login"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();

    // An internal failure: the client gets an id, the log gets the detail.
    let db = sea_orm::Database::connect(&database.url)
        .await
        .expect("connect");
    sea_orm::ConnectionTrait::execute_unprepared(&db, "ALTER TABLE tasks RENAME TO tasks_gone")
        .await
        .expect("break the database");
    let body = post(json!({ "query": "{ tasks { totalCount } }" }), Some(&token)).await;
    let request_id = body["errors"][0]["extensions"]["requestId"]
        .as_str()
        .expect("request id")
        .to_owned();

    let (status, logs) = server.stop();
    let detail = logs
        .iter()
        .find(|line| line.contains("internal error") && line.contains(&request_id));
    assert!(
        detail.is_some_and(|line| line.contains("tasks")),
        "the detail is logged under {request_id}: {logs:#?}"
    );
    assert!(
        status.success(),
        "graceful shutdown exits cleanly: {status}"
    );
    let all = logs.join("\n");
    assert!(
        !all.contains(password),
        "a password reached the log:\n{all}"
    );
    assert!(all.contains("shutting down"), "{all}");
    let request_lines: Vec<&String> = logs
        .iter()
        .filter(|line| line.contains(r#""path":"/graphql""#))
        .collect();
    assert!(!request_lines.is_empty(), "{all}");
    assert!(
        request_lines.iter().all(|line| line.contains("request_id")),
        "{all}"
    );
}

const SIGNUP: &str = "mutation($input: SignupInput!) { signup(input: $input) { id } }";
const REQUEST_RESET: &str = "mutation($email: String!) { requestPasswordReset(email: $email) }";
const RESET: &str = "mutation($input: ResetPasswordInput!) { resetPassword(input: $input) }";

async fn sign_up_ada(server: &Server) {
    let input = json!({ "input": { "email": "ada@example.com", "password": PASSWORD } });
    let signed_up = server.graphql(SIGNUP, input).await;
    assert!(signed_up["errors"].is_null(), "{signed_up}");
}

async fn reset_with(server: &Server, token: &str, new_password: &str) -> serde_json::Value {
    let input = json!({ "input": { "token": token, "newPassword": new_password } });
    server.graphql(RESET, input).await
}

/// With an SMTP server, the token goes into the mail and nowhere else, even
/// at the most detailed log level. (Two threads: stopping the server waits
/// for it in a blocking call, while the SMTP server of the test still
/// answers the notice mail the reset sends.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_token_sent_by_mail_never_reaches_the_log() {
    let smtp = SmtpServer::watching("Reset your taskql password").await;
    let database = TestDatabase::create().await;
    let url = smtp.url();
    let server = Server::start_with(
        &database.url,
        &[("TASKQL_SMTP_URL", &url), ("TASKQL_LOG", "trace")],
    );
    sign_up_ada(&server).await;
    server
        .graphql(REQUEST_RESET, json!({ "email": "ada@example.com" }))
        .await;
    let token = smtp.next_after(0).await.token();
    let new_password = "a-recognisable-new-passphrase";
    let reset = reset_with(&server, &token, new_password).await;
    assert_eq!(reset["data"]["resetPassword"], true, "{reset}");
    let (_, logs) = server.stop();
    let all = logs.join("\n");
    assert!(all.contains("mail sent"), "{all}");
    assert!(!all.contains(&token), "the token reached the log");
    assert!(!all.contains(new_password), "the password reached the log");
}

/// Without an SMTP server, development writes the mail to the log, loudly,
/// and the token in it works.
#[tokio::test]
async fn without_smtp_development_writes_the_mail_to_the_log() {
    let database = TestDatabase::create().await;
    let server = Server::start(&database.url);
    sign_up_ada(&server).await;
    server
        .graphql(REQUEST_RESET, json!({ "email": "ada@example.com" }))
        .await;
    let said = server.startup.join("\n");
    assert!(
        said.contains("WRITTEN TO THIS LOG"),
        "said at start: {said}"
    );
    let token = server.logged_mail_token("Reset your taskql password");
    let reset = reset_with(&server, &token, "a-recognisable-new-passphrase").await;
    assert_eq!(reset["data"]["resetPassword"], true, "{reset}");
    server.stop();
}

/// Without an SMTP server, production says no mail could be sent and makes
/// no token at all.
#[tokio::test]
async fn without_smtp_production_sends_nothing_and_logs_no_token() {
    let database = TestDatabase::create().await;
    let server = Server::start_with(&database.url, &[("TASKQL_ENV", "production")]);
    sign_up_ada(&server).await;
    let answer = server
        .graphql(REQUEST_RESET, json!({ "email": "ada@example.com" }))
        .await;
    assert_eq!(answer["data"]["requestPasswordReset"], true, "{answer}");
    server.log_until("no mail could be sent");
    let db = sea_orm::Database::connect(&database.url)
        .await
        .expect("connect");
    let tokens = entity::password_reset::Entity::find()
        .count(&db)
        .await
        .expect("count");
    assert_eq!(tokens, 0, "no token was made");
    let (_, logs) = server.stop();
    let all = logs.join("\n");
    assert!(all.contains("no mail can be sent"), "said at start: {all}");
}

/// A whole account's life at the most detailed log level: each security
/// event is written under `taskql::audit`, and no password or token of any
/// kind reaches the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accounts_life_is_audited_and_leaves_no_secret_in_the_log() {
    let smtp = SmtpServer::start().await;
    let database = TestDatabase::create().await;
    let url = smtp.url();
    let server = Server::start_with(
        &database.url,
        &[("TASKQL_SMTP_URL", &url), ("TASKQL_LOG", "trace")],
    );
    let mut secrets = vec![PASSWORD.to_owned()];
    let mut seen = 0;
    let mut next_token = async |secrets: &mut Vec<String>| {
        let token = smtp.next_after(seen).await.token();
        seen += 1;
        secrets.push(token.clone());
        token
    };
    sign_up_ada(&server).await;
    let verify = "mutation($token: String!) { verifyEmail(token: $token) }";
    let token = next_token(&mut secrets).await;
    assert_eq!(
        server.graphql(verify, json!({ "token": token })).await["data"]["verifyEmail"],
        true
    );
    let login =
        "mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken } }";
    let signed_in = server
        .graphql(
            login,
            json!({ "input": { "email": "ada@example.com", "password": PASSWORD } }),
        )
        .await;
    let access = signed_in["data"]["login"]["accessToken"]
        .as_str()
        .expect("access")
        .to_owned();
    let refresh = signed_in["data"]["login"]["refreshToken"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let renewed = server
        .graphql(
            "mutation($t: String!) { refreshToken(refreshToken: $t) { refreshToken } }",
            json!({ "t": refresh }),
        )
        .await;
    let renewed = renewed["data"]["refreshToken"]["refreshToken"]
        .as_str()
        .expect("renewed")
        .to_owned();
    secrets.extend([access.clone(), refresh, renewed.clone()]);
    let change = "mutation($input: ChangeEmailInput!) { changeEmail(input: $input) }";
    let input = json!({ "input": { "newEmail": "ada@new.example", "password": PASSWORD } });
    assert_eq!(
        server.graphql_with(change, input, &access).await["data"]["changeEmail"],
        true
    );
    // The notice to the old address and the token to the new one.
    let mails = smtp.wait_for(seen + 2).await;
    let token = mails[seen..]
        .iter()
        .find(|mail| mail.to == ["ada@new.example"])
        .expect("the token mail")
        .token();
    seen += 2;
    secrets.push(token.clone());
    assert_eq!(
        server.graphql(verify, json!({ "token": token })).await["data"]["verifyEmail"],
        true
    );
    server
        .graphql(REQUEST_RESET, json!({ "email": "ada@new.example" }))
        .await;
    let mails = smtp.wait_for(seen + 2).await;
    let token = mails[seen..]
        .iter()
        .find(|mail| mail.subject == "Reset your taskql password")
        .expect("the reset mail")
        .token();
    secrets.push(token.clone());
    let new_password = "a-recognisable-new-passphrase";
    secrets.push(new_password.to_owned());
    assert_eq!(
        reset_with(&server, &token, new_password).await["data"]["resetPassword"],
        true
    );
    server
        .graphql(
            "mutation($t: String!) { logout(refreshToken: $t) }",
            json!({ "t": renewed }),
        )
        .await;
    let (_, logs) = server.stop();
    let all = logs.join("\n");
    for secret in &secrets {
        assert!(
            !all.contains(secret.as_str()),
            "a secret reached the log: {secret}"
        );
    }
    let audited: Vec<String> = logs
        .iter()
        .filter(|line| line.contains(r#""target":"taskql::audit""#))
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|line| line["event"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        audited,
        [
            "signed_up",
            "email_verified",
            "logged_in",
            "email_change_requested",
            "email_changed",
            "password_reset_requested",
            "password_reset",
        ],
        "{all}"
    );
}

/// SIGTERM with a drain: `/readyz` answers 503 at once while requests are
/// still served; a second signal ends the process at once, drain or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_a_second_signal_exits_at_once() {
    let database = TestDatabase::create().await;
    let mut server = Server::start_with(&database.url, &[("TASKQL_SHUTDOWN_DRAIN", "60s")]);
    let get = |path: &str| reqwest::get(format!("http://{}{path}", server.address));
    assert_eq!(get("/readyz").await.expect("ready").status(), 200);
    let signal = |pid: u32| {
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill")
    };
    signal(server.child.id());
    server.log_until("draining");
    assert_eq!(get("/readyz").await.expect("answered").status(), 503);
    assert_eq!(get("/healthz").await.expect("answered").status(), 200);
    let typename = server.graphql("{ __typename }", json!({})).await;
    assert_eq!(typename["data"]["__typename"], "Query");

    let second = std::time::Instant::now();
    signal(server.child.id());
    let status = tokio::task::block_in_place(|| server.child.wait()).expect("exits");
    assert!(second.elapsed() < Duration::from_secs(20), "exited at once");
    assert!(
        !status.success(),
        "a second signal is not a clean stop: {status}"
    );
}

/// `taskql healthcheck` exits 0 while the server at TASKQL_LISTEN is
/// ready, and 1 when nothing answers there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_exits_0_when_ready_and_1_when_not() {
    let database = TestDatabase::create().await;
    let server = Server::start(&database.url);
    let check = |listen: &str| {
        taskql()
            .env("TASKQL_LISTEN", listen)
            .env("TASKQL_LOG", "warn")
            .arg("healthcheck")
            .output()
            .expect("runs")
    };
    let ready = tokio::task::block_in_place(|| check(&server.address));
    assert!(ready.status.success(), "{ready:?}");
    let address = server.address.clone();
    let port = address.rsplit(':').next().expect("port");
    let wildcard = tokio::task::block_in_place(|| check(&format!("0.0.0.0:{port}")));
    assert!(wildcard.status.success(), "asked on loopback: {wildcard:?}");
    let (status, _) = server.stop();
    assert!(status.success());
    let gone = tokio::task::block_in_place(|| check(&address));
    assert_eq!(gone.status.code(), Some(1), "{gone:?}");
}

/// The token in a mail written to the log as one JSON line.
pub fn mail_token(line: &str) -> String {
    let line: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
    let mail = line["message"].as_str().expect("a message");
    mail.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .find(|word| word.len() == 43)
        .unwrap_or_else(|| panic!("a token in {mail}"))
        .to_owned()
}
