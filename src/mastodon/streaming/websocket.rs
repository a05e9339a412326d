//! `GET /api/v1/streaming` (and `/api/v1/streaming/`): Mastodon's multiplexed websocket on
//! MiniTwit's socket task (`crate::streams::socket`), so it has the same caps, pings, idle
//! timeout, 4008 kick, frame budget and metrics as `/ws`. A bad token, a `user` stream
//! without a user, or an unknown `?stream=` is refused before the upgrade.

use poem::web::Data;
use poem::{handler, Request, Response};

use super::names::Named;
use super::token::{offered_protocol, reader};
use super::Streaming;
use crate::error::{AppError, AppResult};
use crate::overload::Limiter;
use crate::query::query_param;
use crate::rate_limit::RateLimit;
use crate::realtime::protocol::StreamName;
use crate::state::AppState;
use crate::streams::dialect::Wanted;
use crate::streams::socket::Connection;
use crate::streams::start::{client_bucket, start};
use crate::streams::upgrade::WsUpgrade;

/// The transport label of these sockets in `minitwit_ws_connections`.
pub const TRANSPORT: &str = "mastodon_websocket";

/// `GET /api/v1/streaming[?stream=user|public|public:local]`.
#[handler]
pub async fn websocket(
    req: &Request,
    ws: WsUpgrade,
    state: Data<&AppState>,
    streaming: Data<&Streaming>,
) -> AppResult<Response> {
    // Counted as every stream connect is (README.md, "Limits"), refused or not.
    RateLimit::per_ip(Limiter::WsConnect).check(req)?;
    let protocol = offered_protocol(req);
    let reader = reader(req, &state, protocol.as_ref()).await?;
    let initial = match query_param(req, "stream") {
        None => None,
        Some(raw) => match streaming.socket.names.lookup(&raw) {
            Err(unknown) => return Err(AppError::invalid(unknown)),
            Ok(Named::Empty) => None,
            Ok(Named::Stream(StreamName::Home, _)) if reader.is_none() => {
                return Err(AppError::Unauthorized);
            }
            Ok(Named::Stream(stream, format)) => Some(Wanted {
                stream,
                format,
                since: None,
            }),
        },
    };
    let slot = state.hub.slots().take(client_bucket(req, &state));
    let ws = match protocol {
        Some(protocol) => ws.with_protocol(protocol),
        None => ws,
    };
    let conn = Connection {
        hub: state.hub.clone(),
        reader,
        initial,
        slot,
        dialect: Some(streaming.socket.clone()),
        transport: TRANSPORT,
    };
    Ok(start(ws, conn))
}
