//! GraphQL over WebSocket at `/graphql/ws`: the `graphql-transport-ws`
//! protocol of the `graphql-ws` client library (Apollo Client, urql and
//! GraphiQL use it), run through the same [`Gateway`] as HTTP.
//!
//! async-graphql's `WebSocket` stream speaks the protocol; this transport
//! wraps it to give what that stream lacks: the access token checked in
//! `connection_init` (`4403` when missing or invalid, where the stream would
//! close with `1002`, which clients take for a protocol fault and retry),
//! `4408` when no `connection_init` comes within 10 s, `4403` as soon as the
//! token expires or the user's sessions end, `1001` when the server shuts
//! down, keep-alive pings, at most 20 subscriptions per connection, and a
//! client that does not read its messages is dropped rather than buffered.

mod relay;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_graphql::{
    Data,
    futures_util::{StreamExt, future},
    http::{WebSocket as GraphqlWebSocket, WebSocketProtocols},
};
use axum::{
    extract::{
        State, WebSocketUpgrade,
        ws::{Message, WebSocket},
    },
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{
    gateway::{Gateway, RequestId},
    http::REQUEST_ID_HEADER,
    viewer::{Authorization, Viewer},
};
use crate::{
    accounts::Accounts, config::Origin, error::AppError, events::Events,
    http_policy::MAX_BODY_BYTES,
};
use relay::{Active, Connection, Outbound, admit};

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

/// The protocol's close codes, and the one of the WebSocket standard used here.
mod close {
    pub const GOING_AWAY: u16 = 1001;
    pub const FORBIDDEN: u16 = 4403;
    pub const INIT_TIMEOUT: u16 = 4408;
    pub const DUPLICATE_ID: u16 = 4409;
}

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
    let (sink, stream) = socket.split();
    let active = Active::default();
    let (outbound, mut injected) = mpsc::channel::<Outbound>(MAX_SUBSCRIPTIONS + 1);
    let input = {
        let active = Arc::clone(&active);
        stream
            .take_while(|message| future::ready(message.is_ok()))
            .filter_map(move |message| {
                let admitted = match message {
                    Ok(Message::Text(text)) => {
                        admit(text.as_bytes(), &active, &outbound).then(|| text.as_bytes().to_vec())
                    }
                    Ok(Message::Binary(bytes)) => {
                        admit(&bytes, &active, &outbound).then(|| bytes.to_vec())
                    }
                    _ => None,
                };
                future::ready(admitted)
            })
    };
    let refused = Arc::new(AtomicBool::new(false));
    let (proven, mut proof) = oneshot::channel::<Viewer>();
    let on_init = {
        let accounts = state.accounts.clone();
        let refused = Arc::clone(&refused);
        move |payload: Value| async move {
            let Ok(viewer) = authenticate(&accounts, &payload).await else {
                refused.store(true, Ordering::Relaxed);
                return Err(async_graphql::Error::new("Forbidden"));
            };
            let mut data = Data::default();
            data.insert(request_id);
            data.insert(Authorization::proven(viewer.clone()));
            // The connection reads it once the acknowledgement goes out.
            let _ = proven.send(viewer);
            Ok(data)
        }
    };
    let protocol =
        GraphqlWebSocket::new(state.gateway.clone(), input, WebSocketProtocols::GraphQLWS)
            .on_connection_init(on_init);
    let mut connection = Connection {
        sink,
        active,
        refused,
    };
    let ended = connection
        .run(protocol, &mut injected, &mut proof, &state)
        .await;
    if let Some((code, reason)) = ended {
        connection.close(code, reason).await;
    }
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
