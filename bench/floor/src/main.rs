//! The floor taskql's task page is measured against: `POST /graphql` with
//! any body answers the first 20 tasks of the lists the viewer is in, newest first, as
//! `{"data":{"tasks":{"edges":[{"node":{"id":…,"title":…}},…]}}}`, exactly the
//! bytes taskql sends for `{ tasks(first: 20) { edges { node { id title } } } }`.
//!
//! The token is verified as taskql does (HS256, `iss`, `aud`, `exp`), and
//! the query checks the account in the same statement. SQLite runs on the
//! request's own thread, one connection per runtime thread; PostgreSQL
//! through tokio-postgres, a prepared statement on each of a few pipelined
//! connections.
//!
//!   FLOOR_DATABASE=taskql.db (or postgres://…) FLOOR_LISTEN=127.0.0.1:18400 \
//!   FLOOR_JWT_SECRET=… taskql-floor

use std::{cell::RefCell, sync::Arc};

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

// The first page of each of the viewer's lists, each a walk of that list's
// index, then the first of them all: what a hand-written program asks for
// the newest tasks across lists.
const PAGE: &str = "SELECT t.id, t.title FROM tasks t \
    WHERE t.id IN (SELECT p.id FROM list_members m JOIN tasks p ON p.id IN \
        (SELECT i.id FROM tasks i WHERE i.list_id = m.list_id \
         ORDER BY i.created_at DESC, i.id DESC LIMIT 20) \
        WHERE m.user_id = ?1) \
    AND EXISTS (SELECT 1 FROM users u WHERE u.id = ?1 AND u.password_version = ?2) \
    ORDER BY t.created_at DESC, t.id DESC LIMIT 20";

const PG_PAGE: &str = "SELECT p.id, p.title FROM list_members m CROSS JOIN LATERAL \
    (SELECT i.id, i.title, i.created_at FROM tasks i WHERE i.list_id = m.list_id \
     ORDER BY i.created_at DESC, i.id DESC LIMIT 20) p \
    WHERE m.user_id = $1 AND EXISTS (SELECT 1 FROM users u WHERE u.id = $1 AND u.password_version = $2) \
    ORDER BY p.created_at DESC, p.id DESC LIMIT 20";
/// PostgreSQL connections, as many as taskql's pool has on two cores.
const PG_CONNECTIONS: usize = 4;

struct Floor {
    database: String,
    postgres: Vec<(tokio_postgres::Client, tokio_postgres::Statement)>,
    next: std::sync::atomic::AtomicUsize,
    key: DecodingKey,
    validation: Validation,
}

async fn pg_page(floor: &Floor, claims: &Claims) -> Result<Vec<Edge>, tokio_postgres::Error> {
    let turn = floor.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (client, statement) = &floor.postgres[turn % floor.postgres.len()];
    let password_version = i32::try_from(claims.pwv).unwrap_or(i32::MAX);
    let rows = client.query(statement, &[&claims.sub, &password_version]).await?;
    Ok(rows
        .iter()
        .map(|row| Edge {
            node: Node {
                id: row.get::<_, uuid::Uuid>(0).to_string(),
                title: row.get(1),
            },
        })
        .collect())
}

#[derive(Deserialize)]
struct Claims {
    sub: uuid::Uuid,
    pwv: i64,
}

#[derive(Serialize)]
struct Body {
    data: Data,
}
#[derive(Serialize)]
struct Data {
    tasks: Connection,
}
#[derive(Serialize)]
struct Connection {
    edges: Vec<Edge>,
}
#[derive(Serialize)]
struct Edge {
    node: Node,
}
#[derive(Serialize)]
struct Node {
    id: String,
    title: String,
}

thread_local! {
    static CONNECTION: RefCell<Option<rusqlite::Connection>> = const { RefCell::new(None) };
}

fn page(floor: &Floor, claims: &Claims) -> rusqlite::Result<Vec<Edge>> {
    CONNECTION.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            let connection = rusqlite::Connection::open(&floor.database)?;
            connection.busy_timeout(std::time::Duration::from_secs(5))?;
            *cell = Some(connection);
        }
        let Some(connection) = cell.as_ref() else {
            unreachable!("opened above")
        };
        let mut statement = connection.prepare_cached(PAGE)?;
        let rows = statement.query_map((claims.sub.as_bytes().as_slice(), claims.pwv), |row| {
            let id: [u8; 16] = row.get(0)?;
            Ok(Edge {
                node: Node {
                    id: uuid::Uuid::from_bytes(id).to_string(),
                    title: row.get(1)?,
                },
            })
        })?;
        rows.collect()
    })
}

async fn tasks(State(floor): State<Arc<Floor>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let Some(claims) = token
        .and_then(|token| jsonwebtoken::decode::<Claims>(token, &floor.key, &floor.validation).ok())
    else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let edges = if floor.postgres.is_empty() {
        page(&floor, &claims.claims).map_err(|error| error.to_string())
    } else {
        pg_page(&floor, &claims.claims).await.map_err(|error| error.to_string())
    };
    match edges {
        Ok(edges) => {
            let body = Body {
                data: Data {
                    tasks: Connection { edges },
                },
            };
            let json = serde_json::to_vec(&body).unwrap_or_default();
            ([(header::CONTENT_TYPE, "application/json")], json).into_response()
        }
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error).into_response(),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let var = |name: &str| std::env::var(name).map_err(|_| std::io::Error::other(format!("{name} is not set")));
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
    validation.set_issuer(&["taskql"]);
    validation.set_audience(&["taskql"]);
    let database = var("FLOOR_DATABASE")?;
    let mut postgres = Vec::new();
    if database.starts_with("postgres") {
        for _ in 0..PG_CONNECTIONS {
            let (client, connection) = tokio_postgres::connect(&database, tokio_postgres::NoTls)
                .await
                .map_err(std::io::Error::other)?;
            tokio::spawn(connection);
            let statement = client.prepare(PG_PAGE).await.map_err(std::io::Error::other)?;
            postgres.push((client, statement));
        }
    }
    let floor = Floor {
        database,
        postgres,
        next: std::sync::atomic::AtomicUsize::new(0),
        key: DecodingKey::from_secret(var("FLOOR_JWT_SECRET")?.as_bytes()),
        validation,
    };
    let app = Router::new()
        .route("/graphql", post(tasks))
        .with_state(Arc::new(floor));
    let listener = tokio::net::TcpListener::bind(var("FLOOR_LISTEN")?).await?;
    axum::serve(listener, app).await
}
