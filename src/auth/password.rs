//! Argon2id on a pool of dedicated threads, off the async workers.
//!
//! `workers` threads compute; a queue of bounded length feeds them. When the
//! queue is full, callers get `RATE_LIMITED` at once, so a login flood costs
//! a bounded amount of memory and the async workers stay free for everything
//! else. Each thread keeps one Argon2 memory block and reuses it for every
//! hash while work keeps coming: a flood allocates nothing, and the pool
//! holds at most `workers` blocks of `m` KiB. A thread that has had nothing
//! to do for [`IDLE`] gives its block back, so a server at rest does not
//! keep `workers` × 19 MiB it is not using.

use std::{
    sync::Arc,
    thread,
    time::{Duration, Instant},
};

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, Version,
    password_hash::phc::{Output, ParamsString, Salt},
};
use prometheus_client::metrics::{gauge::Gauge, histogram::Histogram};
use subtle::ConstantTimeEq;
use tokio::sync::{OnceCell, oneshot};
use tracing::Instrument;

use super::{credentials::Password, random};
use crate::{
    error::{AppError, AppResult},
    metrics::Metrics,
};

/// How many requests may wait per worker before new ones are turned away.
const QUEUE_PER_WORKER: usize = 32;
const SALT_BYTES: usize = 16;
const OUTPUT_BYTES: usize = 32;
/// How long a worker keeps its memory block without a job. Logins come in
/// bursts; after one, a hash costs about a tenth more to map its block anew.
const IDLE: Duration = Duration::from_secs(1);

type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    params: Params,
    /// Dropping it (with the last hasher) ends the worker threads.
    queue: flume::Sender<Job>,
    /// A hash of a random password, verified against when the email is unknown.
    dummy_hash: OnceCell<String>,
    /// Jobs queued and not yet started.
    waiting: Gauge,
    /// How long each computation took.
    seconds: Histogram,
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
    pub fn new(params: Params, workers: usize, metrics: &Metrics) -> std::io::Result<Self> {
        Self::with_queue(params, workers, workers * QUEUE_PER_WORKER, metrics)
    }

    fn with_queue(
        params: Params,
        workers: usize,
        queue: usize,
        metrics: &Metrics,
    ) -> std::io::Result<Self> {
        let (sender, receiver) = flume::bounded::<Job>(queue);
        for index in 0..workers {
            let receiver = receiver.clone();
            thread::Builder::new()
                .name(format!("argon2-{index}"))
                .spawn(move || work(&receiver))?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                params,
                queue: sender,
                dummy_hash: OnceCell::new(),
                waiting: metrics.hash_queue_depth(),
                seconds: metrics.hash_seconds(),
            }),
        })
    }

    /// A PHC string of `password` with a fresh salt and the configured costs.
    pub async fn hash(&self, password: &Password) -> AppResult<String> {
        let password = password.clone();
        let params = self.inner.params.clone();
        self.run(move |memory| hash_with(memory, &params, &password))
            .instrument(tracing::debug_span!("password hash"))
            .await?
    }

    pub async fn verify(&self, password: &Password, stored: &str) -> AppResult<Verification> {
        let password = password.clone();
        let stored = stored.to_owned();
        let params = self.inner.params.clone();
        self.run(move |memory| verify_with(memory, &params, &password, &stored))
            .instrument(tracing::debug_span!("password verify"))
            .await?
    }

    /// Spends one verification, as for a real account, so that the answer
    /// time for an unknown email tells nothing.
    pub async fn verify_dummy(&self, password: &Password) -> AppResult<()> {
        let dummy = self
            .inner
            .dummy_hash
            .get_or_try_init(|| async {
                let random = Password::parse_given(&random::token()?, "password")?;
                self.hash(&random).await
            })
            .await?;
        self.verify(password, dummy).await.map(drop)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> AppResult<T> {
        let (done, result) = oneshot::channel();
        let (waiting, seconds) = (self.inner.waiting.clone(), self.inner.seconds.clone());
        let job: Job = Box::new(move |memory| {
            waiting.dec();
            let started = Instant::now();
            let answer = work(memory);
            seconds.observe(started.elapsed().as_secs_f64());
            // The caller may have given up waiting; the work is done anyway.
            let _ = done.send(answer);
        });
        self.inner.waiting.inc();
        self.inner.queue.try_send(job).map_err(|error| {
            self.inner.waiting.dec();
            match error {
                flume::TrySendError::Full(_) => AppError::RateLimited,
                flume::TrySendError::Disconnected(_) => {
                    AppError::internal("the hashing workers stopped")
                }
            }
        })?;
        result.await.map_err(AppError::internal)
    }
}

