//! MiniTwit's stream routes: `/ws`, `/api/stream`, `/sse` and `/static/live.js`.
//!
//! Everything that can be refused is refused before the upgrade, rendered by `refusal`:
//! a bad stream name (400), an unknown user (404), `home` without a session or from
//! another site's page (401). `/api/stream` is mounted by the API (so `latest` is recorded
//! as on every API call): without the simulator's credential it is refused (403), and its
//! errors are the API's JSON. A stream over the caps on open streams is upgraded and
//! closed at once with 1013 (docs/protocol.md), so a browser's script sees why.

use poem::http::header::AUTHORIZATION;
use poem::session::Session;
use poem::web::Data;
use poem::{handler, Request, Response};

use super::dialect::Wanted;
use super::reader::Reader;
use super::refusal;
use super::socket::Connection;
use super::sse::{respond, SseOpen};
use super::start::{client_bucket, start};
use super::upgrade::WsUpgrade;
use crate::error::{AppError, AppResult, Forbidden};
use crate::limits::Limiter;
use crate::origin::is_cross_origin;
use crate::query::query_param;
use crate::rate_limit::RateLimit;
use crate::realtime::protocol::{Position, StreamName};
use crate::realtime::slots::{Refusal, Slot};
use crate::state::AppState;
use crate::web::session::session_user;

/// The live-update script of the timeline pages, embedded so the binary runs anywhere.
const LIVE_JS: &str = include_str!("../../static/live.js");

/// `since=POSITION`: absent is fine; a 400 unless a position the server hands out
/// (`M.C`) or a message id.
fn since_param(req: &Request) -> AppResult<Option<Position>> {
    match query_param(req, "since") {
        None => Ok(None),
        Some(raw) => Position::parse(&raw).map(Some).ok_or_else(bad_since),
    }
}

fn bad_since() -> AppError {
    AppError::invalid("since must be a position the server sent, or a message id")
}

/// The user a stream names, or 404.
async fn stream_user(state: &AppState, username: &str) -> AppResult<i64> {
    state
        .store
        .user_id_by_name(username)
        .await?
        .ok_or(AppError::NotFound("unknown user"))
}

/// What a browser's stream request (`/ws` or `/sse`) asks for, checked before anything
/// is opened.
pub struct StreamRequest {
    /// `None` for a bare `/ws`.
    pub name: Option<StreamName>,
    pub since: Option<Position>,
    pub reader: Option<Reader>,
}

/// Counts the attempt against the client's connect budget, then parses and checks
/// `stream` and `since` (or `since_header`, SSE's `Last-Event-ID`): the refusal (see
/// `refusal`) for what can be refused before a stream opens.
pub async fn stream_request(
    req: &Request,
    session: &Session,
    state: &AppState,
    since_header: Option<&str>,
) -> Result<StreamRequest, Response> {
    checked_stream_request(req, session, state, since_header)
        .await
        .map_err(|e| refusal::response(&e))
}

async fn checked_stream_request(
    req: &Request,
    session: &Session,
    state: &AppState,
    since_header: Option<&str>,
) -> AppResult<StreamRequest> {
    // Every attempt counts against the client's per-IP budget (README.md, "Limits"),
    // refused or not.
    RateLimit::per_ip(Limiter::WsConnect).check(req)?;
    let since = match since_header.and_then(|h| req.headers().get(h)) {
        Some(value) => match value.to_str().ok().and_then(Position::parse) {
            Some(position) => Some(position),
            None => return Err(bad_since()),
        },
        None => since_param(req)?,
    };
    let name = match query_param(req, "stream").map(|raw| StreamName::parse(&raw)) {
        None => None,
        Some(Ok(name)) => Some(name),
        Some(Err(e)) => return Err(AppError::invalid(e)),
    };
    // Another site's page must not open a stream with this user's cookie (cross-site
    // websocket hijacking): its requests count as anonymous.
    let reader = if is_cross_origin(req) {
        None
    } else {
        session_user(state, session)
            .await
            .map(|(user_id, login)| Reader {
                user_id,
                login: Some(login),
            })
    };
    match &name {
        Some(StreamName::Home) if reader.is_none() => return Err(AppError::Unauthorized),
        Some(StreamName::User(username)) => {
            stream_user(state, username).await?;
        }
        _ => {}
    }
    Ok(StreamRequest {
        name,
        since,
        reader,
    })
}

