//! A real SMTP server inside the test process, on a free port: it speaks
//! SMTP through `smtp-proto` (the protocol parser of the Stalwart mail
//! server), reads each message with `mail-parser`, and keeps what arrives.
//! It can be stopped and started again on the same port (an outage), and
//! told to refuse the next messages with a reply code of the test's choice.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::helpers::Channel;
use mail_parser::MessageParser;
use smtp_proto::{
    Request,
    request::receiver::{DataReceiver, RequestReceiver},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};

/// A message the server accepted.
#[derive(Clone, Debug)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub message_id: Option<String>,
    pub text: String,
    pub html: String,
}

impl Received {
    /// The reset token the mail carries: the line of 43 URL-safe base64
    /// characters (256 bits).
    pub fn token(&self) -> String {
        self.text
            .lines()
            .map(str::trim)
            .find(|line| {
                line.len() == 43
                    && line
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
            .unwrap_or_else(|| panic!("no token in the mail: {}", self.text))
            .to_owned()
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    /// Messages offered, accepted or not.
    offered: usize,
    /// Replies to the next messages, in place of `250`.
    refusals: VecDeque<&'static str>,
    /// The subject of the mail a test watches; other mail is accepted and
    /// forgotten (not received, offered or refused).
    watched: Option<&'static str>,
}

pub struct SmtpServer {
    port: u16,
    state: Arc<Mutex<State>>,
    accepting: Option<JoinHandle<()>>,
}

impl SmtpServer {
    /// A server that keeps every mail.
    #[allow(dead_code)]
    pub async fn start() -> Self {
        Self::start_with(State::default()).await
    }

    /// A server that keeps only mail with this subject, and takes other
    /// mail (verification, notices) without a word.
    pub async fn watching(subject: &'static str) -> Self {
        Self::start_with(State {
            watched: Some(subject),
            ..State::default()
        })
        .await
    }

    /// A server that watches mail with this subject, and is down.
    pub async fn down_watching(subject: &'static str) -> Self {
        let mut server = Self::watching(subject).await;
        server.stop();
        server
    }

    async fn start_with(state: State) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let state = Arc::new(Mutex::new(state));
        let accepting = Some(tokio::spawn(accept(listener, Arc::clone(&state))));
        Self {
            port,
            state,
            accepting,
        }
    }

    /// `smtp://` URL of this server, for `TASKQL_SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Stops listening: connections are refused until [`SmtpServer::resume`].
    pub fn stop(&mut self) {
        if let Some(accepting) = self.accepting.take() {
            accepting.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn resume(&mut self) {
        self.stop();
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("bind the same port again");
        self.accepting = Some(tokio::spawn(accept(listener, Arc::clone(&self.state))));
    }

    /// Answers the next message with `reply` (such as `451 4.3.0 try later`)
    /// instead of accepting it.
    pub fn refuse_next(&self, reply: &'static str) {
        self.lock().refusals.push_back(reply);
    }

    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// How many messages were offered, accepted or refused.
    pub fn offered(&self) -> usize {
        self.lock().offered
    }

    /// Waits until `count` messages have arrived (at most 20 s) and returns
    /// them all.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{count} mail(s) expected, {} arrived",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for one more mail than `seen` and returns it.
    pub async fn next_after(&self, seen: usize) -> Received {
        self.wait_for(seen + 1).await.swap_remove(seen)
    }

    /// The mail from now on, one at a time, as a [`Channel`].
    pub fn mailbox(&self) -> Mailbox<'_> {
        Mailbox {
            server: self,
            seen: self.received().len(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("not poisoned")
    }
}

/// The mail a server receives after a point, in the order it arrives.
pub struct Mailbox<'a> {
    server: &'a SmtpServer,
    seen: usize,
}

impl Channel for Mailbox<'_> {
    type Item = Received;

    async fn next_arrival(&mut self) -> Received {
        let mail = self.server.next_after(self.seen).await;
        self.seen += 1;
        mail
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn accept(listener: TcpListener, state: Arc<Mutex<State>>) {
    // The sessions end with the listener, as they would with a server.
    let mut sessions = tokio::task::JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        sessions.spawn(session(stream, Arc::clone(&state)));
    }
}

async fn session(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    if stream
        .write_all(b"220 localhost ESMTP test\r\n")
        .await
        .is_err()
    {
        return;
    }
    let mut requests = RequestReceiver::default();
    let mut data: Option<DataReceiver> = None;
    let mut message = Vec::new();
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let Ok(read) = stream.read(&mut buffer).await else {
            return;
        };
        if read == 0 {
            return;
        }
        let mut bytes = buffer[..read].iter();
        let mut replies = String::new();
        loop {
            if let Some(receiver) = &mut data {
                if !receiver.ingest(&mut bytes, &mut message) {
                    break;
                }
                data = None;
                let reply = deliver(&state, &from, &to, &message);
                message.clear();
                replies.push_str(&reply);
                continue;
            }
            let reply = match requests.ingest(&mut bytes) {
                Ok(Request::Ehlo { .. } | Request::Helo { .. }) => "250 localhost\r\n".into(),
                Ok(Request::Mail { from: sender }) => {
                    from = sender.address.into_owned();
                    to.clear();
                    "250 2.1.0 OK\r\n".into()
                }
                Ok(Request::Rcpt { to: recipient }) => {
                    to.push(recipient.address.into_owned());
                    "250 2.1.5 OK\r\n".into()
                }
                Ok(Request::Data) => {
                    data = Some(DataReceiver::new());
                    "354 end with <CRLF>.<CRLF>\r\n".into()
                }
                Ok(Request::Rset) => {
                    to.clear();
                    "250 2.0.0 OK\r\n".into()
                }
                Ok(Request::Noop { .. }) => "250 2.0.0 OK\r\n".into(),
                Ok(Request::Quit) => {
                    replies.push_str("221 2.0.0 bye\r\n");
                    let _ = stream.write_all(replies.as_bytes()).await;
                    return;
                }
                Ok(other) => format!("502 5.5.1 {} not implemented\r\n", other.name()),
                Err(smtp_proto::Error::NeedsMoreData { .. }) => break,
                Err(error) => format!("500 5.5.2 {error}\r\n"),
            };
            replies.push_str(&reply);
        }
        if !replies.is_empty() && stream.write_all(replies.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Keeps a message that came in (unless told to refuse it) and returns the
/// reply to its end of data.
fn deliver(state: &Mutex<State>, from: &str, to: &[String], message: &[u8]) -> String {
    let mut state = state.lock().expect("not poisoned");
    let parsed = MessageParser::default()
        .parse(message)
        .expect("the mail is a parseable message");
    if state
        .watched
        .is_some_and(|watched| parsed.subject() != Some(watched))
    {
        return "250 2.0.0 queued\r\n".into();
    }
    state.offered += 1;
    if let Some(refusal) = state.refusals.pop_front() {
        return format!("{refusal}\r\n");
    }
    state.received.push(Received {
        from: from.to_owned(),
        to: to.to_vec(),
        subject: parsed.subject().unwrap_or_default().to_owned(),
        message_id: parsed.message_id().map(str::to_owned),
        text: parsed.body_text(0).unwrap_or_default().into_owned(),
        html: parsed.body_html(0).unwrap_or_default().into_owned(),
    });
    "250 2.0.0 queued\r\n".into()
}
