//! Opaque page cursors: the sort key and id of a task, signed for one viewer
//! and one ordering. A cursor that was altered, made for another ordering or
//! handed out to another user does not verify, and is refused as bad input.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

use super::order::{OrderField, Position, SortKey};
use crate::error::{AppError, AppResult};

const TAG_BYTES: usize = 16;

/// The HMAC key for cursors, derived from the token signing secret so that
/// every instance with the same secret accepts the same cursors.
#[derive(Clone)]
pub struct CursorKey(Hmac<Sha256>);

#[derive(Serialize, Deserialize)]
struct Payload {
    /// The ordering the cursor belongs to.
    o: OrderField,
    /// The sort key; absent for a task without a due date.
    #[serde(skip_serializing_if = "Option::is_none")]
    k: Option<String>,
    i: Uuid,
}

impl CursorKey {
    pub fn new(secret: &[u8]) -> Self {
        let mut derive =
            <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
        derive.update(b"taskql page cursor");
        let key = derive.finalize().into_bytes();
        Self(<Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("HMAC takes any key length"))
    }

    pub fn encode(
        &self,
        viewer: Uuid,
        field: OrderField,
        position: &Position,
    ) -> AppResult<String> {
        let k = match &position.key {
            SortKey::Time(time) => Some(time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
            SortKey::Text(text) => Some(text.clone()),
            SortKey::Number(number) => Some(number.to_string()),
            SortKey::Missing => None,
        };
        let payload = serde_json::to_vec(&Payload {
            o: field,
            k,
            i: position.id,
        })
        .map_err(AppError::internal)?;
        Ok(self.seal(viewer, &payload))
    }

    /// `payload` signed for `viewer`, as an opaque cursor.
    pub fn seal(&self, viewer: Uuid, payload: &[u8]) -> String {
        let mut bytes = payload.to_vec();
        bytes.extend_from_slice(&self.tag(viewer, payload));
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The payload of `cursor` when it was sealed for `viewer`.
    pub fn open(&self, viewer: Uuid, cursor: &str) -> Option<Vec<u8>> {
        let mut bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        let split = bytes.len().checked_sub(TAG_BYTES)?;
        let tag = bytes.split_off(split);
        self.mac(viewer, &bytes).verify_truncated_left(&tag).ok()?;
        Some(bytes)
    }

    /// The position in `cursor`, which `argument` (`after` or `before`) names.
    pub fn decode(
        &self,
        viewer: Uuid,
        field: OrderField,
        cursor: &str,
        argument: &'static str,
    ) -> AppResult<Position> {
        let invalid = || AppError::bad_input(argument, "invalid cursor");
        let payload = self.open(viewer, cursor).ok_or_else(invalid)?;
        let payload: Payload = serde_json::from_slice(&payload).map_err(|_| invalid())?;
        if payload.o != field {
            return Err(AppError::bad_input(
                argument,
                "the cursor belongs to another ordering",
            ));
        }
        let key = match (field, payload.k) {
            (OrderField::Title | OrderField::Position, Some(text)) => SortKey::Text(text),
            (OrderField::Priority, Some(number)) => {
                SortKey::Number(number.parse().map_err(|_| invalid())?)
            }
            (OrderField::DueAt, None) => SortKey::Missing,
            (_, Some(time)) => SortKey::Time(
                DateTime::parse_from_rfc3339(&time)
                    .map_err(|_| invalid())?
                    .with_timezone(&Utc),
            ),
            (_, None) => return Err(invalid()),
        };
        Ok(Position { key, id: payload.i })
    }

    fn tag(&self, viewer: Uuid, payload: &[u8]) -> [u8; TAG_BYTES] {
        let full = self.mac(viewer, payload).finalize().into_bytes();
        let mut tag = [0u8; TAG_BYTES];
        tag.copy_from_slice(&full[..TAG_BYTES]);
        tag
    }

    fn mac(&self, viewer: Uuid, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.0.clone();
        mac.update(viewer.as_bytes());
        mac.update(payload);
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position() -> Position {
        Position {
            key: SortKey::Text("Buy milk".into()),
            id: Uuid::now_v7(),
        }
    }

    #[test]
    fn a_cursor_decodes_to_its_position() {
        let key = CursorKey::new(b"secret");
        let viewer = Uuid::now_v7();
        let time = Position {
            key: SortKey::Time(crate::db::now()),
            id: Uuid::now_v7(),
        };
        let missing = Position {
            key: SortKey::Missing,
            id: Uuid::now_v7(),
        };
        for (field, position) in [
            (OrderField::Title, position()),
            (OrderField::UpdatedAt, time),
            (OrderField::DueAt, missing),
        ] {
            let cursor = key.encode(viewer, field, &position).expect("encodes");
            assert_eq!(
                key.decode(viewer, field, &cursor, "after").expect("valid"),
                position
            );
        }
    }

    #[test]
    fn foreign_and_altered_cursors_are_refused() {
        let key = CursorKey::new(b"secret");
        let viewer = Uuid::now_v7();
        let cursor = key
            .encode(viewer, OrderField::Title, &position())
            .expect("encodes");
        let mut altered = cursor.clone();
        altered.replace_range(0..1, if cursor.starts_with('A') { "B" } else { "A" });
        let cases = [
            (
                key.decode(Uuid::now_v7(), OrderField::Title, &cursor, "after"),
                "another viewer",
            ),
            (
                key.decode(viewer, OrderField::CreatedAt, &cursor, "after"),
                "another ordering",
            ),
            (
                CursorKey::new(b"other").decode(viewer, OrderField::Title, &cursor, "after"),
                "another key",
            ),
            (
                key.decode(viewer, OrderField::Title, &altered, "after"),
                "altered",
            ),
            (
                key.decode(viewer, OrderField::Title, "!!!", "after"),
                "not base64",
            ),
            (key.decode(viewer, OrderField::Title, "", "after"), "empty"),
        ];
        for (result, why) in cases {
            assert!(
                matches!(result, Err(AppError::BadUserInput { field: Some(field), .. }) if field == "after"),
                "{why}"
            );
        }
    }
}
