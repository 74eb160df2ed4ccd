//! The relay between a client and async-graphql's protocol stream: what
//! comes in is admitted or refused (the subscription limit), what goes out
//! is sent with a deadline, and the connection ends with the right close
//! code when the session or the server ends.

use std::{
    borrow::Cow,
    collections::HashSet,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_graphql::{
    futures_util::{SinkExt, Stream, StreamExt, future, stream::SplitSink},
    http::WsMessage,
};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{broadcast::error::RecvError, mpsc, oneshot};

use super::{INIT_TIMEOUT, MAX_SUBSCRIPTIONS, PING_EVERY, SEND_TIMEOUT, WsState, close};
use crate::{
    error::AppError,
    events::{Notice, Subscription},
    graphql::viewer::Viewer,
};

/// A message for the client that does not come from the protocol stream.
pub(super) enum Outbound {
    Text(String),
    Close(u16, &'static str),
}

/// The ids of a connection's running subscriptions.
pub(super) type Active = Arc<Mutex<HashSet<String>>>;

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
}

/// Decides whether a client message goes on to the protocol stream: a
/// subscription beyond the limit is answered with an error instead, and a
/// second subscription under a running id closes the connection.
pub(super) fn admit(bytes: &[u8], active: &Active, outbound: &mpsc::Sender<Outbound>) -> bool {
    let Ok(Envelope { kind, id: Some(id) }) = serde_json::from_slice::<Envelope>(bytes) else {
        return true;
    };
    let mut active = active.lock().unwrap_or_else(PoisonError::into_inner);
    match kind.as_str() {
        "subscribe" if active.contains(&id) => {
            let close =
                Outbound::Close(close::DUPLICATE_ID, "Subscriber for this id already exists");
            let _ = outbound.try_send(close);
            false
        }
        "subscribe" if active.len() >= MAX_SUBSCRIPTIONS => {
            let error = crate::graphql::errors::refusal(AppError::bad_request(format!(
                "at most {MAX_SUBSCRIPTIONS} subscriptions may run on one connection"
            )));
            let message = json!({ "type": "error", "id": id, "payload": [error] });
            let _ = outbound.try_send(Outbound::Text(message.to_string()));
            false
        }
        "subscribe" => {
            active.insert(id);
            true
        }
        "complete" => {
            active.remove(&id);
            true
        }
        _ => true,
    }
}

pub(super) struct Connection {
    pub(super) sink: SplitSink<WebSocket, Message>,
    pub(super) active: Active,
    pub(super) refused: Arc<AtomicBool>,
}

impl Connection {
    /// Relays the protocol stream to the client until the connection ends;
    /// returns the close frame to send, if any.
    pub(super) async fn run(
        &mut self,
        protocol: impl Stream<Item = WsMessage>,
        injected: &mut mpsc::Receiver<Outbound>,
        proof: &mut oneshot::Receiver<Viewer>,
        state: &WsState,
    ) -> Option<(u16, Cow<'static, str>)> {
        let mut protocol = std::pin::pin!(protocol);
        let mut init_deadline = std::pin::pin!(tokio::time::sleep(INIT_TIMEOUT));
        let mut session = None;
        // Set when the session begins; its branch waits for a session.
        let mut expiry = std::pin::pin!(tokio::time::sleep(Duration::ZERO));
        let mut pings =
            tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        loop {
            tokio::select! {
                () = state.shutdown.cancelled() => {
                    return Some((close::GOING_AWAY, "the server is shutting down".into()));
                }
                () = &mut init_deadline, if session.is_none() => {
                    return Some((close::INIT_TIMEOUT, "Connection initialisation timeout".into()));
                }
                () = &mut expiry, if session.is_some() => {
                    return Some((close::FORBIDDEN, "Forbidden: the token expired".into()));
                }
                notice = next_notice(&mut session) => {
                    if notice {
                        return Some((close::FORBIDDEN, "Forbidden: the session ended".into()));
                    }
                }
                Some(message) = injected.recv() => match message {
                    Outbound::Text(text) => self.send(Message::Text(text.into())).await?,
                    Outbound::Close(code, reason) => return Some((code, reason.into())),
                },
                _ = pings.tick(), if session.is_some() => {
                    self.send(Message::Text(r#"{"type":"ping"}"#.into())).await?;
                }
                message = protocol.next() => match message? {
                    WsMessage::Text(text) => {
                        if session.is_none() && let Ok(viewer) = proof.try_recv() {
                            session = Some(state.events.subscribe(viewer.user.id));
                            let left = viewer.claimed.expires_at - chrono::Utc::now().timestamp();
                            let left = Duration::from_secs(u64::try_from(left).unwrap_or(0));
                            expiry.as_mut().reset(tokio::time::Instant::now() + left);
                        }
                        self.forget_ended(&text);
                        self.send(Message::Text(text.into())).await?;
                    }
                    // A refused `connection_init` is closed with 1002 by the
                    // protocol stream; the protocol's own code is 4403.
                    WsMessage::Close(_, _) if self.refused.load(Ordering::Relaxed) => {
                        return Some((close::FORBIDDEN, "Forbidden".into()));
                    }
                    WsMessage::Close(code, reason) => return Some((code, reason.into())),
                },
            }
        }
    }

    /// Forgets a subscription the server ended (`complete` or `error`).
    fn forget_ended(&self, text: &str) {
        if text.starts_with(r#"{"type":"next""#) {
            return;
        }
        if let Ok(Envelope { kind, id: Some(id) }) = serde_json::from_str(text)
            && matches!(kind.as_str(), "complete" | "error")
        {
            let mut active = self.active.lock().unwrap_or_else(PoisonError::into_inner);
            active.remove(&id);
        }
    }

    /// Sends `message`; `None` when the client is gone or takes too long.
    async fn send(&mut self, message: Message) -> Option<()> {
        match tokio::time::timeout(SEND_TIMEOUT, self.sink.send(message)).await {
            Ok(Ok(())) => Some(()),
            Ok(Err(_)) => None,
            Err(_) => {
                tracing::info!("closing a WebSocket whose client does not read");
                None
            }
        }
    }

    pub(super) async fn close(&mut self, code: u16, reason: Cow<'static, str>) {
        let frame = CloseFrame {
            code,
            reason: reason.as_ref().into(),
        };
        let _ = self.send(Message::Close(Some(frame))).await;
        let _ = self.sink.close().await;
    }
}

/// Waits for a notice that ends the connection's session: `true` when the
/// user's sessions ended. Never completes before the session has begun.
async fn next_notice(session: &mut Option<Subscription>) -> bool {
    let Some(subscription) = session else {
        return future::pending().await;
    };
    loop {
        match subscription.receiver.recv().await {
            Ok(notice) if matches!(*notice, Notice::SessionsEnded) => return true,
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return future::pending().await,
        }
    }
}
