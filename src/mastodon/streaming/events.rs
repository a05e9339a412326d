//! `GET /api/v1/streaming/user`, `/public` and `/public/local`: Mastodon's server-sent
//! events on MiniTwit's SSE task (`crate::streams::sse`), with its caps, keep-alives, slow
//! reader cut-off and metrics.

use poem::web::Data;
use poem::{handler, Request, Response};

use super::token::reader;
use super::Streaming;
use crate::error::{AppError, AppResult};
use crate::overload::Limiter;
use crate::rate_limit::RateLimit;
use crate::realtime::protocol::StreamName;
use crate::state::AppState;
use crate::streams::sse::{respond, SseOpen};

/// The transport label of these streams in `minitwit_ws_connections`.
pub const TRANSPORT: &str = "mastodon_sse";

/// `GET /api/v1/streaming/user`: the token's user's home.
#[handler]
pub async fn user(
    req: &Request,
    state: Data<&AppState>,
    streaming: Data<&Streaming>,
) -> AppResult<Response> {
    open(req, &state, &streaming, StreamName::Home).await
}

/// `GET /api/v1/streaming/public` (and `/public/local`: the same here).
#[handler]
pub async fn public(
    req: &Request,
    state: Data<&AppState>,
    streaming: Data<&Streaming>,
) -> AppResult<Response> {
    open(req, &state, &streaming, StreamName::Public).await
}

async fn open(
    req: &Request,
    state: &AppState,
    streaming: &Streaming,
    name: StreamName,
) -> AppResult<Response> {
    RateLimit::per_ip(Limiter::WsConnect).check(req)?;
    let reader = reader(req, state, None).await?;
    if name == StreamName::Home && reader.is_none() {
        return Err(AppError::Unauthorized);
    }
    let opened = SseOpen {
        reader,
        name,
        since: None,
        dialect: Some(streaming.events.clone()),
        transport: TRANSPORT,
    };
    Ok(respond(req, state, opened).await)
}
