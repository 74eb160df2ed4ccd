//! A WebSocket client speaking `graphql-transport-ws`, as the `graphql-ws`
//! library does, for the subscription tests.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

use crate::helpers::{Channel, TestApp};

/// Longest a test waits for a message the server should send.
const PATIENCE: Duration = Duration::from_secs(15);

pub struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What came from the server.
#[derive(Debug)]
pub enum Received {
    Message(Value),
    Closed(u16, String),
}

impl TestApp {
    pub fn ws_url(&self) -> String {
        format!("{}/graphql/ws", self.address.replacen("http", "ws", 1))
    }

    /// A connection with no `connection_init` sent yet.
    pub async fn ws_connect(&self) -> WsClient {
        self.ws_connect_from(None).await.expect("upgraded")
    }

    /// A connection from a browser page at `origin`, or an error status.
    pub async fn ws_connect_from(&self, origin: Option<&str>) -> Result<WsClient, u16> {
        let mut request = self.ws_url().into_client_request().expect("request");
        let headers = request.headers_mut();
        headers.insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        if let Some(origin) = origin {
            headers.insert("origin", HeaderValue::from_str(origin).expect("origin"));
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((stream, _)) => Ok(WsClient { stream }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(error) => panic!("cannot connect: {error}"),
        }
    }

    /// A connection initialised with `token`, acknowledged.
    pub async fn ws_session(&self, token: &str) -> WsClient {
        let mut client = self.ws_connect().await;
        client
            .send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }))
            .await;
        let ack = client.message().await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        client
    }
}

impl TestApp {
    /// A session with `taskEvents` running under the id `id`.
    pub async fn ws_subscribed(&self, token: &str, id: &str) -> WsClient {
        let mut client = self.ws_session(token).await;
        client.subscribe(id, TASK_EVENTS).await;
        client.settle().await;
        client
    }
}

impl WsClient {
    /// Returns once everything sent before is running: the server answers a
    /// ping after it has taken the messages before it.
    pub async fn settle(&mut self) {
        self.send(json!({ "type": "ping" })).await;
        let pong = self.message().await;
        assert_eq!(pong["type"], "pong", "{pong}");
    }

    pub async fn send(&mut self, message: Value) {
        self.stream
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("sent");
    }

    pub async fn subscribe(&mut self, id: &str, query: &str) {
        self.send(json!({ "type": "subscribe", "id": id, "payload": { "query": query } }))
            .await;
    }

    /// The next protocol message or the close; pings are answered.
    pub async fn receive(&mut self) -> Received {
        // One deadline for the whole wait: the server's pings must not
        // extend it.
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .expect("the server answers in time");
            match frame {
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(&text).expect("JSON");
                    if message["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return Received::Message(message);
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|frame| (u16::from(frame.code), frame.reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Received::Closed(code, reason);
                }
                Some(Ok(_)) => {}
                // Dropped without a close frame (1006, as browsers report it).
                Some(Err(error)) => return Received::Closed(1006, error.to_string()),
                None => return Received::Closed(1006, "gone".into()),
            }
        }
    }

    /// The next text message as it came, pings included.
    pub async fn next_text(&mut self, patience: Duration) -> Value {
        loop {
            let frame = tokio::time::timeout(patience, self.stream.next())
                .await
                .expect("the server sends in time");
            if let Some(Ok(Message::Text(text))) = frame {
                return serde_json::from_str(&text).expect("JSON");
            }
            assert!(
                matches!(frame, Some(Ok(_))),
                "the connection ended: {frame:?}"
            );
        }
    }

    /// The next protocol message; a close fails the test.
    pub async fn message(&mut self) -> Value {
        match self.receive().await {
            Received::Message(message) => message,
            Received::Closed(code, reason) => panic!("closed with {code} {reason}"),
        }
    }

    /// The close code the server ends the connection with.
    pub async fn close_code(&mut self) -> u16 {
        loop {
            if let Received::Closed(code, _) = self.receive().await {
                return code;
            }
        }
    }

    /// The payload of the next `next` message of subscription `id`.
    pub async fn next_of(&mut self, id: &str) -> Value {
        let message = self.message().await;
        assert_eq!(
            (message["type"].as_str(), message["id"].as_str()),
            (Some("next"), Some(id)),
            "{message}"
        );
        message["payload"].clone()
    }
}

/// A subscription's protocol messages, pings answered; a close fails.
impl Channel for WsClient {
    type Item = Value;

    async fn next_arrival(&mut self) -> Value {
        self.message().await
    }
}

/// Whether `message` is the `next` of a task event whose task is titled
/// `title`: a marker for [`crate::helpers::assert_nothing_arrives`].
pub fn is_task_titled(message: &Value, title: &str) -> bool {
    message["type"] == "next" && message["payload"]["data"]["taskEvents"]["task"]["title"] == title
}

pub const TASK_EVENTS: &str = "subscription { taskEvents { kind taskId task { id title description completed dueAt updatedAt } } }";
