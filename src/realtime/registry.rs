//! This instance's open subscriptions, and delivery of one event to exactly the sockets
//! that should see it.
//!
//! Each message's JSON is built once per stream kind (public, `user:NAME`, home) and the
//! same bytes are queued to every recipient. A socket whose bounded queue is full is
//! marked slow and kicked (it closes with 4008); the others never wait for it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::protocol::{avatar_url, delete_frame, message_frame, Position};
use crate::metrics::Metrics;
use crate::store::{TimelineMessage, VisibilityChange};

/// What a queued frame says about its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// `{"event":"message",…}`: a new message.
    Message,
    /// `{"event":"delete",…}`: a moderator hid the message.
    Delete,
    /// `{"event":"message",…}` again: a moderator showed a hidden message again.
    Shown,
}

impl FrameKind {
    /// The event name, as SPEC §4 writes it (and as SSE's `event:` line carries it).
    pub fn as_str(self) -> &'static str {
        match self {
            FrameKind::Message | FrameKind::Shown => "message",
            FrameKind::Delete => "delete",
        }
    }
}

/// One frame queued for one socket.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The subscription it is for (a socket may hold several).
    pub sub: u64,
    /// The message id, so the socket can skip what its replay already sent.
    pub id: i64,
    pub kind: FrameKind,
    /// The change id of a `Delete` or `Shown`, likewise.
    pub change: Option<i64>,
    /// Where the stream stands once this frame is written (the frame carries it too).
    pub position: Position,
    /// The JSON text, shared by every recipient: cloning it copies no bytes, and the
    /// websocket writes it as it is.
    pub frame: Utf8Bytes,
    /// When the message was committed, in Unix microseconds.
    pub at_us: i64,
}

impl Outgoing {
    /// Counts the frame as written to its socket: `minitwit_ws_messages_sent_total` and
    /// the post→frame delay.
    pub fn record_sent(&self, metrics: &Metrics) {
        Outgoing::record_written(metrics, self.at_us);
    }

    /// [`Outgoing::record_sent`] for a frame of a message committed at `at_us`.
    pub fn record_written(metrics: &Metrics, at_us: i64) {
        metrics.ws_messages_sent_total.inc();
        let delay_us = crate::clock::now_us() - at_us;
        metrics
            .fanout_delay_seconds
            .observe(delay_us.max(0) as f64 / 1e6);
    }
}

/// The registry's handle on one socket (or SSE stream): its bounded queue of frames, and
/// the signals the stream acts on.
///
/// A queue of its own rather than a tokio channel: a channel allocates a block of 32
/// slots when it is made, about 1.9 KB that every idle socket would carry; this queue
/// allocates on its first frame and gives the memory back once drained. One [`Notify`]
/// wakes the stream's task for a queued frame and for every signal, so an idle task
/// waits on nothing else (no timer, no shared shutdown signal that every wake-up polls).
#[derive(Debug)]
pub struct SocketHandle {
    queue: Mutex<VecDeque<Outgoing>>,
    /// Frames the queue may hold; one more closes the socket with 4008.
    bound: usize,
    /// Raised [`Signal`]s, as bits: [`SHUTDOWN`], [`SLOW`], [`KEEP_ALIVE`], [`LOGGED_OUT`].
    signals: AtomicU8,
    /// Wakes the stream's task: a frame was queued, or a signal raised.
    wake: Notify,
}

/// The server is stopping.
const SHUTDOWN: u8 = 1;
/// The queue overflowed (set once, so the kick is counted once).
const SLOW: u8 = 2;
/// Time for a ping (or an SSE keep-alive comment) and the idle check.
const KEEP_ALIVE: u8 = 4;
/// The login of the stream's `home` ended (see `super::logins`).
const LOGGED_OUT: u8 = 8;

/// Why a stream's task was woken, other than a frame; in the order it is told them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// The server is stopping: close with 1001.
    Shutdown,
    /// The queue overflowed: the reader is too slow, close with 4008.
    TooSlow,
    /// The login behind the stream's `home` ended: close with 4001.
    LoggedOut,
    /// Send a ping (the keep-alive tick of [`OpenQueues::keep_alive`]).
    KeepAlive,
}

/// The stream task's end of its queue; leaves the hub's [`OpenQueues`] when dropped.
pub struct QueueReceiver {
    handle: Arc<SocketHandle>,
    /// The list it is on, if any (not in unit tests).
    open: Option<Arc<OpenQueues>>,
}

impl QueueReceiver {
    /// The next queued frame, waiting for one; a raised [`Signal`] first (a full queue's
    /// kick before the frames still in it). Cancel-safe: a frame is taken only when this
    /// returns it.
    pub async fn recv(&mut self) -> Result<Outgoing, Signal> {
        loop {
            if let Some(item) = self.try_recv()? {
                return Ok(item);
            }
            self.handle.wake.notified().await;
        }
    }

