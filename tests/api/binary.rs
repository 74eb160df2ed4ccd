//! The `taskql` binary itself: configuration errors, the CLI, logs and
//! graceful shutdown.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::json;

use crate::helpers::{JWT_SECRET, TestDatabase};

fn taskql() -> Command {
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
struct Server {
    child: Child,
    address: String,
    logs: std::sync::mpsc::Receiver<String>,
}

impl Server {
    fn start(database_url: &str) -> Self {
        let mut child = taskql()
            .env("TASKQL_DATABASE_URL", database_url)
            .env("TASKQL_LISTEN", "127.0.0.1:0")
            .env("TASKQL_JWT_SECRET", JWT_SECRET)
            .env("TASKQL_ARGON2_M_KIB", "1024")
            .env("TASKQL_LOG", "debug")
            .env("TASKQL_LOG_FORMAT", "json")
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts");
        let stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let (sender, logs) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let address = loop {
            let line = logs
                .recv_timeout(Duration::from_secs(30))
                .expect("server logs its address");
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.split('/').next().expect("address").to_owned();
            }
        };
        Self {
            child,
            address,
            logs,
        }
    }

    /// Sends SIGTERM, waits for the exit, and returns every log line.
    fn stop(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        let status = self.child.wait().expect("exits");
        (status, self.logs.try_iter().collect())
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
    sea_orm::ConnectionTrait::execute_unprepared(&db, "DROP TABLE tasks")
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
        .filter(|line| line.contains("/graphql"))
        .collect();
    assert!(!request_lines.is_empty(), "{all}");
    assert!(
        request_lines.iter().all(|line| line.contains("request_id")),
        "{all}"
    );
}
