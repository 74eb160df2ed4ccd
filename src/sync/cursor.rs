//! Sync cursors: a place in one viewer's change log and when it was
//! issued, signed for that viewer (with the key of page cursors, in a shape
//! of its own), so that it is opaque, cannot be altered, and works for
//! nobody else.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    error::{AppError, AppResult},
    tasks::cursor::CursorKey,
};

/// What a change is about; orders changes of one position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum Rank {
    List = 0,
    Task = 1,
    RemovedTask = 2,
    RemovedList = 3,
    /// After everything at a position: the end of the log as a read saw it.
    End = 4,
}

impl From<Rank> for u8 {
    fn from(rank: Rank) -> Self {
        rank as u8
    }
}

impl TryFrom<u8> for Rank {
    type Error = &'static str;

    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Ok(match value {
            0 => Self::List,
            1 => Self::Task,
            2 => Self::RemovedTask,
            3 => Self::RemovedList,
            4 => Self::End,
            _ => return Err("no such rank"),
        })
    }
}

/// A place in a viewer's change log: changes are ordered by position,
/// then rank, then id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mark {
    pub position: i64,
    pub rank: Rank,
    pub id: Uuid,
}

impl Mark {
    /// Before every change.
    pub const START: Self = Self {
        position: -1,
        rank: Rank::End,
        id: Uuid::nil(),
    };

    /// After every change at `position` and before.
    pub fn end(position: i64) -> Self {
        Self {
            position,
            rank: Rank::End,
            id: Uuid::nil(),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    /// Position, rank, id.
    s: i64,
    r: Rank,
    i: Uuid,
    /// Issued, in milliseconds since the epoch.
    t: i64,
}

/// A cursor as a client holds it.
pub fn encode(key: &CursorKey, viewer: Uuid, mark: Mark, issued: DateTime<Utc>) -> String {
    let payload = Payload {
        s: mark.position,
        r: mark.rank,
        i: mark.id,
        t: issued.timestamp_millis(),
    };
    let bytes = serde_json::to_vec(&payload).unwrap_or_default();
    key.seal(viewer, &bytes)
}

/// What `cursor` says, when it is `viewer`'s, and when it was issued.
pub fn decode(key: &CursorKey, viewer: Uuid, cursor: &str) -> AppResult<(Mark, DateTime<Utc>)> {
    let invalid = || AppError::bad_input("since", "invalid cursor");
    let bytes = key.open(viewer, cursor).ok_or_else(invalid)?;
    let payload: Payload = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let issued = DateTime::from_timestamp_millis(payload.t).ok_or_else(invalid)?;
    Ok((
        Mark {
            position: payload.s,
            rank: payload.r,
            id: payload.i,
        },
        issued,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_is_its_viewers_and_unaltered() {
        let key = CursorKey::new(b"secret");
        let viewer = Uuid::now_v7();
        let mark = Mark {
            position: 42,
            rank: Rank::Task,
            id: Uuid::now_v7(),
        };
        let now =
            DateTime::from_timestamp_millis(crate::db::now().timestamp_millis()).expect("a time");
        let cursor = encode(&key, viewer, mark, now);
        assert_eq!(decode(&key, viewer, &cursor).ok(), Some((mark, now)));
        assert!(
            decode(&key, Uuid::now_v7(), &cursor).is_err(),
            "another viewer"
        );
        assert!(decode(&CursorKey::new(b"other"), viewer, &cursor).is_err());
        let mut altered = cursor.into_bytes();
        altered[3] ^= 1;
        let altered = String::from_utf8(altered).expect("text");
        assert!(decode(&key, viewer, &altered).is_err(), "altered");
        assert!(decode(&key, viewer, "not a cursor").is_err());
    }

    #[test]
    fn marks_order_by_position_then_rank_then_id() {
        let id = Uuid::now_v7();
        let at = |position, rank| Mark { position, rank, id };
        assert!(Mark::START < at(0, Rank::List));
        assert!(at(3, Rank::RemovedList) < at(4, Rank::List));
        assert!(at(4, Rank::List) < at(4, Rank::Task));
        assert!(at(4, Rank::RemovedList) < Mark::end(4));
    }
}
