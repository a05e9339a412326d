//! Rate limits with governor: per client address for login, register and websocket
//! connects (an IPv6 client by its /64, see [`address_bucket`]), per user for posting from
//! the web. Keyed state is bounded: a sweeper drops keys whose
//! limit has fully recovered, and the maps are swept early when they grow past a bound.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::address_bucket;
use crate::metrics::Metrics;
pub use crate::overload::{Limiter, RateLimited};

/// Keys kept before a sweep is forced, whatever the interval.
const MAX_KEYS: usize = 100_000;
/// How often idle keys are dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Requests per minute each limit allows, with a burst of the same size; 0 turns it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    pub login_per_minute: u32,
    pub register_per_minute: u32,
    pub ws_connects_per_minute: u32,
    pub posts_per_minute: u32,
}

struct Keyed<K: Hash + Eq + Clone> {
    limiter: Option<DefaultKeyedRateLimiter<K>>,
}

impl<K: Hash + Eq + Clone> Keyed<K> {
    fn new(per_minute: u32) -> Self {
        Keyed {
            limiter: NonZeroU32::new(per_minute)
                .map(|n| DefaultKeyedRateLimiter::keyed(Quota::per_minute(n))),
        }
    }

    fn check(&self, key: &K) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if limiter.len() > MAX_KEYS {
            limiter.retain_recent();
        }
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            // Round up: a client that waits exactly this long is allowed.
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    fn sweep(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    fn len(&self) -> usize {
        self.limiter.as_ref().map_or(0, |l| l.len())
    }
}

/// Every rate limiter of the app; cheap to clone.
#[derive(Clone)]
pub struct RateLimits {
    inner: Arc<Limiters>,
}

struct Limiters {
    login: Keyed<IpAddr>,
    register: Keyed<IpAddr>,
    ws_connect: Keyed<IpAddr>,
    post: Keyed<i64>,
    metrics: Metrics,
}

impl RateLimits {
    pub fn new(settings: RateLimitSettings, metrics: Metrics) -> RateLimits {
        for limiter in Limiter::ALL {
            // Present at 0 before the first refusal, so dashboards and alerts see the family.
            metrics
                .rate_limited_total
                .with_label_values(&[limiter.label()]);
        }
        RateLimits {
            inner: Arc::new(Limiters {
                login: Keyed::new(settings.login_per_minute),
                register: Keyed::new(settings.register_per_minute),
                ws_connect: Keyed::new(settings.ws_connects_per_minute),
                post: Keyed::new(settings.posts_per_minute),
                metrics,
            }),
        }
    }

    /// Counts one request by `ip` against `limiter` (login, register or ws_connect), in
    /// the bucket of its address (an IPv6 client's /64).
    pub fn check_ip(&self, limiter: Limiter, ip: IpAddr) -> Result<(), RateLimited> {
        let keyed = match limiter {
            Limiter::Login => &self.inner.login,
            Limiter::Register => &self.inner.register,
            Limiter::WsConnect => &self.inner.ws_connect,
            Limiter::Post => return Ok(()),
        };
        self.refuse_counted(limiter, keyed.check(&address_bucket(ip)))
    }

    /// Counts one post by `user_id`.
    pub fn check_post(&self, user_id: i64) -> Result<(), RateLimited> {
        self.refuse_counted(Limiter::Post, self.inner.post.check(&user_id))
    }

    fn refuse_counted(
        &self,
        limiter: Limiter,
        outcome: Result<(), u64>,
    ) -> Result<(), RateLimited> {
        outcome.map_err(|retry_after_secs| {
            self.inner
                .metrics
                .rate_limited_total
                .with_label_values(&[limiter.label()])
                .inc();
            RateLimited {
                limiter,
                retry_after_secs: retry_after_secs.max(1),
            }
        })
    }

    /// Keys held across all limiters (for tests of the bound).
    pub fn keys(&self) -> usize {
        let l = &self.inner;
        l.login.len() + l.register.len() + l.ws_connect.len() + l.post.len()
    }

    /// Drops keys whose limits have recovered.
    pub fn sweep(&self) {
        let l = &self.inner;
        l.login.sweep();
        l.register.sweep();
        l.ws_connect.sweep();
        l.post.sweep();
    }

    /// Sweeps every minute for as long as the app runs.
    pub fn spawn_sweeper(&self) -> tokio::task::JoinHandle<()> {
        let limits = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(SWEEP_EVERY);
            loop {
                every.tick().await;
                limits.sweep();
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::http::StatusCode;

    fn limits(per_minute: u32) -> RateLimits {
        RateLimits::new(
            RateLimitSettings {
                login_per_minute: per_minute,
                register_per_minute: per_minute,
                ws_connects_per_minute: per_minute,
                posts_per_minute: per_minute,
            },
            Metrics::new(),
        )
    }

    #[test]
    fn refuses_past_the_burst_with_a_retry_after_and_counts_it() {
        let limits = limits(5);
        let ip: IpAddr = "1.2.3.4".parse().expect("ip");
        for _ in 0..5 {
            assert!(limits.check_ip(Limiter::Login, ip).is_ok());
        }
        let refused = limits
            .check_ip(Limiter::Login, ip)
            .expect_err("sixth is refused");
        assert_eq!(refused.limiter, Limiter::Login);
        assert!((1..=12).contains(&refused.retry_after_secs), "{refused:?}");
        // Other keys and other limiters are untouched.
        assert!(limits
            .check_ip(Limiter::Login, "5.6.7.8".parse().expect("ip"))
            .is_ok());
        assert!(limits.check_ip(Limiter::Register, ip).is_ok());
        let counted = limits
            .inner
            .metrics
            .rate_limited_total
            .with_label_values(&["login"])
            .get();
        assert_eq!(counted, 1);
        let refused = crate::error::AppError::from(refused);
        let mut res = poem::Response::builder().status(refused.status()).finish();
        refused.add_retry_after(&mut res);
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(res.headers().contains_key("retry-after"));
    }

    #[test]
    fn one_ipv6_64_shares_one_budget() {
        let limits = limits(3);
        for host in 1..=3u16 {
            let ip = IpAddr::from([0x2001, 0xdb8, 0, 7, 0, 0, 0, host]);
            assert!(limits.check_ip(Limiter::Register, ip).is_ok());
        }
        let fourth = IpAddr::from([0x2001, 0xdb8, 0, 7, 0xdead, 0xbeef, 0, 4]);
        assert!(limits.check_ip(Limiter::Register, fourth).is_err());
        let next_network = IpAddr::from([0x2001, 0xdb8, 0, 8, 0, 0, 0, 1]);
        assert!(limits.check_ip(Limiter::Register, next_network).is_ok());
        assert_eq!(limits.keys(), 2);
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let limits = limits(0);
        for _ in 0..1000 {
            assert!(limits.check_post(7).is_ok());
        }
        assert_eq!(limits.keys(), 0);
    }

    #[test]
    fn sweeping_drops_recovered_keys() {
        let limits = limits(600);
        for i in 0..50u8 {
            let ip = IpAddr::from([10, 0, 0, i]);
            assert!(limits.check_ip(Limiter::WsConnect, ip).is_ok());
        }
        assert_eq!(limits.keys(), 50);
        // One request of a 600/minute quota recovers in 100 ms; governor drops a key once
        // its state is older than one more interval.
        std::thread::sleep(Duration::from_millis(300));
        limits.sweep();
        assert_eq!(limits.keys(), 0);
    }
}
