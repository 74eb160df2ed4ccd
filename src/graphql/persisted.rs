//! Automatic persisted queries, the protocol Apollo Client and urql speak:
//! a client sends `extensions.persistedQuery.sha256Hash` alone; when the
//! server does not know the hash it answers `PersistedQueryNotFound`, and
//! the client sends the query with its hash once, after which the hash
//! alone is enough (also over GET, which caches well).
//!
//! The store is a cache of this instance, bounded in bytes; a miss on
//! another instance costs the client one round trip, nothing more.

use std::sync::Arc;

use async_graphql::{Request, Value};
use sha2::{Digest, Sha256};

use crate::cache::BoundedCache;
use crate::error::{AppError, AppResult};

/// Most bytes of query text kept.
const BUDGET_BYTES: usize = 4 * 1024 * 1024;
const EXTENSION: &str = "persistedQuery";

/// Queries by their SHA-256 digest, least recently used first out.
#[derive(Clone)]
pub struct PersistedQueries {
    queries: BoundedCache<[u8; 32], Arc<str>>,
}

impl Default for PersistedQueries {
    fn default() -> Self {
        Self {
            queries: BoundedCache::new(BUDGET_BYTES),
        }
    }
}

impl PersistedQueries {
    /// Gives `request` its query when it names one by hash, and remembers a
    /// query sent with its hash. A request without the extension is left
    /// as it is; so is one already resolved (the extension is removed).
    pub fn resolve(&self, request: &mut Request) -> AppResult<()> {
        let Some(extension) = request.extensions.0.remove(EXTENSION) else {
            return Ok(());
        };
        let hash = digest_of(&extension)?;
        if request.query.is_empty() {
            let known = self.queries.get(&hash);
            let query = known.ok_or(AppError::PersistedQueryNotFound)?;
            request.query = query.to_string();
            return Ok(());
        }
        if Sha256::digest(request.query.as_bytes()).as_slice() != hash {
            return Err(AppError::bad_request(
                "the persisted query's sha256Hash does not match its query",
            ));
        }
        let query = &request.query;
        self.queries
            .put(hash, Arc::from(query.as_str()), query.len());
        Ok(())
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
