//! The application: every service built once, the HTTP server and the
//! background workers run under one cancellation token and one task
//! tracker, so that stopping is orderly. On [`Shutdown::stop`] the server
//! stops accepting and finishes the requests in flight; then the workers
//! stop; [`Shutdown::stopped`] completes when all of it has.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::Router;
use sea_orm::{DatabaseConnection, sqlx::postgres::PgListener};
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    accounts::{AccountKeys, AccountSettings, Accounts},
    auth::{PasswordHasher, TokenKeys, sealed::DataKey, token},
    config::Config,
    db::{self, reads::Reads, write::Writer},
    error::AppResult,
    events::{Events, listener},
    graphql::{self, SchemaSettings, http::GraphqlState, ws::WsState},
    lists::{InvitationSettings, Lists},
    mail::{
        Mail, Mailer,
        outbox::{Kind, Outbox, Queued},
        sender::{self, Compose},
    },
    metrics::Metrics,
    server,
    tasks::{Tasks, cursor::CursorKey},
};

/// How often what has run out (counters, reset tokens, mail given up on)
/// is deleted.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Invitations one person may send in an hour.
const INVITATIONS_PER_HOUR: u32 = 20;

/// A built application, ready to run on its listener.
pub struct Application {
    listener: TcpListener,
    router: Router,
    /// The metrics listener and its routes, when one is configured.
    metrics: Option<(TcpListener, Router)>,
    /// The admin listener and its routes, when one is configured.
    admin: Option<(TcpListener, Router)>,
    db: DatabaseConnection,
    /// What the background workers need of the services.
    services: Services,
    shutdown: Shutdown,
}

/// Stops a running application, and tells when it has stopped.
#[derive(Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
    tracker: TaskTracker,
    /// Cancelled when a drain starts: `/readyz` answers 503 from then on.
    draining: CancellationToken,
}

impl Shutdown {
    /// Asks the application to stop; returns at once.
    pub fn stop(&self) {
        self.draining.cancel();
        self.token.cancel();
    }

    /// Stops the application after `period` of draining: `/readyz` says
    /// "not ready" at once, so that a balancer checking it sends no new
    /// requests, while every request that still comes is served. Then the
    /// server stops accepting, finishes what is in flight, and closes its
    /// WebSockets with `1001`. Returns once the stop has begun.
    pub async fn drain(&self, period: Duration) {
        self.draining.cancel();
        if !period.is_zero() {
            tracing::info!(
                ?period,
                "draining: /readyz answers 503, requests are still served"
            );
            tokio::select! {
                () = tokio::time::sleep(period) => {}
                () = self.token.cancelled() => {}
            }
        }
        tracing::info!("shutting down: finishing requests in flight");
        self.stop();
    }

    /// Whether a drain or a stop has begun.
    pub fn is_draining(&self) -> bool {
        self.draining.is_cancelled()
    }

    /// Completes once the server and every worker have stopped.
    pub async fn stopped(&self) {
        self.token.cancelled().await;
        self.tracker.wait().await;
    }
}

