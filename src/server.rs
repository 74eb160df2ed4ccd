//! The HTTP surface: routes and middleware, nothing else. What the routes
//! serve is built by the [`app`](crate::app) module and handed in.

use axum::{
    Router,
    extract::{MatchedPath, Path, State},
    http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use sea_orm::{DatabaseConnection, DbBackend};
use tower::ServiceBuilder;
use tower_http::{
    ServiceBuilderExt,
    catch_panic::CatchPanicLayer,
    limit::RequestBodyLimitLayer,
    request_id::MakeRequestUuid,
    timeout::TimeoutLayer,
    trace::{DefaultOnResponse, OnResponse, TraceLayer},
};

use async_graphql::EmptySubscription;

use crate::{
    app::Shutdown,
    config::HttpSettings,
    graphql::{
        admin::{AdminMutation, AdminQuery},
        graphiql,
        http::{self as graphql_http, GraphqlState, REQUEST_ID_HEADER},
        ws::{self, WsState},
    },
    http_policy,
    mail::outbox::Outbox,
    metrics::Metrics,
    tasks::Tasks,
    telemetry,
};
use std::time::Duration;

use tracing::Span;

/// What `/readyz` asks: whether the server is stopping, and whether the
/// database answers.
#[derive(Clone)]
pub struct Readiness {
    pub db: DatabaseConnection,
    pub shutdown: Shutdown,
}

/// The public routes, as the metrics name them; any other is `other`.
const ROUTES: [&str; 6] = [
    "/graphql",
    "/graphql/ws",
    "/graphql/assets/{name}",
    "/healthz",
    "/readyz",
    "/calendar/{file}",
];

/// The public routes, each named by its path in the metrics.
const PUBLIC_COUNTED: [(&str, &str); ROUTES.len()] = {
    let mut counted = [("", ""); ROUTES.len()];
    let mut at = 0;
    while at < ROUTES.len() {
        counted[at] = (ROUTES[at], ROUTES[at]);
        at += 1;
    }
    counted
};

/// The admin listener's routes, as the metrics name them.
const ADMIN_ROUTES: [(&str, &str); 3] = [
    ("/graphql", "admin:/graphql"),
    ("/graphql/assets/{name}", "admin:/graphql/assets/{name}"),
    ("/healthz", "admin:/healthz"),
];

/// Every route with its middleware.
pub fn router(
    graphql: GraphqlState,
    subscriptions: WsState,
    readiness: Readiness,
    calendar: Tasks,
    metrics: Metrics,
    settings: &HttpSettings,
) -> Router {
    let routes = Router::new()
        .route(ROUTES[0], get(graphql_http::get).post(graphql_http::post))
        .with_state(graphql)
        .route(ROUTES[2], get(graphiql::asset))
        .route(ROUTES[1], get(ws::upgrade).with_state(subscriptions))
        .route(ROUTES[3], get(|| async { "ok" }))
        .route(ROUTES[4], get(ready).with_state(readiness))
        .route(ROUTES[5], get(calendar_feed).with_state(calendar));
    let cors = http_policy::cors(&settings.cors_origins);
    with_middleware(routes, settings, metrics, &PUBLIC_COUNTED, cors)
}

/// The admin listener's routes (`TASKQL_ADMIN_LISTEN`): its schema at
/// `/graphql`, its GraphiQL, `/healthz`; the same middleware as the
/// public routes, but no CORS: only its own page calls it.
pub fn admin_router(
    graphql: GraphqlState<AdminQuery, AdminMutation, EmptySubscription>,
    metrics: Metrics,
    settings: &HttpSettings,
) -> Router {
    let routes = Router::new()
        .route(
            ADMIN_ROUTES[0].0,
            get(graphql_http::get::<AdminQuery, AdminMutation, EmptySubscription>)
                .post(graphql_http::post::<AdminQuery, AdminMutation, EmptySubscription>),
        )
        .with_state(graphql)
        .route(ADMIN_ROUTES[1].0, get(graphiql::asset))
        .route(ADMIN_ROUTES[2].0, get(|| async { "ok" }));
    with_middleware(routes, settings, metrics, &ADMIN_ROUTES, None)
}

/// `routes` with the middleware every listener of the API has: request
/// ids, traces, panics caught, the time limit, the body limit, counts by
/// route (named as `counted` says), CORS and the security headers.
fn with_middleware(
    routes: Router,
    settings: &HttpSettings,
    metrics: Metrics,
    counted: &'static [(&'static str, &'static str)],
    cors: Option<tower_http::cors::CorsLayer>,
) -> Router {
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    let middleware = ServiceBuilder::new()
        .set_request_id(request_id.clone(), MakeRequestUuid)
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let id = request
                        .headers()
                        .get(REQUEST_ID_HEADER)
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or_default();
                    let span = tracing::info_span!(
                        "request",
                        request_id = %id,
                        method = %request.method(),
                        path = %telemetry::shown_path(request.uri().path()),
                        trace_id = tracing::field::Empty,
                        otel.name = tracing::field::Empty,
                        otel.kind = tracing::field::Empty,
                    );
                    telemetry::request_started(&span, request);
                    span
                })
                .on_response(Answered),
        )
        .propagate_request_id(request_id)
        .layer(CatchPanicLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            settings.request_timeout,
        ))
        .layer(RequestBodyLimitLayer::new(http_policy::MAX_BODY_BYTES));
    let [nosniff, referrer, csp] = http_policy::security_headers();
    routes
        .layer(middleware)
        // Counted only when a metrics listener will read the counts.
        .layer(tower::util::option_layer(metrics.is_recording().then(
            || middleware::from_fn_with_state(Counting { metrics, counted }, count),
        )))
        .layer(tower::util::option_layer(cors))
        // Outermost, so that refusals by the layers above carry them too.
        .layer(
            ServiceBuilder::new()
                .layer(nosniff)
                .layer(referrer)
                .layer(csp),
        )
}

