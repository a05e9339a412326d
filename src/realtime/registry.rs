//! This instance's open subscriptions, and delivery of one event to exactly the streams
//! that should see it.
//!
//! Each message's frame is built once per stream kind (public, `user:NAME`, home) and
//! frame format (`super::format`), and the same bytes are queued to every recipient's
//! queue (`super::queue`). A stream whose bounded queue is full is marked slow and kicked
//! (it closes with 4008); the others never wait for it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use super::format::{EventFrames, Format, Shown, StreamFrames};
use super::protocol::{Position, StreamName};
use super::queue::{FrameKind, Outgoing, SocketHandle};
use crate::metrics::Metrics;
use crate::store::{TimelineMessage, VisibilityChange};

/// Which stream a subscription is on, resolved to ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubKey {
    Public,
    /// One author's messages.
    User(i64),
    /// A reader's home timeline.
    Home(i64),
}

/// One subscription's queue, and the format its frames are built in.
struct Recipient {
    socket: Arc<SocketHandle>,
    format: Format,
}

type Subscribers = HashMap<u64, Recipient>;

#[derive(Default)]
struct HomeEntry {
    subs: Subscribers,
    /// Whom the reader follows; `None` while the first subscriber loads it.
    followees: Option<HashSet<i64>>,
    /// Follow changes seen while loading: (followed?, whom), replayed on top of the load.
    pending: Vec<(bool, i64)>,
}

#[derive(Default)]
struct Subs {
    next_id: u64,
    public: Subscribers,
    users: HashMap<i64, Subscribers>,
    homes: HashMap<i64, HomeEntry>,
    /// Author → readers with an open home stream who follow them (the home index).
    followers: HashMap<i64, HashSet<i64>>,
}

/// Which streams an event belongs to, and what every recipient's queue entry says.
struct Target<'a> {
    author_id: i64,
    author: &'a str,
    id: i64,
    kind: FrameKind,
    change: Option<i64>,
    position: Position,
    at_us: i64,
}

