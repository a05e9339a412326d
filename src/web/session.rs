//! The visitor's session: who is logged in, and flash messages that survive one redirect.
//!
//! The cookie is poem's signed cookie (wired in `startup::routes`); a login also lives on the
//! server (`store::sessions`), and the cookie only counts while that row does: logout and
//! expiry end every copy of the cookie, on every replica (README.md, "The web pages").

use poem::http::{header, StatusCode};
use poem::session::Session;
use poem::Response;

use crate::clock::unix_now;
use crate::error::AppResult;
use crate::realtime::logins::Login;
use crate::state::AppState;
use crate::store::{SessionToken, User};

/// The logged-in user's id (i64). Read it through the `extract` extractors,
/// [`session_user`] or [`current_user`], which check that the login is still live; on its
/// own it proves nothing after logout.
pub const USER_ID: &str = "user_id";
/// The login's token; the server keeps its hash, and forgets it at logout.
const SESSION_TOKEN: &str = "sid";
/// Messages to show on the next page rendered, then forget.
const FLASHES: &str = "flashes";

/// The logged-in user, if any. A cookie whose login was logged out or expired, or that names
/// a user who no longer exists (a reset database), is treated as logged out and cleared.
pub async fn current_user(state: &AppState, session: &Session) -> AppResult<Option<User>> {
    Ok(current_login(state, session).await?.map(|(user, _)| user))
}

/// [`current_user`], with the login it rests on: what a `home` stream keeps so that it
/// ends with the login (`realtime::logins`).
async fn current_login(state: &AppState, session: &Session) -> AppResult<Option<(User, Login)>> {
    let Some(id) = session.get::<i64>(USER_ID) else {
        return Ok(None);
    };
    let found = match session.get::<String>(SESSION_TOKEN) {
        Some(token) => {
            let token = SessionToken::from_cookie(token);
            state
                .store
                .session_login(&token, unix_now())
                .await?
                .map(|(user, expires_at)| (user, Login::new(token.key(), expires_at)))
        }
        // A cookie from before server-side sessions: no login to check, so none.
        None => None,
    };
    match found {
        Some((user, login)) if user.id == id => Ok(Some((user, login))),
        _ => {
            session.remove(USER_ID);
            session.remove(SESSION_TOKEN);
            Ok(None)
        }
    }
}

/// The id of the session's user and its login if the login is live (not logged out, not
/// expired): what the websocket `home` stream needs. A database error counts as no user
/// (and is logged).
pub async fn session_user(state: &AppState, session: &Session) -> Option<(i64, Login)> {
    match current_login(state, session).await {
        Ok(found) => found.map(|(user, login)| (user.id, login)),
        Err(e) => {
            tracing::warn!(error = %e, "cannot check the session");
            None
        }
    }
}

/// Starts a fresh session for `user_id`, with a new token that lives
/// `MINITWIT_SESSION_DAYS`: whatever the old session held (a fixed session planted by
/// someone else included) is dropped first.
pub async fn log_in(state: &AppState, session: &Session, user_id: i64) -> AppResult<()> {
    let lifetime = i64::from(state.settings.session_days) * 86_400;
    let token = state
        .store
        .create_session(user_id, unix_now() + lifetime)
        .await?;
    session.clear();
    session.set(USER_ID, user_id);
    session.set(SESSION_TOKEN, token.as_str());
    Ok(())
}

/// Ends the login on the server, so a copy of the cookie taken before is refused too, then
/// forgets it in the browser.
pub async fn log_out(state: &AppState, session: &Session) -> AppResult<()> {
    if let Some(token) = session.get::<String>(SESSION_TOKEN) {
        let token = SessionToken::from_cookie(token);
        state.store.delete_session(&token).await?;
        // This instance's `home` streams of the login end now; the others' at their next
        // check of the sessions table.
        state.hub.logins().ended(&token.key());
    }
    session.clear();
    Ok(())
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
