//! Realtime fan-out: every committed message and follow change is published here once.
//!
//! For now an in-process broadcast; the websocket streams and the Redis bus build on it.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::store::TimelineMessage;

/// Something that changed and that open streams may need to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    MessagePosted(TimelineMessage),
    Followed { who: i64, whom: i64 },
    Unfollowed { who: i64, whom: i64 },
}

/// Where handlers publish events; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    events: broadcast::Sender<Arc<Event>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            events: broadcast::channel(4096).0,
        }
    }
}

impl Hub {
    pub fn publish(&self, event: Event) {
        // No receiver is not an error: nobody is listening right now.
        let _ = self.events.send(Arc::new(event));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }
}