/// A worker: takes jobs until every sender is gone, with one memory block,
/// given back after [`IDLE`] without a job.
fn work(receiver: &flume::Receiver<Job>) {
    let mut memory = Vec::new();
    loop {
        let job = if memory.is_empty() {
            receiver.recv()
        } else {
            match receiver.recv_timeout(IDLE) {
                Err(flume::RecvTimeoutError::Timeout) => {
                    memory = Vec::new();
                    continue;
                }
                taken => taken.map_err(|_| flume::RecvError::Disconnected),
            }
        };
        match job {
            Ok(job) => job(&mut memory),
            Err(_) => return,
        }
    }
}

/// `memory` grown to what `params` needs, reusing what is already there.
fn blocks<'a>(memory: &'a mut Vec<Block>, params: &Params) -> &'a mut [Block] {
    let needed = params.block_count();
    if memory.len() < needed {
        memory.resize(needed, Block::default());
    }
    &mut memory[..needed]
}

fn internal(error: impl std::fmt::Display) -> AppError {
    AppError::internal(error.to_string())
}

fn hash_with(memory: &mut Vec<Block>, params: &Params, password: &Password) -> AppResult<String> {
    let salt = random::bytes::<SALT_BYTES>()?;
    let mut output = [0u8; OUTPUT_BYTES];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(
            password.expose().as_bytes(),
            &salt,
            &mut output,
            blocks(memory, params),
        )
        .map_err(internal)?;
    let hash = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(internal)?,
        salt: Some(Salt::new(&salt).map_err(internal)?),
        hash: Some(Output::new(&output).map_err(internal)?),
    };
    Ok(hash.to_string())
}

/// A stored hash in a format taskql verifies: its own Argon2 PHC strings,
/// and those an imported account brings (bcrypt, passlib's PBKDF2-SHA256).
enum Stored<'a> {
    Argon2(Box<PasswordHash>),
    Bcrypt(&'a str),
    Pbkdf2Sha256 {
        rounds: u32,
        salt: Vec<u8>,
        checksum: Vec<u8>,
    },
}

/// The most PBKDF2 rounds an imported hash may ask for (passlib's default
/// is 29,000): a bound on what one login can cost.
const PBKDF2_MAX_ROUNDS: u32 = 10_000_000;

/// The highest bcrypt cost an imported hash may have (2^16 rounds, some
/// seconds; apps use 10 to 12), for the same reason.
const BCRYPT_MAX_COST: u32 = 16;

impl<'a> Stored<'a> {
    fn parse(stored: &'a str) -> Option<Self> {
        if let Some(rest) = stored.strip_prefix("$pbkdf2-sha256$") {
            // passlib: `$pbkdf2-sha256$<rounds>$<salt>$<checksum>`, both in
            // its base64 with `.` for `+` and no padding.
            let mut parts = rest.split('$');
            let rounds = parts.next()?.parse().ok()?;
            let salt = passlib_base64(parts.next()?)?;
            let checksum = passlib_base64(parts.next()?)?;
            let valid = parts.next().is_none()
                && (1..=PBKDF2_MAX_ROUNDS).contains(&rounds)
                && checksum.len() == 32;
            return valid.then_some(Self::Pbkdf2Sha256 {
                rounds,
                salt,
                checksum,
            });
        }
        if ["$2a$", "$2b$", "$2y$"]
            .iter()
            .any(|prefix| stored.starts_with(prefix))
        {
            let cost = stored.get(4..6)?.parse::<u32>().ok()?;
            let valid = stored.len() == 60
                && stored.as_bytes()[6] == b'$'
                && (4..=BCRYPT_MAX_COST).contains(&cost);
            return valid.then_some(Self::Bcrypt(stored));
        }
        let hash = PasswordHash::new(stored).ok()?;
        Algorithm::try_from(hash.algorithm.as_str()).ok()?;
        Params::try_from(&hash).ok()?;
        (hash.salt.is_some() && hash.hash.is_some()).then(|| Self::Argon2(Box::new(hash)))
    }
}

