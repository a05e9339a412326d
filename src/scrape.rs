//! `GET /metrics`: the registry (`crate::metrics`) in Prometheus text format, behind
//! `METRICS_TOKEN` when set. Apart from the registry, which the engine below the state
//! updates, because this handler reads the state.

use poem::http::{header, StatusCode};
use poem::web::Data;
use poem::{handler, Request, Response};
use subtle::ConstantTimeEq;

use crate::state::AppState;

#[handler]
pub fn metrics(req: &Request, state: Data<&AppState>) -> Response {
    if let Some(token) = &state.settings.metrics_token {
        let expected = format!("Bearer {}", token.expose());
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        // Constant time, so response timing does not reveal the token.
        if !bool::from(given.ct_eq(expected.as_bytes())) {
            return Response::builder()
                .status(StatusCode::UNAUTHORIZED)
                .header(header::WWW_AUTHENTICATE, "Bearer")
                .body("a valid Authorization: Bearer token is required");
        }
    }
    // The pool size is free to read, so it is current at every scrape.
    state
        .metrics
        .db_pool_connections
        .set(i64::from(state.store.pool_connections()));
    Response::builder()
        .header(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)
        .body(state.metrics.encode())
}
