//! `GET /api/latest`, and the middleware that records `?latest=N` before anything else.

use std::sync::atomic::{AtomicBool, Ordering};
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

/// The `?latest=N` of a simulator request, and whether a write already committed it.
#[derive(Clone)]
struct PendingLatest {
    value: i64,
    committed: Arc<AtomicBool>,
}

/// Runs `write` with the request's `?latest=N` (if it has one) for the write to commit in
/// its own transaction: one commit per simulator action. Once the write succeeded,
/// [`record_latest`] no longer records it alone.
pub(super) async fn committing_latest<T, E>(
    req: &Request,
    write: impl AsyncFnOnce(Option<i64>) -> Result<T, E>,
) -> Result<T, E> {
    let pending = req.data::<PendingLatest>();
    let done = write(pending.map(|p| p.value)).await;
    if let (Ok(_), Some(pending)) = (&done, pending) {
        pending.committed.store(true, Ordering::Release);
    }
    done
}

/// Records `?latest=N` (an integer) whatever the request's fate, so it updates even on 403,
/// 404 and 400. A write that gets that far commits it in its own transaction
/// ([`committing_latest`]); otherwise it is recorded alone once the handler answered and
/// before the answer is sent, so the simulator never sees an answer without it. A
/// non-integer value is ignored.
pub async fn record_latest<E: Endpoint>(ep: Arc<E>, mut req: Request) -> poem::Result<Response> {
    let latest = query_param(&req, "latest").and_then(|v| v.trim().parse::<i64>().ok());
    let (Some(value), Some(state)) = (latest, req.data::<AppState>().cloned()) else {
        return ep.call(req).await.map(poem::IntoResponse::into_response);
    };
    let committed = Arc::new(AtomicBool::new(false));
    req.set_data(PendingLatest {
        value,
        committed: committed.clone(),
    });
    let answer = ep.call(req).await.map(poem::IntoResponse::into_response);
    if !committed.load(Ordering::Acquire) {
        if let Err(e) = state.store.set_latest(value).await {
            let refused = error::response(&AppError::from(e));
            return Err(poem::Error::from_response(refused));
        }
    }
    answer
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