fn passlib_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(text.replace('.', "+"))
        .ok()
}

/// Whether `stored` is a hash taskql can verify (Argon2, bcrypt
/// `$2a$`/`$2b$`/`$2y$`, passlib's `$pbkdf2-sha256$`).
pub fn is_known_format(stored: &str) -> bool {
    Stored::parse(stored).is_some()
}

/// Recomputes `stored` with its own algorithm, version and costs; any hash
/// other than Argon2id with the configured costs asks to be replaced.
fn verify_with(
    memory: &mut Vec<Block>,
    configured: &Params,
    password: &Password,
    stored: &str,
) -> AppResult<Verification> {
    let secret = password.expose().as_bytes();
    let (right, current) = match Stored::parse(stored) {
        None => return Err(AppError::internal("a stored hash in no known format")),
        Some(Stored::Argon2(hash)) => verify_argon2(memory, configured, secret, &hash)?,
        Some(Stored::Bcrypt(hash)) => (bcrypt::verify(secret, hash).map_err(internal)?, false),
        Some(Stored::Pbkdf2Sha256 {
            rounds,
            salt,
            checksum,
        }) => {
            let mut output = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(secret, &salt, rounds, &mut output);
            (bool::from(output.ct_eq(&checksum)), false)
        }
    };
    Ok(if right {
        Verification::Valid {
            needs_rehash: !current,
        }
    } else {
        Verification::Invalid
    })
}

