//! A first page of a timeline as the caches keep it: rows read once and shared by every
//! reader until they change, with what a surface rendered from them.

use std::ops::Deref;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::TimelineMessage;

/// The newest messages of a timeline, newest first; cheap to clone (the rows are shared).
#[derive(Clone)]
pub struct NewestPage {
    shared: Arc<Shared>,
    /// How many of the shared rows this reader asked for: a page read for 100 serves 20.
    len: usize,
}

/// What a surface renders from a cached page for every reader alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rendering {
    /// The HTML page an anonymous reader gets (`/public`, `/{user}`).
    AnonymousPage,
    /// The JSON array of the simulator API's `GET /api/msgs` and `/api/msgs/{u}`.
    SimulatorMessages,
    /// The JSON array of statuses of the Mastodon-compatible API (docs/mastodon.md).
    MastodonStatuses,
}

impl Rendering {
    const COUNT: usize = 3;

    fn slot(self) -> usize {
        match self {
            Rendering::AnonymousPage => 0,
            Rendering::SimulatorMessages => 1,
            Rendering::MastodonStatuses => 2,
        }
    }
}

struct Shared {
    rows: Vec<TimelineMessage>,
    /// Per [`Rendering`], a body rendered from the first `.0` rows, kept with the rows so
    /// that it is dropped, and rendered again, exactly when they are.
    rendered: [OnceLock<(usize, Bytes)>; Rendering::COUNT],
}

impl NewestPage {
    /// Rows read for this reader alone (a page no cache keeps).
    pub fn uncached(rows: Vec<TimelineMessage>) -> NewestPage {
        let len = rows.len();
        NewestPage {
            shared: Arc::new(Shared {
                rows,
                rendered: Default::default(),
            }),
            len,
        }
    }

    /// What `render` makes of these rows as `rendering`, rendered once for every reader
    /// of the same page. `render` must depend on the rows alone (nothing about the reader).
    pub fn rendered<E>(
        &self,
        rendering: Rendering,
        render: impl FnOnce(&[TimelineMessage]) -> Result<Bytes, E>,
    ) -> Result<Bytes, E> {
        let slot = &self.shared.rendered[rendering.slot()];
        if let Some((len, body)) = slot.get() {
            if *len == self.len {
                return Ok(body.clone());
            }
        }
        let body = render(self)?;
        // Two readers may render at once: the bodies are the same, either one is kept.
        let _ = slot.set((self.len, body.clone()));
        Ok(body)
    }
}

impl Deref for NewestPage {
    type Target = [TimelineMessage];

    fn deref(&self) -> &[TimelineMessage] {
        &self.shared.rows[..self.len]
    }
}

/// A page in a cache, with what tells whether it may still be served.
pub(super) struct Entry {
    /// The cache's generation for this timeline when the query started.
    generation: u64,
    read_at: Instant,
    /// How many rows were asked for: fewer rows than this means there are no more.
    limit: u64,
    shared: Arc<Shared>,
}

impl Entry {
    pub fn new(generation: u64, limit: u64, rows: Vec<TimelineMessage>) -> Entry {
        Entry {
            generation,
            read_at: Instant::now(),
            limit,
            shared: NewestPage::uncached(rows).shared,
        }
    }

    /// The newest `limit` rows, if the timeline is still at `generation`, the page is
    /// younger than `max_age` and holds them (or holds all there are).
    pub fn serve(&self, generation: u64, max_age: Duration, limit: u64) -> Option<NewestPage> {
        let fresh = self.generation == generation && self.read_at.elapsed() < max_age;
        let rows = self.shared.rows.len();
        let covers = self.limit >= limit || (rows as u64) < self.limit;
        (fresh && covers).then(|| NewestPage {
            shared: self.shared.clone(),
            len: rows.min(usize::try_from(limit).unwrap_or(usize::MAX)),
        })
    }

    /// The whole page, for the reader whose query filled it.
    pub fn page(&self) -> NewestPage {
        NewestPage {
            shared: self.shared.clone(),
            len: self.shared.rows.len(),
        }
    }
}

#[cfg(test)]
pub(super) fn message(id: i64, author_id: i64) -> TimelineMessage {
    TimelineMessage {
        message_id: id,
        author_id,
        username: format!("u{author_id}"),
        email: "a@a".into(),
        text: format!("m{id}"),
        pub_date: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: i64) -> Vec<TimelineMessage> {
        (0..n).rev().map(|id| message(id, 1)).collect()
    }

    #[test]
    fn a_page_serves_smaller_limits_and_any_limit_when_short() {
        let full = Entry::new(7, 30, rows(30));
        assert_eq!(
            full.serve(7, Duration::from_secs(1), 20).map(|p| p.len()),
            Some(20)
        );
        assert!(full.serve(7, Duration::from_secs(1), 31).is_none());
        assert!(
            full.serve(8, Duration::from_secs(1), 20).is_none(),
            "another generation"
        );
        let short = Entry::new(7, 30, rows(2));
        assert_eq!(
            short.serve(7, Duration::from_secs(1), 100).map(|p| p.len()),
            Some(2)
        );
        assert!(short.serve(7, Duration::ZERO, 1).is_none(), "too old");
    }

    #[test]
    fn a_rendering_is_kept_for_its_length_only() {
        let entry = Entry::new(0, 30, rows(30));
        let renders = std::cell::Cell::new(0);
        let render = |rows: &[TimelineMessage]| {
            renders.set(renders.get() + 1);
            Ok::<_, ()>(Bytes::from(format!("{}", rows.len())))
        };
        let html = Rendering::AnonymousPage;
        let page = entry.serve(0, Duration::from_secs(1), 10).expect("served");
        assert_eq!(page.rendered(html, render), Ok(Bytes::from("10")));
        let again = entry.serve(0, Duration::from_secs(1), 10).expect("served");
        assert_eq!(again.rendered(html, render), Ok(Bytes::from("10")));
        assert_eq!(renders.get(), 1, "rendered once");
        let longer = entry.serve(0, Duration::from_secs(1), 20).expect("served");
        assert_eq!(longer.rendered(html, render), Ok(Bytes::from("20")));
    }

    #[test]
    fn each_rendering_is_kept_apart() {
        let entry = Entry::new(0, 30, rows(30));
        let page = entry.serve(0, Duration::from_secs(1), 20).expect("served");
        let html = page.rendered(Rendering::AnonymousPage, |_| {
            Ok::<_, ()>(Bytes::from("<p>"))
        });
        let json = page.rendered(Rendering::MastodonStatuses, |_| {
            Ok::<_, ()>(Bytes::from("[]"))
        });
        assert_eq!(
            (html, json),
            (Ok(Bytes::from("<p>")), Ok(Bytes::from("[]")))
        );
        let again = entry.serve(0, Duration::from_secs(1), 20).expect("served");
        let cached = again.rendered(Rendering::MastodonStatuses, |_| Err(()));
        assert_eq!(cached, Ok(Bytes::from("[]")), "not rendered again");
    }
}