/// The subscriptions of this instance.
#[derive(Default)]
pub struct Registry {
    subs: Mutex<Subs>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Subs> {
        // A panic while holding the lock leaves plain maps behind; keep serving.
        self.subs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a subscription whose frames are built in `format`; returns its id and, for
    /// the first home subscription of a reader, `true`: the caller must load the followees
    /// and call [`Registry::set_followees`].
    pub fn add(&self, key: SubKey, socket: Arc<SocketHandle>, format: Format) -> (u64, bool) {
        let recipient = Recipient { socket, format };
        let mut subs = self.lock();
        subs.next_id += 1;
        let id = subs.next_id;
        let mut must_load = false;
        match key {
            SubKey::Public => {
                subs.public.insert(id, recipient);
            }
            SubKey::User(author) => {
                subs.users.entry(author).or_default().insert(id, recipient);
            }
            SubKey::Home(reader) => {
                let entry = subs.homes.entry(reader).or_default();
                must_load = entry.subs.is_empty() && entry.followees.is_none();
                entry.subs.insert(id, recipient);
            }
        }
        (id, must_load)
    }

    /// Completes a reader's home index with whom they follow, plus changes seen meanwhile.
    pub fn set_followees(&self, reader: i64, loaded: Vec<i64>) {
        let mut subs = self.lock();
        let Some(entry) = subs.homes.get_mut(&reader) else {
            return;
        };
        let mut followees: HashSet<i64> = loaded.into_iter().collect();
        for (followed, whom) in entry.pending.drain(..) {
            if followed {
                followees.insert(whom);
            } else {
                followees.remove(&whom);
            }
        }
        let list: Vec<i64> = followees.iter().copied().collect();
        entry.followees = Some(followees);
        for author in list {
            subs.followers.entry(author).or_default().insert(reader);
        }
    }

    pub fn remove(&self, key: SubKey, id: u64) {
        let mut subs = self.lock();
        match key {
            SubKey::Public => {
                subs.public.remove(&id);
            }
            SubKey::User(author) => {
                if let Some(set) = subs.users.get_mut(&author) {
                    set.remove(&id);
                    if set.is_empty() {
                        subs.users.remove(&author);
                    }
                }
            }
            SubKey::Home(reader) => {
                let Some(entry) = subs.homes.get_mut(&reader) else {
                    return;
                };
                entry.subs.remove(&id);
                if entry.subs.is_empty() {
                    let followees = subs
                        .homes
                        .remove(&reader)
                        .and_then(|e| e.followees)
                        .unwrap_or_default();
                    for author in followees {
                        if let Some(readers) = subs.followers.get_mut(&author) {
                            readers.remove(&reader);
                            if readers.is_empty() {
                                subs.followers.remove(&author);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Updates the home index: `who` now follows (or no longer follows) `whom`.
    pub fn follow_changed(&self, who: i64, whom: i64, followed: bool) {
        let mut subs = self.lock();
        let Some(entry) = subs.homes.get_mut(&who) else {
            return;
        };
        match entry.followees.as_mut() {
            None => entry.pending.push((followed, whom)),
            Some(followees) => {
                if followed {
                    followees.insert(whom);
                    subs.followers.entry(whom).or_default().insert(who);
                } else {
                    followees.remove(&whom);
                    if let Some(readers) = subs.followers.get_mut(&whom) {
                        readers.remove(&who);
                        if readers.is_empty() {
                            subs.followers.remove(&whom);
                        }
                    }
                }
            }
        }
    }

    /// Queues `message` to every subscription that should see it, each frame saying the
    /// stream stands at `position` once it is written; returns how many.
    pub fn deliver(
        &self,
        message: &TimelineMessage,
        at_us: i64,
        position: Position,
        metrics: &Metrics,
    ) -> usize {
        let target = Target {
            author_id: message.author_id,
            author: &message.username,
            id: message.message_id,
            kind: FrameKind::Message,
            change: None,
            position,
            at_us,
        };
        let frames = EventFrames::new(Shown::Message(message), position);
        self.fan_out(target, metrics, &frames)
    }

    /// Queues a hide (a `delete` event) or an unhide (the message again) to every
    /// subscription that could have shown the message; returns how many.
    pub fn visibility_changed(
        &self,
        change: &VisibilityChange,
        at_us: i64,
        position: Position,
        metrics: &Metrics,
    ) -> usize {
        let message = &change.message;
        let (kind, shown) = if change.hidden {
            (FrameKind::Delete, Shown::Delete(message.message_id))
        } else {
            (FrameKind::Shown, Shown::Message(message))
        };
        let target = Target {
            author_id: message.author_id,
            author: &message.username,
            id: message.message_id,
            kind,
            change: Some(change.change_id),
            position,
            at_us,
        };
        self.fan_out(target, metrics, &EventFrames::new(shown, position))
    }

    /// Queues one frame per stream kind and format (each built once, by `frames`) to every
    /// subscription on `public`, on `user:AUTHOR`, and on the homes of the author and
    /// their followers.
    fn fan_out(&self, target: Target<'_>, metrics: &Metrics, frames: &EventFrames<'_>) -> usize {
        let subs = self.lock();
        let author = target.author_id;
        let mut delivered = 0;
        let mut send_all = |targets: &Subscribers, frames: &mut StreamFrames<'_, '_>| {
            for (&sub, recipient) in targets {
                recipient.socket.offer(
                    Outgoing {
                        sub,
                        id: target.id,
                        kind: target.kind,
                        change: target.change,
                        position: target.position,
                        frame: frames.frame(&recipient.format),
                        at_us: target.at_us,
                    },
                    metrics,
                );
                delivered += 1;
            }
        };
        if !subs.public.is_empty() {
            send_all(&subs.public, &mut frames.on(StreamName::Public));
        }
        if let Some(targets) = subs.users.get(&author) {
            let stream = StreamName::User(target.author.to_owned());
            send_all(targets, &mut frames.on(stream));
        }
        let own = subs.homes.get(&author).map(|e| (author, e));
        let followers = subs
            .followers
            .get(&author)
            .into_iter()
            .flatten()
            .filter(|&&reader| reader != author)
            .filter_map(|reader| subs.homes.get(reader).map(|e| (*reader, e)));
        // One set of home frames for every reader's home.
        let mut home_frames = frames.on(StreamName::Home);
        for (_, entry) in own.into_iter().chain(followers) {
            send_all(&entry.subs, &mut home_frames);
        }
        delivered
    }

    /// Number of subscriptions that events reach (for tests and the benchmark's sanity
    /// checks): a home counts once whom its reader follows is loaded, as until then a post
    /// of someone they follow does not reach it.
    pub fn len(&self) -> usize {
        let subs = self.lock();
        subs.public.len()
            + subs.users.values().map(HashMap::len).sum::<usize>()
            + subs
                .homes
                .values()
                .filter(|e| e.followees.is_some())
                .map(|e| e.subs.len())
                .sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests;