/// `GET /calendar/<token>.ics`: the feed, `304` when the client has it
/// already, `404` for a token that names no feed (revoked, or its maker
/// left the list) as for any other.
async fn calendar_feed(
    State(tasks): State<Tasks>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(token) = file.strip_suffix(".ics") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let feed = match tasks.calendar_feed(token).await {
        Ok(Some(feed)) => feed,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(error) => {
            tracing::warn!(?error, "cannot read a calendar feed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let etag = HeaderValue::from_str(&feed.etag).ok();
    let cached = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == feed.etag
        });
    let mut response = if cached {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
            feed.text,
        )
            .into_response()
    };
    if let Some(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    response
}

/// Logs an answer, and gives its status to the request's span.
#[derive(Clone, Copy)]
struct Answered;

impl<B> OnResponse<B> for Answered {
    fn on_response(self, response: &axum::http::Response<B>, latency: Duration, span: &Span) {
        telemetry::request_answered(span, response.status());
        DefaultOnResponse::new()
            .level(tracing::Level::INFO)
            .on_response(response, latency, span);
    }
}

/// What the count of answers needs: where to count, and the name of each
/// route.
#[derive(Clone)]
struct Counting {
    metrics: Metrics,
    counted: &'static [(&'static str, &'static str)],
}

/// Counts every answer by its route and status.
async fn count(
    State(counting): State<Counting>,
    request: Request<axum::body::Body>,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|matched| {
            counting
                .counted
                .iter()
                .find(|(route, _)| *route == matched.as_str())
        })
        .map_or("other", |(_, name)| *name);
    let response = next.run(request).await;
    counting
        .metrics
        .http_request(route, response.status().as_u16());
    response
}

/// What the metrics listener reads when it is scraped.
#[derive(Clone)]
pub struct Scrape {
    pub metrics: Metrics,
    pub outbox: Outbox,
    pub readiness: Readiness,
}

/// The routes of the metrics listener (`TASKQL_METRICS_LISTEN`): the
/// metrics, and the health routes for a balancer that checks there.
pub fn metrics_router(scrape: Scrape) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(scrape.clone())
        .route("/readyz", get(ready).with_state(scrape.readiness))
}

/// `GET /metrics`: every series, with the figures read when scraped.
async fn render(State(scrape): State<Scrape>) -> Response {
    let db = &scrape.readiness.db;
    let (size, idle) = match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => (0, 0),
    };
    let idle = u64::try_from(idle).unwrap_or(u64::MAX);
    scrape
        .metrics
        .db_connections(idle, u64::from(size).saturating_sub(idle));
    match scrape.outbox.depth().await {
        Ok((waiting, oldest)) => {
            let age = oldest.and_then(|oldest| (crate::db::now() - oldest).to_std().ok());
            scrape.metrics.mail_queue(waiting, age);
        }
        Err(error) => tracing::warn!(?error, "cannot read the mail queue for the metrics"),
    }
    match scrape.outbox.reminders().await {
        Ok((pending, earliest)) => {
            let overdue = earliest
                .and_then(|earliest| (crate::db::now() - earliest).to_std().ok())
                .unwrap_or_default();
            scrape.metrics.reminders(pending, overdue);
        }
        Err(error) => tracing::warn!(?error, "cannot read the reminders for the metrics"),
    }
    let content_type = [(
        header::CONTENT_TYPE,
        "text/plain; version=0.0.4; charset=utf-8",
    )];
    (content_type, scrape.metrics.render()).into_response()
}

/// Ready when the server is not stopping and the database answers.
async fn ready(State(readiness): State<Readiness>) -> (StatusCode, &'static str) {
    if readiness.shutdown.is_draining() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    match readiness.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(error) => {
            tracing::warn!(%error, "database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}
