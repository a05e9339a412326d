//! What changed, as the hub publishes it ([`Event`]), and the hooks that hear of every
//! change, this instance's and the others' ([`EventHooks`]).

use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use crate::store::{TimelineMessage, VisibilityChange};

/// Something that changed and that open streams may need to know; the one type that
/// carries a message from its post to the sockets, on this instance or through Redis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum Event {
    MessagePosted(TimelineMessage),
    Followed {
        who: i64,
        whom: i64,
    },
    Unfollowed {
        who: i64,
        whom: i64,
    },
    /// A moderator hid a message (open streams that showed it get `delete`) or showed it
    /// again (they get the message again).
    VisibilityChanged(VisibilityChange),
}

/// What an event hook learns.
#[derive(Debug, Clone, Copy)]
pub enum Noticed<'a> {
    /// A change, made here or on another instance.
    Event(&'a Event),
    /// The bus reconnected: events published while it was away are lost to this
    /// instance, so anything may have changed.
    Gap,
}

/// What `Hub::on_event` runs for every event.
type EventHook = Box<dyn Fn(Noticed<'_>) + Send + Sync>;

/// Every hook set with `Hub::on_event`, run in the order they were set.
///
/// A list rather than one slot: each cache of the instance that follows changes (today
/// the store's pages) adds its own hook, and a second one must not be dropped without a
/// word. Reading the list costs an uncontended read lock per event; hooks are added at
/// startup.
#[derive(Default)]
pub struct EventHooks {
    hooks: RwLock<Vec<EventHook>>,
}

impl EventHooks {
    pub fn add(&self, hook: impl Fn(Noticed<'_>) + Send + Sync + 'static) {
        self.hooks
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(hook));
    }

    /// Runs every hook on `noticed`.
    pub fn note(&self, noticed: Noticed<'_>) {
        for hook in self.hooks.read().unwrap_or_else(|e| e.into_inner()).iter() {
            hook(noticed);
        }
    }

    /// Runs every hook on `event`.
    pub fn note_event(&self, event: &Event) {
        self.note(Noticed::Event(event));
    }
}
