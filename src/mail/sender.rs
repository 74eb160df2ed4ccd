//! The worker that empties the outbox: it takes one due mail at a time,
//! has it composed (a reset mail gets its token now), sends it, and then
//! removes it, or puts it back to try again later when the failure may pass.

use std::{future::Future, time::Duration};

use tokio_util::sync::CancellationToken;

use super::{
    Mail, Mailer, SendError,
    outbox::{Kind, Outbox, Queued},
};
use tracing::Instrument;

use crate::{db::StoredByName, error::AppResult, metrics::Metrics, telemetry};

/// The longest the worker sleeps before it looks at the queue again, for
/// mail queued by another instance.
const POLL: Duration = Duration::from_secs(5);

/// Makes the mail a queued row stands for.
pub trait Compose: Send + Sync {
    /// The mail `queued` stands for (of `kind`), made at the moment it is
    /// sent; `None` when there is nothing to send (no account has that
    /// address, or a newer mail makes this one pointless).
    fn compose(
        &self,
        kind: Kind,
        queued: &Queued,
    ) -> impl Future<Output = AppResult<Option<Mail>>> + Send;
}

/// Sends queued mail until `stop` is cancelled; a mail being sent when it
/// is cancelled is finished first.
pub async fn run(
    outbox: Outbox,
    mailer: Mailer,
    compose: impl Compose,
    metrics: Metrics,
    stop: CancellationToken,
) {
    loop {
        while !stop.is_cancelled() {
            match outbox.take().await {
                Ok(Some(queued)) => {
                    let span = tracing::debug_span!(
                        "mail delivery",
                        mail.kind = queued.kind.map(StoredByName::stored_name),
                        mail.attempt = queued.attempts,
                    );
                    telemetry::continue_trace(&span, queued.traceparent.as_deref());
                    deliver(&outbox, &mailer, &compose, &metrics, &queued)
                        .instrument(span)
                        .await;
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(?error, "cannot read the mail queue");
                    break;
                }
            }
        }
        let wait = match outbox.next_due_in().await {
            Ok(due) => due.map_or(POLL, |due| due.min(POLL)),
            Err(error) => {
                tracing::warn!(?error, "cannot read the mail queue");
                POLL
            }
        };
        tokio::select! {
            () = stop.cancelled() => return,
            () = outbox.woken() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

async fn deliver(
    outbox: &Outbox,
    mailer: &Mailer,
    compose: &impl Compose,
    metrics: &Metrics,
    queued: &Queued,
) {
    let mail = queued.id;
    let attempts = queued.attempts;
    let Some(kind) = queued.kind else {
        tracing::error!(%mail, "queued mail of an unknown kind: dropped");
        return finish(outbox, queued).await;
    };
    if let Err(reason) = mailer.ready() {
        tracing::error!(%mail, ?kind, %reason, "mail not sent");
        return finish(outbox, queued).await;
    }
    let composed = match compose.compose(kind, queued).await {
        Ok(Some(composed)) => composed,
        Ok(None) => {
            tracing::debug!(%mail, ?kind, "nothing to send (no such account)");
            return finish(outbox, queued).await;
        }
        Err(error) => {
            tracing::warn!(%mail, ?kind, ?error, "cannot compose the mail");
            return retry(outbox, queued).await;
        }
    };
    match mailer.send(&composed).await {
        Ok(()) => {
            tracing::info!(%mail, ?kind, attempts, "mail sent");
            metrics.mail_sent("sent");
            finish(outbox, queued).await;
        }
        Err(SendError::Transient(reason)) => {
            tracing::warn!(%mail, ?kind, attempts, %reason, "mail not sent; will try again");
            metrics.mail_sent("retry");
            retry(outbox, queued).await;
        }
        Err(SendError::Permanent(reason)) => {
            tracing::error!(%mail, ?kind, attempts, %reason, "mail not sent; giving up");
            metrics.mail_sent("given_up");
            finish(outbox, queued).await;
        }
    }
}

async fn finish(outbox: &Outbox, queued: &Queued) {
    if let Err(error) = outbox.done(queued).await {
        // Its lease runs out and it is taken again: sent twice, never lost.
        tracing::warn!(mail = %queued.id, ?error, "cannot remove a mail from the queue");
    }
}

async fn retry(outbox: &Outbox, queued: &Queued) {
    match outbox.retry_later(queued).await {
        Ok(wait) => tracing::debug!(mail = %queued.id, ?wait, "next attempt"),
        Err(error) => tracing::warn!(mail = %queued.id, ?error, "cannot put a mail back"),
    }
}
