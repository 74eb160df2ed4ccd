//! The HTTP surface: routes and middleware, nothing else. What the routes
//! serve is built by the [`app`](crate::app) module and handed in.

use axum::{
    Router,
    extract::State,
    http::{HeaderName, Request, StatusCode},
    routing::get,
};
use sea_orm::DatabaseConnection;
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
    config::HttpSettings,
    graphql::{
        graphiql,
        http::{self as graphql_http, GraphqlState, REQUEST_ID_HEADER},
        ws::{self, WsState},
    },
    http_policy,
};

/// Every route with its middleware. `db` answers readiness probes.
pub fn router(
    graphql: GraphqlState,
    subscriptions: WsState,
    db: DatabaseConnection,
    settings: &HttpSettings,
) -> Router {
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
            settings.request_timeout,
        ))
        .layer(RequestBodyLimitLayer::new(http_policy::MAX_BODY_BYTES));
    let [nosniff, referrer, csp] = http_policy::security_headers();
    let cors = http_policy::cors(&settings.cors_origins);
    Router::new()
        .route("/graphql", get(graphql_http::get).post(graphql_http::post))
        .with_state(graphql)
        .route("/graphql/assets/{name}", get(graphiql::asset))
        .route("/graphql/ws", get(ws::upgrade).with_state(subscriptions))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready).with_state(db))
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
async fn ready(State(db): State<DatabaseConnection>) -> (StatusCode, &'static str) {
    match db.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(error) => {
            tracing::warn!(%error, "database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}
