//! Starting test servers and talking to them, and the one way the suite
//! checks that something does not arrive.

use std::{fmt::Debug, sync::Arc};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use taskql::{
    app::{Application, Shutdown},
    config::Config,
};
use tempfile::TempDir;

/// The signing key of test servers, so tests can forge tokens of their own.
pub const JWT_SECRET: &str = "test-only-secret-key-of-at-least-32-bytes";
pub const PASSWORD: &str = "correct horse battery staple";

/// A database of its own for one test; dropped with the test (SQLite) or
/// left for `.ci/run` to clear (PostgreSQL).
pub struct TestDatabase {
    pub url: String,
    _dir: Option<TempDir>,
}

impl TestDatabase {
    /// The database the suite runs on: PostgreSQL when
    /// `TASKQL_TEST_POSTGRES_URL` is set, else a SQLite file.
    pub async fn create() -> Self {
        match postgres_url() {
            Some(base) => Self::postgres(&base).await,
            None => Self::sqlite(),
        }
    }

    /// A PostgreSQL database, for a test that needs one. Such a test is
    /// marked `#[ignore = "needs PostgreSQL: …"]`, so that `cargo test`
    /// reports it as ignored; CI runs it with `--include-ignored` and
    /// `TASKQL_TEST_POSTGRES_URL` set, and without the URL it fails here
    /// rather than passing without having run.
    pub async fn postgres_only() -> Self {
        let base =
            postgres_url().expect("this test needs PostgreSQL: set TASKQL_TEST_POSTGRES_URL");
        Self::postgres(&base).await
    }

    /// A SQLite file, whatever the suite runs on: for what only SQLite has.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("taskql.db").display()
        );
        Self {
            url,
            _dir: Some(dir),
        }
    }

    async fn postgres(base: &str) -> Self {
        let admin = Database::connect(base)
            .await
            .expect("TASKQL_TEST_POSTGRES_URL is set but PostgreSQL is unreachable");
        let name = format!("taskql_test_{}", uuid::Uuid::new_v4().simple());
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create test database");
        let mut url = url::Url::parse(base).expect("TASKQL_TEST_POSTGRES_URL is a URL");
        url.set_path(&name);
        Self {
            url: url.into(),
            _dir: None,
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres")
    }
}

fn postgres_url() -> Option<String> {
    std::env::var("TASKQL_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

pub struct TestApp {
    pub address: String,
    /// The metrics listener's, when `TASKQL_METRICS_LISTEN` is set.
    pub metrics_address: Option<String>,
    /// The admin listener's, when `TASKQL_ADMIN_LISTEN` is set.
    pub admin_address: Option<String>,
    pub client: reqwest::Client,
    pub db: DatabaseConnection,
    pub database: Arc<TestDatabase>,
    pub shutdown: Shutdown,
}

/// A test's server stops with the test.
impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.stop();
    }
}

/// A server with test settings: a known JWT key and cheap Argon2 costs.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// A server on PostgreSQL, for a test that needs one (see
/// [`TestDatabase::postgres_only`]).
pub async fn spawn_postgres_app() -> TestApp {
    spawn_app_on(Arc::new(TestDatabase::postgres_only().await), &[]).await
}

/// A server with test settings overridden by `vars` (`TASKQL_*` names).
pub async fn spawn_app_with(vars: &[(&str, &str)]) -> TestApp {
    spawn_app_on(Arc::new(TestDatabase::create().await), vars).await
}

