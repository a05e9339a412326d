//! Prometheus metrics: one registry holding every family README.md lists under "Metrics and logs".
//!
//! Handlers and tasks update the families through [`Metrics`]; `/metrics`
//! (`crate::scrape`, a handler above the state, while this sits below the engine) encodes
//! the registry in the text format.
//!
//! - [`route`]: the route pattern (from poem's router) and method of a request, as bounded
//!   label values; the request middleware in `telemetry` counts and times every request
//!   with them, and logs them.
//! - [`refresh`]: the business gauges, re-read from the database on an interval.

pub mod refresh;
pub mod route;

pub use refresh::spawn_refresher;

use std::sync::Arc;

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

/// Every metric family, registered once; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Families>,
}

pub struct Families {
    pub registry: Registry,
    /// Labels: method, route (the pattern, never the raw path), status.
    pub http_requests_total: IntCounterVec,
    /// Labels: method, route.
    pub http_request_duration_seconds: HistogramVec,
    /// Streams open on this instance. Label: transport (websocket, sse, and Mastodon's
    /// mastodon_websocket, mastodon_sse).
    pub ws_connections: IntGaugeVec,
    /// Frames written to websockets.
    pub ws_messages_sent_total: IntCounter,
    /// Sockets closed with 4008 because their outgoing queue overflowed.
    pub ws_slow_disconnects_total: IntCounter,
    /// From a message's commit to its frame being written to a socket.
    pub fanout_delay_seconds: Histogram,
    /// Events this instance received from Redis pub/sub.
    pub pubsub_messages_received_total: IntCounter,
    /// Redis publish or subscribe failures.
    pub pubsub_errors_total: IntCounter,
    /// Business gauges, refreshed from the database (correct across replicas).
    pub users: IntGauge,
    pub messages: IntGauge,
    pub follows: IntGauge,
    pub latest_sim_action: IntGauge,
    /// Label: limiter (login, register, ws_connect, post).
    pub rate_limited_total: IntCounterVec,
    /// Open connections in the database pools.
    pub db_pool_connections: IntGauge,
    /// Times the dispatcher asked the database for messages the bus had not brought.
    pub delivery_catchup_queries_total: IntCounter,
    /// Messages found that way (the bus lost or delayed them) and delivered.
    pub delivery_catchup_messages_total: IntCounter,
    /// Redis subscriber health checks that timed out: a stalled or half-open connection.
    pub redis_stalls_total: IntCounter,
    /// Streams refused or closed by a limit. Label: reason (max_sockets,
    /// max_sockets_per_ip, flood, replays).
    pub ws_refused_total: IntCounterVec,
    /// How long a login or registration waited for a password-hash slot.
    pub password_hash_wait_seconds: Histogram,
    /// Logins and registrations answered 503 because no hash slot freed up in time.
    pub password_hash_rejected_total: IntCounter,
    /// Messages hidden by moderators.
    pub messages_hidden_total: IntCounter,
    /// Writes (posts, follows, unfollows, simulator `latest`) per committed transaction of
    /// the group-commit writer: its count is the commits, its sum the writes.
    pub db_writes_per_commit: Histogram,
}

