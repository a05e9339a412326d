//! This instance's open subscriptions, and delivery of one event to exactly the streams
//! that should see it.
//!
//! Each message's JSON is built once per stream kind (public, `user:NAME`, home) and the
//! same bytes are queued to every recipient's queue (`super::queue`). A stream whose
//! bounded queue is full is marked slow and kicked (it closes with 4008); the others never
//! wait for it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::protocol::{avatar_url, delete_frame, message_frame, Position};
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

type Subscribers = HashMap<u64, Arc<SocketHandle>>;

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

    /// Adds a subscription; returns its id and, for the first home subscription of a
    /// reader, `true`: the caller must load the followees and call [`Registry::set_followees`].
    pub fn add(&self, key: SubKey, socket: Arc<SocketHandle>) -> (u64, bool) {
        let mut subs = self.lock();
        subs.next_id += 1;
        let id = subs.next_id;
        let mut must_load = false;
        match key {
            SubKey::Public => {
                subs.public.insert(id, socket);
            }
            SubKey::User(author) => {
                subs.users.entry(author).or_default().insert(id, socket);
            }
            SubKey::Home(reader) => {
                let entry = subs.homes.entry(reader).or_default();
                must_load = entry.subs.is_empty() && entry.followees.is_none();
                entry.subs.insert(id, socket);
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
        let avatar = avatar_url(&message.email);
        let target = Target {
            author_id: message.author_id,
            author: &message.username,
            id: message.message_id,
            kind: FrameKind::Message,
            change: None,
            position,
            at_us,
        };
        self.fan_out(target, metrics, |stream| {
            message_frame(stream, message, &avatar, Some(position))
        })
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
        let target = Target {
            author_id: message.author_id,
            author: &message.username,
            id: message.message_id,
            kind: if change.hidden {
                FrameKind::Delete
            } else {
                FrameKind::Shown
            },
            change: Some(change.change_id),
            position,
            at_us,
        };
        if change.hidden {
            self.fan_out(target, metrics, |stream| {
                delete_frame(stream, message.message_id, position)
            })
        } else {
            let avatar = avatar_url(&message.email);
            self.fan_out(target, metrics, |stream| {
                message_frame(stream, message, &avatar, Some(position))
            })
        }
    }

    /// Queues one frame per stream kind (built once, by `frame`) to every subscription on
    /// `public`, on `user:AUTHOR`, and on the homes of the author and their followers.
    fn fan_out(
        &self,
        target: Target<'_>,
        metrics: &Metrics,
        frame: impl Fn(&str) -> String,
    ) -> usize {
        let subs = self.lock();
        let author = target.author_id;
        let mut delivered = 0;
        let mut send_all = |targets: &mut dyn Iterator<Item = (&u64, &Arc<SocketHandle>)>,
                            frame: &Utf8Bytes| {
            for (&sub, socket) in targets {
                socket.offer(
                    Outgoing {
                        sub,
                        id: target.id,
                        kind: target.kind,
                        change: target.change,
                        position: target.position,
                        frame: frame.clone(),
                        at_us: target.at_us,
                    },
                    metrics,
                );
                delivered += 1;
            }
        };
        if !subs.public.is_empty() {
            let frame = Utf8Bytes::from(frame("public"));
            send_all(&mut subs.public.iter(), &frame);
        }
        if let Some(targets) = subs.users.get(&author) {
            let frame = Utf8Bytes::from(frame(&format!("user:{}", target.author)));
            send_all(&mut targets.iter(), &frame);
        }
        let own = subs.homes.get(&author).map(|e| (author, e));
        let followers = subs
            .followers
            .get(&author)
            .into_iter()
            .flatten()
            .filter(|&&reader| reader != author)
            .filter_map(|reader| subs.homes.get(reader).map(|e| (*reader, e)));
        let mut home_frame: Option<Utf8Bytes> = None;
        for (_, entry) in own.into_iter().chain(followers) {
            let frame = home_frame
                .get_or_insert_with(|| Utf8Bytes::from(frame("home")))
                .clone();
            send_all(&mut entry.subs.iter(), &frame);
        }
        delivered
    }

    /// Number of subscriptions (for tests and the benchmark's sanity checks).
    pub fn len(&self) -> usize {
        let subs = self.lock();
        subs.public.len()
            + subs.users.values().map(HashMap::len).sum::<usize>()
            + subs.homes.values().map(|e| e.subs.len()).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::queue::{QueueReceiver, Signal};

    fn message(id: i64, author_id: i64, username: &str) -> TimelineMessage {
        TimelineMessage {
            message_id: id,
            author_id,
            username: username.into(),
            email: format!("{username}@x"),
            text: format!("m{id}"),
            pub_date: 0,
        }
    }

    fn drain(rx: &mut QueueReceiver) -> Vec<(i64, String)> {
        let mut out = Vec::new();
        while let Ok(Some(o)) = rx.try_recv() {
            let v: serde_json::Value = serde_json::from_str(&o.frame).expect("json");
            out.push((o.id, v["stream"].as_str().expect("stream").to_owned()));
        }
        out
    }

    #[test]
    fn each_stream_gets_what_it_should() {
        let metrics = Metrics::new();
        let reg = Registry::default();
        let (public, mut public_rx) = SocketHandle::new(16);
        let (bob, mut bob_rx) = SocketHandle::new(16);
        let (home, mut home_rx) = SocketHandle::new(16);
        reg.add(SubKey::Public, public);
        reg.add(SubKey::User(2), bob);
        let (_, must_load) = reg.add(SubKey::Home(1), home);
        assert!(must_load);
        // A follow seen while the followees load is not lost.
        reg.follow_changed(1, 3, true);
        reg.set_followees(1, vec![2]);

        reg.deliver(&message(1, 2, "bob"), 0, Position::default(), &metrics);
        reg.deliver(&message(2, 3, "carol"), 0, Position::default(), &metrics);
        reg.deliver(&message(3, 1, "alice"), 0, Position::default(), &metrics);
        reg.deliver(&message(4, 4, "dave"), 0, Position::default(), &metrics);
        reg.follow_changed(1, 2, false);
        reg.deliver(&message(5, 2, "bob"), 0, Position::default(), &metrics);

        assert_eq!(drain(&mut public_rx).len(), 5);
        assert_eq!(
            drain(&mut bob_rx),
            [(1, "user:bob".into()), (5, "user:bob".into())]
        );
        assert_eq!(
            drain(&mut home_rx),
            [(1, "home".into()), (2, "home".into()), (3, "home".into())]
        );
    }

    #[test]
    fn a_full_queue_kicks_only_that_socket() {
        let metrics = Metrics::new();
        let reg = Registry::default();
        let (slow, mut slow_rx) = SocketHandle::new(2);
        let (fast, mut fast_rx) = SocketHandle::new(100);
        reg.add(SubKey::Public, slow.clone());
        reg.add(SubKey::Public, fast.clone());
        for id in 1..=10 {
            reg.deliver(&message(id, 1, "a"), 0, Position::default(), &metrics);
        }
        assert!(slow.is_slow());
        assert_eq!(
            slow_rx.try_recv().err(),
            Some(Signal::TooSlow),
            "closes before its queue"
        );
        assert!(!fast.is_slow());
        assert_eq!(drain(&mut fast_rx).len(), 10);
        assert_eq!(metrics.ws_slow_disconnects_total.get(), 1);
    }

    #[test]
    fn removing_the_last_home_subscription_clears_the_index() {
        let reg = Registry::default();
        let (home, _rx) = SocketHandle::new(4);
        let (id, _) = reg.add(SubKey::Home(1), home);
        reg.set_followees(1, vec![2, 3]);
        reg.remove(SubKey::Home(1), id);
        assert!(reg.is_empty());
        assert!(reg.lock().followers.is_empty());
    }
}
