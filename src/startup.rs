//! Builds the application from settings: connects and migrates the store, wires the state,
//! binds the listener, and serves until told to stop. Used by `main` and by the tests.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::session::CookieSession;
use poem::{get, EndpointExt, IntoEndpoint, Route, Server};

use crate::assets::StaticFiles;
use crate::browser_policy::BrowserPolicy;
use crate::config::Settings;
use crate::limits::{DeadlineAcceptor, HashSlots, RateLimits};
use crate::metrics::route::{documented_paths, RouteLabels};
use crate::metrics::{self, Metrics};
use crate::realtime::{Hub, SocketLimits};
use crate::state::{AppState, SimulatorCredential};
use crate::store::{SetupError, Store};
use crate::telemetry::RequestTelemetry;
use crate::{api, health, mastodon, realtime, scrape, session_cookie, streams, web};

/// How long in-flight requests get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub struct Application {
    /// Drops clients that dawdle over a request head or idle too long (README.md, "Limits").
    acceptor: DeadlineAcceptor<TcpAcceptor>,
    addr: SocketAddr,
    state: AppState,
    /// Keeps the business gauges fresh while the application lives.
    gauges: metrics::refresh::RefresherGuard,
    /// Housekeeping (rate-limiter sweeps, SQLite checkpoints, backups), stopped with the app.
    housekeeping: AbortOnDrop,
}

