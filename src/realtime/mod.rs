//! Realtime fan-out: every committed message, hide, unhide and follow change is published
//! here once, and reaches every subscribed stream on every instance exactly once
//! (docs/delivery.md).
//!
//! The database is the source of truth and the bus is the fast path. A post is delivered
//! to this instance's sockets at once and to the other instances through Redis pub/sub;
//! each instance's dispatcher feeds a [`delivery::Cursor`] that drops repeats, holds an
//! early id briefly for order, and asks the database for ids the bus did not bring (a gap
//! that stays open, the newest committed id polled every second, and at once after the
//! bus reconnects). So a message may be late but is never lost or doubled.
//!
//! Why pub/sub plus catch-up queries rather than Redis Streams: Streams keep entries but
//! order them by XADD, not by id, and still miss a message whose publisher died between
//! COMMIT and XADD, so the database query would be needed anyway. With it, pub/sub is
//! enough: at most one Redis subscription per instance, nothing stored in Redis, and a
//! Redis outage only delays messages by the poll interval.
//!
//! - [`Hub`]: the one interface handlers publish to.
//! - [`dispatcher`]: the task that feeds the cursors from the bus and the database and
//!   hands what they release to the registry, with the position each frame reaches.
//! - [`delivery`]: the cursor of delivered, held and missing ids.
//! - [`registry`]: this instance's subscriptions and the per-event delivery.
//! - [`envelope`]: the event format between instances.
//! - [`redis_bus`]: the Redis side, with its health checks.
//! - [`protocol`]: stream names and the JSON frames of SPEC §4.
//! - [`subscription`]: one stream of a socket or SSE response: registration, `since`
//!   replay and its join with the live feed.
//! - [`socket`]: one task per websocket (subscriptions, replay, pings, 4008, flood limit);
//!   [`budget`]: its budgets of frames and replays.
//! - [`logins`]: ends a `home` stream when its login does (logout, expiry), on every
//!   instance.
//! - [`sse`]: `/sse`, the same streams as server-sent events.
//! - [`slots`]: the per-instance and per-address caps on open streams.
//! - [`routes`]: `/ws`, `/api/stream` and `/static/live.js`; [`refusal`]: how a stream
//!   that cannot open is answered (`AppError` rendered for streams); [`upgrade`]: the
//!   websocket handshake, so a socket is one task that writes shared frames.
//! - [`runtime`]: the socket tasks' own runtime, so fan-out never starves requests.

pub mod budget;
pub mod delivery;
pub mod dispatcher;
pub mod envelope;
pub mod logins;
pub mod protocol;
pub mod redis_bus;
pub mod refusal;
pub mod registry;
pub mod routes;
pub mod runtime;
pub mod slots;
pub mod socket;
pub mod sse;
pub mod subscription;
pub mod upgrade;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use serde::{Deserialize, Serialize};

use crate::clock::now_us;
use crate::metrics::Metrics;
use crate::store::{Store, TimelineMessage, VisibilityChange};
use dispatcher::{Dispatcher, SharedPosition};
use envelope::Envelope;
use protocol::Position;
use registry::{OpenQueues, QueueReceiver, Registry};
use slots::Slots;

pub use routes::{api_stream, live_js, ws_stream};
pub use sse::sse_stream;

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

/// How sockets behave; from [`crate::config::Settings`].
#[derive(Debug, Clone)]
pub struct SocketLimits {
    /// Frames a socket may have queued before it is closed with 4008.
    pub queue_bound: usize,
    /// How often the server pings.
    pub ping_interval: Duration,
    /// A peer silent this long is closed.
    pub idle_timeout: Duration,
    /// Open streams per instance; 0: no limit.
    pub max_sockets: usize,
    /// Open streams per client address; 0: no limit.
    pub max_sockets_per_ip: usize,
}

impl Default for SocketLimits {
    fn default() -> Self {
        SocketLimits {
            queue_bound: 256,
            ping_interval: Duration::from_secs(25),
            idle_timeout: Duration::from_secs(60),
            max_sockets: 50_000,
            max_sockets_per_ip: 200,
        }
    }
}

/// Where handlers publish events and sockets subscribe; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    /// Identifies this instance's events when they come back from Redis.
    origin: u128,
    registry: Registry,
    /// What subscriptions look up and replay from; held here once rather than by every
    /// open socket.
    store: Store,
    /// Events for this instance's dispatcher task (local ones and those from Redis).
    local: mpsc::UnboundedSender<Inbound>,
    redis: Option<redis_bus::RedisBus>,
    metrics: Metrics,
    limits: SocketLimits,
    slots: Arc<Slots>,
    /// Called for every event, this instance's and the others' (see [`Hub::on_event`]).
    event_hook: std::sync::OnceLock<EventHook>,
    /// Every open stream's queue: how shutdown and keep-alive ticks reach them.
    open: Arc<OpenQueues>,
    /// Starts the keep-alive ticks with the first stream.
    keep_alive: std::sync::Once,
    /// Where this instance's deliveries stand (see [`Hub::position`]).
    position: SharedPosition,
    /// The logins behind open `home` streams, checked by [`logins::watch`].
    logins: Arc<logins::Logins>,
}

