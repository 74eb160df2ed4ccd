//! GraphQL over HTTP: `POST /graphql` with a JSON body, `GET /graphql` for
//! queries in the URL (never mutations) and for GraphiQL in a browser.
//!
//! Requests are read here rather than by a permissive extractor so that only
//! the forms a GraphQL client sends are accepted: one JSON object per POST.

use std::{
    borrow::Cow,
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use async_graphql::{Executor, ObjectType, Request, Response, SubscriptionType};
use axum::{
    body::Bytes,
    extract::{ConnectInfo, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::IntoResponse,
};
use serde::Serialize;
use serde_json::json;

use super::{
    MutationRoot, QueryRoot, SubscriptionRoot,
    errors::{self, code, has_code},
    gateway::{Gateway, RequestId, never_ran},
    graphiql,
    persisted::{DocumentId, with_document},
    viewer::Authorization,
};
use crate::{accounts::Client, error::AppError};

/// The header that carries a request's id, in and out.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// What the GraphQL routes need: those of the public schema, or of the
/// admin listener's.
pub struct GraphqlState<Q = QueryRoot, M = MutationRoot, S = SubscriptionRoot> {
    pub gateway: Gateway<Q, M, S>,
    /// The GraphiQL page browsers get, if any.
    pub graphiql: Option<graphiql::Page>,
    /// Whether a query over GET must carry a header that forces a CORS
    /// preflight (on in production).
    pub get_needs_preflight: bool,
    pub trusted_proxies: Arc<[IpAddr]>,
}

impl<Q, M, S> Clone for GraphqlState<Q, M, S> {
    fn clone(&self) -> Self {
        Self {
            gateway: self.gateway.clone(),
            graphiql: self.graphiql,
            get_needs_preflight: self.get_needs_preflight,
            trusted_proxies: self.trusted_proxies.clone(),
        }
    }
}

/// `value` as JSON, written into a buffer that holds a page of tasks from
/// the start rather than one that grows (and is copied) from 128 bytes.
fn json(value: &impl Serialize) -> Vec<u8> {
    let mut body = Vec::with_capacity(4096);
    if let Err(error) = serde_json::to_writer(&mut body, value) {
        // Nothing in a GraphQL response fails to serialise; should it,
        // the client still gets a GraphQL answer.
        tracing::error!(%error, "cannot write a response");
        body.clear();
        body.extend_from_slice(br#"{"errors":[{"message":"internal server error"}]}"#);
    }
    body
}

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

pub async fn post<Q, M, S>(
    State(state): State<GraphqlState<Q, M, S>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    if !is_json(&headers) {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "requests must be sent as application/json",
        );
    }
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return refuse(
            StatusCode::BAD_REQUEST,
            "batched requests are not supported",
        );
    }
    let request: Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("invalid request body: {error}"),
            );
        }
    };
    // Only a body that names a document is read a second time.
    let document_id = memchr::memmem::find(&body, b"\"documentId\"")
        .is_some()
        .then(|| serde_json::from_slice::<Named>(&body).ok())
        .flatten()
        .and_then(|named| named.document_id);
    execute(&state, peer, &headers, with_document(request, document_id)).await
}

/// The `documentId` of a body or a query string (trusted documents).
#[derive(serde::Deserialize)]
struct Named {
    #[serde(rename = "documentId")]
    document_id: Option<String>,
}

