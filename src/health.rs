//! `/healthz` (the process is up) and `/readyz` (its dependencies answer).

use poem::http::StatusCode;
use poem::web::Data;
use poem::{handler, Response};

use crate::state::AppState;

#[handler]
pub fn healthz() -> &'static str {
    "ok"
}

/// 503 while the database does not answer, so a proxy routes around this replica.
#[handler]
pub async fn readyz(state: Data<&AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => Response::builder().body("ready"),
        Err(e) => Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .body(format!("not ready: {e}")),
    }
}
