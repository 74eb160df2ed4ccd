//! One WebSocket connection, speaking `graphql-transport-ws` itself: the
//! `connection_init` and its token, operations run through the gateway,
//! each answered with `next` and `complete`, or with `error` when it could
//! not start; keep-alive pings; and the end of the connection with the
//! protocol's close codes when the token expires, the user's sessions end,
//! the server shuts down or the client breaks the protocol.

use std::{borrow::Cow, collections::HashMap, sync::Arc, time::Duration};

use async_graphql::{
    Data, Executor, Response,
    futures_util::{
        SinkExt, StreamExt, future,
        stream::{self, AbortHandle, BoxStream, SelectAll, SplitSink, SplitStream},
    },
};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use tokio::{sync::broadcast::error::RecvError, time::Instant};

use super::{
    INIT_TIMEOUT, MAX_SUBSCRIPTIONS, PING_EVERY, SEND_TIMEOUT, WsState, authenticate,
    protocol::{ClientMessage, Operation, ServerMessage, close},
};
use crate::{
    error::AppError,
    events::Subscription,
    graphql::{
        errors,
        gateway::{RequestId, never_ran},
        persisted::with_document,
        viewer::Authorization,
    },
};

/// What happens after a message was handled.
enum Next {
    Continue,
    /// End the connection with this close code.
    Close(u16, Cow<'static, str>),
    /// The client is gone or does not read: end without a close frame.
    Gone,
}

/// A connection whose `connection_init` passed.
struct Session {
    /// What every operation of the connection runs with: the viewer.
    data: Arc<Data>,
    /// The user's notices, for the end of the user's sessions.
    notices: Subscription,
    /// The session the token belongs to, if any.
    sid: Option<uuid::Uuid>,
}

/// The operations running on a connection.
#[derive(Default)]
struct Operations {
    /// Every operation's responses, tagged with its id; `None` once it ends.
    running: SelectAll<BoxStream<'static, (String, Option<Response>)>>,
    /// By id: how to stop it, and whether it has answered yet.
    stops: HashMap<String, (AbortHandle, bool)>,
}

pub(super) struct Connection {
    sink: SplitSink<WebSocket, Message>,
    state: WsState,
    request_id: RequestId,
}

impl Connection {
    pub(super) fn new(
        sink: SplitSink<WebSocket, Message>,
        state: WsState,
        request_id: RequestId,
    ) -> Self {
        Self {
            sink,
            state,
            request_id,
        }
    }

