//! What every handler can reach: the store, the realtime hub and the simulator's credential.

use std::sync::Arc;

use base64::Engine;
use subtle::ConstantTimeEq;

use crate::config::Settings;
use crate::limits::{HashSlots, RateLimits};
use crate::metrics::Metrics;
use crate::realtime::Hub;
use crate::store::Store;

/// Shared application state; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub hub: Hub,
    pub simulator: SimulatorCredential,
    pub metrics: Metrics,
    pub limits: RateLimits,
    /// The bound on password hashes running at once, shared by login and registration.
    pub hashing: HashSlots,
    pub settings: Arc<Settings>,
    /// Where people reach this server, without a trailing slash: `MINITWIT_PUBLIC_URL`, or
    /// `http://` and the bound address.
    pub public_url: Arc<str>,
}

/// The simulator's Basic-auth header, precomputed so each check is one comparison.
#[derive(Clone)]
pub struct SimulatorCredential {
    expected_header: Arc<[u8]>,
}

impl SimulatorCredential {
    pub fn new(user: &str, password: &str) -> SimulatorCredential {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        SimulatorCredential {
            expected_header: format!("Basic {token}").into_bytes().into(),
        }
    }

    /// Compares in constant time, so response timing does not reveal the credential.
    pub fn accepts(&self, authorization: Option<&[u8]>) -> bool {
        authorization.is_some_and(|given| bool::from(given.ct_eq(&self.expected_header)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_configured_credential() {
        let auth = SimulatorCredential::new("simulator", "super_safe!");
        assert!(auth.accepts(Some(b"Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh")));
        assert!(!auth.accepts(Some(b"Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUi")));
        assert!(!auth.accepts(Some(b"")));
        assert!(!auth.accepts(None));
    }
}

/// The whole app as a unit test calls it: the real router over a real SQLite store in a
/// temporary directory, without a listener.
#[cfg(test)]
pub(crate) mod test_app {
    use poem::{Endpoint, IntoEndpoint, Request, Response};

    use crate::config::Settings;
    use crate::startup::{routes, Application};

    pub struct TestApp {
        pub app: Application,
        _dir: tempfile::TempDir,
    }

    impl TestApp {
        pub async fn start() -> TestApp {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}/test.db?mode=rwc", dir.path().display());
            let app = Application::build(Settings::for_tests(&url))
                .await
                .expect("app builds");
            TestApp { app, _dir: dir }
        }

        /// `req` answered by the app's router.
        pub async fn call(&self, req: Request) -> Response {
            let endpoint = routes(self.app.state().clone()).into_endpoint();
            endpoint.get_response(req).await
        }
    }
}
