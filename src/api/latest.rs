//! `GET /api/latest`, and the middleware that records `?latest=N` before anything else.

use std::sync::Arc;

use poem::{Endpoint, Request, Response};

use super::{json_response, query_param, State};
use crate::error::ApiError;
use crate::state::AppState;

/// Records `?latest=N` (an integer) before auth and validation run, so it updates even on
/// 403 and 404. A non-integer value is ignored.
pub async fn record_latest<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    if let Some(latest) = query_param(&req, "latest").and_then(|v| v.trim().parse::<i64>().ok()) {
        if let Some(state) = req.data::<AppState>() {
            state
                .store
                .set_latest(latest)
                .await
                .map_err(ApiError::from)?;
        }
    }
    ep.call(req).await.map(poem::IntoResponse::into_response)
}

#[poem::handler]
pub async fn get_latest(state: State<'_>) -> Result<Response, ApiError> {
    #[derive(serde::Serialize)]
    struct Latest {
        latest: i64,
    }
    let latest = state.store.latest().await?.unwrap_or(-1);
    Ok(json_response(&Latest { latest }))
}
