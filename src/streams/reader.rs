//! What every open stream carries, websocket or SSE: whose it is ([`Reader`]), and its
//! place in the `minitwit_ws_connections` gauge ([`Gauge`]).

use crate::realtime::logins::Login;
use crate::realtime::Hub;

/// Who the connection belongs to, which decides what `home` means.
#[derive(Debug, Clone)]
pub struct Reader {
    pub user_id: i64,
    /// The browser session's login, which its `home` ends with; `None` for the
    /// simulator's `/api/stream`, which has no session.
    pub login: Option<Login>,
}

/// Counts a stream in `minitwit_ws_connections{transport}` for as long as it lives.
pub struct Gauge(prometheus::IntGauge);

impl Gauge {
    pub fn open(hub: &Hub, transport: &str) -> Gauge {
        let gauge = hub.metrics().ws_connections.with_label_values(&[transport]);
        gauge.inc();
        Gauge(gauge)
    }
}

impl Drop for Gauge {
    fn drop(&mut self) {
        self.0.dec();
    }
}
