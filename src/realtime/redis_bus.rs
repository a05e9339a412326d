//! Fan-out across instances through Redis pub/sub.
//!
//! Each instance keeps exactly two Redis connections whatever its socket count: one
//! publisher and one subscriber on a single channel. Publishing never blocks a request:
//! events go through a bounded queue to the publisher task, and are dropped (and counted
//! in `minitwit_pubsub_errors_total`) while Redis is away; the other instances' dispatchers
//! find those messages in the database instead. Both connections use TCP keepalive, and
//! the subscriber pings Redis every
//! [`PING_EVERY`]: an answer later than [`REDIS_TIMEOUT`] means a stalled or half-open
//! connection (counted in `minitwit_redis_stalls_total`, `/readyz` 503), and it is dropped.
//! It reconnects with jittered exponential backoff, tells the dispatcher to catch up from
//! the database, and feeds it; events this instance published itself are skipped, it
//! delivered them locally already.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use rand::Rng;
use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;
use tokio::sync::{mpsc, watch};

use super::envelope::{Envelope, Inbound};
use crate::metrics::Metrics;

/// Events waiting for the publisher; beyond this, Redis is too slow and events are dropped.
const PUBLISH_QUEUE: usize = 8192;
/// How long one connect or command may take before Redis counts as away.
const REDIS_TIMEOUT: Duration = Duration::from_millis(1000);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// How often the subscriber checks that Redis still answers on its connection.
pub const PING_EVERY: Duration = Duration::from_millis(500);

/// The Redis side of a hub (`super::hub`).
pub struct RedisBus {
    queue: mpsc::Sender<Vec<u8>>,
    metrics: Metrics,
    /// Whether the subscriber is connected and subscribed (for `/readyz`).
    connected: Arc<AtomicBool>,
    /// Dropping the bus stops both tasks.
    _stop: watch::Sender<()>,
}

impl RedisBus {
    pub fn start(
        redis_url: &str,
        channel: &str,
        origin: u128,
        deliver: mpsc::UnboundedSender<Inbound>,
        metrics: &Metrics,
    ) -> Result<RedisBus, String> {
        let client = redis::Client::open(redis_url).map_err(|e| format!("bad REDIS_URL: {e}"))?;
        let (queue, pending) = mpsc::channel(PUBLISH_QUEUE);
        let (stop, stopped) = watch::channel(());
        let connected = Arc::new(AtomicBool::new(false));
        tokio::spawn(publisher(
            client.clone(),
            channel.to_owned(),
            pending,
            metrics.clone(),
            connected.clone(),
        ));
        tokio::spawn(subscriber(
            client,
            channel.to_owned(),
            origin,
            deliver,
            metrics.clone(),
            connected.clone(),
            stopped,
        ));
        Ok(RedisBus {
            queue,
            metrics: metrics.clone(),
            connected,
            _stop: stop,
        })
    }

    /// Queues an event for the other instances; never waits.
    pub fn publish(&self, envelope: &Envelope) {
        if self.queue.try_send(envelope.to_json()).is_err() {
            self.metrics.pubsub_errors_total.inc();
        }
    }

    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }
}

/// TCP keepalive probes find a peer that vanished without a FIN even while nothing is sent.
fn keepalive() -> redis::io::tcp::socket2::TcpKeepalive {
    redis::io::tcp::socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(10))
        .with_interval(Duration::from_secs(5))
}

fn connection_config() -> AsyncConnectionConfig {
    AsyncConnectionConfig::new()
        .set_connection_timeout(REDIS_TIMEOUT)
        .set_response_timeout(REDIS_TIMEOUT)
        .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_keepalive(keepalive()))
}

/// The subscriber's connection, with TCP keepalive on plain TCP (the client's own
/// `get_async_pubsub` takes no TCP settings); TLS and Unix sockets go through it.
async fn open_pubsub(client: &redis::Client) -> redis::RedisResult<redis::aio::PubSub> {
    let info = client.get_connection_info();
    let redis::ConnectionAddr::Tcp(host, port) = &info.addr else {
        return client.get_async_pubsub().await;
    };
    let stream = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
    stream.set_nodelay(true)?;
    redis::io::tcp::socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive())?;
    redis::aio::PubSub::new(&info.redis, stream).await
}

/// Publishes queued events in order; ends when the bus is dropped.
async fn publisher(
    client: redis::Client,
    channel: String,
    mut pending: mpsc::Receiver<Vec<u8>>,
    metrics: Metrics,
    subscriber_up: Arc<AtomicBool>,
) {
    let mut conn: Option<MultiplexedConnection> = None;
    let mut backoff = Backoff::default();
    let mut retry_at = tokio::time::Instant::now();
    while let Some(payload) = pending.recv().await {
        // The subscriber being back means Redis is: reconnect now rather than after the
        // backoff, so the first post after an outage is not dropped.
        let due = tokio::time::Instant::now() >= retry_at || subscriber_up.load(Ordering::Relaxed);
        if conn.is_none() && due {
            match client
                .get_multiplexed_async_connection_with_config(&connection_config())
                .await
            {
                Ok(c) => {
                    conn = Some(c);
                    backoff.reset();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot connect to Redis to publish");
                    retry_at = tokio::time::Instant::now() + backoff.next_delay();
                }
            }
        }
        // While Redis is away events are dropped at once rather than queued behind
        // reconnects: other instances' readers resume with `since`.
        let Some(c) = conn.as_mut() else {
            metrics.pubsub_errors_total.inc();
            continue;
        };
        let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(payload)
            .query_async(c)
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "Redis PUBLISH failed");
            metrics.pubsub_errors_total.inc();
            conn = None;
            retry_at = tokio::time::Instant::now() + backoff.next_delay();
        }
    }
}

