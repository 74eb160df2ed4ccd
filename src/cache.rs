//! A cache bounded by the bytes of what it keeps, least recently used out
//! first: persisted queries, parsed documents and verified access tokens
//! each keep one.

use std::{
    borrow::Borrow,
    hash::Hash,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use lru::LruCache;

/// Values by key, at most `budget` bytes of them (as the caller counts
/// them); cheap to clone, shared by the clones.
pub struct BoundedCache<K: Hash + Eq, V> {
    inner: Arc<Mutex<Store<K, V>>>,
    budget: usize,
}

struct Store<K: Hash + Eq, V> {
    entries: LruCache<K, (V, usize)>,
    bytes: usize,
}

impl<K: Hash + Eq, V> Clone for BoundedCache<K, V> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            budget: self.budget,
        }
    }
}

impl<K: Hash + Eq, V: Clone> BoundedCache<K, V> {
    pub fn new(budget: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Store {
                entries: LruCache::unbounded(),
                bytes: 0,
            })),
            budget,
        }
    }

    /// The value of `key`, now the most recently used.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.store()
            .entries
            .get(key)
            .map(|(value, _)| value.clone())
    }

    /// Keeps `value` under `key`, counted as `bytes`, unless it alone is
    /// over the budget or the key is kept already; evicts the least recently
    /// used entries until the budget holds.
    pub fn put(&self, key: K, value: V, bytes: usize) {
        if bytes > self.budget {
            return;
        }
        let mut store = self.store();
        if store.entries.contains(&key) {
            return;
        }
        store.bytes += bytes;
        store.entries.put(key, (value, bytes));
        while store.bytes > self.budget {
            let Some((_, (_, evicted))) = store.entries.pop_lru() else {
                break;
            };
            store.bytes -= evicted;
        }
    }

    fn store(&self) -> MutexGuard<'_, Store<K, V>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::BoundedCache;

    #[test]
    fn keeps_within_its_budget_evicting_the_least_recently_used() {
        let cache = BoundedCache::<String, u32>::new(10);
        cache.put("a".into(), 1, 4);
        cache.put("b".into(), 2, 4);
        assert_eq!(cache.get("a"), Some(1), "a is now the most recent");
        cache.put("c".into(), 3, 4);
        assert_eq!(cache.get("b"), None, "b was the least recently used");
        assert_eq!((cache.get("a"), cache.get("c")), (Some(1), Some(3)));
        cache.put("huge".into(), 4, 11);
        assert_eq!(cache.get("huge"), None, "over the budget alone");
    }
}
