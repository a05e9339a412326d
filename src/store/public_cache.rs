//! The newest page of the public timeline, kept for a moment: it is the hottest read
//! (`GET /api/msgs`, `/public`) and the same for every reader.
//!
//! A cached page is used only while no message was posted, hidden or shown since it was
//! read (a generation counter bumped by this instance's writes, and by those other
//! instances announce through the realtime bus) and for at most [`MAX_AGE`], which bounds
//! staleness when an announcement is missed (Redis down) or a message is flagged directly
//! in the database.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::newest_page::{Entry, NewestPage};
use super::TimelineMessage;

/// Short, since a miss costs one query for the whole instance.
const MAX_AGE: Duration = Duration::from_millis(500);

#[derive(Clone, Default)]
pub(super) struct PublicCache {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    generation: AtomicU64,
    page: Mutex<Option<Entry>>,
}

impl PublicCache {
    /// The generation to pass to [`PublicCache::store`] for a page read from now on.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// Something was posted, hidden or shown: cached pages are stale.
    pub fn invalidate(&self) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The newest `limit` messages, if a fresh enough page holds them.
    pub fn get(&self, limit: u64) -> Option<NewestPage> {
        let page = self.inner.page.lock().ok()?;
        page.as_ref()?.serve(self.generation(), MAX_AGE, limit)
    }

    /// Keeps a page read at `generation` (taken before the query started, so a post that
    /// raced the query makes this page stale at once) and returns it.
    pub fn store(&self, generation: u64, limit: u64, rows: Vec<TimelineMessage>) -> NewestPage {
        let entry = Entry::new(generation, limit, rows);
        let page = entry.page();
        if let Ok(mut cached) = self.inner.page.lock() {
            *cached = Some(entry);
        }
        page
    }
}

#[cfg(test)]
mod tests {
    use super::super::newest_page::message;
    use super::*;

    #[test]
    fn serves_smaller_pages_until_a_post_or_max_age() {
        let cache = PublicCache::default();
        assert!(cache.get(20).is_none());
        let generation = cache.generation();
        let rows: Vec<_> = (0..30).rev().map(|id| message(id, 1)).collect();
        cache.store(generation, 30, rows);
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
        let page = cache.store(generation, 10, vec![message(1, 1)]);
        assert_eq!(page.len(), 1, "the reader who queried still gets its rows");
        assert!(cache.get(10).is_none());
    }

    #[test]
    fn a_short_page_covers_any_limit() {
        let cache = PublicCache::default();
        cache.store(cache.generation(), 10, vec![message(2, 1), message(1, 1)]);
        assert_eq!(cache.get(100).map(|r| r.len()), Some(2));
        std::thread::sleep(MAX_AGE + Duration::from_millis(50));
        assert!(cache.get(1).is_none(), "too old");
    }
}