impl Application {
    /// Connects to the database, applies pending migrations, builds every
    /// service and binds `TASKQL_LISTEN`.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let listen = config.http.listen;
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen} (TASKQL_LISTEN)"))?;
        Self::build_on(config, listener).await
    }

    /// As [`Application::build`], on a listener bound by the caller (tests
    /// bind port 0 and run many side by side).
    pub async fn build_on(config: Config, listener: TcpListener) -> anyhow::Result<Self> {
        let url = config.database.url.expose();
        db::migrate(url).await?;
        let db = db::connect(url).await?;
        let services = Services::build(&config, &db).await?;
        let schema = SchemaSettings {
            introspection: config.introspection_enabled(),
            suggestions: !config.is_production(),
            trusted_documents: config.http.trusted_documents.clone(),
            only_trusted: config.is_production(),
            public_url: graphql::PublicUrl(match &config.http.public_url {
                Some(url) => url.as_str().to_owned(),
                None => format!("http://{}", listener.local_addr()?),
            }),
        };
        let gateway = graphql::gateway(
            services.accounts.clone(),
            services.lists.clone(),
            services.tasks.clone(),
            services.events.clone(),
            services.metrics.clone(),
            schema,
        );
        let graphql = GraphqlState {
            gateway: gateway.clone(),
            graphiql: config
                .graphiql_enabled()
                .then_some(graphql::graphiql::Page::Public),
            get_needs_preflight: config.is_production(),
            trusted_proxies: Arc::from(config.http.trusted_proxies.as_slice()),
        };
        let shutdown = Shutdown::default();
        let subscriptions = WsState {
            gateway,
            accounts: services.accounts.clone(),
            events: services.events.clone(),
            origins: Arc::from(config.http.cors_origins.as_slice()),
            shutdown: shutdown.token.clone(),
            connections: shutdown.tracker.clone(),
            metrics: services.metrics.clone(),
        };
        let readiness = server::Readiness {
            db: db.clone(),
            shutdown: shutdown.clone(),
        };
        let metrics = match config.http.metrics_listen {
            Some(address) => {
                let listener = TcpListener::bind(address).await.with_context(|| {
                    format!("cannot listen on {address} (TASKQL_METRICS_LISTEN)")
                })?;
                let routes = server::metrics_router(server::Scrape {
                    metrics: services.metrics.clone(),
                    outbox: services.outbox.clone(),
                    readiness: readiness.clone(),
                });
                Some((listener, routes))
            }
            None => None,
        };
        let admin = match config.http.admin_listen {
            Some(address) => {
                let listener = TcpListener::bind(address)
                    .await
                    .with_context(|| format!("cannot listen on {address} (TASKQL_ADMIN_LISTEN)"))?;
                let state = GraphqlState {
                    gateway: graphql::admin::gateway(
                        services.accounts.clone(),
                        services.metrics.clone(),
                    ),
                    graphiql: Some(graphql::graphiql::Page::Admin),
                    get_needs_preflight: config.is_production(),
                    trusted_proxies: Arc::from(config.http.trusted_proxies.as_slice()),
                };
                let routes = server::admin_router(state, services.metrics.clone(), &config.http);
                Some((listener, routes))
            }
            None => None,
        };
        let router = server::router(
            graphql,
            subscriptions,
            readiness,
            services.tasks.clone(),
            services.metrics.clone(),
            &config.http,
        );
        Ok(Self {
            listener,
            router,
            metrics,
            admin,
            db,
            services,
            shutdown,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The metrics listener's address, when there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics
            .as_ref()
            .and_then(|(listener, _)| listener.local_addr().ok())
    }

    /// The admin listener's address, when there is one.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin
            .as_ref()
            .and_then(|(listener, _)| listener.local_addr().ok())
    }

    /// A handle that stops the application once it runs.
    pub fn shutdown(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Serves until stopped, then lets in-flight requests finish and stops
    /// the workers.
    pub async fn run(self) -> std::io::Result<()> {
        let Shutdown { token, tracker, .. } = self.shutdown;
        let Services {
            accounts,
            lists,
            tasks,
            events,
            outbox,
            mailer,
            listening,
            metrics,
            ..
        } = self.services;
        let workers = CancellationToken::new();
        tracker.spawn(every(SWEEP_EVERY, workers.clone(), "sweep", {
            let accounts = accounts.clone();
            let changes = tasks.change_log().clone();
            move || {
                let accounts = accounts.clone();
                let changes = changes.clone();
                async move {
                    accounts.sweep().await?;
                    changes.sweep().await
                }
            }
        }));
        if !accounts.identity_providers().is_empty() {
            // Discovery at once, then every 30 s for a provider still
            // missing (a sign-in that needs one tries too).
            let discovering = accounts.clone();
            let stop = workers.clone();
            tracker.spawn(async move {
                tokio::select! {
                    () = stop.cancelled() => {}
                    () = discovering.discover_providers() => {}
                }
            });
            tracker.spawn(every(
                crate::auth::oidc::RETRY,
                workers.clone(),
                "identity provider discovery",
                {
                    let accounts = accounts.clone();
                    move || {
                        let accounts = accounts.clone();
                        async move {
                            accounts.discover_providers().await;
                            Ok::<(), std::convert::Infallible>(())
                        }
                    }
                },
            ));
        }
        tracker.spawn(sender::run(
            outbox,
            mailer,
            Letters {
                accounts,
                lists,
                tasks,
            },
            metrics.clone(),
            workers.clone(),
        ));
        if let Some(listening) = listening {
            tracker.spawn(listener::run(
                events,
                self.db.clone(),
                listening,
                metrics,
                workers.clone(),
            ));
        }
        if let Some((listener, routes)) = self.metrics {
            // Scraped until the workers stop, after the last request.
            let stop = workers.clone();
            tracker.spawn(async move {
                let served = axum::serve(listener, routes)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await;
                if let Err(error) = served {
                    tracing::error!(%error, "the metrics listener failed");
                }
            });
        }
        if let Some((listener, routes)) = self.admin {
            // Served like the public listener: it stops accepting when the
            // stop begins and finishes the requests in flight.
            let stop = token.clone();
            tracker.spawn(async move {
                let service = routes.into_make_service_with_connect_info::<SocketAddr>();
                let served = axum::serve(listener, service)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await;
                if let Err(error) = served {
                    tracing::error!(%error, "the admin listener failed");
                }
            });
        }
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, service)
            .with_graceful_shutdown(token.clone().cancelled_owned())
            .await;
        // The server has answered everything it accepted: now the workers.
        token.cancel();
        workers.cancel();
        tracker.close();
        tracker.wait().await;
        tracing::info!("stopped");
        served
    }
}

