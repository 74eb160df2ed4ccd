//! The floor taskql's task page is measured against: `POST /graphql` with
//! any body answers the viewer's first 20 tasks, newest first, as
//! `{"data":{"tasks":{"edges":[{"node":{"id":…,"title":…}},…]}}}`, exactly the
//! bytes taskql sends for `{ tasks(first: 20) { edges { node { id title } } } }`.
//!
//! The token is verified as taskql does (HS256, `iss`, `aud`, `exp`), and
//! the query checks the account in the same statement; SQLite runs on the
//! request's own thread, one connection per runtime thread.
//!
//!   FLOOR_DATABASE=taskql.db FLOOR_LISTEN=127.0.0.1:18400 \
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

const PAGE: &str = "SELECT t.id, t.title FROM tasks t \
    WHERE t.user_id = ?1 AND EXISTS (SELECT 1 FROM users u WHERE u.id = ?1 AND u.password_version = ?2) \
    ORDER BY t.created_at DESC, t.id DESC LIMIT 20";

struct Floor {
    database: String,
    key: DecodingKey,
    validation: Validation,
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
    match page(&floor, &claims.claims) {
        Ok(edges) => {
            let body = Body {
                data: Data {
                    tasks: Connection { edges },
                },
            };
            let json = serde_json::to_vec(&body).unwrap_or_default();
            ([(header::CONTENT_TYPE, "application/json")], json).into_response()
        }
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let var = |name: &str| std::env::var(name).map_err(|_| std::io::Error::other(format!("{name} is not set")));
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
    validation.set_issuer(&["taskql"]);
    validation.set_audience(&["taskql"]);
    let floor = Floor {
        database: var("FLOOR_DATABASE")?,
        key: DecodingKey::from_secret(var("FLOOR_JWT_SECRET")?.as_bytes()),
        validation,
    };
    let app = Router::new()
        .route("/graphql", post(tasks))
        .with_state(Arc::new(floor));
    let listener = tokio::net::TcpListener::bind(var("FLOOR_LISTEN")?).await?;
    axum::serve(listener, app).await
}
