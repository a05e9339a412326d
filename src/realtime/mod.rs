//! Realtime fan-out: every committed message and follow change is published here once,
//! and reaches every subscribed stream on every instance exactly once (SPEC §4).
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
use crate::store::{ModeratedMessage, Store, TimelineMessage};
use delivery::Cursor;
use envelope::Envelope;
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
    /// A moderator hid a message: open streams that showed it get `delete`.
    MessageHidden {
        message_id: i64,
        author_id: i64,
        author: String,
    },
    /// A moderator made a hidden message visible again: pages show it on their next load.
    MessageShown {
        message_id: i64,
    },
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
                logins,
            }),
        };
        // The dispatcher holds only a weak reference, so it ends with the last Hub clone.
        tokio::spawn(dispatch(Arc::downgrade(&hub.inner), rx, store));
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

/// How often the dispatcher asks the database for its newest id, to find messages whose
/// events the bus never brought (Redis down, stalled, or a publisher that died).
const POLL_NEWEST: Duration = Duration::from_secs(1);
/// How often the dispatcher looks at its cursor for catch-ups and expired holds.
const TICK: Duration = Duration::from_millis(50);
/// Longest wait between catch-up attempts while the database fails.
const CATCH_UP_BACKOFF_MAX: Duration = Duration::from_secs(2);

/// What a database query of the dispatcher found.
enum Answer {
    Newest(i64),
    NewestFailed,
    /// The messages found among the ids asked for.
    Found {
        asked: Vec<i64>,
        found: Vec<TimelineMessage>,
    },
    CatchUpFailed,
}

/// A message waiting in the cursor, with when it was published.
struct Pending {
    message: TimelineMessage,
    at_us: i64,
}