/// Keeps one subscription to `channel` open, reconnecting with backoff; ends when the
/// bus is dropped.
async fn subscriber(
    client: redis::Client,
    channel: String,
    origin: u128,
    deliver: mpsc::UnboundedSender<Inbound>,
    metrics: Metrics,
    connected: Arc<AtomicBool>,
    mut stopped: watch::Receiver<()>,
) {
    let mut backoff = Backoff::default();
    loop {
        let subscribed = async {
            let mut pubsub = tokio::time::timeout(REDIS_TIMEOUT, open_pubsub(&client))
                .await
                .map_err(|_| "connect timed out".to_owned())?
                .map_err(|e| e.to_string())?;
            tokio::time::timeout(REDIS_TIMEOUT, pubsub.subscribe(&channel))
                .await
                .map_err(|_| "subscribe timed out".to_owned())?
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(pubsub)
        };
        let outcome = tokio::select! {
            outcome = subscribed => outcome,
            _ = stopped.changed() => return,
        };
        match outcome {
            Ok(pubsub) => {
                tracing::info!(%channel, "subscribed to Redis");
                connected.store(true, Ordering::Relaxed);
                backoff.reset();
                // Whatever was published while this instance was not subscribed is lost
                // for it: the dispatcher asks the database for it now.
                if deliver.send(Inbound::BusReconnected).is_err() {
                    return;
                }
                let (sink, mut messages) = pubsub.split();
                // The pings run in their own task: a PING cancelled half-way by another
                // branch of a select would leave its answer unclaimed on the connection.
                let (stalled_tx, mut stalled) = tokio::sync::oneshot::channel();
                let pinger = tokio::spawn(ping_until_stalled(sink, stalled_tx));
                loop {
                    let next = tokio::select! {
                        next = messages.next() => next,
                        why = &mut stalled => {
                            if let Ok(Stall::NoAnswer) = why {
                                metrics.redis_stalls_total.inc();
                            }
                            tracing::warn!("Redis stopped answering pings; reconnecting");
                            break;
                        }
                        _ = stopped.changed() => {
                            pinger.abort();
                            return;
                        }
                    };
                    let Some(msg) = next else { break };
                    metrics.pubsub_messages_received_total.inc();
                    match Envelope::from_json(msg.get_payload_bytes()) {
                        Some(envelope) if envelope.origin == origin => {}
                        Some(envelope) => {
                            if deliver.send(Inbound::Event(envelope)).is_err() {
                                pinger.abort();
                                return;
                            }
                        }
                        None => tracing::warn!("ignored an unreadable event from Redis"),
                    }
                }
                pinger.abort();
                tracing::warn!("lost the Redis subscription; reconnecting");
            }
            Err(e) => tracing::warn!(error = %e, "cannot subscribe to Redis"),
        }
        connected.store(false, Ordering::Relaxed);
        metrics.pubsub_errors_total.inc();
        tokio::select! {
            _ = tokio::time::sleep(backoff.next_delay()) => {}
            _ = stopped.changed() => return,
        }
    }
}

/// Why the pinger gave up on the connection.
#[derive(Debug)]
enum Stall {
    /// No answer within [`REDIS_TIMEOUT`]: stalled or half-open.
    NoAnswer,
    /// The connection failed outright.
    Broken,
}

/// Pings Redis on the subscriber's connection every [`PING_EVERY`]; returns (through
/// `stalled`) when an answer does not come within [`REDIS_TIMEOUT`] or the ping fails.
async fn ping_until_stalled(
    mut sink: redis::aio::PubSubSink,
    stalled: tokio::sync::oneshot::Sender<Stall>,
) {
    let mut every = tokio::time::interval(PING_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let answer = tokio::time::timeout(REDIS_TIMEOUT, sink.ping::<redis::Value>()).await;
        let why = match answer {
            Ok(Ok(_)) => continue,
            Ok(Err(_)) => Stall::Broken,
            Err(_) => Stall::NoAnswer,
        };
        let _ = stalled.send(why);
        return;
    }
}

/// Exponential backoff with full jitter, so replicas do not reconnect in lockstep.
#[derive(Debug)]
struct Backoff {
    current: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            current: BACKOFF_MIN,
        }
    }
}

impl Backoff {
    fn reset(&mut self) {
        self.current = BACKOFF_MIN;
    }

    fn next_delay(&mut self) -> Duration {
        let ceiling = self.current;
        self.current = (self.current * 2).min(BACKOFF_MAX);
        let ms = ceiling.as_millis().max(1) as u64;
        Duration::from_millis(rand::thread_rng().gen_range(ms / 2..=ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_ceiling_and_resets() {
        let mut b = Backoff::default();
        let delays: Vec<Duration> = (0..10).map(|_| b.next_delay()).collect();
        assert!(delays[0] <= BACKOFF_MIN);
        assert!(delays.iter().all(|d| *d <= BACKOFF_MAX));
        assert!(delays[9] >= BACKOFF_MAX / 2);
        b.reset();
        assert!(b.next_delay() <= BACKOFF_MIN);
    }
}
