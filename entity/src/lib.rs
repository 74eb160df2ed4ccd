//! SeaORM entities of taskql: one module per table, nothing but the data model.
//!
//! The GraphQL types live in the server crate; keeping this crate free of them
//! lets the migration crate and tools use the model without the web stack.

pub mod calendar_feed;
pub mod comment;
pub mod completion;
pub mod email_token;
pub mod external_login;
pub mod identity;
pub mod label;
pub mod list_invitation;
pub mod list_member;
pub mod mail_outbox;
pub mod mfa_challenge;
pub mod passkey;
pub mod passkey_challenge;
pub mod password_reset;
pub mod rate_counter;
pub mod recovery_code;
pub mod refresh_token;
pub mod reminder;
pub mod security_event;
pub mod session;
pub mod task;
pub mod task_label;
pub mod task_list;
pub mod totp_secret;
pub mod user;
