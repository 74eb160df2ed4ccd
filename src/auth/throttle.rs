//! Brute-force brakes: a per-client-IP rate on the authentication mutations,
//! and a per-email lockout after repeated failed logins.
//!
//! The lockout counts attempts in the database *before* the password is
//! checked, so concurrent guesses cannot slip past the count, and a success
//! clears it. It counts emails with and without an account alike.

use std::{net::IpAddr, sync::Arc, time::Duration};

use entity::login_failure::{self, Column, Entity as LoginFailures};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sea_orm::{
    ActiveValue::Set,
    ConnectionTrait, EntityTrait,
    sea_query::{CaseStatement, Expr, ExprTrait, OnConflict},
};

use super::Email;
use crate::{
    config::RateLimit,
    db,
    error::{AppError, AppResult},
};

/// Past this many tracked clients, idle ones are forgotten.
const TRACKED_CLIENTS: usize = 10_000;

/// The client address of a request, as the HTTP layer determined it.
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub IpAddr);

/// Per-IP limiter for signup, login and refreshToken; `None` when off.
#[derive(Clone)]
pub struct AuthRateLimiter(Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>);

impl AuthRateLimiter {
    pub fn new(limit: Option<RateLimit>) -> Self {
        Self(limit.map(|limit| {
            let period = limit.per / limit.count.get();
            let quota = Quota::with_period(period)
                .unwrap_or_else(|| Quota::per_second(limit.count))
                .allow_burst(limit.count);
            Arc::new(RateLimiter::keyed(quota))
        }))
    }

    /// Counts one attempt from `client`; `RATE_LIMITED` past the limit.
    pub fn check(&self, client: Option<ClientIp>) -> AppResult<()> {
        let (Some(limiter), Some(ClientIp(ip))) = (&self.0, client) else {
            return Ok(());
        };
        let allowed = limiter.check_key(&ip).is_ok();
        if limiter.len() > TRACKED_CLIENTS {
            limiter.retain_recent();
        }
        if allowed {
            Ok(())
        } else {
            Err(AppError::RateLimited)
        }
    }
}

/// Counts a login attempt for `email`; `RATE_LIMITED` when more than
/// `max_failures` attempts failed within the current `window`.
pub async fn admit_login(
    db: &impl ConnectionTrait,
    email: &Email,
    max_failures: u32,
    window: Duration,
) -> AppResult<()> {
    let now = db::now();
    let window_start = now - chrono::Duration::from_std(window).map_err(AppError::internal)?;
    let stale = Expr::col((LoginFailures, Column::WindowStartedAt)).lte(window_start);
    let failures = CaseStatement::new()
        .case(stale.clone(), Expr::val(1))
        .finally(Expr::col((LoginFailures, Column::Failures)).add(1));
    let started = CaseStatement::new()
        .case(stale, Expr::val(now))
        .finally(Expr::col((LoginFailures, Column::WindowStartedAt)));
    let counted = LoginFailures::insert(login_failure::ActiveModel {
        email: Set(email.as_str().to_owned()),
        failures: Set(1),
        window_started_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(Column::Email)
            .value(Column::Failures, failures)
            .value(Column::WindowStartedAt, started)
            .to_owned(),
    )
    .exec_with_returning(db)
    .await?;
    let attempts = u32::try_from(counted.failures).unwrap_or(u32::MAX);
    if attempts > max_failures {
        tracing::warn!("login locked after repeated failures");
        return Err(AppError::RateLimited);
    }
    Ok(())
}

/// A successful login: the count starts again.
pub async fn clear_login_failures(db: &impl ConnectionTrait, email: &Email) -> AppResult<()> {
    LoginFailures::delete_by_id(email.as_str().to_owned())
        .exec(db)
        .await?;
    Ok(())
}

/// The client's address: the socket's peer, or, when the peer is a trusted
/// proxy, the nearest untrusted address in its `X-Forwarded-For`.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpAddr]) -> IpAddr {
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

    #[test]
    fn the_rate_limit_counts_per_client() {
        let limiter = AuthRateLimiter::new(Some(RateLimit {
            count: std::num::NonZeroU32::new(2).expect("non-zero"),
            per: Duration::from_secs(60),
        }));
        let (a, b) = (Some(ClientIp(ip("1.1.1.1"))), Some(ClientIp(ip("2.2.2.2"))));
        assert!(limiter.check(a).is_ok() && limiter.check(a).is_ok());
        assert!(matches!(limiter.check(a), Err(AppError::RateLimited)));
        assert!(
            limiter.check(b).is_ok(),
            "another client has its own allowance"
        );
        assert!(AuthRateLimiter::new(None).check(a).is_ok(), "off");
    }
}