/// Another server on the database of an existing one.
pub async fn spawn_app_on(database: Arc<TestDatabase>, vars: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![
        ("TASKQL_DATABASE_URL", database.url.as_str()),
        ("TASKQL_JWT_SECRET", JWT_SECRET),
        ("TASKQL_ARGON2_M_KIB", "1024"),
        ("TASKQL_ARGON2_T", "1"),
        ("TASKQL_LOG", "warn"),
        // Every test's requests come from 127.0.0.1; the tests of the limit
        // switch it on.
        ("TASKQL_AUTH_RATE_LIMIT", "off"),
    ];
    settings.extend_from_slice(vars);
    let config = Config::from_vars(settings).expect("test configuration is valid");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let application = Application::build_on(config, listener)
        .await
        .expect("the application starts");
    let address = format!("http://{}", application.local_addr().expect("address"));
    let metrics_address = application
        .metrics_addr()
        .map(|address| format!("http://{address}"));
    let admin_address = application
        .admin_addr()
        .map(|address| format!("http://{address}"));
    // The test's own connection, to look at what the server stored.
    let db = taskql::db::connect(&database.url).await.expect("connect");
    let shutdown = application.shutdown();
    tokio::spawn(application.run());
    TestApp {
        address,
        metrics_address,
        admin_address,
        client: reqwest::Client::new(),
        db,
        database,
        shutdown,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// `GET /graphql` as a browser asks for it.
    pub async fn graphiql_page(&self) -> reqwest::Response {
        self.client
            .get(self.url("/graphql"))
            .header("accept", "text/html")
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_graphql(&self, body: &Value, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.post(self.url("/graphql")).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    /// Runs an operation and returns the response body.
    pub async fn graphql(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        let body = json!({ "query": query, "variables": variables });
        let response = self.post_graphql(&body, token).await;
        assert_eq!(response.status(), 200, "GraphQL requests answer 200");
        response.json().await.expect("JSON body")
    }

    /// Runs an operation as a client whose `User-Agent` is `agent`.
    pub async fn graphql_as(
        &self,
        agent: &str,
        query: &str,
        variables: Value,
        token: Option<&str>,
    ) -> Value {
        let body = json!({ "query": query, "variables": variables });
        let mut request = self
            .client
            .post(self.url("/graphql"))
            .header("user-agent", agent)
            .json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request sent");
        assert_eq!(response.status(), 200, "GraphQL requests answer 200");
        response.json().await.expect("JSON body")
    }

    /// Logs in `email` with [`PASSWORD`] from a client called `agent`.
    pub async fn login_as(&self, agent: &str, email: &str) -> Session {
        let login = self
            .graphql_as(
                agent,
                "mutation($input: LoginInput!) { login(input: $input) {
                    accessToken refreshToken user { id } } }",
                json!({ "input": { "email": email, "password": PASSWORD } }),
                None,
            )
            .await;
        Session::from_login(&login["data"]["login"])
    }

    pub async fn signup(&self, email: &str, password: &str) -> Value {
        self.graphql(
            "mutation($input: SignupInput!) { signup(input: $input) { id email createdAt } }",
            json!({ "input": { "email": email, "password": password } }),
            None,
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Value {
        self.graphql(
            "mutation($input: LoginInput!) { login(input: $input) {
                accessToken tokenType expiresIn refreshToken user { id email } } }",
            json!({ "input": { "email": email, "password": password } }),
            None,
        )
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Value {
        self.graphql(
            "mutation($token: String!) { refreshToken(refreshToken: $token) {
                accessToken refreshToken user { email } } }",
            json!({ "token": refresh_token }),
            None,
        )
        .await
    }

    pub async fn me(&self, token: &str) -> Value {
        self.graphql("{ me { id email } }", json!({}), Some(token))
            .await
    }

    /// Signs up and logs in `email` with [`PASSWORD`].
    pub async fn register(&self, email: &str) -> Session {
        let signup = self.signup(email, PASSWORD).await;
        assert!(signup["errors"].is_null(), "signup failed: {signup}");
        let login = self.login(email, PASSWORD).await;
        Session::from_login(&login["data"]["login"])
    }
}

pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub user_id: String,
}

impl Session {
    /// The session an `AuthPayload` (with `user { id }`) starts.
    #[track_caller]
    pub fn from_login(payload: &Value) -> Self {
        let text = |field: &str| {
            payload[field]
                .as_str()
                .unwrap_or_else(|| panic!("{field} in {payload}"))
                .to_owned()
        };
        Self {
            access_token: text("accessToken"),
            refresh_token: text("refreshToken"),
            user_id: payload["user"]["id"].as_str().expect("id").to_owned(),
        }
    }
}

/// The `extensions.code` of the first error, or `None` when there is none.
pub fn error_code(response: &Value) -> Option<&str> {
    response["errors"][0]["extensions"]["code"].as_str()
}

#[track_caller]
pub fn assert_error(response: &Value, code: &str) {
    assert_eq!(
        error_code(response),
        Some(code),
        "expected {code}: {response}"
    );
}

#[track_caller]
pub fn assert_bad_input(response: &Value, field: &str) {
    assert_error(response, "BAD_USER_INPUT");
    assert_eq!(
        response["errors"][0]["extensions"]["field"].as_str(),
        Some(field),
        "expected the error to name {field}: {response}"
    );
}

pub const CHANGE_PASSWORD: &str =
    "mutation($input: ChangePasswordInput!) { changePassword(input: $input) }";

pub const CREATE_TASK: &str = "mutation($input: CreateTaskInput!) { createTask(input: $input) {
    id title description completed dueAt createdAt updatedAt } }";

impl TestApp {
    /// Creates a task from `input` and returns the response body.
    pub async fn create_task(&self, token: &str, input: Value) -> Value {
        self.graphql(CREATE_TASK, json!({ "input": input }), Some(token))
            .await
    }

    /// Creates a task titled `title` and returns its id.
    pub async fn task_id(&self, token: &str, title: &str) -> String {
        let response = self.create_task(token, json!({ "title": title })).await;
        response["data"]["createTask"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("task created: {response}"))
            .to_owned()
    }
}

/// Something a test watches arrive, one thing after another, in the order
/// it was sent: a subscription's messages, the mail of a mailbox.
pub trait Channel {
    type Item: Debug;

    /// The next thing to arrive; fails the test when nothing comes in time.
    async fn next_arrival(&mut self) -> Self::Item;
}

/// Asserts that nothing arrives on `channel` before a marker does.
///
/// Absence cannot be seen by waiting a while: whatever leaks may come after
/// any wait. So `mark` makes something that must arrive on the same channel
/// *after* anything the action under test could have sent there (a marker
/// event of the viewer's own, a marker mail: both travel in the order they
/// were made); the check waits for it, which fails when the channel is
/// deaf, and only then asserts that nothing came before it.
pub async fn assert_nothing_arrives<C: Channel>(
    channel: &mut C,
    mark: impl Future<Output = ()>,
    is_marker: impl Fn(&C::Item) -> bool,
) {
    mark.await;
    let mut before = Vec::new();
    loop {
        let item = channel.next_arrival().await;
        if is_marker(&item) {
            break;
        }
        before.push(item);
    }
    assert!(before.is_empty(), "arrived before the marker: {before:#?}");
}
