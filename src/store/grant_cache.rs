//! What recently used access tokens grant, kept for a moment: every request of the
//! Mastodon-compatible API carries its token, and looking it up in the database cost more
//! than the rest of a cached timeline read (BENCHMARKS.md, "The Mastodon-compatible API").
//!
//! A revocation on this instance drops its entry at once, and a lookup that raced it is
//! not kept (a generation counter, as the page caches have). A revocation on another
//! instance, a removed user or a new password (MiniTwit has no password change of its
//! own; it is done in the database) holds here once the entry is [`MAX_AGE`] old
//! (docs/mastodon.md, "OAuth 2"). Unknown tokens are not kept: a client guessing tokens
//! would only fill the cache.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hashlink::LruCache;

use super::oauth::Grant;

/// How long a grant is used without asking the database again.
pub const MAX_AGE: Duration = Duration::from_secs(1);
/// Tokens kept; the least recently used are dropped first. A grant is under 1 KB.
const TOKENS_KEPT: usize = 4096;

#[derive(Clone)]
pub(super) struct GrantCache {
    inner: Arc<Inner>,
}

struct Inner {
    /// Bumped by every revocation made here.
    generation: AtomicU64,
    grants: Mutex<LruCache<String, (Instant, Grant)>>,
}

impl Default for GrantCache {
    fn default() -> Self {
        GrantCache {
            inner: Arc::new(Inner {
                generation: AtomicU64::new(0),
                grants: Mutex::new(LruCache::new(TOKENS_KEPT)),
            }),
        }
    }
}

impl GrantCache {
    /// The generation to pass to [`GrantCache::store`] for a grant read from now on.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// The grant of the token whose key (SHA-256) is `key`, if it was read recently.
    pub fn get(&self, key: &str) -> Option<Grant> {
        let mut grants = self.inner.grants.lock().ok()?;
        match grants.get(key) {
            Some((read_at, grant)) if read_at.elapsed() < MAX_AGE => Some(grant.clone()),
            Some(_) => {
                grants.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keeps `grant`, read at `generation` (taken before the query): a revocation made
    /// here meanwhile may have been of this very token, so then it is not kept.
    pub fn store(&self, generation: u64, grant: &Grant) {
        if let Ok(mut grants) = self.inner.grants.lock() {
            if generation == self.generation() {
                grants.insert(grant.key.clone(), (Instant::now(), grant.clone()));
            }
        }
    }

    /// The token whose key is `key` was revoked here.
    pub fn revoked(&self, key: &str) {
        if let Ok(mut grants) = self.inner.grants.lock() {
            self.inner.generation.fetch_add(1, Ordering::AcqRel);
            grants.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(key: &str) -> Grant {
        Grant {
            user: None,
            app_id: Some(1),
            scopes: "read".into(),
            key: key.into(),
        }
    }

    #[test]
    fn a_grant_is_kept_until_revoked_here() {
        let cache = GrantCache::default();
        assert_eq!(cache.get("k"), None);
        cache.store(cache.generation(), &grant("k"));
        assert_eq!(cache.get("k"), Some(grant("k")));
        cache.revoked("k");
        assert_eq!(cache.get("k"), None);
    }

    #[test]
    fn a_lookup_that_raced_a_revocation_is_not_kept() {
        let cache = GrantCache::default();
        let generation = cache.generation();
        cache.revoked("k"); // while the lookup's query ran
        cache.store(generation, &grant("k"));
        assert_eq!(cache.get("k"), None);
    }

    #[test]
    fn a_grant_is_asked_for_again_after_max_age() {
        let cache = GrantCache::default();
        cache.store(cache.generation(), &grant("k"));
        std::thread::sleep(MAX_AGE + Duration::from_millis(20));
        assert_eq!(cache.get("k"), None);
    }
}
