//! Integration tests: each one starts a real taskql server on a free port
//! with a database of its own (a SQLite file, or a fresh PostgreSQL database
//! when `TASKQL_TEST_POSTGRES_URL` is set) and talks to it over HTTP.

mod account_sessions;
mod accounts;
mod admin;
mod authenticator;
mod binary;
mod brute_force;
mod dates;
mod helpers;
mod http;
mod import;
mod limits;
mod metrics;
mod oidc;
mod paging;
mod passkeys;
mod persisted;
mod postgres;
mod proxy;
mod reset;
mod second_factor;
mod sessions;
mod sharing;
mod shutdown;
mod smtp;
mod storage;
mod structure;
mod subscriptions;
mod sync;
mod tasks;
mod tokens;
mod traces;
mod trusted;
mod verification;
mod ws_client;
