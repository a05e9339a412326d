//! `/healthz` (the process is up) and `/readyz` (its dependencies answer).

use poem::http::StatusCode;
use poem::web::Data;
use poem::{handler, Response};

use crate::state::AppState;

#[handler]
pub fn healthz() -> &'static str {
    "ok"
}

/// 503 while the database does not answer, or while the Redis subscription is down or
/// stalled when Redis is configured (this replica's sockets would miss other replicas'
/// posts), so a proxy routes around this replica. The body names what is down and nothing
/// more: error texts can hold hostnames and user names, so they go to the log only.
#[handler]
pub async fn readyz(state: Data<&AppState>) -> Response {
    if let Err(e) = state.store.ping().await {
        tracing::warn!(error = %e, "not ready: the database does not answer");
        return not_ready("not ready: database");
    }
    if state.hub.redis_connected() == Some(false) {
        tracing::warn!("not ready: the Redis pub/sub subscription is down or stalled");
        return not_ready("not ready: redis");
    }
    Response::builder().body("ready")
}

fn not_ready(reason: &'static str) -> Response {
    Response::builder()
        .status(StatusCode::SERVICE_UNAVAILABLE)
        .content_type("text/plain; charset=utf-8")
        .body(reason)
}
