//! `POST /messages/{id}/hide` and `/unhide`: moderators take a message down (README.md,
//! "Moderation"), or bring it back. Anyone else gets 403, an unknown id 404.

use poem::session::Session;
use poem::web::{Data, Path};
use poem::{handler, Request, Response};

use super::extract::Moderator;
use super::session::{flash, redirect};
use crate::actions::moderation;
use crate::error::AppResult;
use crate::state::AppState;

#[handler]
pub async fn hide(
    req: &Request,
    state: Data<&AppState>,
    session: &Session,
    _moderator: Moderator,
    Path(id): Path<String>,
) -> AppResult<Response> {
    change(req, &state, session, &id, true).await
}

#[handler]
pub async fn unhide(
    req: &Request,
    state: Data<&AppState>,
    session: &Session,
    _moderator: Moderator,
    Path(id): Path<String>,
) -> AppResult<Response> {
    change(req, &state, session, &id, false).await
}

async fn change(
    req: &Request,
    state: &AppState,
    session: &Session,
    id: &str,
    hidden: bool,
) -> AppResult<Response> {
    let id: i64 = id.parse().map_err(|_| moderation::unknown_message())?;
    moderation::set_hidden(state, id, hidden).await?;
    flash(
        session,
        if hidden {
            "The message was hidden"
        } else {
            "The message is visible again"
        },
    );
    Ok(redirect(&back(req)))
}

/// The page the form was on (its `Referer`, when it is this site), else the public timeline.
fn back(req: &Request) -> String {
    let host = req
        .headers()
        .get(poem::http::header::HOST)
        .and_then(|h| h.to_str().ok());
    req.headers()
        .get(poem::http::header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| url::Url::parse(r).ok())
        .filter(|url| {
            let authority = match url.port() {
                Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
                None => url.host_str().unwrap_or_default().to_owned(),
            };
            host == Some(authority.as_str())
        })
        .map(|url| match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        })
        .unwrap_or_else(|| "/public".to_owned())
}
