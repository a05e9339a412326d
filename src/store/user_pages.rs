//! The newest page of each recently read user's timeline (`GET /api/msgs/{u}`, `/{u}`),
//! for a bounded number of users (the least recently read are dropped first).
//!
//! As for the public page, a page is served only while its author's generation is the one
//! taken before the query that read it: a post, hide or show of one of the author's
//! messages bumps it, on this instance and (through the realtime bus) on every other, so a
//! post that commits while a query runs leaves no stale page behind. A show that does not
//! say whose message it was bumps every author's generation at once.
//!
//! The store keeps each recent reader's home page in a second one, keyed by reader: every
//! message change bumps all of them (whose home shows the author is not known here), and a
//! follow or unfollow the follower's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hashlink::LruCache;

use super::newest_page::{Entry, NewestPage};
use super::TimelineMessage;

/// Users whose page is kept. A page of up to [`MOST_ROWS`] rows is a few KB to some tens of
/// KB with its rendered HTML, so this bounds the cache to tens of MB at worst.
const USERS_KEPT: usize = 1024;
/// Events, not this, make a change show at once; this only bounds how long a missed event
/// (a hide announced while Redis was down) can leave a page stale. Much longer than the
/// public page's because each user's page misses on its own: at 2 s, 1,000 users read
/// 20,000 times a second would miss 500 times a second (2.5% of the requests, each a query
/// and a rendering, which is a p99 well above a hit's).
const MAX_AGE: Duration = Duration::from_secs(10);
/// Larger pages are read from the database each time rather than held.
pub(super) const MOST_ROWS: u64 = 100;
/// Authors share generation counters by id modulo this: a post by one makes the pages of
/// the others in its shard miss once, and no counter is lost when a page is evicted.
const SHARDS: usize = 4096;

#[derive(Clone)]
pub(super) struct UserPages {
    inner: Arc<Inner>,
}

struct Inner {
    /// Bumped when any author's pages may have changed (a show without its author).
    epoch: AtomicU64,
    shards: Box<[AtomicU64]>,
    pages: Mutex<LruCache<i64, Entry>>,
}

impl Default for UserPages {
    fn default() -> Self {
        UserPages::with_capacity(USERS_KEPT)
    }
}

impl UserPages {
    fn with_capacity(users: usize) -> UserPages {
        UserPages {
            inner: Arc::new(Inner {
                epoch: AtomicU64::new(0),
                shards: (0..SHARDS).map(|_| AtomicU64::new(0)).collect(),
                pages: Mutex::new(LruCache::new(users)),
            }),
        }
    }

    fn shard(&self, author: i64) -> &AtomicU64 {
        &self.inner.shards[author.rem_euclid(SHARDS as i64) as usize]
    }

    /// The generation to pass to [`UserPages::store`] for a page of `author` read from now
    /// on. Both counters only grow, so their sum changes whenever either is bumped.
    pub fn generation(&self, author: i64) -> u64 {
        let epoch = self.inner.epoch.load(Ordering::Acquire);
        epoch.wrapping_add(self.shard(author).load(Ordering::Acquire))
    }

    /// A message of `author` was posted, hidden or shown; `None`: of an unknown author.
    pub fn invalidate(&self, author: Option<i64>) {
        match author {
            Some(author) => self.shard(author).fetch_add(1, Ordering::AcqRel),
            None => self.inner.epoch.fetch_add(1, Ordering::AcqRel),
        };
    }

    /// The newest `limit` messages of `author`, if a fresh enough page holds them.
    pub fn get(&self, author: i64, limit: u64) -> Option<NewestPage> {
        let generation = self.generation(author);
        let mut pages = self.inner.pages.lock().ok()?;
        pages.get(&author)?.serve(generation, MAX_AGE, limit)
    }

    /// Keeps a page of `author` read at `generation` (taken before the query started) and
    /// returns it. A page already stale is not kept, so it cannot push out a good one.
    pub fn store(
        &self,
        author: i64,
        generation: u64,
        limit: u64,
        rows: Vec<TimelineMessage>,
    ) -> NewestPage {
        let entry = Entry::new(generation, limit, rows);
        let page = entry.page();
        if generation == self.generation(author) {
            if let Ok(mut pages) = self.inner.pages.lock() {
                pages.insert(author, entry);
            }
        }
        page
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.pages.lock().map(|p| p.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::newest_page::message;
    use super::*;

    fn fill(cache: &UserPages, author: i64) {
        let generation = cache.generation(author);
        cache.store(author, generation, 30, vec![message(author * 10, author)]);
    }

    #[test]
    fn each_author_is_invalidated_alone() {
        let cache = UserPages::default();
        fill(&cache, 1);
        fill(&cache, 2);
        cache.invalidate(Some(1));
        assert!(
            cache.get(1, 30).is_none(),
            "a post by 1 makes 1's page stale"
        );
        assert_eq!(cache.get(2, 30).map(|p| p[0].message_id), Some(20));
        cache.invalidate(None);
        assert!(
            cache.get(2, 30).is_none(),
            "a show of an unknown author's message"
        );
    }

    #[test]
    fn a_page_read_across_a_post_is_never_served() {
        let cache = UserPages::default();
        let generation = cache.generation(1);
        cache.invalidate(Some(1)); // a post commits while the query runs
        let page = cache.store(1, generation, 30, vec![message(1, 1)]);
        assert_eq!(page.len(), 1, "the reader who queried still gets its rows");
        assert!(cache.get(1, 30).is_none());
        // The same across a show of an unknown author's message.
        let generation = cache.generation(1);
        cache.invalidate(None);
        cache.store(1, generation, 30, vec![message(1, 1)]);
        assert!(cache.get(1, 30).is_none());
    }

    #[test]
    fn holds_at_most_its_capacity_dropping_the_least_recently_read() {
        let cache = UserPages::with_capacity(3);
        for author in 1..=3 {
            fill(&cache, author);
        }
        assert!(cache.get(1, 30).is_some());
        fill(&cache, 4); // pushes out 2, read least recently
        assert_eq!(cache.len(), 3);
        assert!(cache.get(2, 30).is_none());
        for author in [1, 3, 4] {
            assert!(cache.get(author, 30).is_some(), "{author} is kept");
        }
        for author in 5..100 {
            fill(&cache, author);
        }
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn an_evicted_author_keeps_its_generation() {
        let cache = UserPages::with_capacity(1);
        let generation = cache.generation(1);
        fill(&cache, 2); // 1 has no page now
        cache.invalidate(Some(1)); // a post by 1 while its query runs
        cache.store(1, generation, 30, vec![message(1, 1)]);
        assert!(cache.get(1, 30).is_none());
    }
}
