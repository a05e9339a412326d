//! `GET /api/latest`; the middleware that records `?latest=N` before anything else; and
//! [`Latest`], the parameter every operation takes, which a write commits with its change.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use poem::{Endpoint, Request, RequestBody, Response};
use poem_openapi::registry::{MetaParamIn, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, Object, OpenApi};

use super::documented::{Failure, Json, JsonAnswer, LenientInt, OpenErrors};
use super::State;
use crate::error::AppError;
use crate::query::query_param;
use crate::state::AppState;

/// The `?latest=N` of a simulator request, and whether a write already committed it.
#[derive(Clone)]
struct PendingLatest {
    value: i64,
    committed: Arc<AtomicBool>,
}

/// Records `?latest=N` (an integer; anything else is ignored) whatever the request's fate,
/// so it updates even on 403, 404 and 400. A write that gets that far commits it in its
/// own transaction ([`Latest::committed`]); otherwise it is recorded alone once the
/// handler answered and before the answer is sent, so the simulator never sees an answer
/// without it.
pub async fn record_latest<E: Endpoint>(ep: Arc<E>, mut req: Request) -> poem::Result<Response> {
    let latest = query_param(&req, "latest").and_then(|v| LenientInt::parse(&v).0);
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
            return Err(AppError::from(e).into());
        }
    }
    answer
}

/// The simulator's action id, `?latest=N` (every operation takes it; a value that is not
/// an integer is ignored). [`record_latest`] has already read it; a write commits it with its
/// change ([`Latest::value`], [`Latest::committed`]).
pub struct Latest(Option<PendingLatest>);

impl Latest {
    /// The value for a write to commit in its own transaction: one commit per simulator
    /// action. The write's outcome then goes through [`Latest::committed`].
    pub fn value(&self) -> Option<i64> {
        self.0.as_ref().map(|p| p.value)
    }

    /// `done`, the outcome of a write given [`Latest::value`]: once it succeeded,
    /// [`record_latest`] no longer records the value alone.
    pub fn committed<T, E>(&self, done: Result<T, E>) -> Result<T, E> {
        if let (Ok(_), Some(pending)) = (&done, &self.0) {
            pending.committed.store(true, Ordering::Release);
        }
        done
    }
}

impl<'a> ApiExtractor<'a> for Latest {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::Parameter];
    type ParamType = LenientInt;
    type ParamRawType = LenientInt;

    fn register(registry: &mut Registry) {
        LenientInt::register(registry);
    }

    fn param_in() -> Option<MetaParamIn> {
        Some(MetaParamIn::Query)
    }

    fn param_schema_ref() -> Option<MetaSchemaRef> {
        Some(LenientInt::schema_ref())
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(Latest(request.data::<PendingLatest>().cloned()))
    }
}

#[derive(serde::Serialize, Object)]
#[oai(rename = "Latest")]
struct LatestBody {
    /// The last `latest` value received; -1 before any.
    latest: i64,
}

impl JsonAnswer for LatestBody {
    type Doc = Self;
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
        _recorded: Latest,
    ) -> Result<Json<LatestBody>, Failure<OpenErrors>> {
        let latest = state.store.latest().await?;
        Ok(Json(LatestBody {
            latest: latest.unwrap_or(-1),
        }))
    }
}
