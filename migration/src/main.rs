//! The sea-orm-migration CLI for taskql's schema (reads `DATABASE_URL`).

#[tokio::main]
async fn main() {
    sea_orm_migration::cli::run_cli(migration::Migrator).await;
}
