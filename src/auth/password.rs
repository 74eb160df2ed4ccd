//! Argon2id hashing on a bounded pool, off the async workers.
//!
//! At most `workers` computations run at once (each holds `m` KiB of memory);
//! at most `queue` more wait for a turn. Past that, callers get `RATE_LIMITED`
//! at once, so a login flood costs a bounded amount of memory and the async
//! workers stay free for everything else.

use std::sync::Arc;

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier, Version,
};
use tokio::sync::{OnceCell, Semaphore};

use super::credentials::Password;
use crate::error::{AppError, AppResult};

/// How many requests may wait per worker before new ones are turned away.
const QUEUE_PER_WORKER: usize = 32;

#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    params: Params,
    /// One permit per computation allowed to run.
    workers: Arc<Semaphore>,
    /// One permit per computation allowed to run or wait.
    admission: Arc<Semaphore>,
    /// A hash of a random password, verified against when the email is unknown.
    dummy_hash: OnceCell<String>,
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, PartialEq, Eq)]
pub enum Verification {
    /// The password is right; `needs_rehash` when the hash uses other costs
    /// than the configured ones.
    Valid {
        needs_rehash: bool,
    },
    Invalid,
}

impl PasswordHasher {
    pub fn new(params: Params, workers: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                params,
                workers: Arc::new(Semaphore::new(workers)),
                admission: Arc::new(Semaphore::new(workers * (1 + QUEUE_PER_WORKER))),
                dummy_hash: OnceCell::new(),
            }),
        }
    }

    /// A PHC string of `password` with a fresh salt and the configured costs.
    pub async fn hash(&self, password: &Password) -> AppResult<String> {
        let password = password.clone();
        let params = self.inner.params.clone();
        self.run(move || {
            argon2id(params)
                .hash_password(password.expose().as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|error| AppError::internal(error.to_string()))
        })
        .await?
    }

    pub async fn verify(&self, password: &Password, stored: &str) -> AppResult<Verification> {
        let password = password.clone();
        let stored = stored.to_owned();
        let params = self.inner.params.clone();
        self.run(move || {
            let hash = PasswordHash::new(&stored).map_err(|e| AppError::internal(e.to_string()))?;
            if argon2id(params.clone())
                .verify_password(password.expose().as_bytes(), &hash)
                .is_err()
            {
                return Ok(Verification::Invalid);
            }
            Ok(Verification::Valid {
                needs_rehash: !uses_params(&hash, &params),
            })
        })
        .await?
    }

    /// Spends one verification, as for a real account, so that the answer
    /// time for an unknown email tells nothing.
    pub async fn verify_dummy(&self, password: &Password) -> AppResult<()> {
        let dummy = self
            .inner
            .dummy_hash
            .get_or_try_init(|| async {
                let mut random = [0u8; 32];
                getrandom::fill(&mut random).map_err(|e| AppError::internal(e.to_string()))?;
                let random = Password::parse_given(&format!("{random:x?}"), "password")?;
                self.hash(&random).await
            })
            .await?;
        self.verify(password, dummy).await.map(drop)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let admitted = Arc::clone(&self.inner.admission)
            .try_acquire_owned()
            .map_err(|_| AppError::RateLimited)?;
        let running = Arc::clone(&self.inner.workers)
            .acquire_owned()
            .await
            .map_err(AppError::internal)?;
        // The permits travel with the work: a caller that gives up waiting
        // does not free a worker that is still computing.
        let work = move || {
            let _permits = (running, admitted);
            work()
        };
        Ok(tokio::task::spawn_blocking(work).await?)
    }
}

fn argon2id(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Whether `hash` is Argon2id, current version, with exactly these costs.
fn uses_params(hash: &PasswordHash, params: &Params) -> bool {
    let Ok(used) = Params::try_from(hash) else {
        return false;
    };
    hash.algorithm == argon2::ARGON2ID_IDENT
        && hash.version == Some(Version::V0x13.into())
        && (used.m_cost(), used.t_cost(), used.p_cost())
            == (params.m_cost(), params.t_cost(), params.p_cost())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(m: u32, t: u32) -> PasswordHasher {
        PasswordHasher::new(Params::new(m, t, 1, None).expect("valid"), 1)
    }

    fn password(text: &str) -> Password {
        Password::parse_given(text, "password").expect("valid")
    }

    #[tokio::test]
    async fn hashes_verify_and_carry_the_configured_costs() {
        let hasher = hasher(1024, 1);
        let hash = hasher.hash(&password("correct horse")).await.expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
        let ok = hasher
            .verify(&password("correct horse"), &hash)
            .await
            .expect("verify");
        assert_eq!(
            ok,
            Verification::Valid {
                needs_rehash: false
            }
        );
        let wrong = hasher
            .verify(&password("wrong horse"), &hash)
            .await
            .expect("verify");
        assert_eq!(wrong, Verification::Invalid);
    }

    #[tokio::test]
    async fn a_hash_with_other_costs_asks_for_a_rehash() {
        let old = hasher(1024, 1)
            .hash(&password("correct horse"))
            .await
            .expect("hash");
        let verdict = hasher(2048, 1)
            .verify(&password("correct horse"), &old)
            .await;
        assert_eq!(
            verdict.expect("verify"),
            Verification::Valid { needs_rehash: true }
        );
    }

    #[tokio::test]
    async fn a_full_queue_answers_rate_limited_at_once() {
        let hasher = hasher(1024, 1);
        let capacity = 1 + QUEUE_PER_WORKER;
        let _held = Arc::clone(&hasher.inner.admission)
            .acquire_many_owned(u32::try_from(capacity).expect("small"))
            .await
            .expect("permits");
        let refused = hasher.hash(&password("correct horse")).await;
        assert!(matches!(refused, Err(AppError::RateLimited)));
    }
}
