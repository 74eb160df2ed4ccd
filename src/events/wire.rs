//! Notices as `NOTIFY` payloads: JSON, under PostgreSQL's 8,000-byte limit.
//! A task too large to travel (a long description) goes as a reference,
//! and each receiving instance reads it from the database.

use chrono::{DateTime, Utc};
use entity::task;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Notice, TaskEvent, TaskEventKind};
use crate::error::{AppError, AppResult};

/// Longest payload sent whole; PostgreSQL refuses 8,000 bytes and more.
const MAX_PAYLOAD: usize = 7_900;

#[derive(Serialize, Deserialize)]
pub struct Payload {
    pub user: Uuid,
    #[serde(flatten)]
    pub notice: WireNotice,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum WireNotice {
    Task {
        kind: TaskEventKind,
        task_id: Uuid,
        /// Absent when deleted, or when too large to travel (`fetch`).
        task: Option<WireTask>,
        #[serde(default)]
        fetch: bool,
    },
    SessionsEnded,
}

#[derive(Serialize, Deserialize)]
pub struct WireTask {
    title: String,
    description: Option<String>,
    completed: bool,
    due_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

pub fn encode(user: Uuid, notice: &Notice) -> AppResult<String> {
    let notice = match notice {
        Notice::Task(event) => WireNotice::Task {
            kind: event.kind,
            task_id: event.task_id,
            task: event.task.as_ref().map(|task| WireTask {
                title: task.title.clone(),
                description: task.description.clone(),
                completed: task.completed,
                due_at: task.due_at,
                created_at: task.created_at,
                updated_at: task.updated_at,
            }),
            fetch: false,
        },
        Notice::SessionsEnded => WireNotice::SessionsEnded,
        Notice::MaybeMissed => return Err(AppError::internal("a local notice")),
    };
    let mut payload = Payload { user, notice };
    let text = serde_json::to_string(&payload).map_err(AppError::internal)?;
    if text.len() <= MAX_PAYLOAD {
        return Ok(text);
    }
    if let WireNotice::Task { task, fetch, .. } = &mut payload.notice {
        *task = None;
        *fetch = true;
    }
    serde_json::to_string(&payload).map_err(AppError::internal)
}

impl WireTask {
    /// The task as a model; the search text, which no subscriber sees, is
    /// left empty.
    pub fn into_model(self, id: Uuid, user_id: Uuid) -> task::Model {
        task::Model {
            id,
            user_id,
            title: self.title,
            description: self.description,
            completed: self.completed,
            due_at: self.due_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            search_text: String::new(),
        }
    }
}

/// The event in a task notice, once its task is at hand.
pub fn event(kind: TaskEventKind, task_id: Uuid, task: Option<task::Model>) -> TaskEvent {
    TaskEvent {
        kind,
        task_id,
        task,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(description: usize) -> task::Model {
        let now = crate::db::now();
        task::Model {
            id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            title: "Title".into(),
            description: Some("é".repeat(description)),
            completed: false,
            due_at: None,
            created_at: now,
            updated_at: now,
            search_text: String::new(),
        }
    }

    #[test]
    fn a_task_travels_whole_unless_it_is_too_large() {
        for (size, whole) in [(100, true), (10_000, false)] {
            let task = task(size);
            let notice = Notice::Task(TaskEvent {
                kind: TaskEventKind::Updated,
                task_id: task.id,
                task: Some(task),
            });
            let text = encode(Uuid::now_v7(), &notice).expect("encodes");
            assert!(text.len() < 8_000, "{size}: {} bytes", text.len());
            let payload: Payload = serde_json::from_str(&text).expect("decodes");
            let WireNotice::Task { task, fetch, .. } = payload.notice else {
                panic!("a task notice");
            };
            assert_eq!((task.is_some(), fetch), (whole, !whole), "{size}");
        }
    }
}
