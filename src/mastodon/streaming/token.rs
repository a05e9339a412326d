//! Who opens a stream: the access token, from `Authorization: Bearer`, `?access_token=`
//! or (what browsers can send on a websocket) `Sec-WebSocket-Protocol`. A given token must
//! be valid (401) and cover `read` (403), as Mastodon checks it; none is fine for `public`.

use poem::http::header::{HeaderValue, SEC_WEBSOCKET_PROTOCOL};
use poem::Request;

use super::super::auth::{bearer_token, Need};
use crate::error::{AppError, AppResult, Forbidden};
use crate::realtime::logins::Login;
use crate::state::AppState;
use crate::streams::reader::Reader;

/// The first subprotocol the client offers, which the `101` answer must select (a
/// browser fails the connection otherwise); Mastodon's clients offer the token.
pub fn offered_protocol(req: &Request) -> Option<HeaderValue> {
    let offered = req.headers().get(SEC_WEBSOCKET_PROTOCOL)?.to_str().ok()?;
    let first = offered.split(',').next()?.trim();
    if first.is_empty() {
        return None;
    }
    HeaderValue::from_str(first).ok()
}

/// The reader the request's token names: `None` without a token or for an app's own
/// token (no user). Its `user` stream ends with the token (`crate::realtime::logins`).
pub async fn reader(
    req: &Request,
    state: &AppState,
    protocol: Option<&HeaderValue>,
) -> AppResult<Option<Reader>> {
    let offered = protocol.and_then(|p| p.to_str().ok()).map(str::to_owned);
    let Some(token) = bearer_token(req).or(offered) else {
        return Ok(None);
    };
    let grant = state
        .store
        .token_grant(&token)
        .await?
        .ok_or(AppError::Unauthorized)?;
    if !Need::Read.allowed_by(&grant.scopes) {
        return Err(AppError::Forbidden(Forbidden::OutsideScopes));
    }
    Ok(grant.user.map(|user| Reader {
        user_id: user.id,
        login: Some(Login::token(grant.key)),
    }))
}