/// What [`Hub::on_event`] runs for every event.
type EventHook = Box<dyn Fn(Noticed<'_>) + Send + Sync>;

/// What the event hook learns.
#[derive(Debug, Clone, Copy)]
pub enum Noticed<'a> {
    /// A change, made here or on another instance.
    Event(&'a Event),
    /// The bus reconnected: events published while it was away are lost to this
    /// instance, so anything may have changed.
    Gap,
}

/// What the dispatcher hears.
#[derive(Debug)]
pub enum Inbound {
    /// An event from this instance or from the bus.
    Event(Envelope),
    /// The bus (re)connected: what it carried meanwhile is lost, so ask the database now.
    BusReconnected,
}

impl Hub {
    /// In-process fan-out (one instance).
    pub fn in_process(store: Store, metrics: Metrics, limits: SocketLimits) -> Hub {
        let (tx, rx) = mpsc::unbounded_channel();
        Hub::assemble(store, metrics, limits, None, rand::random(), tx, rx)
    }

    /// Fan-out through Redis pub/sub on `channel`, shared by every instance.
    pub fn with_redis(
        store: Store,
        metrics: Metrics,
        limits: SocketLimits,
        redis_url: &str,
        channel: &str,
    ) -> Result<Hub, String> {
        let (tx, rx) = mpsc::unbounded_channel();
        let origin = rand::random::<u128>();
        let redis = redis_bus::RedisBus::start(redis_url, channel, origin, tx.clone(), &metrics)?;
        Ok(Hub::assemble(
            store,
            metrics,
            limits,
            Some(redis),
            origin,
            tx,
            rx,
        ))
    }

    fn assemble(
        store: Store,
        metrics: Metrics,
        limits: SocketLimits,
        redis: Option<redis_bus::RedisBus>,
        origin: u128,
        tx: mpsc::UnboundedSender<Inbound>,
        rx: mpsc::UnboundedReceiver<Inbound>,
    ) -> Hub {
        let logins = Arc::<logins::Logins>::default();
        let watch = logins::watch(Arc::downgrade(&logins), store.clone(), logins::CHECK_EVERY);
        tokio::spawn(watch);
        let hub = Hub {
            inner: Arc::new(HubInner {
                origin,
                registry: Registry::default(),
                store: store.clone(),
                local: tx,
                redis,
                metrics,
                slots: Slots::new(limits.max_sockets, limits.max_sockets_per_ip),
                limits,
                event_hook: std::sync::OnceLock::new(),
                open: Arc::default(),
                keep_alive: std::sync::Once::new(),
                position: SharedPosition::default(),
                logins,
            }),
        };
        // The dispatcher holds only a weak reference, so it ends with the last Hub clone.
        tokio::spawn(Dispatcher::run(Arc::downgrade(&hub.inner), rx, store));
        hub
    }

    /// Publishes a committed change. Never waits: with Redis down the event still reaches
    /// this instance's sockets, and the failure is counted.
    pub fn publish(&self, event: Event) {
        // Before the handler answers, so the next request on this instance sees the change.
        self.inner.note_event(&event);
        let envelope = Envelope {
            origin: self.inner.origin,
            at_us: now_us(),
            event,
        };
        if let Some(redis) = &self.inner.redis {
            redis.publish(&envelope);
        }
        // Fails only when the dispatcher is gone, i.e. the server is stopping.
        let _ = self.inner.local.send(Inbound::Event(envelope));
    }

    /// Where this instance's live deliveries stand: every message and visibility change
    /// up to it was handed to the open streams (or is known not to be coming). A page read
    /// after taking it shows everything up to it, so its live script resumes from it.
    pub fn position(&self) -> Position {
        self.inner.position.get()
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn limits(&self) -> &SocketLimits {
        &self.inner.limits
    }

    /// The logins behind this instance's open `home` streams.
    pub fn logins(&self) -> &Arc<logins::Logins> {
        &self.inner.logins
    }

    /// The caps on open streams.
    pub fn slots(&self) -> &Arc<Slots> {
        &self.inner.slots
    }

    /// `None` without Redis; otherwise whether the Redis subscription is up and answering
    /// its health checks (a stalled Redis counts as down).
    pub fn redis_connected(&self) -> Option<bool> {
        self.inner
            .redis
            .as_ref()
            .map(redis_bus::RedisBus::connected)
    }

    /// A new stream's queue, which the registry delivers to and which is told when the
    /// server stops and when to send a keep-alive (every `ping_interval`).
    pub fn open_queue(&self) -> QueueReceiver {
        self.inner.keep_alive.call_once(|| {
            let every = self.inner.limits.ping_interval;
            let open = Arc::downgrade(&self.inner.open);
            drop(runtime::handle().spawn(keep_alive(open, every)));
        });
        self.inner.open.open(self.inner.limits.queue_bound)
    }

    /// Runs `hook` for every event: this instance's as they are published (after their
    /// change committed), other instances' as they arrive, and messages caught up from the
    /// database as `MessagePosted`, so this instance's caches (the store's pages) learn of
    /// every change wherever it was made; and [`Noticed::Gap`] whenever the bus comes back,
    /// since what it carried meanwhile is lost. Set once.
    pub fn on_event(&self, hook: impl Fn(Noticed<'_>) + Send + Sync + 'static) {
        let _ = self.inner.event_hook.set(Box::new(hook));
    }

    /// Tells every stream to close (graceful shutdown), and every one opened from now on.
    pub fn shut_down(&self) {
        self.inner.open.shut_down();
    }
}

/// One tick for every open stream each `every`, rather than a timer in each of them; ends
/// once the hub and its last stream are gone.
async fn keep_alive(open: std::sync::Weak<OpenQueues>, every: Duration) {
    let every = every.max(Duration::from_millis(1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match open.upgrade() {
            Some(open) => open.keep_alive(),
            None => return,
        }
    }
}

impl HubInner {
    /// Caches of this instance learn of a change.
    fn note_event(&self, event: &Event) {
        self.note(Noticed::Event(event));
    }

    fn note(&self, noticed: Noticed<'_>) {
        if let Some(hook) = self.event_hook.get() {
            hook(noticed);
        }
    }
}
