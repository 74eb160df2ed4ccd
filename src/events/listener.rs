//! On PostgreSQL, each instance keeps one connection that `LISTEN`s for
//! notices and hands them to the local subscribers. When that connection
//! drops, the listener connects again and then tells every local subscriber
//! that notices may have been missed, so clients refetch instead of
//! silently missing changes.

use std::time::Duration;

use entity::task;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, sqlx::postgres::PgListener,
};
use tokio_util::sync::CancellationToken;

use super::{Events, Notice, wire::Payload};
use crate::{metrics::Metrics, tasks::fields::TaskRead};

/// Longest wait between two attempts to connect again.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Listens until `stop` is cancelled, starting with `listener` (from
/// [`listen`], so that an instance listens before it serves).
pub async fn run(
    events: Events,
    db: DatabaseConnection,
    listener: PgListener,
    metrics: Metrics,
    stop: CancellationToken,
) {
    let mut backoff = Duration::from_millis(50);
    let mut first = Some(listener);
    loop {
        let reconnected = first.is_none();
        let connected = match first.take() {
            Some(listener) => Ok(listener),
            None => tokio::select! {
                () = stop.cancelled() => return,
                listener = listen(&db) => listener,
            },
        };
        let mut listener = match connected {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for events; trying again");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = Duration::from_millis(50);
        if reconnected {
            tracing::info!("listening for events again");
            metrics.listener_reconnected();
            events.tell_all_maybe_missed();
        }
        loop {
            let received = tokio::select! {
                () = stop.cancelled() => return,
                received = listener.try_recv() => received,
            };
            match received {
                Ok(Some(notification)) => handle(&events, &db, notification.payload()).await,
                // Lost and already connected again (and listening).
                Ok(None) => {
                    tracing::warn!("the event listener's connection dropped");
                    events.tell_all_maybe_missed();
                }
                Err(error) => {
                    tracing::warn!(%error, "the event listener's connection failed");
                    break;
                }
            }
        }
    }
}

/// A connection of its own that listens for notices.
pub async fn listen(db: &DatabaseConnection) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect_with(db.get_postgres_connection_pool()).await?;
    listener.listen(super::CHANNEL).await?;
    Ok(listener)
}

async fn handle(events: &Events, db: &DatabaseConnection, payload: &str) {
    let Payload {
        users,
        mut notice,
        fetch,
    } = match serde_json::from_str(payload) {
        Ok(payload) => payload,
        Err(error) => {
            tracing::warn!(%error, "an event that does not parse");
            return;
        }
    };
    if let (Notice::Task(event), true) = (&mut notice, fetch) {
        match read(db, event.list_id, event.task_id).await {
            Some(task) => event.task = Some(task),
            // Deleted or moved since; its own notice follows.
            None => return,
        }
    }
    for user in users {
        events.deliver(user, notice.clone());
    }
}

/// A task too large to travel in a notice, as it is now, if it is still in
/// the list the notice is about (those who hear of it see that list).
async fn read(db: &DatabaseConnection, list: uuid::Uuid, id: uuid::Uuid) -> Option<TaskRead> {
    let found = task::Entity::find_by_id(id)
        .filter(task::Column::ListId.eq(list))
        .one(db)
        .await;
    found
        .map(|task| task.map(TaskRead::from))
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot read the task of an event");
            None
        })
}