    /// The next queued frame, if there is one now; a raised [`Signal`] first. A keep-alive
    /// is told once per tick.
    pub fn try_recv(&mut self) -> Result<Option<Outgoing>, Signal> {
        let signals = self.handle.signals.load(Ordering::Acquire);
        if signals != 0 {
            if signals & SHUTDOWN != 0 {
                return Err(Signal::Shutdown);
            }
            if signals & SLOW != 0 {
                return Err(Signal::TooSlow);
            }
            if signals & LOGGED_OUT != 0 {
                return Err(Signal::LoggedOut);
            }
            self.handle.signals.fetch_and(!KEEP_ALIVE, Ordering::AcqRel);
            return Err(Signal::KeepAlive);
        }
        let mut queue = self.handle.lock_queue();
        let item = queue.pop_front();
        if queue.is_empty() && queue.capacity() > IDLE_CAPACITY {
            // A burst is over: an idle socket keeps no more than a few slots.
            *queue = VecDeque::new();
        }
        Ok(item)
    }

    /// Completes with [`Signal::Shutdown`], [`Signal::TooSlow`] or [`Signal::LoggedOut`]
    /// once one is raised, for a task busy elsewhere (a write that waits). Frames and
    /// keep-alives meanwhile stay for [`QueueReceiver::recv`].
    pub async fn interrupted(&self) -> Signal {
        loop {
            let signals = self.handle.signals.load(Ordering::Acquire);
            if signals & SHUTDOWN != 0 {
                return Signal::Shutdown;
            }
            if signals & SLOW != 0 {
                return Signal::TooSlow;
            }
            if signals & LOGGED_OUT != 0 {
                return Signal::LoggedOut;
            }
            self.handle.wake.notified().await;
        }
    }

    /// The handle the registry keeps for this queue.
    pub fn handle(&self) -> &Arc<SocketHandle> {
        &self.handle
    }
}

impl Drop for QueueReceiver {
    fn drop(&mut self) {
        if let Some(open) = &self.open {
            open.lock().queues.remove(&key(&self.handle));
        }
    }
}

/// Slots a drained queue may keep allocated.
const IDLE_CAPACITY: usize = 8;

impl SocketHandle {
    /// A queue on no [`OpenQueues`] list (it gets no shutdown and no keep-alive).
    pub fn new(bound: usize) -> (Arc<SocketHandle>, QueueReceiver) {
        let handle = Arc::new(SocketHandle {
            queue: Mutex::new(VecDeque::new()),
            bound: bound.max(1),
            signals: AtomicU8::new(0),
            wake: Notify::new(),
        });
        let rx = QueueReceiver {
            handle: handle.clone(),
            open: None,
        };
        (handle, rx)
    }

    fn lock_queue(&self) -> MutexGuard<'_, VecDeque<Outgoing>> {
        // A panic while holding the lock leaves a plain queue behind; keep serving.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_slow(&self) -> bool {
        self.signals.load(Ordering::Relaxed) & SLOW != 0
    }

    /// Tells the stream that the login behind its `home` ended.
    pub fn log_out(&self) {
        self.raise(LOGGED_OUT);
    }

    /// Raises `signal` and wakes the task; `false` if it was raised already.
    fn raise(&self, signal: u8) -> bool {
        let before = self.signals.fetch_or(signal, Ordering::AcqRel);
        // Stores a permit when the task is busy, so the signal is never missed.
        self.wake.notify_one();
        before & signal == 0
    }

    fn offer(&self, item: Outgoing, metrics: &Metrics) {
        {
            let mut queue = self.lock_queue();
            if queue.len() < self.bound {
                queue.push_back(item);
                drop(queue);
                // Stores a permit when the task is busy, so the frame is never missed.
                self.wake.notify_one();
                return;
            }
        }
        if !self.is_slow() && self.raise(SLOW) {
            metrics.ws_slow_disconnects_total.inc();
        }
    }
}

/// Its place on [`OpenQueues`]: the handle's address, unique while it lives.
fn key(handle: &Arc<SocketHandle>) -> usize {
    Arc::as_ptr(handle) as usize
}

/// Every open stream's queue on this instance, so the server's shutdown and the keep-alive
/// ticks reach each stream through its own queue's wake-up.
#[derive(Debug, Default)]
pub struct OpenQueues {
    inner: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    queues: HashMap<usize, Arc<SocketHandle>>,
    /// Set by [`OpenQueues::shut_down`]: a queue opened later is born shut down.
    shut_down: bool,
}

impl OpenQueues {
    fn lock(&self) -> MutexGuard<'_, Open> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new stream's queue of at most `bound` frames, on this list until its receiver
    /// is dropped.
    pub fn open(self: &Arc<Self>, bound: usize) -> QueueReceiver {
        let (handle, mut rx) = SocketHandle::new(bound);
        let mut open = self.lock();
        if open.shut_down {
            handle.signals.fetch_or(SHUTDOWN, Ordering::AcqRel);
        }
        open.queues.insert(key(&handle), handle);
        rx.open = Some(self.clone());
        rx
    }

    /// Tells every open stream, and every one opened from now on, that the server stops.
    pub fn shut_down(&self) {
        let mut open = self.lock();
        open.shut_down = true;
        for handle in open.queues.values() {
            handle.raise(SHUTDOWN);
        }
    }

    /// Tells every open stream to send its keep-alive and check its peer's silence.
    pub fn keep_alive(&self) {
        for handle in self.lock().queues.values() {
            handle.raise(KEEP_ALIVE);
        }
    }

    /// Streams open now.
    pub fn len(&self) -> usize {
        self.lock().queues.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

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
