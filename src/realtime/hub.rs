//! The hub: the one interface the actions publish committed changes to
//! ([`Hub::publish`]) and the streams subscribe through. It owns this instance's
//! registry, the dispatcher task, the Redis bus (when configured), the logins behind
//! `home` streams, the caps on open streams and every open stream's queue
//! (docs/architecture.md draws the path of a message through them).

use std::sync::{Arc, Once, Weak};
use std::time::Duration;

use tokio::sync::mpsc;

use super::dispatcher::{Dispatcher, Fanout, SharedPosition};
use super::envelope::{Envelope, Inbound};
use super::event::{Event, EventHooks, Noticed};
use super::logins::{self, Logins};
use super::protocol::Position;
use super::queue::{OpenQueues, QueueReceiver};
use super::redis_bus::RedisBus;
use super::registry::Registry;
use super::runtime;
use super::slots::Slots;
use crate::clock::now_us;
use crate::metrics::Metrics;
use crate::store::Store;

/// How streams behave; from [`crate::config::Settings`].
#[derive(Debug, Clone)]
pub struct SocketLimits {
    /// Frames a stream may have queued before it is closed with 4008.
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

/// Where the actions publish events and streams subscribe; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    /// What the dispatcher delivers to and tells; it holds this weakly.
    fanout: Arc<Fanout>,
    /// What subscriptions look up and replay from; held here once rather than by every
    /// open stream.
    store: Store,
    /// Events for this instance's dispatcher task (local ones and those from Redis).
    local: mpsc::UnboundedSender<Inbound>,
    redis: Option<RedisBus>,
    limits: SocketLimits,
    slots: Arc<Slots>,
    /// Every open stream's queue: how shutdown and keep-alive ticks reach them.
    open: Arc<OpenQueues>,
    /// Starts the keep-alive ticks with the first stream.
    keep_alive: Once,
    /// The logins behind open `home` streams, checked by [`logins::watch`].
    logins: Arc<Logins>,
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
        let redis = RedisBus::start(redis_url, channel, origin, tx.clone(), &metrics)?;
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
        redis: Option<RedisBus>,
        origin: u128,
        tx: mpsc::UnboundedSender<Inbound>,
        rx: mpsc::UnboundedReceiver<Inbound>,
    ) -> Hub {
        let logins = Arc::<Logins>::default();
        let watch = logins::watch(Arc::downgrade(&logins), store.clone(), logins::CHECK_EVERY);
        tokio::spawn(watch);
        let fanout = Arc::new(Fanout {
            origin,
            registry: Arc::default(),
            metrics,
            hooks: EventHooks::default(),
            position: SharedPosition::default(),
        });
        // The dispatcher holds only a weak reference, so it ends with the last Hub clone.
        tokio::spawn(Dispatcher::run(Arc::downgrade(&fanout), rx, store.clone()));
        Hub {
            inner: Arc::new(HubInner {
                fanout,
                store,
                local: tx,
                redis,
                slots: Slots::new(limits.max_sockets, limits.max_sockets_per_ip),
                limits,
                open: Arc::default(),
                keep_alive: Once::new(),
                logins,
            }),
        }
    }

    /// Publishes a committed change. Never waits: with Redis down the event still reaches
    /// this instance's streams, and the failure is counted.
    pub fn publish(&self, event: Event) {
        let fanout = &self.inner.fanout;
        // Before the handler answers, so the next request on this instance sees the change.
        fanout.hooks.note_event(&event);
        let envelope = Envelope {
            origin: fanout.origin,
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
        self.inner.fanout.position.get()
    }

    /// This instance's subscriptions; a subscription keeps a handle to unregister itself.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.inner.fanout.registry
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.fanout.metrics
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn limits(&self) -> &SocketLimits {
        &self.inner.limits
    }

    /// The logins behind this instance's open `home` streams.
    pub fn logins(&self) -> &Arc<Logins> {
        &self.inner.logins
    }

    /// The caps on open streams.
    pub fn slots(&self) -> &Arc<Slots> {
        &self.inner.slots
    }

    /// `None` without Redis; otherwise whether the Redis subscription is up and answering
    /// its health checks (a stalled Redis counts as down).
    pub fn redis_connected(&self) -> Option<bool> {
        self.inner.redis.as_ref().map(RedisBus::connected)
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

    /// Adds `hook`, run for every event: this instance's as they are published (after
    /// their change committed), other instances' as they arrive, and messages caught up
    /// from the database as `MessagePosted`, so this instance's caches (the store's pages)
    /// learn of every change wherever it was made; and [`Noticed::Gap`] whenever the bus
    /// comes back, since what it carried meanwhile is lost. Every hook added runs, in the
    /// order they were added.
    pub fn on_event(&self, hook: impl Fn(Noticed<'_>) + Send + Sync + 'static) {
        self.inner.fanout.hooks.add(hook);
    }

    /// Tells every stream to close (graceful shutdown), and every one opened from now on.
    pub fn shut_down(&self) {
        self.inner.open.shut_down();
    }
}

/// One tick for every open stream each `every`, rather than a timer in each of them; ends
/// once the hub and its last stream are gone.
async fn keep_alive(open: Weak<OpenQueues>, every: Duration) {
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use testkit::{Backend, TestDb};

    use super::*;
    use crate::realtime::protocol::StreamName;
    use crate::realtime::subscription::Subscription;

    async fn hub() -> (TestDb, Hub) {
        let db = TestDb::new(Backend::Sqlite).await;
        let store = Store::connect(&db.url).await.expect("connect");
        store.migrate().await.expect("migrate");
        let hub = Hub::in_process(store, Metrics::new(), SocketLimits::default());
        (db, hub)
    }

    /// Every hook added with `on_event` hears every event, not just the first one added.
    #[tokio::test]
    async fn every_event_hook_runs() {
        let (_db, hub) = hub().await;
        let heard = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        for k in 0..2 {
            let heard = heard.clone();
            hub.on_event(move |_| {
                heard[k].fetch_add(1, Ordering::SeqCst);
            });
        }
        hub.publish(Event::Followed { who: 1, whom: 2 });
        assert_eq!(heard[0].load(Ordering::SeqCst), 1);
        assert_eq!(heard[1].load(Ordering::SeqCst), 1, "the second hook ran");
    }

    /// A subscription leaves the registry when it is dropped, with no call to forget.
    #[tokio::test]
    async fn a_dropped_subscription_leaves_the_registry() {
        let (_db, hub) = hub().await;
        let rx = hub.open_queue();
        let sub = Subscription::open(&hub, None, rx.handle(), StreamName::Public, None)
            .await
            .expect("public opens");
        assert_eq!(hub.registry().len(), 1);
        drop(sub);
        assert!(hub.registry().is_empty(), "dropping it unregistered it");
    }
}
