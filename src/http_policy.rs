//! Response headers that make browsers careful with what we send, and CORS
//! for the configured origins only.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::{cors::CorsLayer, set_header::SetResponseHeaderLayer};

use crate::config::Origin;

/// Largest request body, or WebSocket message, accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// For API responses: nothing may load, frame or be sniffed from them.
pub const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The headers every response gets unless its handler set its own.
pub fn security_headers() -> [SetResponseHeaderLayer<HeaderValue>; 3] {
    [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CONTENT_SECURITY_POLICY, API_CSP),
    ]
    .map(|(name, value): (HeaderName, &'static str)| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    })
}

/// CORS for `origins`, or none at all (browsers then refuse cross-origin
/// calls) when the list is empty.
pub fn cors(origins: &[Origin]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin.as_str()).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("apollo-require-preflight"),
                HeaderName::from_static("x-apollo-operation-name"),
            ])
            .max_age(Duration::from_secs(3600)),
    )
}
