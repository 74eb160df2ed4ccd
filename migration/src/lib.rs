//! The database schema of taskql as ordered migrations. `taskql migrate …` and
//! the `migration` binary run them; `taskql serve` applies pending ones on start.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_create_users;
mod m20261123_000002_create_refresh_tokens;
mod m20261123_000003_create_tasks;
mod m20261123_000004_create_login_failures;
mod m20261125_000005_create_rate_counters;
mod m20261126_000006_create_password_resets_and_mail_outbox;
mod m20261202_000007_accounts_with_a_life;
mod m20261202_000008_second_factor;
mod m20261202_000009_mail_trace;
mod m20261203_000010_passkeys;
mod m20261204_000011_shared_lists;
mod m20261204_000012_task_structure;
mod m20261205_000013_dates;
mod m20261206_000014_sync;
mod m20261207_000015_administration;
mod m20261208_000016_identities;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_users::Migration),
            Box::new(m20261123_000002_create_refresh_tokens::Migration),
            Box::new(m20261123_000003_create_tasks::Migration),
            Box::new(m20261123_000004_create_login_failures::Migration),
            Box::new(m20261125_000005_create_rate_counters::Migration),
            Box::new(m20261126_000006_create_password_resets_and_mail_outbox::Migration),
            Box::new(m20261202_000007_accounts_with_a_life::Migration),
            Box::new(m20261202_000008_second_factor::Migration),
            Box::new(m20261202_000009_mail_trace::Migration),
            Box::new(m20261203_000010_passkeys::Migration),
            Box::new(m20261204_000011_shared_lists::Migration),
            Box::new(m20261204_000012_task_structure::Migration),
            Box::new(m20261205_000013_dates::Migration),
            Box::new(m20261206_000014_sync::Migration),
            Box::new(m20261207_000015_administration::Migration),
            Box::new(m20261208_000016_identities::Migration),
        ]
    }
}
