//! The application state, the HTTP router and the server loop.

use std::{future::Future, net::SocketAddr, sync::Arc};

use axum::{
    Router,
    extract::State,
    http::{HeaderName, Request, StatusCode},
    routing::get,
};
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::{
    ServiceBuilderExt,
    catch_panic::CatchPanicLayer,
    limit::RequestBodyLimitLayer,
    request_id::MakeRequestUuid,
    timeout::TimeoutLayer,
    trace::{DefaultOnResponse, TraceLayer},
};

use crate::{
    auth::{PasswordHasher, TokenKeys, throttle::AuthRateLimiter, token},
    config::Config,
    db,
    graphql::{self, http::GraphqlState},
    http_policy,
    tasks::cursor::CursorKey,
};

pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Everything a request may need, shared by all of them. Holds no per-user
/// state: any number of instances can serve one database.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub hasher: PasswordHasher,
    pub tokens: Arc<TokenKeys>,
    pub cursors: CursorKey,
    pub auth_limiter: AuthRateLimiter,
}

impl AppState {
    /// Connects to the database, applies pending migrations and prepares
    /// keys and the hashing pool.
    pub async fn new(config: Config) -> anyhow::Result<Self> {
        let db = db::connect(config.database_url.expose()).await?;
        db::migrate(&db).await?;
        let params = config
            .argon2_params()
            .map_err(|error| anyhow::anyhow!("invalid Argon2 cost: {error}"))?;
        let hasher = PasswordHasher::new(params, config.hash_workers().get())?;
        let secret = token::signing_secret(&config)
            .map_err(|_| anyhow::anyhow!("cannot draw a random signing key"))?;
        Ok(Self {
            db,
            hasher,
            tokens: Arc::new(TokenKeys::new(&secret, &config)),
            cursors: CursorKey::new(&secret),
            auth_limiter: AuthRateLimiter::new(config.auth_rate_limit),
            config: Arc::new(config),
        })
    }
}

pub fn app(state: AppState) -> Router {
    let graphql = GraphqlState {
        graphiql: state.config.graphiql_enabled(),
        trusted_proxies: state.config.trusted_proxies.clone().into(),
        schema: graphql::build_schema(state.clone()),
    };
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    let middleware = ServiceBuilder::new()
        .set_request_id(request_id.clone(), MakeRequestUuid)
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let id = request
                .headers()
                .get(REQUEST_ID_HEADER)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default();
            tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path())
        }).on_response(DefaultOnResponse::new().level(tracing::Level::INFO)))
        .propagate_request_id(request_id)
        .layer(CatchPanicLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            state.config.request_timeout,
        ))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES));
    let [nosniff, referrer, csp] = http_policy::security_headers();
    let cors = http_policy::cors(&state.config.cors_origins);
    Router::new()
        .route(
            "/graphql",
            get(graphql::http::get).post(graphql::http::post),
        )
        .with_state(graphql)
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready).with_state(state))
        .layer(middleware)
        .layer(tower::util::option_layer(cors))
        // Outermost, so that refusals by the layers above carry them too.
        .layer(
            ServiceBuilder::new()
                .layer(nosniff)
                .layer(referrer)
                .layer(csp),
        )
}

/// Ready when the database answers.
async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(error) => {
            tracing::warn!(%error, "database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}

/// Serves until `shutdown` completes, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
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
    tracing::info!("shutting down: finishing requests in flight");
}
