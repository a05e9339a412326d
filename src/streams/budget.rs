//! What one websocket may ask of the server: client frames ([`FrameBudget`]) and `since`
//! replays, each a database query ([`ReplayBudget`]). Past either the socket is closed
//! with 1008 (README.md, "Live updates").
//!
//! Per socket, not per address: the budgets live in the socket's own task (no lock, no
//! shared map), and many readers behind one address (a school's NAT) do not share one
//! tab's reconnects. An address is bounded anyway: by `MINITWIT_MAX_SOCKETS_PER_IP` open
//! streams, and by the per-address connect rate (`MINITWIT_WS_CONNECTS_PER_MINUTE`), which
//! every new socket — and so every fresh budget — pays first.

use tokio::time::Instant;

/// A token bucket of `PER_MINUTE` tokens a minute on average and `BURST` at once. The rates
/// are part of the type, so an open socket's task carries only the tokens and a time.
#[derive(Debug)]
pub struct TokenBucket<const PER_MINUTE: u32, const BURST: u32> {
    tokens: f64,
    refilled: Instant,
}

impl<const PER_MINUTE: u32, const BURST: u32> TokenBucket<PER_MINUTE, BURST> {
    /// A full bucket.
    pub fn new() -> Self {
        TokenBucket {
            tokens: f64::from(BURST),
            refilled: Instant::now(),
        }
    }

    /// Takes one token; `false` when the client is over its budget.
    pub fn take(&mut self) -> bool {
        let now = Instant::now();
        let earned = now.duration_since(self.refilled).as_secs_f64() * f64::from(PER_MINUTE) / 60.0;
        self.tokens = (self.tokens + earned).min(f64::from(BURST));
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl<const PER_MINUTE: u32, const BURST: u32> Default for TokenBucket<PER_MINUTE, BURST> {
    fn default() -> Self {
        Self::new()
    }
}

/// Client frames: 10 a second on average, 20 at once (README.md).
pub type FrameBudget = TokenBucket<600, 20>;

/// `since` replays, the frame's `since` and the URL's alike: 20 at once, so a page may
/// resume all 16 streams a socket can hold, then one every 10 s. Without it a socket
/// alternating subscribe and unsubscribe inside the frame budget made 5 replay queries a
/// second, 1,000 from 200 sockets of one address; now at most 20 each, then 200 sockets
/// make 20 a second.
pub type ReplayBudget = TokenBucket<6, 20>;

/// The text of [`ReplayBudget`]'s 1008 close.
pub const REPLAYS_EXCEEDED: &str = "too many replays: at most 6 a minute (burst 20)";

#[cfg(test)]
mod tests {
    use super::*;

    /// Moves the bucket's last refill `secs` into the past, as if that time went by.
    fn age(replays: &mut ReplayBudget, secs: u64) {
        replays.refilled = replays
            .refilled
            .checked_sub(std::time::Duration::from_secs(secs))
            .expect("a clock older than that");
    }

    #[test]
    fn a_burst_then_the_rate() {
        let mut replays = ReplayBudget::new();
        assert!((0..20).all(|_| replays.take()));
        assert!(!replays.take(), "past the burst");
        age(&mut replays, 9);
        assert!(!replays.take(), "one every 10 s");
        age(&mut replays, 2);
        assert!(replays.take());
        assert!(!replays.take());
    }
}