impl std::ops::Deref for Metrics {
    type Target = Families;
    fn deref(&self) -> &Families {
        &self.inner
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Every `limiter` label value, exported at 0 before its first refusal so that queries and
/// alerts see the series from the start.
pub const LIMITERS: &[&str] = &["login", "register", "ws_connect", "post"];

/// Every `transport` label value of `minitwit_ws_connections`.
pub const TRANSPORTS: &[&str] = &["websocket", "sse", "mastodon_websocket", "mastodon_sse"];

/// Every `reason` label value of `minitwit_ws_refused_total`, exported at 0 from the start.
pub const STREAM_REFUSALS: &[&str] = &["max_sockets", "max_sockets_per_ip", "flood", "replays"];

/// Latency buckets from 0.5 ms to 10 s: our requests and fan-out live at the low end.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Writes per commit: one alone, up to the writer's largest batch (128).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0];

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let families = Families {
            http_requests_total: IntCounterVec::new(
                Opts::new("minitwit_http_requests_total", "HTTP requests answered"),
                &["method", "route", "status"],
            )
            .expect("valid metric"),
            http_request_duration_seconds: HistogramVec::new(
                HistogramOpts::new(
                    "minitwit_http_request_duration_seconds",
                    "HTTP request latency",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                &["method", "route"],
            )
            .expect("valid metric"),
            ws_connections: IntGaugeVec::new(
                Opts::new(
                    "minitwit_ws_connections",
                    "Open live streams (websockets and server-sent events)",
                ),
                &["transport"],
            )
            .expect("valid metric"),
            ws_messages_sent_total: IntCounter::new(
                "minitwit_ws_messages_sent_total",
                "Frames written to websockets",
            )
            .expect("valid metric"),
            ws_slow_disconnects_total: IntCounter::new(
                "minitwit_ws_slow_disconnects_total",
                "Websockets closed with 4008 because their queue overflowed",
            )
            .expect("valid metric"),
            fanout_delay_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "minitwit_fanout_delay_seconds",
                    "Delay from a message's commit to its frame being written",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
            )
            .expect("valid metric"),
            pubsub_messages_received_total: IntCounter::new(
                "minitwit_pubsub_messages_received_total",
                "Events received from Redis pub/sub",
            )
            .expect("valid metric"),
            pubsub_errors_total: IntCounter::new(
                "minitwit_pubsub_errors_total",
                "Redis publish or subscribe failures",
            )
            .expect("valid metric"),
            users: IntGauge::new("minitwit_users", "Registered users").expect("valid metric"),
            messages: IntGauge::new("minitwit_messages", "Messages posted").expect("valid metric"),
            follows: IntGauge::new("minitwit_follows", "Follow relations").expect("valid metric"),
            latest_sim_action: IntGauge::new(
                "minitwit_latest_sim_action",
                "Latest simulator action id recorded",
            )
            .expect("valid metric"),
            rate_limited_total: IntCounterVec::new(
                Opts::new(
                    "minitwit_rate_limited_total",
                    "Requests refused with 429 by a rate limiter",
                ),
                &["limiter"],
            )
            .expect("valid metric"),
            db_pool_connections: IntGauge::new(
                "minitwit_db_pool_connections",
                "Open connections in the database pools",
            )
            .expect("valid metric"),
            delivery_catchup_queries_total: IntCounter::new(
                "minitwit_delivery_catchup_queries_total",
                "Database queries for messages the bus had not delivered",
            )
            .expect("valid metric"),
            delivery_catchup_messages_total: IntCounter::new(
                "minitwit_delivery_catchup_messages_total",
                "Messages delivered from the database because the bus lost or delayed them",
            )
            .expect("valid metric"),
            redis_stalls_total: IntCounter::new(
                "minitwit_redis_stalls_total",
                "Redis subscriber health checks that timed out",
            )
            .expect("valid metric"),
            ws_refused_total: IntCounterVec::new(
                Opts::new(
                    "minitwit_ws_refused_total",
                    "Streams refused or closed by a socket limit",
                ),
                &["reason"],
            )
            .expect("valid metric"),
            password_hash_wait_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "minitwit_password_hash_wait_seconds",
                    "Time a login or registration waited for a password-hash slot",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
            )
            .expect("valid metric"),
            password_hash_rejected_total: IntCounter::new(
                "minitwit_password_hash_rejected_total",
                "Logins and registrations refused with 503: no password-hash slot in time",
            )
            .expect("valid metric"),
            messages_hidden_total: IntCounter::new(
                "minitwit_messages_hidden_total",
                "Messages hidden by moderators",
            )
            .expect("valid metric"),
            db_writes_per_commit: Histogram::with_opts(
                HistogramOpts::new(
                    "minitwit_db_writes_per_commit",
                    "Writes (posts, follows, unfollows, simulator latest) per committed transaction",
                )
                .buckets(BATCH_BUCKETS.to_vec()),
            )
            .expect("valid metric"),
            registry,
        };
        let f = &families;
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(f.http_requests_total.clone()),
            Box::new(f.http_request_duration_seconds.clone()),
            Box::new(f.ws_connections.clone()),
            Box::new(f.ws_messages_sent_total.clone()),
            Box::new(f.ws_slow_disconnects_total.clone()),
            Box::new(f.fanout_delay_seconds.clone()),
            Box::new(f.pubsub_messages_received_total.clone()),
            Box::new(f.pubsub_errors_total.clone()),
            Box::new(f.users.clone()),
            Box::new(f.messages.clone()),
            Box::new(f.follows.clone()),
            Box::new(f.latest_sim_action.clone()),
            Box::new(f.rate_limited_total.clone()),
            Box::new(f.db_pool_connections.clone()),
            Box::new(f.delivery_catchup_queries_total.clone()),
            Box::new(f.delivery_catchup_messages_total.clone()),
            Box::new(f.redis_stalls_total.clone()),
            Box::new(f.db_writes_per_commit.clone()),
            Box::new(f.ws_refused_total.clone()),
            Box::new(f.password_hash_wait_seconds.clone()),
            Box::new(f.password_hash_rejected_total.clone()),
            Box::new(f.messages_hidden_total.clone()),
        ];
        for collector in collectors {
            f.registry
                .register(collector)
                .expect("each family registered once");
        }
        for limiter in LIMITERS {
            f.rate_limited_total.with_label_values(&[limiter]);
        }
        for transport in TRANSPORTS {
            f.ws_connections.with_label_values(&[transport]);
        }
        for reason in STREAM_REFUSALS {
            f.ws_refused_total.with_label_values(&[reason]);
        }
        // `latest` is -1 until the simulator records one, as `/api/latest` says.
        f.latest_sim_action.set(-1);
        #[cfg(target_os = "linux")]
        f.registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("process collector registered once");
        Metrics {
            inner: Arc::new(families),
        }
    }

    /// The registry in Prometheus text format.
    pub fn encode(&self) -> String {
        use prometheus::Encoder;
        let mut out = Vec::new();
        let encoder = prometheus::TextEncoder::new();
        if let Err(e) = encoder.encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}