/// `GET /ws?stream=S[&since=ID]`: `public`, `user:NAME`, or `home` with a session; bare
/// `GET /ws` opens a socket that subscribes with frames.
#[handler]
pub async fn ws_stream(
    req: &Request,
    ws: WsUpgrade,
    session: &Session,
    state: Data<&AppState>,
) -> Response {
    let asked = match stream_request(req, session, &state, None).await {
        Ok(asked) => asked,
        Err(refused) => return refused,
    };
    let slot = state.hub.slots().take(client_bucket(req, &state));
    let initial = asked.name.map(|stream| Wanted {
        stream,
        format: None,
        since: asked.since,
    });
    upgrade(ws, &state, asked.reader, initial, slot)
}

/// `GET /api/stream?user=NAME[&since=ID]` with the simulator's Basic auth: NAME's home.
/// Not rate limited: the simulator's credential is not (README.md, "Limits").
#[handler]
pub async fn api_stream(
    req: &Request,
    ws: WsUpgrade,
    state: Data<&AppState>,
) -> poem::Result<Response> {
    // The credential first, as the API's extractor refuses it: an error, not an answer.
    let authorization = req.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
    if !state.simulator.accepts(authorization) {
        let refused = AppError::Forbidden(Forbidden::NotSimulator);
        return Err(poem::Error::from_response(refusal::simulator_json(
            &refused,
        )));
    }
    // `since` is refused as on the browser streams; the rest as the API refuses.
    let since = match since_param(req) {
        Ok(since) => since,
        Err(e) => return Ok(refusal::response(&e)),
    };
    let user = match query_param(req, "user") {
        Some(username) => stream_user(&state, &username).await,
        None => Err(AppError::invalid("user is required: ?user=NAME")),
    };
    let user_id = match user {
        Ok(id) => id,
        Err(e) => return Ok(refusal::simulator_json(&e)),
    };
    let slot = state.hub.slots().take(client_bucket(req, &state));
    Ok(upgrade(
        ws,
        &state,
        Some(Reader {
            user_id,
            login: None,
        }),
        Some(Wanted {
            stream: StreamName::Home,
            format: None,
            since,
        }),
        slot,
    ))
}

/// A MiniTwit socket's upgrade.
fn upgrade(
    ws: WsUpgrade,
    state: &AppState,
    reader: Option<Reader>,
    initial: Option<Wanted>,
    slot: Result<Slot, Refusal>,
) -> Response {
    let conn = Connection {
        hub: state.hub.clone(),
        reader,
        initial,
        slot,
        dialect: None,
        transport: "websocket",
    };
    start(ws, conn)
}

/// `GET /sse?stream=S[&since=ID]` (`Last-Event-ID: ID` wins over `since`).
#[handler]
pub async fn sse_stream(req: &Request, session: &Session, state: Data<&AppState>) -> Response {
    let asked = match stream_request(req, session, &state, Some("last-event-id")).await {
        Ok(asked) => asked,
        Err(refused) => return refused,
    };
    let Some(name) = asked.name else {
        return refusal::response(&AppError::invalid("stream is required: ?stream=public"));
    };
    let opened = SseOpen {
        reader: asked.reader,
        name,
        since: asked.since,
        dialect: None,
        transport: "sse",
    };
    respond(req, &state, opened).await
}

/// `GET /static/live.js`.
#[handler]
pub fn live_js() -> Response {
    Response::builder()
        .content_type("application/javascript; charset=utf-8")
        .header("Cache-Control", "public, max-age=300")
        .body(LIVE_JS)
}
