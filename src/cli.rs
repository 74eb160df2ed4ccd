//! The command line: `taskql [serve]`, `taskql migrate …`, `taskql schema`,
//! `taskql healthcheck`, `taskql import`, `taskql admin …`.

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "taskql",
    version,
    about = "A GraphQL API server for a task list with user accounts"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations and serve the API (the default).
    Serve,
    /// Manage the database schema.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Print the GraphQL schema (SDL); `schema.graphql` is its output.
    Schema {
        /// The admin listener's schema instead (`admin.graphql`).
        #[arg(long)]
        admin: bool,
    },
    /// Ask the server at TASKQL_LISTEN whether it is ready (`/readyz`):
    /// exit 0 when it is, 1 when not, as a container's HEALTHCHECK needs.
    Healthcheck,
    /// Bring over the users and tasks of a FastAPI/SQLModel app: its `user`
    /// and `task` tables, password hashes kept as they are. One
    /// transaction; addresses already in taskql are skipped and named.
    Import {
        /// The app's database: sqlite://path/to/app.db or
        /// postgres://user@host/db (SQLAlchemy's postgresql+driver:// too).
        #[arg(long, value_name = "DATABASE URL")]
        from: String,
        /// Read both databases and report what would be imported; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Mark accounts as admins, who may use the admin listener
    /// (TASKQL_ADMIN_LISTEN), or take the mark off.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminAction {
    /// Mark the account of EMAIL as an admin.
    Grant { email: String },
    /// Take the admin mark off the account of EMAIL; its next admin
    /// request is refused.
    Revoke { email: String },
    /// Print the admins' emails, one a line.
    List,
}

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply pending migrations.
    Up {
        /// How many to apply; all when omitted.
        #[arg(short, long)]
        num: Option<u32>,
    },
    /// Roll back applied migrations.
    Down {
        /// How many to roll back.
        #[arg(short, long, default_value_t = 1)]
        num: u32,
    },
    /// List migrations and whether each is applied.
    Status,
    /// Drop every table and apply all migrations again. Deletes all data.
    Fresh,
}