/// The services, each built once from the configuration.
struct Services {
    accounts: Accounts,
    lists: Lists,
    tasks: Tasks,
    events: Events,
    outbox: Outbox,
    mailer: Mailer,
    /// On PostgreSQL, the connection that already listens for events.
    listening: Option<PgListener>,
    metrics: Metrics,
}

impl Services {
    async fn build(config: &Config, db: &DatabaseConnection) -> anyhow::Result<Self> {
        let passwords = &config.passwords;
        let metrics = if config.http.metrics_listen.is_some() {
            Metrics::recording()
        } else {
            Metrics::off()
        };
        let hasher = PasswordHasher::new(
            passwords.argon2.clone(),
            passwords.hash_workers.get(),
            &metrics,
        )?;
        let secret = token::signing_secret(&config.tokens)
            .map_err(|_| anyhow::anyhow!("cannot draw a random signing key"))?;
        let events = Events::new(db.get_database_backend());
        // Listening before serving: no change made once this instance is
        // up escapes its subscribers.
        let listening = if events.is_shared() {
            let listening = listener::listen(db).await;
            Some(listening.context("cannot listen for events")?)
        } else {
            None
        };
        let mailer = Mailer::new(&config.mail, config.is_production());
        let outbox = Outbox::new(db.clone());
        let data = match &config.tokens.data_key {
            Some(key) => DataKey::from_secret(key.expose()),
            None => {
                if config.is_production() {
                    tracing::warn!(
                        "TASKQL_DATA_KEY is not set: second-factor secrets are sealed with a key \
                         derived from TASKQL_JWT_SECRET, so changing that secret leaves every \
                         TOTP secret unreadable (recovery codes only). Set TASKQL_DATA_KEY to at least 32 random bytes."
                    );
                }
                DataKey::from_signing_secret(&secret)
            }
        };
        let keys = AccountKeys {
            tokens: TokenKeys::new(&secret, &config.tokens),
            data,
        };
        let writer = Writer::start(db.clone()).await?;
        let accounts = Accounts::new(
            writer.clone(),
            hasher,
            keys,
            events.clone(),
            outbox.clone(),
            AccountSettings {
                password_min_length: passwords.min_length,
                refresh_token_ttl: config.tokens.refresh_token_ttl,
                limits: config.limits.clone(),
                policy: config.accounts.clone(),
                reset_ttl: config.mail.reset_ttl,
                reset_link: config.mail.reset_link.clone(),
                verification_ttl: config.mail.verification_ttl,
                verification_link: config.mail.verification_link.clone(),
                passkeys: config.passkeys.clone(),
                oidc: config.oidc.clone(),
            },
        );
        let reads = Reads::open(writer.db().clone(), config.database.url.expose())?;
        let tasks = Tasks::new(
            writer,
            reads,
            CursorKey::new(&secret),
            events.clone(),
            config.sync.sync_horizon,
        );
        let lists = Lists::new(
            tasks.writer().clone(),
            tasks.reads().clone(),
            events.clone(),
            outbox.clone(),
            InvitationSettings {
                link: config.mail.invitation_link.clone(),
                per_window: INVITATIONS_PER_HOUR,
            },
        );
        Ok(Self {
            accounts,
            lists,
            tasks,
            events,
            outbox,
            mailer,
            listening,
            metrics,
        })
    }
}

/// What each queued mail says: an invitation is the lists service's to
/// write, a reminder the tasks service's (whose timer fires the reminder
/// and is no mail itself), every other mail the accounts service's.
struct Letters {
    accounts: Accounts,
    lists: Lists,
    tasks: Tasks,
}

impl Compose for Letters {
    async fn compose(&self, kind: Kind, queued: &Queued) -> AppResult<Option<Mail>> {
        match kind {
            Kind::Invitation => self.lists.invitation_mail(queued).await,
            Kind::ReminderDue => self.tasks.fire_reminder(queued).await.map(|()| None),
            Kind::Reminder => self.tasks.reminder_mail(queued).await,
            _ => self.accounts.compose(kind, queued).await,
        }
    }
}

/// Runs `work` every `period`, the first time one period after the start,
/// until `stop` is cancelled; a failure is logged and the next round runs
/// as planned.
async fn every<F, Fut, E>(period: Duration, stop: CancellationToken, name: &'static str, work: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Debug,
{
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {
                if let Err(error) = work().await {
                    tracing::warn!(?error, worker = name, "background work failed");
                }
            }
        }
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
