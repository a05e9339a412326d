//! The pages' doors to the actions: posting a message, following and unfollowing. Each
//! goes through `crate::actions`, so every change is also published to open streams.

use poem::session::Session;
use poem::web::Data;
use poem::{handler, Body, Response};

use super::extract::{PathUser, SessionUser};
use super::form::Form;
use super::session::{flash, redirect};
use super::view::user_path;
use crate::actions::{follows, posting};
use crate::error::AppResult;
use crate::state::AppState;

/// `POST /add_message`: an empty text is ignored, as the classic app does; a valid one is
/// recorded and flashed.
#[handler]
pub async fn add_message(
    state: Data<&AppState>,
    session: &Session,
    SessionUser(author): SessionUser,
    body: Body,
) -> AppResult<Response> {
    state.limits.check_post(author.id)?;
    let form = Form::read(body).await?;
    let text = form.get("text");
    if text.trim().is_empty() {
        return Ok(redirect("/"));
    }
    posting::post_message(&state, &author, text, None).await?;
    flash(session, "Your message was recorded");
    Ok(redirect("/"))
}

/// `GET or POST /{username}/follow`.
#[handler]
pub async fn follow(
    state: Data<&AppState>,
    session: &Session,
    SessionUser(reader): SessionUser,
    whom: PathUser,
) -> AppResult<Response> {
    let username = whom.name;
    follows::follow(&state, reader.id, whom.user.id, None).await?;
    flash(session, format!("You are now following \"{username}\""));
    Ok(redirect(&user_path(&username)))
}

/// `GET or POST /{username}/unfollow`.
#[handler]
pub async fn unfollow(
    state: Data<&AppState>,
    session: &Session,
    SessionUser(reader): SessionUser,
    whom: PathUser,
) -> AppResult<Response> {
    let username = whom.name;
    follows::unfollow(&state, reader.id, whom.user.id, None).await?;
    flash(
        session,
        format!("You are no longer following \"{username}\""),
    );
    Ok(redirect(&user_path(&username)))
}
