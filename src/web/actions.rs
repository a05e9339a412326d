//! The actions: posting a message, following and unfollowing. Each goes through
//! `crate::posting`, so every change is also published to open streams.

use poem::session::Session;
use poem::web::{Data, Path};
use poem::{handler, Body, Response};

use super::error::{WebError, WebResult};
use super::form::Form;
use super::session::{flash, redirect, require_user};
use super::view::user_path;
use crate::posting::{self, PostError};
use crate::state::AppState;

/// `POST /add_message`: an empty text is ignored, as the classic app does; a valid one is
/// recorded and flashed.
#[handler]
pub async fn add_message(
    state: Data<&AppState>,
    session: &Session,
    body: Body,
) -> WebResult<Response> {
    let author = require_user(&state, session).await?;
    state.limits.check_post(author.id)?;
    let form = Form::read(body).await?;
    let text = form.get("text");
    if text.trim().is_empty() {
        return Ok(redirect("/"));
    }
    match posting::post_message(&state, &author, text).await {
        Ok(_) => {
            flash(session, "Your message was recorded");
            Ok(redirect("/"))
        }
        Err(PostError::Invalid(message)) => Err(WebError::BadRequest(message)),
        Err(PostError::Store(e)) => Err(e.into()),
    }
}

/// `GET or POST /{username}/follow`.
#[handler]
pub async fn follow(
    state: Data<&AppState>,
    session: &Session,
    Path(username): Path<String>,
) -> WebResult<Response> {
    let reader = require_user(&state, session).await?;
    let whom = state
        .store
        .user_id_by_name(&username)
        .await?
        .ok_or(WebError::NotFound)?;
    posting::follow(&state, reader.id, whom).await?;
    flash(session, format!("You are now following \"{username}\""));
    Ok(redirect(&user_path(&username)))
}

/// `GET or POST /{username}/unfollow`.
#[handler]
pub async fn unfollow(
    state: Data<&AppState>,
    session: &Session,
    Path(username): Path<String>,
) -> WebResult<Response> {
    let reader = require_user(&state, session).await?;
    let whom = state
        .store
        .user_id_by_name(&username)
        .await?
        .ok_or(WebError::NotFound)?;
    posting::unfollow(&state, reader.id, whom).await?;
    flash(
        session,
        format!("You are no longer following \"{username}\""),
    );
    Ok(redirect(&user_path(&username)))
}
