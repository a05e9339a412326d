//! The newest page of the public timeline, kept for a moment: it is the hottest read
//! (`GET /api/msgs`, `/public`) and the same for every reader.
//!
//! A cached page is used only while no message was posted since it was read (a generation
//! counter bumped by every local post, and by posts other instances announce through the
//! realtime bus) and for at most [`MAX_AGE`], which bounds staleness when an announcement
//! is missed (Redis down) or a message is flagged directly in the database.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::TimelineMessage;

const MAX_AGE: Duration = Duration::from_millis(500);

#[derive(Clone, Default)]
pub(super) struct PublicCache {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    generation: AtomicU64,
    page: Mutex<Option<CachedPage>>,
}

struct CachedPage {
    generation: u64,
    read_at: Instant,
    rows: Arc<Vec<TimelineMessage>>,
    /// How many were asked for: fewer rows than this means there are no more.
    limit: u64,
}

impl PublicCache {
    /// The generation to pass to [`PublicCache::store`] for a page read from now on.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// Something was posted: cached pages are stale.
    pub fn invalidate(&self) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The newest `limit` messages, if a fresh enough page holds them.
    pub fn get(&self, limit: u64) -> Option<Vec<TimelineMessage>> {
        let page = self.inner.page.lock().ok()?;
        let page = page.as_ref()?;
        let fresh = page.generation == self.generation() && page.read_at.elapsed() < MAX_AGE;
        let covers = page.limit >= limit || (page.rows.len() as u64) < page.limit;
        (fresh && covers).then(|| page.rows.iter().take(limit as usize).cloned().collect())
    }

    /// Keeps a page read at `generation` (taken before the query started, so a post that
    /// raced the query makes this page stale at once).
    pub fn store(&self, generation: u64, limit: u64, rows: &[TimelineMessage]) {
        if let Ok(mut page) = self.inner.page.lock() {
            *page = Some(CachedPage {
                generation,
                read_at: Instant::now(),
                rows: Arc::new(rows.to_vec()),
                limit,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: i64) -> TimelineMessage {
        TimelineMessage {
            message_id: id,
            author_id: 1,
            username: "a".into(),
            email: "a@a".into(),
            text: format!("m{id}"),
            pub_date: 0,
        }
    }

    #[test]
    fn serves_smaller_pages_until_a_post_or_max_age() {
        let cache = PublicCache::default();
        assert!(cache.get(20).is_none());
        let generation = cache.generation();
        let rows: Vec<_> = (0..30).rev().map(message).collect();
        cache.store(generation, 30, &rows);
        assert_eq!(cache.get(20).map(|r| r.len()), Some(20));
        assert!(cache.get(31).is_none(), "a larger page is not cached");
        cache.invalidate();
        assert!(cache.get(20).is_none(), "a post makes it stale");
    }

    #[test]
    fn a_page_read_across_a_post_is_never_served() {
        let cache = PublicCache::default();
        let generation = cache.generation();
        cache.invalidate(); // a post commits while the query runs
        cache.store(generation, 10, &[message(1)]);
        assert!(cache.get(10).is_none());
    }

    #[test]
    fn a_short_page_covers_any_limit() {
        let cache = PublicCache::default();
        cache.store(cache.generation(), 10, &[message(2), message(1)]);
        assert_eq!(cache.get(100).map(|r| r.len()), Some(2));
        std::thread::sleep(MAX_AGE + Duration::from_millis(50));
        assert!(cache.get(1).is_none(), "too old");
    }
}