/// Why the application could not start; printed by the binary as one line, the causes
/// following (`error_chain`).
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    EmptySecret(#[from] crate::config::EmptySecret),
    #[error("cannot connect to the database")]
    Connect(#[source] SetupError),
    #[error("cannot migrate the database")]
    Migrate(#[source] SetupError),
    /// `Hub::with_redis` says what went wrong as text.
    #[error("cannot start the Redis bus: {0}")]
    Redis(String),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Background tasks that end when this is dropped, so a stopped app leaves nothing running.
struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl Application {
    /// Connects to the database, applies migrations and binds `settings.bind`.
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        // Before anything connects: a blank secret is a configuration mistake, not a choice.
        settings.refuse_empty_secrets()?;
        if settings.public_simulator_password_exposed() {
            tracing::warn!(
                bind = %settings.bind,
                "SIMULATOR_PASSWORD is the public default while listening on {}: anyone who \
                 reaches it can use the simulator API; set a secret one",
                settings.bind
            );
        }
        let store = Store::connect(&settings.database_url)
            .await
            .map_err(StartupError::Connect)?;
        store.migrate().await.map_err(StartupError::Migrate)?;
        let metrics = Metrics::new();
        store.count_commits_in(metrics.db_writes_per_commit.clone());
        let hub = realtime_hub(&settings, &store, &metrics).map_err(StartupError::Redis)?;
        let cached = store.clone();
        hub.on_event(move |noticed| invalidate_pages(&cached, noticed));
        let acceptor = TcpListener::bind(settings.bind)
            .into_acceptor()
            .await
            .map_err(|source| StartupError::Bind {
                addr: settings.bind,
                source,
            })?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .unwrap_or(settings.bind);
        let public_url = match &settings.public_url {
            Some(url) => url.clone(),
            None => format!("http://{addr}"),
        };
        let state = AppState {
            store,
            hub,
            simulator: SimulatorCredential::new(
                &settings.simulator_user,
                settings.simulator_password.expose(),
            ),
            limits: RateLimits::new(settings.rate_limits(), metrics.clone()),
            hashing: HashSlots::new(settings.hash_concurrency as usize, metrics.clone()),
            metrics,
            settings: Arc::new(settings.clone()),
            public_url: public_url.into(),
        };
        let mut housekeeping = vec![
            state.limits.spawn_sweeper(),
            state.store.spawn_session_sweeper(),
        ];
        housekeeping.extend(state.store.spawn_sqlite_checkpointer());
        if let Some(schedule) = settings.backup_schedule() {
            housekeeping.extend(crate::backup::spawn_scheduled(&state.store, schedule));
        }
        let housekeeping = AbortOnDrop(housekeeping);
        let gauges = crate::metrics::spawn_refresher(state.store.clone(), state.metrics.clone());
        Ok(Application {
            acceptor: DeadlineAcceptor::new(acceptor, settings.deadlines()),
            addr,
            state,
            gauges,
            housekeeping,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        let store = self.state.store.clone();
        let gauges = self.gauges;
        let housekeeping = self.housekeeping;
        let hub = self.state.hub.clone();
        // Websockets never finish on their own: tell them to close when shutdown begins.
        let shutdown = async move {
            shutdown.await;
            hub.shut_down();
        };
        let result = Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(routes(self.state), shutdown, Some(SHUTDOWN_GRACE))
            .await;
        // Stop reading the database before closing it.
        drop(gauges);
        drop(housekeeping);
        store.close().await;
        result
    }
}

/// Where the simulator API is mounted.
const API_MOUNT: &str = "/api";
/// Where the pages are mounted: beside everything else, under the routes above.
const PAGES_MOUNT: &str = "/";

/// Every route of the app, with the state, the session middleware, the browser policy
/// headers and the request telemetry (ids, logs, metrics) attached. The API and the pages
/// are surfaces: each is a router wrapped once by its own policy and error renderer
/// (`api::routes`, `web::routes`). Telemetry is outermost, so every log line of a
/// request has its id, and it reads the route label from the pattern the router matched.
pub fn routes(state: AppState) -> impl IntoEndpoint {
    let sessions = CookieSession::new(session_cookie::config(&state.settings));
    let mounts: Vec<&str> = [API_MOUNT, PAGES_MOUNT]
        .into_iter()
        .chain(mastodon::PREFIXES)
        .collect();
    let labels = RouteLabels::new(
        &mounts,
        documented_paths::<api::openapi::Operations>(API_MOUNT),
    );
    let telemetry = RequestTelemetry::new(state.metrics.clone(), labels);
    // The Mastodon-compatible surface answers under several prefixes, one of them inside
    // the simulator API's `/api`: one router, mounted at each without stripping it.
    let mastodon = Arc::new(mastodon::routes(&state.public_url));
    let route = mastodon::PREFIXES
        .iter()
        .fold(Route::new(), |route, prefix| {
            route.nest_no_strip(*prefix, mastodon.clone())
        });
    let route = mastodon::PATHS
        .iter()
        .fold(route, |route, path| route.at(*path, mastodon.clone()))
        .nest(API_MOUNT, api::routes())
        .at("/ws", get(streams::ws_stream))
        .at("/sse", get(streams::sse_stream))
        .at("/static/*path", get(StaticFiles))
        .at("/healthz", get(health::healthz))
        .at("/readyz", get(health::readyz))
        .at("/metrics", get(scrape::metrics))
        .nest(PAGES_MOUNT, web::routes());
    let secure = web::secure_cookie::SecureOverHttps::new(&state.settings);
    route
        .with(sessions)
        .with(secure)
        .data(state)
        .with(BrowserPolicy)
        .with(telemetry)
}

/// The fan-out bus: Redis pub/sub when `REDIS_URL` is set, in-process otherwise.
fn realtime_hub(settings: &Settings, store: &Store, metrics: &Metrics) -> Result<Hub, String> {
    let limits = SocketLimits {
        queue_bound: settings.ws_queue.max(1),
        ping_interval: Duration::from_secs(settings.ws_ping_secs.max(1)),
        idle_timeout: Duration::from_secs(settings.ws_idle_secs.max(1)),
        max_sockets: settings.max_sockets,
        max_sockets_per_ip: settings.max_sockets_per_ip,
    };
    let store = store.clone();
    match &settings.redis_url {
        Some(url) => Hub::with_redis(store, metrics.clone(), limits, url, &settings.redis_channel),
        None => Ok(Hub::in_process(store, metrics.clone(), limits)),
    }
}

/// The store's cached pages follow the events of every instance: a post, hide or show
/// makes the pages that could show the message stale, a follow or unfollow its follower's
/// home page, and the bus coming back after an outage all of them (the hides it missed
/// come from the database a moment later; until then the pages are read fresh).
fn invalidate_pages(store: &Store, noticed: realtime::Noticed<'_>) {
    use realtime::{Event, Noticed};
    match noticed {
        Noticed::Event(Event::MessagePosted(message)) => {
            store.messages_changed(Some(message.author_id))
        }
        Noticed::Event(Event::VisibilityChanged(change)) => {
            store.messages_changed(Some(change.message.author_id))
        }
        Noticed::Event(Event::Followed { who, .. } | Event::Unfollowed { who, .. }) => {
            store.follows_changed(*who)
        }
        Noticed::Gap => store.messages_changed(None),
    }
}
