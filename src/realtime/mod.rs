//! Realtime fan-out: every committed message and follow change is published here once,
//! and reaches every subscribed websocket on every instance (SPEC §4).
//!
//! - [`Hub`]: the one interface handlers publish to. It delivers to this instance's
//!   sockets directly and, with `REDIS_URL`, through [`redis_bus`] to the other instances.
//! - [`registry`]: this instance's subscriptions and the per-event delivery.
//! - [`reorder`]: puts message ids back in order before delivery.
//! - [`envelope`]: the event format between instances.
//! - [`protocol`]: stream names and the JSON frames of SPEC §4.
//! - [`socket`]: one task per websocket (subscriptions, replay, pings, 4008).
//! - [`routes`]: `/ws`, `/api/stream` and `/static/live.js`.
//! - [`runtime`]: the socket tasks' own runtime, so fan-out never starves requests.

pub mod envelope;
pub mod protocol;
pub mod redis_bus;
pub mod registry;
pub mod reorder;
pub mod routes;
pub mod runtime;
pub mod socket;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::metrics::Metrics;
use crate::store::TimelineMessage;
use envelope::{now_us, Envelope, WireEvent};
use registry::Registry;
use reorder::Reorder;

pub use routes::{api_stream, live_js, ws_stream};

/// Something that changed and that open streams may need to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    MessagePosted(TimelineMessage),
    Followed { who: i64, whom: i64 },
    Unfollowed { who: i64, whom: i64 },
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
}

impl Default for SocketLimits {
    fn default() -> Self {
        SocketLimits {
            queue_bound: 256,
            ping_interval: Duration::from_secs(25),
            idle_timeout: Duration::from_secs(60),
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
    /// Events for this instance's dispatcher task (local ones and those from Redis).
    local: mpsc::UnboundedSender<Envelope>,
    redis: Option<redis_bus::RedisBus>,
    metrics: Metrics,
    limits: SocketLimits,
    /// Flips to `true` when the server stops, so socket tasks can close cleanly.
    shutdown: watch::Sender<bool>,
    /// Called for each message another instance posted (see [`Hub::on_remote_message`]).
    remote_message_hook: std::sync::OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl Hub {
    /// In-process fan-out (one instance).
    pub fn in_process(metrics: Metrics, limits: SocketLimits) -> Hub {
        Hub::build(metrics, limits, None)
    }

    /// Fan-out through Redis pub/sub on `channel`, shared by every instance.
    pub fn with_redis(
        metrics: Metrics,
        limits: SocketLimits,
        redis_url: &str,
        channel: &str,
    ) -> Result<Hub, String> {
        let (tx, rx) = mpsc::unbounded_channel();
        let origin = rand::random::<u128>();
        let redis = redis_bus::RedisBus::start(redis_url, channel, origin, tx.clone(), &metrics)?;
        Ok(Hub::assemble(metrics, limits, Some(redis), origin, tx, rx))
    }

    fn build(metrics: Metrics, limits: SocketLimits, redis: Option<redis_bus::RedisBus>) -> Hub {
        let (tx, rx) = mpsc::unbounded_channel();
        Hub::assemble(metrics, limits, redis, rand::random(), tx, rx)
    }

    fn assemble(
        metrics: Metrics,
        limits: SocketLimits,
        redis: Option<redis_bus::RedisBus>,
        origin: u128,
        tx: mpsc::UnboundedSender<Envelope>,
        rx: mpsc::UnboundedReceiver<Envelope>,
    ) -> Hub {
        let hub = Hub {
            inner: Arc::new(HubInner {
                origin,
                registry: Registry::default(),
                local: tx,
                redis,
                metrics,
                limits,
                shutdown: watch::channel(false).0,
                remote_message_hook: std::sync::OnceLock::new(),
            }),
        };
        // The dispatcher holds only a weak reference, so it ends with the last Hub clone.
        tokio::spawn(dispatch(Arc::downgrade(&hub.inner), rx));
        hub
    }

    /// Publishes a committed change. Never waits: with Redis down the event still reaches
    /// this instance's sockets, and the failure is counted.
    pub fn publish(&self, event: Event) {
        let envelope = Envelope {
            origin: self.inner.origin,
            at_us: now_us(),
            event: WireEvent::from(event),
        };
        if let Some(redis) = &self.inner.redis {
            redis.publish(&envelope);
        }
        // Fails only when the dispatcher is gone, i.e. the server is stopping.
        let _ = self.inner.local.send(envelope);
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn limits(&self) -> &SocketLimits {
        &self.inner.limits
    }

    /// `None` without Redis; otherwise whether the Redis subscription is up.
    pub fn redis_connected(&self) -> Option<bool> {
        self.inner
            .redis
            .as_ref()
            .map(redis_bus::RedisBus::connected)
    }

    /// A receiver that changes to `true` when the server shuts down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    /// Runs `hook` for every message another instance announces, so caches of this
    /// instance (the store's public page) learn of posts they did not see. Set once.
    pub fn on_remote_message(&self, hook: impl Fn() + Send + Sync + 'static) {
        let _ = self.inner.remote_message_hook.set(Box::new(hook));
    }

    /// Tells every socket task to close (graceful shutdown).
    pub fn shut_down(&self) {
        let _ = self.inner.shutdown.send(true);
    }
}

/// The one task per instance that turns events into deliveries, in id order.
async fn dispatch(hub: std::sync::Weak<HubInner>, mut rx: mpsc::UnboundedReceiver<Envelope>) {
    let mut reorder: Reorder<Envelope> = Reorder::default();
    loop {
        let deadline = reorder.deadline();
        let ready = tokio::select! {
            received = rx.recv() => match received {
                Some(envelope) => match envelope.event.message_id() {
                    Some(id) => reorder.push(id, envelope, tokio::time::Instant::now()),
                    // Follow changes have no id; they apply at once.
                    None => vec![envelope],
                },
                None => return,
            },
            _ = sleep_until(deadline) => reorder.expire(),
        };
        let Some(hub) = hub.upgrade() else { return };
        for envelope in ready {
            match &envelope.event {
                WireEvent::Followed { who, whom } => hub.registry.follow_changed(*who, *whom, true),
                WireEvent::Unfollowed { who, whom } => {
                    hub.registry.follow_changed(*who, *whom, false)
                }
                WireEvent::Message { .. } => {
                    if envelope.origin != hub.origin {
                        if let Some(hook) = hub.remote_message_hook.get() {
                            hook();
                        }
                    }
                    if let Some(message) = envelope.event.message() {
                        hub.registry.deliver(&message, envelope.at_us, &hub.metrics);
                    }
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
