use anyhow::Context;
use clap::Parser;
use migration::{Migrator, MigratorTrait};
use taskql::{
    cli::{Cli, Command, MigrateAction},
    config::Config,
    db, graphql, server, telemetry,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Schema = command {
        print!("{}", graphql::sdl());
        return Ok(());
    }
    let config = Config::load()?;
    telemetry::init(&config.log, config.log_format);
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate { action } => migrate(&config, action).await,
        Command::Schema => unreachable!("handled above"),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let state = server::AppState::new(config)
        .await
        .context("cannot start")?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (TASKQL_LISTEN)"))?;
    tracing::info!("listening on http://{}/graphql", listener.local_addr()?);
    server::serve(listener, state, server::shutdown_signal()).await?;
    Ok(())
}

async fn migrate(config: &Config, action: MigrateAction) -> anyhow::Result<()> {
    let db = db::connect(config.database_url.expose()).await?;
    match action {
        MigrateAction::Up { num } => Migrator::up(&db, num).await?,
        MigrateAction::Down { num } => Migrator::down(&db, Some(num)).await?,
        MigrateAction::Status => {
            for migration in Migrator::get_migration_with_status(&db).await? {
                println!("{:?}\t{}", migration.status(), migration.name());
            }
        }
        MigrateAction::Fresh => Migrator::fresh(&db).await?,
    }
    Ok(())
}
