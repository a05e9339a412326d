//! The visitor's session: who is logged in, and flash messages that survive one redirect.
//!
//! The session itself is poem's signed cookie (wired in `startup::routes`); this module only
//! gives its keys a meaning.

use poem::http::{header, StatusCode};
use poem::session::Session;
use poem::Response;

use super::error::{WebError, WebResult};
use crate::state::AppState;
use crate::store::User;

/// The logged-in user's id (i64); a shared contract with the websocket `home` stream.
pub const USER_ID: &str = "user_id";
/// Messages to show on the next page rendered, then forget.
const FLASHES: &str = "flashes";

/// The logged-in user, if any. A session naming a user who no longer exists (a reset
/// database) is treated as logged out.
pub async fn current_user(state: &AppState, session: &Session) -> WebResult<Option<User>> {
    let Some(id) = session.get::<i64>(USER_ID) else {
        return Ok(None);
    };
    let user = state.store.user_by_id(id).await?;
    if user.is_none() {
        session.remove(USER_ID);
    }
    Ok(user)
}

/// The logged-in user, or 401 as the classic app answers actions that need one.
pub async fn require_user(state: &AppState, session: &Session) -> WebResult<User> {
    current_user(state, session)
        .await?
        .ok_or(WebError::Unauthorized)
}

/// Starts a fresh session for `user_id`: whatever the old session held (a fixed session
/// planted by someone else included) is dropped first.
pub fn log_in(session: &Session, user_id: i64) {
    session.clear();
    session.set(USER_ID, user_id);
}

pub fn log_out(session: &Session) {
    session.clear();
}

/// Queues a message for the next page the visitor sees.
pub fn flash(session: &Session, message: impl Into<String>) {
    let mut flashes = session.get::<Vec<String>>(FLASHES).unwrap_or_default();
    flashes.push(message.into());
    session.set(FLASHES, flashes);
}

/// Takes the queued messages, so each is shown exactly once. Touches the cookie only when
/// there was something to take.
pub fn take_flashes(session: &Session) -> Vec<String> {
    match session.get::<Vec<String>>(FLASHES) {
        Some(flashes) => {
            session.remove(FLASHES);
            flashes
        }
        None => Vec::new(),
    }
}

/// `302 Found` to `location`, the redirect the classic app (and its tests) use.
pub fn redirect(location: &str) -> Response {
    Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, location)
        .finish()
}
