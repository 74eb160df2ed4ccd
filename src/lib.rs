//! taskql: a GraphQL API server for a task list with user accounts.
//!
//! # Layout
//!
//! Dependencies point one way: `app`/`server` → `graphql` → `accounts`,
//! `tasks` → `lists` → `events`, `mail`, `auth`, `db`, the `entity` crate;
//! `config`, `error`, `secret` and `cache` are shared by all. `accounts`
//! makes an account's inbox and hands its lists on through `lists`.
//! `tasks::fields`, what a task is to its clients, sits below `events`,
//! which carries tasks in that form, and `lists`, which tells of tasks it
//! changes (an assignment ended).
//!
//! * [`cli`], [`config`], [`telemetry`]: starting up: the command line, the
//!   `TASKQL_*` configuration (one section per subsystem) and logging.
//! * [`app`]: builds every service once and runs the HTTP server and the
//!   background workers under one cancellation token; orderly shutdown.
//! * [`server`]: the HTTP routes and middleware; [`http_policy`]: security
//!   headers, CORS.
//! * [`graphql`]: the schema, one module per feature; the gateway every
//!   transport runs operations through (limits, request id); the one place
//!   errors get their `extensions.code` (`graphql::errors`); the viewer
//!   guard; the loaders of nested fields, batched by rounds so that a
//!   request's statements do not grow with what it shows; GraphQL over
//!   HTTP and over WebSocket.
//! * [`accounts`]: the accounts service: signup, login, sessions (listed and
//!   revoked), password change and reset, verified email and email change,
//!   the record of security events (`accounts::audit`), the second factor,
//!   passkeys (WebAuthn),
//!   deletion, the
//!   per-IP and per-email limits.
//! * [`lists`]: the lists service: lists, members and roles, invitations,
//!   what becomes of an account's lists when it goes, and the one rule for
//!   who sees what (`lists::visible`), which every read and write of lists
//!   and tasks adds to its own statement.
//! * [`tasks`]: the tasks service: a task's fields, declared once
//!   (`tasks::fields`), the input rules, listing orders, cursors, pages,
//!   reads of only the fields a client shows, writes that tell the list's
//!   members; dates: completions, occurrences, reminders (timers in the
//!   mail outbox) and calendar feeds.
//! * [`dates`]: what a date means apart from storage: zones, all-day
//!   dates, recurrence rules expanded in a zone.
//! * [`events`]: the event bus that carries task and list changes (to the
//!   members the write read) and ended sessions to subscribers on every
//!   instance (PostgreSQL `LISTEN/NOTIFY`).
//! * [`mail`]: outgoing mail: the queue in the database, the worker that
//!   sends it over SMTP (or to the log in development), with retries, and
//!   the words of each mail from templates (`mail::letters`).
//! * [`auth`]: credentials, Argon2id hashing on a bounded pool, access and
//!   refresh tokens, random tokens, windowed counters, TOTP codes and the
//!   sealing of secrets at rest; no request types.
//! * [`import`]: `taskql import`, the users and tasks of a FastAPI app
//!   brought over.
//! * [`error`]: what can go wrong, in the domain's words.
//! * [`db`]: connecting and migrating, short reads of SQLite on the
//!   request's thread, rows of either database read by column position;
//!   the tables are in the `entity` and `migration` crates.
//!   [`secret`]: strings that never print; [`cache`]:
//!   the byte-bounded cache that documents, persisted queries and verified
//!   tokens are kept in; [`metrics`]: what the server counts, for
//!   Prometheus.

pub mod accounts;
pub mod app;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod config;
pub mod dates;
pub mod db;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http_policy;
pub mod import;
pub mod lists;
pub mod mail;
pub mod metrics;
pub mod secret;
pub mod server;
pub mod sync;
pub mod tasks;
pub mod telemetry;
