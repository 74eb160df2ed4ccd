//! Documents a request names instead of sending: trusted documents and
//! automatic persisted queries.
//!
//! * Trusted documents (`TASKQL_TRUSTED_DOCUMENTS`): the manifest a client's
//!   build writes, each document under its SHA-256. A request names one by
//!   `documentId` (`sha256:<hex>` or the bare hex), or by the persisted-query
//!   hash. In production only they run: any other document is refused with
//!   `PERSISTED_QUERY_NOT_FOUND`, whatever the transport.
//! * Automatic persisted queries, the protocol Apollo Client and urql speak
//!   (outside that production mode): a client sends
//!   `extensions.persistedQuery.sha256Hash` alone; when the server does not
//!   know the hash it answers `PersistedQueryNotFound`, and the client sends
//!   the query with its hash once, after which the hash alone is enough
//!   (also over GET, which caches well). The store is a cache of this
//!   instance, bounded in bytes; a miss on another instance costs the
//!   client one round trip, nothing more.
//!
//! Either way the document then runs as if it had been sent: parsed,
//! checked against the limits, executed.

use std::sync::Arc;

use async_graphql::{Request, Value};
use sha2::{Digest, Sha256};

use crate::cache::BoundedCache;
use crate::config::{DocumentManifest, document_hash};
use crate::error::{AppError, AppResult};

/// Most bytes of query text kept.
const BUDGET_BYTES: usize = 4 * 1024 * 1024;
const EXTENSION: &str = "persistedQuery";

/// The `documentId` of a request, as its transport read it.
#[derive(Clone, Debug)]
pub struct DocumentId(pub String);

/// `request` with the `documentId` its transport read, if any.
pub fn with_document(request: Request, document_id: Option<String>) -> Request {
    match document_id {
        Some(id) => request.data(DocumentId(id)),
        None => request,
    }
}

/// The documents requests may name, and whether only trusted ones run.
#[derive(Clone)]
pub struct PersistedQueries {
    trusted: Option<DocumentManifest>,
    only_trusted: bool,
    /// Queries by their SHA-256 digest, least recently used first out.
    automatic: BoundedCache<[u8; 32], Arc<str>>,
}

impl PersistedQueries {
    /// With `trusted` documents, of which only they run if `only_trusted`
    /// (production).
    pub fn new(trusted: Option<DocumentManifest>, only_trusted: bool) -> Self {
        Self {
            only_trusted: only_trusted && trusted.is_some(),
            trusted,
            automatic: BoundedCache::new(BUDGET_BYTES),
        }
    }

    /// Gives `request` its query when it names one by `document_id` or by
    /// hash, remembers a query sent with its hash, and refuses a document
    /// that may not run here.
    pub fn resolve(&self, request: &mut Request, document_id: Option<&str>) -> AppResult<()> {
        let extension = request.extensions.0.remove(EXTENSION);
        if let Some(id) = document_id {
            if !request.query.trim().is_empty() {
                return Err(AppError::bad_request(
                    "a request sends either a documentId or a query, not both",
                ));
            }
            let hash = document_hash(id).ok_or_else(|| {
                AppError::bad_request("documentId must be sha256:<64 hex digits>")
            })?;
            let document = self.trusted_document(&hash);
            request.query = document
                .ok_or(AppError::PersistedQueryNotFound)?
                .to_string();
            return Ok(());
        }
        let Some(extension) = extension else {
            return self.allow(&request.query);
        };
        let hash = digest_of(&extension)?;
        if request.query.is_empty() {
            if let Some(document) = self.trusted_document(&hash) {
                request.query = document.to_string();
                return Ok(());
            }
            if self.only_trusted {
                return Err(AppError::PersistedQueryNotFound);
            }
            let known = self.automatic.get(&hash);
            request.query = known.ok_or(AppError::PersistedQueryNotFound)?.to_string();
            return Ok(());
        }
        if Sha256::digest(request.query.as_bytes()).as_slice() != hash {
            return Err(AppError::bad_request(
                "the persisted query's sha256Hash does not match its query",
            ));
        }
        if self.only_trusted {
            return self.allow(&request.query);
        }
        let query = &request.query;
        self.automatic
            .put(hash, Arc::from(query.as_str()), query.len());
        Ok(())
    }

    fn trusted_document(&self, hash: &[u8; 32]) -> Option<&Arc<str>> {
        self.trusted.as_ref()?.get(hash)
    }

    /// Whether a document sent in full may run: any may, unless only
    /// trusted ones do and it is not one of them, to the byte.
    fn allow(&self, query: &str) -> AppResult<()> {
        if !self.only_trusted {
            return Ok(());
        }
        let hash: [u8; 32] = Sha256::digest(query.as_bytes()).into();
        match self.trusted_document(&hash) {
            Some(_) => Ok(()),
            None => Err(AppError::UntrustedDocument),
        }
    }
}

/// The digest the extension names: `{"version": 1, "sha256Hash": "<hex>"}`.
fn digest_of(extension: &Value) -> AppResult<[u8; 32]> {
    let invalid = || AppError::bad_request("persistedQuery needs version 1 and a sha256Hash");
    let Value::Object(fields) = extension else {
        return Err(invalid());
    };
    if fields.get("version") != Some(&Value::from(1)) {
        return Err(invalid());
    }
    let Some(Value::String(hex)) = fields.get("sha256Hash") else {
        return Err(invalid());
    };
    let mut digest = [0u8; 32];
    hex::decode_to_slice(hex, &mut digest).map_err(|_| invalid())?;
    Ok(digest)
}
