//! Notices as `NOTIFY` payloads: the notice's own JSON with its user, under
//! PostgreSQL's 8,000-byte limit. A task too large to travel (a long
//! description) goes without it, marked to be fetched, and each receiving
//! instance reads it from the database.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Notice;
use crate::error::{AppError, AppResult};

/// Longest payload sent whole; PostgreSQL refuses 8,000 bytes and more.
const MAX_PAYLOAD: usize = 7_900;

#[derive(Serialize, Deserialize)]
pub struct Payload {
    pub user: Uuid,
    pub notice: Notice,
    /// The task of a task notice was left out: read it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fetch: bool,
}

pub fn encode(user: Uuid, notice: &Notice) -> AppResult<String> {
    if matches!(notice, Notice::MaybeMissed) {
        return Err(AppError::internal("a notice of this instance alone"));
    }
    let text = serde_json::to_string(&Payload {
        user,
        notice: notice.clone(),
        fetch: false,
    })
    .map_err(AppError::internal)?;
    if text.len() <= MAX_PAYLOAD {
        return Ok(text);
    }
    let mut notice = notice.clone();
    if let Notice::Task(event) = &mut notice {
        event.task = None;
    }
    serde_json::to_string(&Payload {
        user,
        notice,
        fetch: true,
    })
    .map_err(AppError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        events::{TaskEvent, TaskEventKind},
        tasks::fields::TaskRead,
    };

    fn task(description: usize) -> TaskRead {
        let now = crate::db::now();
        TaskRead {
            id: Uuid::now_v7(),
            title: Some("Title".into()),
            description: Some(Some("é".repeat(description))),
            completed: Some(false),
            due_at: Some(None),
            created_at: Some(now),
            updated_at: Some(now),
        }
    }

    #[test]
    fn a_task_travels_whole_unless_it_is_too_large() {
        for (size, whole) in [(100, true), (10_000, false)] {
            let task = task(size);
            let notice = Notice::Task(TaskEvent {
                kind: TaskEventKind::Updated,
                task_id: task.id,
                task: Some(task.clone()),
            });
            let text = encode(Uuid::now_v7(), &notice).expect("encodes");
            assert!(text.len() < 8_000, "{size}: {} bytes", text.len());
            let payload: Payload = serde_json::from_str(&text).expect("decodes");
            let Notice::Task(event) = payload.notice else {
                panic!("a task notice");
            };
            assert_eq!(payload.fetch, !whole, "{size}");
            assert_eq!(event.task, whole.then_some(task), "{size}");
        }
    }
}
