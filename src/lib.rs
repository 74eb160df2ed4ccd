//! taskql: a GraphQL API server for a task list with user accounts.
//!
//! # Layout
//!
//! * [`cli`], [`config`], [`telemetry`]: starting up: the command line, the
//!   `TASKQL_*` configuration and logging.
//! * [`server`]: the shared application state, the HTTP routes and
//!   middleware, graceful shutdown; [`http_policy`]: security headers, CORS.
//! * [`graphql`]: the schema, one module per feature, and GraphQL over HTTP.
//! * [`accounts`]: signup, login, sessions, password change, deletion.
//! * [`tasks`]: one user's tasks: fields, listing orders, cursors, pages.
//! * [`auth`]: credentials, Argon2id hashing on a bounded pool, access and
//!   refresh tokens, the viewer guard.
//! * [`error`]: what can go wrong and the `extensions.code` clients see.
//! * [`db`]: connecting and migrating; the tables are in the `entity` and
//!   `migration` crates.

pub mod accounts;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod graphql;
pub mod http_policy;
pub mod secret;
pub mod server;
pub mod tasks;
pub mod telemetry;
