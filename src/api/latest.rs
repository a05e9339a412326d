//! `GET /api/latest`, and the middleware that records `?latest=N` before anything else.

use std::sync::Arc;

use poem::{Endpoint, Request, Response};
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::documented::{LenientInt, OpenErrors, Reply};
use super::{error, json_response, State};
use crate::error::AppError;
use crate::query::query_param;
use crate::state::AppState;

/// Records `?latest=N` (an integer) before auth and validation run, so it updates even on
/// 403 and 404. A non-integer value is ignored.
pub async fn record_latest<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    if let Some(latest) = query_param(&req, "latest").and_then(|v| v.trim().parse::<i64>().ok()) {
        if let Some(state) = req.data::<AppState>() {
            if let Err(e) = state.store.set_latest(latest).await {
                let refused = error::response(&AppError::from(e));
                return Err(poem::Error::from_response(refused));
            }
        }
    }
    ep.call(req).await.map(poem::IntoResponse::into_response)
}

#[derive(serde::Serialize, Object)]
struct Latest {
    /// The last `latest` value received; -1 before any.
    latest: i64,
}

/// What `GET /api/latest` answers besides its errors (documentation; the handler builds it).
#[derive(ApiResponse)]
#[allow(dead_code)]
enum LatestReply {
    #[oai(status = 200)]
    Ok(Json<Latest>),
}

pub struct LatestApi;

#[OpenApi]
impl LatestApi {
    /// The latest action the simulator reported with `?latest=N`.
    #[oai(path = "/latest", method = "get")]
    async fn get_latest(
        &self,
        state: State<'_>,
        /// The simulator's action id, recorded before anything else (every endpoint takes it).
        #[oai(name = "latest")]
        _latest: Query<LenientInt>,
    ) -> Reply<LatestReply, OpenErrors> {
        let latest = state.store.latest().await.map_err(AppError::from);
        latest
            .map(|latest| {
                json_response(&Latest {
                    latest: latest.unwrap_or(-1),
                })
            })
            .into()
    }
}
