//! GraphQL over WebSocket at `/graphql/ws`: the `graphql-transport-ws`
//! protocol of the `graphql-ws` client library (Apollo Client, urql and
//! GraphiQL use it), run through the same [`Gateway`] as HTTP.
//!
//! The transport speaks the protocol itself ([`connection`]) rather than
//! through async-graphql's `WebSocket` stream, which closes a refused
//! `connection_init` with `1002` (clients take it for a protocol fault and
//! retry), has no init timeout and answers an operation that cannot start
//! with `next` instead of `error`. Here: the access token checked in
//! `connection_init` (`4403` when missing or invalid), `4408` when no
//! `connection_init` comes within 10 s, `4403` as soon as the token expires
//! or the user's sessions end, `1001` when the server shuts down,
//! keep-alive pings, at most 20 subscriptions per connection, `error` for
//! an operation refused before it starts, and a client that does not read
//! its messages is dropped rather than buffered.

mod connection;
mod protocol;

use std::{sync::Arc, time::Duration};

use async_graphql::futures_util::StreamExt;
use axum::{
    extract::{State, WebSocketUpgrade, ws::WebSocket},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::Value;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{
    gateway::{Gateway, RequestId},
    http::REQUEST_ID_HEADER,
    viewer::Viewer,
};
use crate::{
    accounts::Accounts, config::Origin, error::AppError, events::Events,
    http_policy::MAX_BODY_BYTES, metrics::Metrics,
};
use connection::Connection;

const PROTOCOL: &str = "graphql-transport-ws";
/// Longest wait for `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle connection is pinged, so that proxies keep it open.
const PING_EVERY: Duration = Duration::from_secs(15);
/// Longest a message may wait for the client to take it.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// What a connection reserves for reading: client messages are small, and
/// the buffer grows for a larger one. At 4 KiB, 10,000 idle connections
/// held 34 MiB more.
const READ_BUFFER_BYTES: usize = 1024;
/// Most subscriptions one connection may hold at once.
pub const MAX_SUBSCRIPTIONS: usize = 20;

/// What the WebSocket route needs.
#[derive(Clone)]
pub struct WsState {
    pub gateway: Gateway,
    pub accounts: Accounts,
    pub events: Events,
    /// Browser origins allowed besides the server's own.
    pub origins: Arc<[Origin]>,
    /// Cancelled when the server shuts down.
    pub shutdown: CancellationToken,
    /// Where connections are tracked, so a shutdown waits for them.
    pub connections: TaskTracker,
    pub metrics: Metrics,
}

/// `GET /graphql/ws`: upgrades a request that speaks the protocol and comes
/// from no browser, from the server's own page, or from an allowed origin.
pub async fn upgrade(
    State(state): State<WsState>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let offered = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|protocol| protocol.trim().eq_ignore_ascii_case(PROTOCOL));
    if !offered {
        return (
            StatusCode::BAD_REQUEST,
            "subscriptions speak the graphql-transport-ws protocol",
        )
            .into_response();
    }
    if !origin_allowed(&headers, &state.origins) {
        return (StatusCode::FORBIDDEN, "this origin may not subscribe").into_response();
    }
    let request_id = headers
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    upgrade
        .protocols([PROTOCOL])
        // Client messages are small; the HTTP body limit bounds them too.
        .max_message_size(MAX_BODY_BYTES)
        .max_frame_size(MAX_BODY_BYTES)
        // Buffers sized for small messages keep an idle connection cheap.
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .on_upgrade(move |socket| {
            let connections = state.connections.clone();
            connections.track_future(connection(socket, state, RequestId(request_id)))
        })
}

/// Browsers send `Origin` and let any page open a WebSocket anywhere (CORS
/// does not apply), so the origin is checked here: the server's own, or one
/// of `TASKQL_CORS_ORIGINS`. Clients that are not browsers send none.
fn origin_allowed(headers: &HeaderMap, allowed: &[Origin]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let own = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .is_some_and(|host| {
            origin
                .split_once("://")
                .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
        });
    own || allowed.iter().any(|allowed| allowed.as_str() == origin)
}

async fn connection(socket: WebSocket, state: WsState, request_id: RequestId) {
    let open = state.metrics.websocket_connections();
    open.inc();
    let (sink, incoming) = socket.split();
    Connection::new(sink, state, request_id).run(incoming).await;
    open.dec();
}

/// The viewer the `connection_init` payload's token speaks for:
/// `{"authorization": "Bearer <token>"}`, or the bare token.
async fn authenticate(accounts: &Accounts, payload: &Value) -> Result<Viewer, AppError> {
    let value = payload
        .as_object()
        .and_then(|fields| {
            fields
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        })
        .and_then(|(_, value)| value.as_str())
        .ok_or(AppError::Unauthenticated)?;
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => value.trim(),
    };
    Viewer::prove(accounts, accounts.verify_token(token)?).await
}
