//! Each open stream's queue of frames (websocket or SSE), what one queued frame says,
//! and the signals a stream's task acts on (shutdown, too slow, logged out, keep-alive).
//!
//! The registry (`super::registry`) offers frames to these queues; a full one is marked
//! slow and its stream closes with 4008 (docs/protocol.md), while the others never wait
//! for it. Every open queue is also on the hub's [`OpenQueues`], which is how shutdown and
//! the keep-alive ticks reach each stream.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::protocol::Position;
use crate::clock::now_us;
use crate::metrics::Metrics;

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
    /// The event name, as docs/protocol.md writes it (and as SSE's `event:` line carries it).
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

/// Counts a frame of a message committed at `at_us` as written to its stream:
/// `minitwit_ws_messages_sent_total` and the post→frame delay. Takes the commit time rather
/// than the [`Outgoing`]: a websocket moves the frame into its write first.
pub fn count_written(metrics: &Metrics, at_us: i64) {
    metrics.ws_messages_sent_total.inc();
    let delay_us = now_us() - at_us;
    metrics
        .fanout_delay_seconds
        .observe(delay_us.max(0) as f64 / 1e6);
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

    /// Queues `item`, or marks the stream slow (4008) when its queue is full.
    pub(super) fn offer(&self, item: Outgoing, metrics: &Metrics) {
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
