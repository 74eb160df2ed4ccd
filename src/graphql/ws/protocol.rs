//! The messages of `graphql-transport-ws`
//! (<https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md>), as
//! types: what a client sends, read once, and what the server sends.

use async_graphql::{Request, Response, ServerError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A message from the client.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Ping {
        #[serde(default)]
        payload: Option<Value>,
    },
    Pong {
        #[serde(default)]
        #[allow(dead_code)]
        payload: Option<Value>,
    },
    Subscribe {
        id: String,
        payload: Box<Operation>,
    },
    Complete {
        id: String,
    },
}

/// What a `subscribe` message asks to run: a GraphQL request, which may
/// name a trusted document by `documentId`.
#[derive(Deserialize)]
pub(super) struct Operation {
    #[serde(flatten)]
    pub request: Request,
    #[serde(rename = "documentId", default)]
    pub document_id: Option<String>,
}

/// A message to the client.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ServerMessage<'a> {
    ConnectionAck,
    Ping,
    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        payload: Option<Value>,
    },
    /// A result of the operation `id`.
    Next {
        id: &'a str,
        payload: &'a Response,
    },
    /// The operation `id` could not start; it ends here.
    Error {
        id: &'a str,
        payload: &'a [ServerError],
    },
    /// The operation `id` has ended.
    Complete {
        id: &'a str,
    },
}

impl ServerMessage<'_> {
    pub(super) fn text(&self) -> String {
        // Nothing in these messages fails to serialise.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The protocol's close codes, and the one of the WebSocket standard used here.
pub(super) mod close {
    pub const GOING_AWAY: u16 = 1001;
    pub const BAD_REQUEST: u16 = 4400;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const INIT_TIMEOUT: u16 = 4408;
    pub const DUPLICATE_ID: u16 = 4409;
    pub const TOO_MANY_INITS: u16 = 4429;
}