pub async fn get<Q, M, S>(
    State(state): State<GraphqlState<Q, M, S>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> axum::response::Response
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let query = query.unwrap_or_default();
    if let Some(page) = state.graphiql
        && (query.is_empty() || is_provider_answer(&query))
        && accepts(&headers, "text/html")
    {
        return graphiql::page(page);
    }
    let request = match async_graphql::http::parse_query_string(&query) {
        Ok(request) => request,
        Err(error) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("invalid query string: {error}"),
            );
        }
    };
    let document_id = query
        .contains("documentId=")
        .then(|| serde_urlencoded::from_str::<Named>(&query).ok())
        .flatten()
        .and_then(|named| named.document_id);
    let request = with_document(request, document_id);
    if state.get_needs_preflight && !forces_preflight(&headers) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "a query over GET needs a Content-Type: application/json, \
             Apollo-Require-Preflight or X-Apollo-Operation-Name header",
        );
    }
    if is_empty(&request) {
        return refuse(StatusCode::BAD_REQUEST, "the request has no query");
    }
    let request = with_caller(&state, peer, &headers, request);
    // A query named by hash must be known, and parsed, before it can be
    // told from a mutation; the parsed document is the one that runs.
    let name = request.operation_name.clone();
    let prepared = match state.gateway.prepare(request) {
        Ok(prepared) => prepared,
        Err(error) => {
            let response = state.gateway.refused(name.as_deref(), error);
            return graphql_response(&headers, &response);
        }
    };
    if prepared.is_mutation() {
        let mut response = refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "mutations must be sent with POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let response = state.gateway.run(prepared).await;
    graphql_response(&headers, &response)
}

async fn execute<Q, M, S>(
    state: &GraphqlState<Q, M, S>,
    peer: SocketAddr,
    headers: &HeaderMap,
    request: Request,
) -> axum::response::Response
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    if is_empty(&request) {
        return refuse(StatusCode::BAD_REQUEST, "the request has no query");
    }
    let request = with_caller(state, peer, headers, request);
    let response = state.gateway.execute(request).await;
    graphql_response(headers, &response)
}

/// Whether a query string is an identity provider's answer brought back to
/// GraphiQL (`code`, `state`, `iss`, or an `error`), which its page
/// finishes, rather than a GraphQL request.
fn is_provider_answer(query: &str) -> bool {
    let names: Vec<&str> = query
        .split('&')
        .filter_map(|pair| pair.split('=').next())
        .collect();
    names.contains(&"state")
        && (names.contains(&"code") || names.contains(&"error"))
        && !names
            .iter()
            .any(|name| matches!(*name, "query" | "documentId" | "extensions"))
}

/// Whether the request has neither a query nor the hash or id of one.
fn is_empty(request: &Request) -> bool {
    request.query.trim().is_empty()
        && !request.extensions.0.contains_key("persistedQuery")
        && !request
            .data
            .contains_key(&std::any::TypeId::of::<DocumentId>())
}

/// `request` with what the transport knows of its caller: the bearer
/// token, the client's address and the request's id.
fn with_caller<Q, M, S>(
    state: &GraphqlState<Q, M, S>,
    peer: SocketAddr,
    headers: &HeaderMap,
    request: Request,
) -> Request {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let request_id = headers
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let forwarded_for = headers
        .get("x-forwarded-for")
        .and_then(|value| value.to_str().ok());
    let ip = client_ip(peer.ip(), forwarded_for, &state.trusted_proxies);
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok());
    request
        .data(Authorization::from_header(authorization))
        .data(Client::new(Some(ip), user_agent))
        .data(RequestId(request_id.to_owned()))
}

/// The answer to a GraphQL request, in the form the client accepts.
fn graphql_response(headers: &HeaderMap, response: &Response) -> axum::response::Response {
    if !accepts(headers, GRAPHQL_RESPONSE) {
        // Clients of `application/json` get 200 for every GraphQL answer.
        let content_type = [(header::CONTENT_TYPE, "application/json")];
        return (content_type, json(response)).into_response();
    }
    let content_type = [(header::CONTENT_TYPE, GRAPHQL_RESPONSE)];
    if response
        .errors
        .iter()
        .any(|error| has_code(error, code::SERVICE_UNAVAILABLE))
    {
        // The database is out of reach: a status a client and a balancer
        // know to retry, and when.
        let retry = [(header::RETRY_AFTER, "1")];
        (
            StatusCode::SERVICE_UNAVAILABLE,
            content_type,
            retry,
            json(response),
        )
            .into_response()
    } else if !never_ran(response) {
        (content_type, json(response)).into_response()
    } else {
        // GraphQL over HTTP: a request that could not run (it does not
        // parse or validate, or its variables do not coerce) is a 400 with
        // no `data` at all.
        let body = json!({ "errors": response.errors });
        (StatusCode::BAD_REQUEST, content_type, json(&body)).into_response()
    }
}

