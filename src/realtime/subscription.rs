//! One stream subscription of a websocket or an SSE response: resolving the stream name,
//! registering it, the `since` replay from the database, and the join of that replay with
//! the live feed (no gap, no duplicate). Both transports use this, so they keep the same
//! delivery guarantee.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::time::Instant;

use super::delivery::GIVE_UP_AFTER;
use super::format::{frame, same, Format, Shown};
use super::hub::Hub;
use super::protocol::{Position, StreamName, MAX_REPLAY};
use super::queue::{FrameKind, Outgoing, SocketHandle};
use super::registry::{Registry, SubKey};
use crate::store::{Page, StoreResult, TimelineScope, MAX_CHANGE_REPLAY};

/// A registered subscription, unregistered when it is dropped. Every open socket holds
/// one for each of its streams, so it is kept small: its handle on the registry is one
/// pointer.
pub struct Subscription {
    /// The stream as clients name it.
    pub name: StreamName,
    pub key: SubKey,
    /// The registry's id of this subscription.
    pub id: u64,
    /// What this stream's `since` replay sent. The dispatcher hands each message and
    /// change to the registry once, so the live feed repeats only what the replay already
    /// sent (committed while it ran); after [`GIVE_UP_AFTER`] no such item can still come
    /// and this is dropped. Boxed: most subscriptions never replay.
    replayed: Option<Box<Replay>>,
    /// Where it is registered, so that dropping it unregisters it.
    registry: Arc<Registry>,
    /// The format its frames are built in, live and replayed; with the name, what tells
    /// a socket's subscriptions apart (Mastodon's `public` and `public:local` are one
    /// stream here, in two formats).
    format: Format,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("name", &self.name)
            .field("key", &self.key)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// What a replay sent.
#[derive(Debug, Default)]
struct Replay {
    /// Message ids shown (as messages) by the replay.
    messages: HashSet<i64>,
    /// Change ids sent by the replay.
    changes: HashSet<i64>,
    ended: Option<Instant>,
}

/// One frame of a replay.
#[derive(Debug)]
pub struct Replayed {
    /// Where the stream stands once it is written.
    pub position: Position,
    pub kind: FrameKind,
    pub frame: String,
}

impl Subscription {
    /// Resolves `name` for `reader` (the session's or simulator's user, if any) and
    /// registers it for `socket`, its frames built in `format`. Registered before any
    /// replay: whatever commits meanwhile is queued live, and [`Subscription::wants`] drops
    /// what the replay also sent.
    pub async fn open(
        hub: &Hub,
        reader: Option<i64>,
        socket: &Arc<SocketHandle>,
        name: StreamName,
        format: Format,
    ) -> Result<Subscription, String> {
        let store = hub.store();
        let key = match &name {
            StreamName::Public => SubKey::Public,
            StreamName::Home => match reader {
                Some(reader) => SubKey::Home(reader),
                None => return Err("the home stream needs a logged-in session".into()),
            },
            StreamName::User(username) => match store.user_id_by_name(username).await {
                Ok(Some(id)) => SubKey::User(id),
                Ok(None) => return Err(format!("unknown user {username}")),
                Err(_) => return Err("cannot look up that user now".into()),
            },
        };
        let registry = hub.registry();
        let (id, must_load) = registry.add(key, socket.clone(), format.clone());
        // Made at once, so it is unregistered even if this future is dropped below.
        let sub = Subscription {
            name,
            key,
            id,
            replayed: None,
            registry: registry.clone(),
            format,
        };
        if let (SubKey::Home(reader), true) = (key, must_load) {
            let followees = store.followee_ids(reader).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot load followees for a home stream");
                Vec::new()
            });
            registry.set_followees(reader, followees);
        }
        Ok(sub)
    }

    /// What a client resuming from `since` missed, oldest first, as (position, kind,
    /// frame): where each message it may have shown stands now (a `delete`, or the message
    /// again, for those hidden or shown since, when `since` says which changes it saw),
    /// then the stream's visible messages with id above `since` (at most [`MAX_REPLAY`]).
    /// Remembered, so the live feed does not send them again. Built in the
    /// subscription's format, as its live frames are.
    pub async fn replay(&mut self, since: Position, hub: &Hub) -> StoreResult<Vec<Replayed>> {
        // Taken after the subscription was registered: everything up to it was committed
        // before the queries below, so they find it; what they miss comes live.
        let reached = hub.position();
        let reached_change = reached.change.unwrap_or(0);
        let scope = match self.key {
            SubKey::Public => TimelineScope::Public,
            SubKey::User(author) => TimelineScope::User(author),
            SubKey::Home(reader) => TimelineScope::Home(reader),
        };
        let changes = match since.change {
            Some(after) => {
                hub.store()
                    .changes_since(scope, since.message, after)
                    .await?
            }
            None => Vec::new(),
        };
        let page = Page::After {
            since: since.message,
            limit: MAX_REPLAY,
        };
        let messages = hub.store().timeline(scope, page).await?;
        // Each frame claims no more than what went out before it: a change replay cut
        // short claims only up to its last change; the messages likewise.
        let change_claim = since.change.map(|after| {
            let complete = (changes.len() as u64) < MAX_CHANGE_REPLAY;
            match changes.last() {
                Some(last) if !complete => after.max(last.change_id.min(reached_change)),
                _ => after.max(reached_change),
            }
        });
        let messages_complete = (messages.len() as u64) < MAX_REPLAY;
        let (name, format) = (&self.name, &self.format);
        let mut out = Vec::with_capacity(changes.len() + messages.len());
        let mut state = Replay::default();
        for (k, change) in changes.iter().enumerate() {
            let last = k + 1 == changes.len();
            let position = Position {
                message: since.message,
                change: if last { change_claim } else { since.change },
            };
            let message = &change.message;
            let (kind, shown) = if change.hidden {
                (FrameKind::Delete, Shown::Delete(message.message_id))
            } else {
                (FrameKind::Shown, Shown::Message(message))
            };
            state.changes.insert(change.change_id);
            out.push(Replayed {
                position,
                kind,
                frame: frame(format, name, shown, position),
            });
        }
        for (k, m) in messages.iter().enumerate() {
            // Up to this message, everything committed by `reached` is in the replay, so
            // it went out; after the last of a whole replay, everything up to `reached`.
            let claim = if messages_complete && k + 1 == messages.len() {
                reached.message
            } else {
                m.message_id.min(reached.message)
            };
            let position = Position {
                message: since.message.max(claim),
                change: change_claim,
            };
            state.messages.insert(m.message_id);
            out.push(Replayed {
                position,
                kind: FrameKind::Message,
                frame: frame(format, name, Shown::Message(m), position),
            });
        }
        state.ended = Some(Instant::now());
        self.replayed = Some(Box::new(state));
        Ok(out)
    }

    /// Whether this is the subscription to `name` in `format`.
    pub fn is(&self, name: &StreamName, format: &Format) -> bool {
        self.name == *name && same(&self.format, format)
    }

    /// Whether a live frame must be sent: not if the replay already sent it, or already
    /// showed where its message stands now.
    pub fn wants(&mut self, outgoing: &Outgoing) -> bool {
        let Some(replayed) = self.replayed.as_deref_mut() else {
            return true;
        };
        if replayed
            .ended
            .is_some_and(|ended| ended.elapsed() > GIVE_UP_AFTER)
        {
            self.replayed = None;
            return true;
        }
        match (outgoing.kind, outgoing.change) {
            (FrameKind::Message, _) => !replayed.messages.contains(&outgoing.id),
            (_, Some(change)) if replayed.changes.contains(&change) => false,
            // Hidden after the replay showed it: the next show must go out again.
            (FrameKind::Delete, _) => {
                replayed.messages.remove(&outgoing.id);
                true
            }
            // Shown before the replay read it: the replay sent it as it stands.
            (FrameKind::Shown, _) => !replayed.messages.contains(&outgoing.id),
        }
    }
}

impl Drop for Subscription {
    /// Unregisters it: no frame is queued for it from now on.
    fn drop(&mut self) {
        self.registry.remove(self.key, self.id);
    }
}
