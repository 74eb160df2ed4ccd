//! Batching by rounds: the loads of one request that are asked for while
//! its resolvers run side by side go to the database as one batch.
//!
//! async-graphql's own `DataLoader` waits a fixed time (1 ms) after the
//! first key and sends whatever has come by then: a list of more than 32
//! parents is resolved over several polls, which on a busy machine can take
//! longer than that, and a batch is then split (a request of 50 lists ran
//! 25 statements instead of 6). A round here ends by the executor's order
//! instead of a clock: the first load of a round yields to the request's
//! other resolvers, which are polled before it resumes and add their keys to
//! the same round, until a yield brings no new key; then it loads them all,
//! on the request's own task (its statements are spans of the request).
//! Whoever waits on a round whose loader went away loads its own key.

use std::{
    any::{Any, TypeId},
    collections::{HashMap, HashSet},
    hash::Hash,
    sync::{Arc, Mutex, PoisonError},
};

use async_graphql::dataloader::Loader;
use tokio::sync::watch;

/// How many times the first load of a round yields before it loads, at
/// least; it goes on yielding while keys keep joining, up to [`MOST_YIELDS`].
const YIELDS: usize = 4;
/// How many times at most: a round of many parents whose fields wake over
/// several polls (the runtime's budget per poll, the engine's per list)
/// keeps growing for longer than [`YIELDS`].
const MOST_YIELDS: usize = 64;

/// The rounds in progress of one request.
#[derive(Default)]
pub struct Rounds {
    open: Mutex<HashMap<TypeId, Box<dyn Any + Send>>>,
}

/// The keys of a round still taking keys, and where its answer will be.
struct Open<K, V, E> {
    keys: HashSet<K>,
    answer: watch::Receiver<Option<Answer<K, V, E>>>,
}

type Answer<K, V, E> = Result<Arc<HashMap<K, V>>, E>;

impl Rounds {
    /// The value `loader` finds for `key`, loaded with the other keys asked
    /// for in the same round.
    pub async fn load<K, L>(&self, loader: &L, key: K) -> Result<Option<L::Value>, L::Error>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
        L: Loader<K>,
        L::Error: Sync,
    {
        let (answer, lead) = self.join::<K, L>(key.clone());
        if let Some(sender) = lead {
            let mut size = 1;
            for yielded in 1..=MOST_YIELDS {
                tokio::task::yield_now().await;
                let now = self.size::<K, L>();
                if yielded >= YIELDS && now == size {
                    break;
                }
                size = now;
            }
            let keys = self.close::<K, L>();
            // Boxed, as the fallback below: a waiting field's future then
            // holds none of the load's state, which only the leader needs.
            let found = Box::pin(loader.load(&keys)).await.map(Arc::new);
            let _ = sender.send(Some(found.clone()));
            return found.map(|found| found.get(&key).cloned());
        }
        let mut answer = answer;
        loop {
            if let Some(found) = answer.borrow().as_ref() {
                return found.clone().map(|found| found.get(&key).cloned());
            }
            if answer.changed().await.is_err() {
                // The round's loader was dropped before it answered.
                let found = Box::pin(loader.load(std::slice::from_ref(&key))).await?;
                return Ok(found.get(&key).cloned());
            }
        }
    }

    /// Adds `key` to the open round of its kind, opening one (and leading
    /// it) when there is none.
    #[allow(clippy::type_complexity)]
    fn join<K, L>(
        &self,
        key: K,
    ) -> (
        watch::Receiver<Option<Answer<K, L::Value, L::Error>>>,
        Option<watch::Sender<Option<Answer<K, L::Value, L::Error>>>>,
    )
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
        L: Loader<K>,
        L::Error: Sync,
    {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let round = open
            .get_mut(&TypeId::of::<(K, L)>())
            .and_then(|round| round.downcast_mut::<Open<K, L::Value, L::Error>>());
        if let Some(round) = round {
            round.keys.insert(key);
            return (round.answer.clone(), None);
        }
        let (sender, answer) = watch::channel(None);
        let round = Open {
            keys: HashSet::from([key]),
            answer: answer.clone(),
        };
        open.insert(TypeId::of::<(K, L)>(), Box::new(round));
        (answer, Some(sender))
    }

    /// How many keys the open round of its kind has taken so far.
    fn size<K, L>(&self) -> usize
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
        L: Loader<K>,
    {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&TypeId::of::<(K, L)>())
            .and_then(|round| round.downcast_ref::<Open<K, L::Value, L::Error>>())
            .map_or(0, |round| round.keys.len())
    }

    /// Ends the open round of its kind: the next key opens another.
    fn close<K, L>(&self) -> Vec<K>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
        L: Loader<K>,
    {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.remove(&TypeId::of::<(K, L)>())
            .and_then(|round| round.downcast::<Open<K, L::Value, L::Error>>().ok())
            .map(|round| round.keys.into_iter().collect())
            .unwrap_or_default()
    }
}
