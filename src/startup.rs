//! Builds the application from settings: connects and migrates the store, wires the state,
//! binds the listener, and serves until told to stop. Used by `main` and by the tests.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::{get, EndpointExt, IntoEndpoint, Route, Server};

use crate::config::Settings;
use crate::realtime::Hub;
use crate::state::{AppState, SimulatorAuth};
use crate::store::Store;
use crate::{api, health};

/// How long in-flight requests get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub struct Application {
    acceptor: TcpAcceptor,
    addr: SocketAddr,
    state: AppState,
}

impl Application {
    /// Connects to the database, applies migrations and binds `settings.bind`.
    pub async fn build(settings: Settings) -> Result<Application, String> {
        let store = Store::connect(&settings.database_url).await?;
        store.migrate().await?;
        let state = AppState {
            store,
            hub: Hub::default(),
            simulator: SimulatorAuth::new(
                &settings.simulator_user,
                settings.simulator_password.expose(),
            ),
            settings: Arc::new(settings.clone()),
        };
        let acceptor = TcpListener::bind(settings.bind)
            .into_acceptor()
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", settings.bind))?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .unwrap_or(settings.bind);
        Ok(Application {
            acceptor,
            addr,
            state,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
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
        let result = Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(routes(self.state), shutdown, Some(SHUTDOWN_GRACE))
            .await;
        store.close().await;
        result
    }
}

/// Every route of the app, with the state attached.
pub fn routes(state: AppState) -> impl IntoEndpoint {
    Route::new()
        .nest("/api", api::routes())
        .at("/healthz", get(health::healthz))
        .at("/readyz", get(health::readyz))
        .data(state)
}
