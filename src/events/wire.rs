//! Notices as `NOTIFY` payloads: the notice's own JSON with the people it is
//! for, under PostgreSQL's 8,000-byte limit. A delivery to many people
//! travels in several payloads; a task too large to travel (a long
//! description) goes without it, marked to be fetched, and each receiving
//! instance reads it from the database.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Delivery, Notice};
use crate::error::{AppError, AppResult};

/// Longest payload sent whole; PostgreSQL refuses 8,000 bytes and more.
const MAX_PAYLOAD: usize = 7_900;
/// People named in one payload: at 39 bytes each, 60 leave room for a
/// notice of a few kilobytes.
const USERS_PER_PAYLOAD: usize = 60;

#[derive(Serialize, Deserialize)]
pub struct Payload {
    pub users: Vec<Uuid>,
    pub notice: Notice,
    /// The task of a task notice was left out: read it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fetch: bool,
}

/// The payloads that carry `delivery`.
pub fn encode(delivery: &Delivery) -> AppResult<Vec<String>> {
    if matches!(delivery.notice, Notice::MaybeMissed) {
        return Err(AppError::internal("a notice of this instance alone"));
    }
    delivery
        .users
        .chunks(USERS_PER_PAYLOAD)
        .map(|users| encode_one(users, &delivery.notice))
        .collect()
}

fn encode_one(users: &[Uuid], notice: &Notice) -> AppResult<String> {
    let text = serde_json::to_string(&Payload {
        users: users.to_vec(),
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
        users: users.to_vec(),
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
            list_id: Uuid::now_v7(),
            title: Some("Title".into()),
            description: Some(Some("é".repeat(description))),
            completed: Some(false),
            due_at: Some(None),
            due_on: Some(None),
            time_zone: Some("UTC".into()),
            recurrence: Some(None),
            repeat_from: Some(crate::tasks::RepeatFrom::Due),
            priority: Some(crate::tasks::Priority::None),
            position: Some("a0".into()),
            created_at: Some(now),
            updated_at: Some(now),
            version: Some(1),
            assignee_id: Some(None),
            created_by: Some(None),
            parent_id: Some(None),
        }
    }

    fn delivery(task: &TaskRead, users: usize) -> Delivery {
        Delivery {
            users: (0..users).map(|_| Uuid::now_v7()).collect(),
            notice: Notice::Task(Box::new(TaskEvent {
                kind: TaskEventKind::Updated,
                task_id: task.id,
                list_id: task.list_id,
                task: Some(task.clone()),
                seq: 0,
            })),
        }
    }

    #[test]
    fn a_task_travels_whole_unless_it_is_too_large() {
        for (size, whole) in [(100, true), (10_000, false)] {
            let task = task(size);
            let payloads = encode(&delivery(&task, 1)).expect("encodes");
            let [text] = payloads.as_slice() else {
                panic!("one payload");
            };
            assert!(text.len() < 8_000, "{size}: {} bytes", text.len());
            let payload: Payload = serde_json::from_str(text).expect("decodes");
            let Notice::Task(event) = payload.notice else {
                panic!("a task notice");
            };
            assert_eq!(payload.fetch, !whole, "{size}");
            assert_eq!(event.task, whole.then_some(task), "{size}");
        }
    }

    #[test]
    fn many_people_are_named_over_several_payloads_each_under_the_limit() {
        let task = task(1_000);
        let delivery = delivery(&task, 500);
        let payloads = encode(&delivery).expect("encodes");
        let mut named = Vec::new();
        for text in &payloads {
            assert!(text.len() < 8_000, "{} bytes", text.len());
            let payload: Payload = serde_json::from_str(text).expect("decodes");
            assert!(!payload.fetch, "the task travels with each");
            named.extend(payload.users);
        }
        assert_eq!(named, delivery.users);
    }
}