/// Whether `secret` matches the Argon2 `hash`, and whether the hash is
/// Argon2id with the configured costs.
fn verify_argon2(
    memory: &mut Vec<Block>,
    configured: &Params,
    secret: &[u8],
    hash: &PasswordHash,
) -> AppResult<(bool, bool)> {
    let params = Params::try_from(hash).map_err(internal)?;
    let algorithm = Algorithm::try_from(hash.algorithm.as_str()).map_err(internal)?;
    let version = hash
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(internal)?
        .unwrap_or_default();
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return Err(AppError::internal("stored hash without salt or output"));
    };
    let mut output = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params.clone())
        .hash_password_into_with_memory(secret, salt.as_ref(), &mut output, blocks(memory, &params))
        .map_err(internal)?;
    let current = algorithm == Algorithm::Argon2id
        && version == Version::V0x13
        && (params.m_cost(), params.t_cost(), params.p_cost())
            == (
                configured.m_cost(),
                configured.t_cost(),
                configured.p_cost(),
            );
    Ok((bool::from(output.ct_eq(expected.as_bytes())), current))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(m: u32, t: u32) -> PasswordHasher {
        PasswordHasher::new(
            Params::new(m, t, 1, None).expect("valid"),
            1,
            &Metrics::recording(),
        )
        .expect("threads")
    }

    fn password(text: &str) -> Password {
        Password::parse_given(text, "password").expect("valid")
    }

    #[tokio::test]
    async fn hashes_verify_and_carry_the_configured_costs() {
        let hasher = hasher(1024, 1);
        let hash = hasher.hash(&password("correct horse")).await.expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
        let ok = hasher.verify(&password("correct horse"), &hash).await;
        assert_eq!(
            ok.expect("verify"),
            Verification::Valid {
                needs_rehash: false
            }
        );
        let wrong = hasher.verify(&password("wrong horse"), &hash).await;
        assert_eq!(wrong.expect("verify"), Verification::Invalid);
    }

    #[tokio::test]
    async fn hashes_made_by_the_argon2_crate_itself_verify() {
        use argon2::PasswordHasher as _;
        let reference = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(2048, 1, 1, None).expect("valid"),
        )
        .hash_password(b"correct horse")
        .expect("hash")
        .to_string();
        let verdict = hasher(2048, 1)
            .verify(&password("correct horse"), &reference)
            .await;
        assert_eq!(
            verdict.expect("verify"),
            Verification::Valid {
                needs_rehash: false
            }
        );
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
        let params = Params::new(65_536, 3, 1, None).expect("valid");
        let hasher =
            PasswordHasher::with_queue(params, 1, 1, &Metrics::recording()).expect("threads");
        let secret = password("correct horse");
        let attempts = (0..4).map(|_| hasher.hash(&secret));
        let outcomes = futures_util::future::join_all(attempts).await;
        assert!(outcomes.iter().any(Result::is_ok), "the pool works");
        let refused = outcomes
            .iter()
            .filter(|o| matches!(o, Err(AppError::RateLimited)));
        assert!(
            refused.count() >= 2,
            "one computes, one waits, the rest are refused"
        );
    }

    #[tokio::test]
    async fn an_idle_worker_gives_its_memory_back_and_a_busy_one_keeps_it() {
        let hasher = hasher(1024, 1);
        hasher.hash(&password("correct horse")).await.expect("hash");
        let held = hasher.run(|memory| memory.len()).await.expect("run");
        assert_eq!(held, 1024, "kept between jobs that follow each other");
        // Each look is a job too, so it waits a little longer than IDLE.
        let mut looks = 0;
        while hasher.run(|memory| memory.len()).await.expect("run") != 0 {
            looks += 1;
            assert!(
                looks < 10,
                "the block is still held after {looks} idle spells"
            );
            std::thread::sleep(IDLE + Duration::from_millis(300));
        }
        hasher.hash(&password("correct horse")).await.expect("hash");
    }

    /// Hashes of "correct horse battery" written by pwdlib, passlib and the
    /// `bcrypt` package; the import's tests read them too.
    fn imported() -> impl Iterator<Item = &'static str> {
        include_str!("../../tests/fixtures/imported-hashes.txt")
            .lines()
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
    }

    #[tokio::test]
    async fn imported_hashes_verify_and_ask_to_be_replaced() {
        let hasher = hasher(1024, 1);
        let bcrypt = imported()
            .find(|hash| hash.starts_with("$2b$"))
            .expect("one");
        let php = bcrypt.replacen("$2b$", "$2y$", 1);
        for stored in imported().map(str::to_owned).chain([php]) {
            let stored = stored.as_str();
            assert!(is_known_format(stored), "{stored}");
            let right = hasher
                .verify(&password("correct horse battery"), stored)
                .await;
            assert_eq!(
                right.expect("verify"),
                Verification::Valid { needs_rehash: true },
                "{stored}"
            );
            let wrong = hasher
                .verify(&password("correct horse battery!"), stored)
                .await;
            assert_eq!(wrong.expect("verify"), Verification::Invalid, "{stored}");
        }
    }

    #[test]
    fn hashes_in_no_known_format_are_told_apart() {
        for stored in [
            "",
            "plain text",
            "$1$saltsalt$md5cryptlooksso",
            "$pbkdf2-sha1$29000$otQa4/w/53yPkVJqLWXsnQ$K2399nvjEUjv",
            "$pbkdf2-sha256$0$otQa4/w/53yPkVJqLWXsnQ$K2399nvjEUjv/weCtw6U1AoDKM0Cmo33p.yySNvikOc",
            "$2b$04$short",
            "$2b$17$1hBFKKKLQdr9eh5Nt4nS5OlYyF0iG7UWwVmh2memtlLrVzHkut5mK",
            "$argon2id$v=19$m=1024,t=1,p=1$bm90IGEgaGFzaA",
        ] {
            assert!(!is_known_format(stored), "{stored}");
        }
    }
}
