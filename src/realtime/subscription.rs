//! One stream subscription of a websocket or an SSE response: resolving the stream name,
//! registering it, the `since` replay from the database, and the join of that replay with
//! the live feed (no gap, no duplicate). Both transports use this, so they keep the same
//! delivery guarantee.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::time::Instant;

use super::delivery::GIVE_UP_AFTER;
use super::protocol::{avatar_url, message_frame, StreamName, MAX_REPLAY};
use super::registry::{FrameKind, Outgoing, SocketHandle, SubKey};
use super::Hub;
use crate::store::{Page, StoreResult, TimelineScope};

/// A registered subscription; [`Subscription::close`] unregisters it. Every open socket
/// holds one for each of its streams, so it is kept small.
#[derive(Debug)]
pub struct Subscription {
    /// The stream as clients name it.
    pub name: StreamName,
    pub key: SubKey,
    /// The registry's id of this subscription.
    pub id: u64,
    /// Ids this stream's `since` replay sent, and when it ended. The dispatcher hands each
    /// message to the registry once, so the live feed repeats only what the replay already
    /// sent (committed while it ran); after [`GIVE_UP_AFTER`] no such message can still
    /// come and the set is dropped. Boxed: most subscriptions never replay.
    replayed: Option<Box<(HashSet<i64>, Instant)>>,
}

impl Subscription {
    /// Resolves `name` for `reader` (the session's or simulator's user, if any) and
    /// registers it for `socket`. Registered before any replay: whatever commits meanwhile
    /// is queued live, and [`Subscription::wants`] drops what the replay also sent.
    pub async fn open(
        hub: &Hub,
        reader: Option<i64>,
        socket: &Arc<SocketHandle>,
        name: StreamName,
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
        let (id, must_load) = registry.add(key, socket.clone());
        if let (SubKey::Home(reader), true) = (key, must_load) {
            let followees = store.followee_ids(reader).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot load followees for a home stream");
                Vec::new()
            });
            registry.set_followees(reader, followees);
        }
        Ok(Subscription {
            name,
            key,
            id,
            replayed: None,
        })
    }

    /// The stream's visible messages with id above `since` (at most [`MAX_REPLAY`]),
    /// oldest first, as (id, frame) for this stream; remembered, so the live feed does not
    /// send them again.
    pub async fn replay(&mut self, since: i64, hub: &Hub) -> StoreResult<Vec<(i64, String)>> {
        let scope = match self.key {
            SubKey::Public => TimelineScope::Public,
            SubKey::User(author) => TimelineScope::User(author),
            SubKey::Home(reader) => TimelineScope::Home(reader),
        };
        let page = Page::After {
            since,
            limit: MAX_REPLAY,
        };
        let messages = hub.store().timeline(scope, page).await?;
        let sent = messages.iter().map(|m| m.message_id).collect();
        self.replayed = Some(Box::new((sent, Instant::now())));
        let name = self.name.as_string();
        Ok(messages
            .iter()
            .map(|m| (m.message_id, message_frame(&name, m, &avatar_url(&m.email))))
            .collect())
    }

    /// Whether a live frame must be sent: always for a `delete`, for a message unless the
    /// replay sent it.
    pub fn wants(&mut self, outgoing: &Outgoing) -> bool {
        if outgoing.kind == FrameKind::Delete {
            return true;
        }
        match self.replayed.as_deref() {
            Some((_, ended)) if ended.elapsed() > GIVE_UP_AFTER => {
                self.replayed = None;
                true
            }
            Some((ids, _)) => !ids.contains(&outgoing.id),
            None => true,
        }
    }

    /// Unregisters it.
    pub fn close(&self, hub: &Hub) {
        hub.registry().remove(self.key, self.id);
    }
}
