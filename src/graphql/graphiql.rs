//! GraphiQL, served from the binary: the page at `GET /graphql` for browsers
//! and its files at `/graphql/assets/…`, built by `graphiql/build.sh` from
//! pinned npm packages (versions, licenses and digests in
//! `assets/MANIFEST.md`). Nothing is fetched from any other host.

#[path = "assets/files.rs"]
mod files;

use axum::{
    extract::Path,
    http::{StatusCode, header},
    response::{Html, IntoResponse, Response},
};

/// The page may run only scripts this server sends, and talk only to it.
/// Styles and fonts also come from it; the editor (Monaco) sets element
/// styles from script and embeds its icon fonts as `data:`, which the
/// policy allows, while no script runs that this server did not send.
pub const GRAPHIQL_CSP: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; \
    connect-src 'self'; worker-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
    form-action 'none'";

/// Which GraphiQL a listener serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// The public API's: sign up or sign in with a password, a code or a
    /// passkey; subscriptions.
    Public,
    /// The admin listener's: sign in with a password and a code (passkeys
    /// belong to the public origin), a tour of the admin schema.
    Admin,
}

/// The admin page: the same files, told which they serve.
static ADMIN_PAGE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| files::PAGE.replacen("<body>", "<body data-taskql-admin>", 1));

/// A GraphiQL page.
pub fn page(page: Page) -> Response {
    let csp = [(header::CONTENT_SECURITY_POLICY, GRAPHIQL_CSP)];
    let html = match page {
        Page::Public => files::PAGE,
        Page::Admin => ADMIN_PAGE.as_str(),
    };
    (csp, Html(html)).into_response()
}

/// `GET /graphql/assets/{name}`: a file of GraphiQL. Names carry their
/// content's hash, so they may be cached for good.
pub async fn asset(Path(name): Path<String>) -> Response {
    let Some((_, content_type, body)) = files::FILES.iter().find(|(file, ..)| *file == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let headers = [
        (header::CONTENT_TYPE, *content_type),
        (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
    ];
    (headers, *body).into_response()
}