    /// Serves the connection until it ends, then closes it as it ended.
    pub(super) async fn run(mut self, mut incoming: SplitStream<WebSocket>) {
        let mut session: Option<Session> = None;
        let mut operations = Operations::default();
        let init_deadline = tokio::time::sleep(INIT_TIMEOUT);
        tokio::pin!(init_deadline);
        // Set when the session begins; its branch waits for a session.
        let expiry = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(expiry);
        let mut pings = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
        let shutdown = self.state.shutdown.clone();
        // Active subscriptions, as the metrics last heard.
        let active = self.state.metrics.subscriptions();
        let mut counted = 0_i64;
        let ended = loop {
            let next = tokio::select! {
                () = shutdown.cancelled() => {
                    Next::Close(close::GOING_AWAY, "the server is shutting down".into())
                }
                () = &mut init_deadline, if session.is_none() => {
                    Next::Close(close::INIT_TIMEOUT, "Connection initialisation timeout".into())
                }
                () = &mut expiry, if session.is_some() => {
                    Next::Close(close::FORBIDDEN, "Forbidden: the token expired".into())
                }
                () = sessions_end(&mut session) => {
                    Next::Close(close::FORBIDDEN, "Forbidden: the session ended".into())
                }
                _ = pings.tick(), if session.is_some() => {
                    self.send(&ServerMessage::Ping).await
                }
                Some((id, response)) = operations.running.next(), if !operations.running.is_empty() => {
                    self.answer(&mut operations, id, response).await
                }
                message = incoming.next() => match message {
                    Some(Ok(Message::Text(text))) => {
                        self.receive(text.as_bytes(), &mut session, &mut operations, &mut expiry)
                            .await
                    }
                    Some(Ok(Message::Binary(bytes))) => {
                        self.receive(&bytes, &mut session, &mut operations, &mut expiry)
                            .await
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => Next::Continue,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => Next::Gone,
                },
            };
            let running = i64::try_from(operations.stops.len()).unwrap_or(i64::MAX);
            active.inc_by(running - counted);
            counted = running;
            match next {
                Next::Continue => {}
                Next::Close(code, reason) => break Some((code, reason)),
                Next::Gone => break None,
            }
        };
        active.dec_by(counted);
        if let Some((code, reason)) = ended {
            self.close(code, reason).await;
        }
    }

    /// Handles one message of the client.
    async fn receive(
        &mut self,
        bytes: &[u8],
        session: &mut Option<Session>,
        operations: &mut Operations,
        expiry: &mut std::pin::Pin<&mut tokio::time::Sleep>,
    ) -> Next {
        let Ok(message) = serde_json::from_slice::<ClientMessage>(bytes) else {
            return Next::Close(close::BAD_REQUEST, "Invalid message received".into());
        };
        match message {
            ClientMessage::ConnectionInit { .. } if session.is_some() => Next::Close(
                close::TOO_MANY_INITS,
                "Too many initialisation requests".into(),
            ),
            ClientMessage::ConnectionInit { payload } => {
                let payload = payload.unwrap_or_default();
                let Ok(viewer) = authenticate(&self.state.accounts, &payload).await else {
                    return Next::Close(close::FORBIDDEN, "Forbidden".into());
                };
                let left = viewer.claimed.expires_at - chrono::Utc::now().timestamp();
                let left = Duration::from_secs(u64::try_from(left).unwrap_or(0));
                expiry.as_mut().reset(Instant::now() + left);
                let notices = self.state.events.subscribe(viewer.user.id);
                let sid = viewer.claimed.session;
                let mut data = Data::default();
                data.insert(Authorization::proven(viewer));
                *session = Some(Session {
                    data: Arc::new(data),
                    notices,
                    sid,
                });
                self.send(&ServerMessage::ConnectionAck).await
            }
            ClientMessage::Ping { payload } => self.send(&ServerMessage::Pong { payload }).await,
            ClientMessage::Pong { .. } => Next::Continue,
            ClientMessage::Subscribe { id, payload } => {
                let Some(session) = session else {
                    return Next::Close(close::UNAUTHORIZED, "Unauthorized".into());
                };
                if operations.stops.contains_key(&id) {
                    let reason = format!("Subscriber for {id} already exists");
                    return Next::Close(close::DUPLICATE_ID, reason.into());
                }
                if operations.stops.len() >= MAX_SUBSCRIPTIONS {
                    let refused = errors::refusal(AppError::bad_request(format!(
                        "at most {MAX_SUBSCRIPTIONS} subscriptions may run on one connection"
                    )));
                    return self
                        .send(&ServerMessage::Error {
                            id: &id,
                            payload: &[refused],
                        })
                        .await;
                }
                let Operation {
                    request,
                    document_id,
                } = *payload;
                let request = with_document(request, document_id).data(self.request_id.clone());
                let responses = self
                    .state
                    .gateway
                    .execute_stream(request, Some(Arc::clone(&session.data)));
                let tagged = {
                    let (each, last) = (id.clone(), id.clone());
                    responses
                        .map(move |response| (each.clone(), Some(response)))
                        .chain(stream::once(future::ready((last, None))))
                };
                let (tagged, stop) = stream::abortable(tagged);
                operations.running.push(tagged.boxed());
                operations.stops.insert(id, (stop, false));
                Next::Continue
            }
            ClientMessage::Complete { id } => match operations.stops.remove(&id) {
                // Confirmed, as async-graphql's server does; clients ignore it.
                Some((stop, _)) => {
                    stop.abort();
                    self.send(&ServerMessage::Complete { id: &id }).await
                }
                None => Next::Continue,
            },
        }
    }

    /// Sends what an operation answered: its first answer as `error` when
    /// the operation never ran (it did not parse, validate or pass the
    /// limits), every other as `next`, and `complete` when it has ended.
    async fn answer(
        &mut self,
        operations: &mut Operations,
        id: String,
        response: Option<Response>,
    ) -> Next {
        let Some(response) = response else {
            if operations.stops.remove(&id).is_none() {
                return Next::Continue;
            }
            return self.send(&ServerMessage::Complete { id: &id }).await;
        };
        let Some((_, answered)) = operations.stops.get_mut(&id) else {
            // Completed by the client meanwhile.
            return Next::Continue;
        };
        if !std::mem::replace(answered, true) && never_ran(&response) {
            if let Some((stop, _)) = operations.stops.remove(&id) {
                stop.abort();
            }
            let payload = &response.errors;
            return self.send(&ServerMessage::Error { id: &id, payload }).await;
        }
        let payload = &response;
        self.send(&ServerMessage::Next { id: &id, payload }).await
    }

    /// Sends `message`; the client is gone when it is closed or takes too
    /// long to take it.
    async fn send(&mut self, message: &ServerMessage<'_>) -> Next {
        let text = Message::Text(message.text().into());
        match tokio::time::timeout(SEND_TIMEOUT, self.sink.send(text)).await {
            Ok(Ok(())) => Next::Continue,
            Ok(Err(_)) => Next::Gone,
            Err(_) => {
                tracing::info!("closing a WebSocket whose client does not read");
                Next::Gone
            }
        }
    }

    async fn close(&mut self, code: u16, reason: Cow<'static, str>) {
        let frame = CloseFrame {
            code,
            reason: reason.as_ref().into(),
        };
        let send = self.sink.send(Message::Close(Some(frame)));
        let _ = tokio::time::timeout(SEND_TIMEOUT, send).await;
        let _ = self.sink.close().await;
    }
}

/// Completes when the user's sessions end (a password change, the account
/// deleted). Never completes before the session has begun.
async fn sessions_end(session: &mut Option<Session>) {
    let Some(session) = session else {
        return future::pending().await;
    };
    loop {
        match session.notices.receiver.recv().await {
            Ok(notice) if notice.ends(session.sid) => return,
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return future::pending().await,
        }
    }
}
