//! One request at a time per (user, `Idempotency-Key`) on this instance, so that a client
//! sending its post again before the first answer came (a double tap, a retry on a slow
//! network) finds the first post remembered instead of posting a second one.
//!
//! Only this instance's requests wait in turn: two copies sent to two instances at the
//! same moment can still both post (docs/mastodon.md says so).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

type Key = (i64, String);
type Locks = Arc<Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>>;

/// The keys being used now; an entry lives only while a request holds or awaits it.
#[derive(Clone, Default)]
pub struct KeyLocks(Locks);

/// Held while a request checks, posts and remembers under its key.
pub struct KeyGuard {
    locks: Locks,
    key: Key,
    _held: OwnedMutexGuard<()>,
}

impl KeyLocks {
    /// Waits until no other request of this instance holds `key` for `user_id`.
    pub async fn lock(&self, user_id: i64, key: &str) -> KeyGuard {
        let key = (user_id, key.to_owned());
        let mutex = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(key.clone())
            .or_default()
            .clone();
        KeyGuard {
            locks: self.0.clone(),
            key,
            _held: mutex.lock_owned().await,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().map(|map| map.len()).unwrap_or_default()
    }
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        let mut locks = self
            .locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // The map's reference and this guard's: nobody else waits, so the entry goes.
        // A waiter takes its reference under this same map lock, so it cannot slip in.
        if locks
            .get(&self.key)
            .is_some_and(|mutex| Arc::strong_count(mutex) <= 2)
        {
            locks.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn one_key_is_held_by_one_request_at_a_time_and_forgotten_after() {
        let locks = KeyLocks::default();
        let first = locks.lock(1, "k").await;
        let waiting = {
            let locks = locks.clone();
            tokio::spawn(async move {
                let _second = locks.lock(1, "k").await;
            })
        };
        // Another user's key, or another key, does not wait.
        drop(locks.lock(2, "k").await);
        drop(locks.lock(1, "other").await);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !waiting.is_finished(),
            "the second request waits for the first"
        );
        drop(first);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the second request goes on")
            .expect("no panic");
        assert_eq!(locks.len(), 0, "no key is kept once nobody uses it");
    }
}
