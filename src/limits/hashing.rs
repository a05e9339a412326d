//! A process-wide bound on password hashes computed at once (README.md, "Limits"). An
//! Argon2id hash holds 19 MiB while it runs: without a bound, 128 registrations at once
//! took a replica past 1 GiB. Every login and registration, web and API, hashes through [`HashSlots`].
//!
//! Each slot owns its 19 MiB ([`HashMemory`]) and reuses it. A semaphore alone is not
//! enough: glibc keeps freed 19 MiB blocks in per-thread arenas, and with hashes landing
//! on ever other blocking-pool threads a bound of 4 still peaked above 1 GiB.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::domain::HashMemory;
use crate::metrics::Metrics;
pub use crate::overload::HashBusy;

/// How long a request waits for a slot before it is told to come back (README.md, "Limits").
pub const MAX_HASH_WAIT: Duration = Duration::from_secs(2);

/// The slots, shared by every handler of the process; cheap to clone.
#[derive(Clone)]
pub struct HashSlots {
    permits: Arc<Semaphore>,
    /// The memories of the slots, allocated on first use; never more than `permits`.
    memories: Arc<Mutex<Vec<HashMemory>>>,
    max_wait: Duration,
    metrics: Metrics,
}

impl HashSlots {
    /// `concurrency` hashes at once (at least one).
    pub fn new(concurrency: usize, metrics: Metrics) -> HashSlots {
        HashSlots::with_max_wait(concurrency, MAX_HASH_WAIT, metrics)
    }

    pub fn with_max_wait(concurrency: usize, max_wait: Duration, metrics: Metrics) -> HashSlots {
        HashSlots {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            memories: Arc::default(),
            max_wait,
            metrics,
        }
    }

    /// Runs `work` (a hash or a verification, in the slot's memory) on the blocking pool
    /// once a slot is free, or answers [`HashBusy`] after waiting [`MAX_HASH_WAIT`]. The
    /// slot is held until the work ends, even if the client goes away meanwhile: the
    /// memory is in use until then.
    pub async fn run<T, F>(&self, work: F) -> Result<T, HashBusy>
    where
        T: Send + 'static,
        F: FnOnce(&mut HashMemory) -> T + Send + 'static,
    {
        let waited = Instant::now();
        let permit =
            tokio::time::timeout(self.max_wait, self.permits.clone().acquire_owned()).await;
        self.metrics
            .password_hash_wait_seconds
            .observe(waited.elapsed().as_secs_f64());
        let Ok(Ok(permit)) = permit else {
            self.metrics.password_hash_rejected_total.inc();
            return Err(HashBusy);
        };
        let memories = self.memories.clone();
        tokio::task::spawn_blocking(move || {
            // A permit guarantees a memory: at most `permits` are ever taken at once.
            let mut memory = take(&memories).unwrap_or_default();
            let out = work(&mut memory);
            give_back(&memories, memory);
            drop(permit);
            out
        })
        .await
        .map_err(|e| {
            // Argon2 with valid parameters does not panic; if it ever does, the client
            // may retry, and the cause is in the log.
            tracing::error!(error = %e, "password hashing task failed");
            HashBusy
        })
    }
}

fn take(memories: &Mutex<Vec<HashMemory>>) -> Option<HashMemory> {
    memories.lock().ok()?.pop()
}

fn give_back(memories: &Mutex<Vec<HashMemory>>, memory: HashMemory) {
    if let Ok(mut memories) = memories.lock() {
        memories.push(memory);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::http::StatusCode;

    #[tokio::test]
    async fn at_most_n_run_at_once_and_late_ones_are_refused() {
        let metrics = Metrics::new();
        let slots = HashSlots::with_max_wait(2, Duration::from_millis(1000), metrics.clone());
        let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let jobs = (0..6).map(|_| {
            let slots = slots.clone();
            let running = running.clone();
            let peak = peak.clone();
            async move {
                slots
                    .run(move |_memory| {
                        use std::sync::atomic::Ordering::SeqCst;
                        let now = running.fetch_add(1, SeqCst) + 1;
                        peak.fetch_max(now, SeqCst);
                        // Two rounds fit in the wait (slots free at 0.6 s), a third does not (1.2 s).
                        std::thread::sleep(Duration::from_millis(600));
                        running.fetch_sub(1, SeqCst);
                    })
                    .await
            }
        });
        let results = futures_util::future::join_all(jobs).await;
        assert_eq!(peak.load(std::sync::atomic::Ordering::SeqCst), 2);
        let ok = results.iter().filter(|r| r.is_ok()).count();
        let busy = results.iter().filter(|r| **r == Err(HashBusy)).count();
        assert_eq!((ok, busy), (4, 2), "{results:?}");
        assert_eq!(metrics.password_hash_rejected_total.get(), 2);
        let busy = crate::error::AppError::from(HashBusy);
        let mut res = poem::Response::builder().status(busy.status()).finish();
        busy.add_retry_after(&mut res);
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()["retry-after"], "1");
    }
}