/// The one task per instance that turns events into deliveries: each message once, in id
/// order except for late ones, with gaps filled from the database.
async fn dispatch(
    hub: std::sync::Weak<HubInner>,
    mut rx: mpsc::UnboundedReceiver<Inbound>,
    store: Store,
) {
    let mut cursor: Cursor<Pending> =
        match tokio::time::timeout(Duration::from_secs(2), store.newest_message_id()).await {
            Ok(Ok(newest)) => Cursor::starting_after(newest),
            // Starts from the first event instead; the first poll settles it.
            _ => Cursor::default(),
        };
    let (answer_tx, mut answers) = mpsc::unbounded_channel::<Answer>();
    let mut hidden = RecentlyHidden::default();
    let mut polling = false;
    let mut asking = false;
    let mut ask_backoff = delivery::CATCH_UP_AFTER;
    let mut next_ask = tokio::time::Instant::now();
    let mut poll = tokio::time::interval(POLL_NEWEST);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let now = tokio::time::Instant::now();
        let hold = cursor.hold_deadline(now);
        let mut ready = Vec::new();
        let mut poll_now = false;
        tokio::select! {
            inbound = rx.recv() => {
                let Some(hub) = hub.upgrade() else { return };
                match inbound {
                    None => return,
                    Some(Inbound::BusReconnected) => {
                        hub.note(Noticed::Gap);
                        poll_now = true;
                    }
                    Some(Inbound::Event(envelope)) => {
                        // This instance's own events ran the hook when published.
                        if envelope.origin != hub.origin {
                            hub.note_event(&envelope.event);
                        }
                        match envelope.event {
                            Event::Followed { who, whom } => hub.registry.follow_changed(who, whom, true),
                            Event::Unfollowed { who, whom } => hub.registry.follow_changed(who, whom, false),
                            Event::MessagePosted(message) => {
                                let id = message.message_id;
                                let pending = Pending { message, at_us: envelope.at_us };
                                ready = cursor.offer(id, pending, tokio::time::Instant::now());
                            }
                            Event::MessageHidden { message_id, author_id, author } => {
                                hidden.insert(message_id);
                                let hidden = ModeratedMessage { message_id, author_id, author };
                                hub.registry.delete(&hidden, &hub.metrics);
                            }
                            Event::MessageShown { message_id } => {
                                hidden.remove(message_id);
                            }
                        }
                    }
                }
            }
            answer = answers.recv() => {
                let Some(hub) = hub.upgrade() else { return };
                let now = tokio::time::Instant::now();
                match answer {
                    Some(Answer::Newest(newest)) => {
                        tracing::trace!(newest, "newest committed message");
                        polling = false;
                        cursor.note_newest(newest, now);
                    }
                    Some(Answer::Found { asked, found }) => {
                        tracing::debug!(found = found.len(), "caught up from the database");
                        asking = false;
                        ask_backoff = delivery::CATCH_UP_AFTER;
                        for message in found {
                            if !cursor.awaits(message.message_id) {
                                continue;
                            }
                            hub.metrics.delivery_catchup_messages_total.inc();
                            hub.note_event(&Event::MessagePosted(message.clone()));
                            let id = message.message_id;
                            let pending = Pending { message, at_us: now_us() };
                            ready.extend(cursor.offer(id, pending, now));
                        }
                        cursor.answered(&asked);
                    }
                    Some(Answer::NewestFailed) => {
                        tracing::debug!("cannot read the newest message id");
                        polling = false;
                    }
                    Some(Answer::CatchUpFailed) => {
                        asking = false;
                        next_ask = now + ask_backoff;
                        ask_backoff = (ask_backoff * 2).min(CATCH_UP_BACKOFF_MAX);
                    }
                    None => return,
                }
            }
            _ = sleep_until(hold) => {}
            _ = poll.tick() => poll_now = true,
            _ = tick.tick() => {}
        }
        let Some(hub) = hub.upgrade() else { return };
        let now = tokio::time::Instant::now();
        ready.extend(cursor.release(now));
        if poll_now && !polling {
            polling = true;
            let (store, answer_tx) = (store.clone(), answer_tx.clone());
            tokio::spawn(async move {
                let answer =
                    match tokio::time::timeout(POLL_NEWEST, store.newest_message_id()).await {
                        Ok(Ok(newest)) => Answer::Newest(newest),
                        _ => Answer::NewestFailed,
                    };
                let _ = answer_tx.send(answer);
            });
        }
        if !asking && now >= next_ask {
            let wanted = cursor.wanted(now);
            if !wanted.is_empty() {
                asking = true;
                hub.metrics.delivery_catchup_queries_total.inc();
                let (store, answer_tx) = (store.clone(), answer_tx.clone());
                tokio::spawn(async move {
                    let answer = match tokio::time::timeout(
                        CATCH_UP_BACKOFF_MAX,
                        store.visible_messages(&wanted),
                    )
                    .await
                    {
                        Ok(Ok(found)) => Answer::Found {
                            asked: wanted,
                            found,
                        },
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "cannot catch up missed messages");
                            Answer::CatchUpFailed
                        }
                        Err(_) => Answer::CatchUpFailed,
                    };
                    let _ = answer_tx.send(answer);
                });
            }
        }
        for pending in ready {
            // Hidden before it got here (its event overtook it on the bus): never shown.
            if hidden.contains(pending.message.message_id) {
                continue;
            }
            hub.registry
                .deliver(&pending.message, pending.at_us, &hub.metrics);
        }
    }
}

/// Ids of messages hidden lately, so a message whose `MessageHidden` event arrives before
/// the message itself (from another instance, or a late catch-up) is not shown after all.
/// Bounded: an older hide's message has long been delivered or caught up.
#[derive(Default)]
struct RecentlyHidden {
    ids: std::collections::HashSet<i64>,
    order: std::collections::VecDeque<i64>,
}

impl RecentlyHidden {
    const CAPACITY: usize = 10_000;

    fn insert(&mut self, id: i64) {
        if self.ids.insert(id) {
            self.order.push_back(id);
            if self.order.len() > Self::CAPACITY {
                if let Some(oldest) = self.order.pop_front() {
                    self.ids.remove(&oldest);
                }
            }
        }
    }

    fn remove(&mut self, id: i64) {
        if self.ids.remove(&id) {
            self.order.retain(|&other| other != id);
        }
    }

    fn contains(&self, id: i64) -> bool {
        self.ids.contains(&id)
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

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
