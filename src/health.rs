//! `/healthz` (the process is up) and `/readyz` (its dependencies answer).

use poem::http::StatusCode;
use poem::web::Data;
use poem::{handler, Response};

use crate::state::AppState;

#[handler]
pub fn healthz() -> &'static str {
    "ok"
}

/// 503 while the database does not answer, or while the Redis subscription is down when
/// Redis is configured (this replica's sockets would miss other replicas' posts), so a
/// proxy routes around this replica.
#[handler]
pub async fn readyz(state: Data<&AppState>) -> Response {
    if let Err(e) = state.store.ping().await {
        return not_ready(format!("not ready: database: {e}"));
    }
    if state.hub.redis_connected() == Some(false) {
        return not_ready("not ready: Redis pub/sub is not connected".into());
    }
    Response::builder().body("ready")
}

fn not_ready(reason: String) -> Response {
    Response::builder()
        .status(StatusCode::SERVICE_UNAVAILABLE)
        .body(reason)
}
