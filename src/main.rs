use anyhow::Context;
use clap::Parser;
use migration::{Migrator, MigratorTrait};
use taskql::{
    app::{self, Application},
    cli::{Cli, Command, MigrateAction},
    config::Config,
    db, graphql, telemetry,
};

/// mimalloc's v2 line: a page's many small allocations cost about a fifth
/// of its CPU time less than with the system allocator, for 2 MiB more at
/// rest (bench/README.md). Without transparent huge pages, which would
/// double the memory at rest; its v3 line holds twice as much too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Schema = command {
        print!("{}", graphql::sdl());
        return Ok(());
    }
    let config = Config::load()?;
    telemetry::init(&config.log);
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate { action } => migrate(&config, action).await,
        Command::Schema => unreachable!("handled above"),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let drain = config.shutdown_drain();
    let application = Application::build(config).await.context("cannot start")?;
    tracing::info!("listening on http://{}/graphql", application.local_addr()?);
    let shutdown = application.shutdown();
    tokio::spawn(async move {
        app::shutdown_signal().await;
        tokio::spawn(async {
            app::shutdown_signal().await;
            tracing::warn!("a second signal: exiting at once");
            std::process::exit(130);
        });
        shutdown.drain(drain).await;
    });
    application.run().await?;
    Ok(())
}

async fn migrate(config: &Config, action: MigrateAction) -> anyhow::Result<()> {
    let db = db::connect_for_migrations(config.database.url.expose()).await?;
    match action {
        MigrateAction::Up { num } => {
            db::exclusively(&db, async |db| Migrator::up(db, num).await).await?;
        }
        MigrateAction::Down { num } => {
            db::exclusively(&db, async |db| Migrator::down(db, Some(num)).await).await?;
        }
        MigrateAction::Status => {
            for migration in Migrator::get_migration_with_status(&db).await? {
                println!("{:?}\t{}", migration.status(), migration.name());
            }
        }
        MigrateAction::Fresh => {
            db::exclusively(&db, async |db| Migrator::fresh(db).await).await?;
        }
    }
    Ok(())
}
