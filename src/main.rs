use std::{
    net::{Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};

use anyhow::Context;
use clap::Parser;
use migration::{Migrator, MigratorTrait};
use taskql::{
    app::{self, Application},
    cli::{AdminAction, Cli, Command, MigrateAction},
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
    if let Command::Schema { admin } = command {
        if admin {
            print!("{}", graphql::admin::sdl());
        } else {
            print!("{}", graphql::sdl());
        }
        return Ok(());
    }
    let config = Config::load()?;
    // Only a server sends traces.
    let traces = matches!(command, Command::Serve).then_some(&config.traces);
    let telemetry = telemetry::init(&config.log, traces)?;
    let done = match command {
        Command::Serve => serve(config).await,
        Command::Migrate { action } => migrate(&config, action).await,
        Command::Healthcheck => {
            let ready = healthcheck(config.http.listen).await;
            std::process::exit(if ready { 0 } else { 1 });
        }
        Command::Import { from, dry_run } => {
            taskql::import::run(config.database.url.expose(), &from, dry_run)
                .await
                .map(|report| print!("{report}"))
        }
        Command::Admin { action } => admin(&config, action).await,
        Command::Schema { .. } => unreachable!("handled above"),
    };
    tokio::task::spawn_blocking(|| telemetry.finish()).await?;
    done
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let drain = config.shutdown_drain();
    let application = Application::build(config).await.context("cannot start")?;
    tracing::info!("listening on http://{}/graphql", application.local_addr()?);
    if let Some(admin) = application.admin_addr() {
        tracing::info!("admin listener on http://{admin}/graphql");
    }
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

/// Whether the server listening on `listen` answers `/readyz` with 200
/// within three seconds. A wildcard address is asked on loopback.
async fn healthcheck(listen: SocketAddr) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut address = listen;
    if address.ip().is_unspecified() {
        address.set_ip(match address {
            SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
        });
    }
    let ask = async {
        let mut stream = tokio::net::TcpStream::connect(address).await?;
        let request =
            format!("GET /readyz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut head = [0_u8; 12];
        stream.read_exact(&mut head).await?;
        std::io::Result::Ok(head.starts_with(b"HTTP/1.1 200"))
    };
    match tokio::time::timeout(Duration::from_secs(3), ask).await {
        Ok(Ok(ready)) => ready,
        Ok(Err(error)) => {
            eprintln!("taskql at {address} did not answer: {error}");
            false
        }
        Err(_) => {
            eprintln!("taskql at {address} did not answer within 3 s");
            false
        }
    }
}

/// `taskql admin grant|revoke|list`: exits 1, naming the email, when no
/// account has it.
async fn admin(config: &Config, action: AdminAction) -> anyhow::Result<()> {
    use taskql::{accounts::admin, error::AppError};
    let url = config.database.url.expose();
    db::migrate(url).await?;
    let db = db::connect(url).await?;
    let (done, email) = match &action {
        AdminAction::Grant { email } => (admin::grant(&db, email).await, email),
        AdminAction::Revoke { email } => (admin::revoke(&db, email).await, email),
        AdminAction::List => {
            for email in admin::admins(&db).await? {
                println!("{email}");
            }
            return Ok(());
        }
    };
    match done {
        Ok(()) if matches!(action, AdminAction::Grant { .. }) => {
            println!("{email} is an admin");
            Ok(())
        }
        Ok(()) => {
            println!("{email} is no longer an admin");
            Ok(())
        }
        Err(AppError::NotFound) => {
            eprintln!("no account has the email {email}");
            std::process::exit(1);
        }
        Err(error) => Err(anyhow::Error::new(error).context(format!("cannot change {email}"))),
    }
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
