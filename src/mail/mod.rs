//! Outgoing mail: what a mail is, how it leaves (through SMTP, or into the
//! log when no SMTP server is configured), the queue it waits in, and the
//! worker that empties the queue.
//!
//! Nothing is sent inside a request: a request puts a row in the queue
//! ([`outbox`]) and the worker ([`sender`]) turns it into a mail, so that a
//! mail survives an SMTP outage and a restart, and a request takes the same
//! time whatever happens to its mail.

pub mod letters;
pub mod outbox;
pub mod sender;

use std::sync::Arc;

use lettre::{
    AsyncTransport, Message,
    message::{Mailbox, MultiPart},
};

use crate::config::{MailSettings, Smtp, SmtpTransport};

/// A mail to one person, in plain text and HTML.
#[derive(Debug)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Why a mail did not leave.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth another try later: the server is unreachable, timed out or
    /// answered 4xx.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Trying again would fail again: the server answered 5xx, the address
    /// is malformed, or there is nowhere to send mail.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// Sends mail; cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    inner: Arc<Inner>,
}

struct Inner {
    from: Mailbox,
    transport: Transport,
}

enum Transport {
    Smtp(SmtpTransport),
    /// No SMTP server: development writes each mail to the log; production
    /// logs only that it could not be sent, since a mail may carry a token.
    Log {
        production: bool,
    },
}

impl Mailer {
    /// The mailer the settings describe; says at start where mail goes when
    /// it cannot go to an SMTP server.
    pub fn new(settings: &MailSettings, production: bool) -> Self {
        let transport = match &settings.smtp {
            Some(Smtp(smtp)) => Transport::Smtp(smtp.clone()),
            None if production => {
                tracing::warn!(
                    "TASKQL_SMTP_URL is not set: no mail can be sent, so password reset does \
                     not work"
                );
                Transport::Log { production }
            }
            None => {
                tracing::warn!(
                    "TASKQL_SMTP_URL is not set: mail is WRITTEN TO THIS LOG instead, reset \
                     tokens included (development only)"
                );
                Transport::Log { production }
            }
        };
        Self {
            inner: Arc::new(Inner {
                from: settings.from.clone(),
                transport,
            }),
        }
    }

    /// Whether mail can leave at all: without an SMTP server, production
    /// sends none, so there is no use making one (or its token).
    pub fn ready(&self) -> Result<(), SendError> {
        match self.inner.transport {
            Transport::Log { production: true } => Err(SendError::Permanent(
                "no mail could be sent: TASKQL_SMTP_URL is not set".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Hands `mail` to the SMTP server (or the log).
    pub async fn send(&self, mail: &Mail) -> Result<(), SendError> {
        self.ready()?;
        match &self.inner.transport {
            Transport::Smtp(smtp) => {
                let message = self.message(mail)?;
                smtp.send(message).await.map(drop).map_err(|error| {
                    if error.is_permanent() {
                        SendError::Permanent(error.to_string())
                    } else {
                        SendError::Transient(error.to_string())
                    }
                })
            }
            Transport::Log { .. } => {
                tracing::warn!(
                    to = %mail.to,
                    subject = %mail.subject,
                    "mail not sent (no TASKQL_SMTP_URL); here it is:\n{}",
                    mail.text
                );
                Ok(())
            }
        }
    }

    fn message(&self, mail: &Mail) -> Result<Message, SendError> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|error| SendError::Permanent(format!("bad recipient: {error}")))?;
        Message::builder()
            .from(self.inner.from.clone())
            .to(to)
            .subject(mail.subject.as_str())
            // A generated Message-ID; mail without one looks like spam.
            .message_id(None)
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|error| SendError::Permanent(format!("cannot build the mail: {error}")))
    }
}