/// Whether the request carries a header that no cross-site form or link can
/// send without a CORS preflight (Apollo Server's convention): a GET query
/// then cannot be made by another site on a user's behalf.
fn forces_preflight(headers: &HeaderMap) -> bool {
    is_json(headers)
        || headers.contains_key("apollo-require-preflight")
        || headers.contains_key("x-apollo-operation-name")
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// Whether the `Accept` headers name `mime` with a quality above zero
/// (`q=0` means "not acceptable", RFC 9110 §12.4.2).
fn accepts(headers: &HeaderMap, mime: &str) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let named = parts
                .next()
                .is_some_and(|name| name.eq_ignore_ascii_case(mime));
            let refused = parts.any(|parameter| {
                parameter
                    .split_once('=')
                    .filter(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
                    .and_then(|(_, quality)| quality.trim().parse::<f32>().ok())
                    .is_some_and(|quality| quality <= 0.0)
            });
            named && !refused
        })
}

/// A request refused before execution: a GraphQL response with errors and,
/// as nothing ran, no `data`.
fn refuse(status: StatusCode, message: impl Into<Cow<'static, str>>) -> axum::response::Response {
    let error = errors::refusal(AppError::bad_request(message));
    (status, axum::Json(json!({ "errors": [error] }))).into_response()
}

/// The client's address: the socket's peer, or, when the peer is a trusted
/// proxy, the nearest untrusted address in its `X-Forwarded-For`.
fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    forwarded_for
        .into_iter()
        .flat_map(|header| header.rsplit(','))
        .map_while(|hop| hop.trim().parse::<IpAddr>().ok())
        .find(|hop| !trusted.contains(hop))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an IP")
    }

    #[test]
    fn a_providers_answer_is_told_from_a_graphql_request() {
        assert!(is_provider_answer(
            "code=abc&state=xyz&iss=https%3A%2F%2Fid"
        ));
        assert!(is_provider_answer("error=access_denied&state=xyz"));
        assert!(!is_provider_answer("query=%7Bme%7Bid%7D%7D&state=x&code=y"));
        assert!(!is_provider_answer("code=abc"));
        assert!(!is_provider_answer(""));
    }

    #[test]
    fn a_type_is_accepted_when_named_with_a_quality_above_zero() {
        let accept = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_static(value));
            accepts(&headers, "text/html")
        };
        assert!(accept("text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"));
        assert!(accept("application/json, TEXT/HTML ; q=0.5"));
        assert!(!accept("text/html;q=0"), "q=0 refuses it");
        assert!(!accept("text/html; q=0.000, application/json"));
        assert!(!accept("application/json"));
        assert!(!accept("text/htmlx"));
    }

    #[test]
    fn the_client_is_the_peer_unless_the_peer_is_a_trusted_proxy() {
        let proxy = [ip("10.0.0.1")];
        let spoofed = Some("6.6.6.6");
        assert_eq!(
            client_ip(ip("1.2.3.4"), spoofed, &proxy),
            ip("1.2.3.4"),
            "untrusted peer"
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some("6.6.6.6, 1.2.3.4"), &proxy),
            ip("1.2.3.4")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), None, &proxy),
            ip("10.0.0.1"),
            "no header"
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some("garbage"), &proxy),
            ip("10.0.0.1")
        );
        let chain = [ip("10.0.0.1"), ip("10.0.0.2")];
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some("1.2.3.4, 10.0.0.2"), &chain),
            ip("1.2.3.4")
        );
    }
}
