//! Statuses: posting (with `Idempotency-Key`), reading one, deleting one's own (a
//! moderator may delete anyone's), and its empty thread. A MiniTwit status is public,
//! text only: a request for anything else is refused rather than posted differently.

use poem::web::{Data, Path};
use poem::{handler, Body, Request, Response};
use serde_json::json;

use super::accounts::account_id;
use super::auth::{optional_reader, user, Need};
use super::entities::Status;
use super::json;
use super::params::Params;
use crate::actions::moderation::{set_hidden, unknown_message};
use crate::actions::posting::post_message;
use crate::error::{AppError, AppResult, Forbidden};
use crate::state::AppState;
use crate::store::StoredMessage;

/// Longest `Idempotency-Key` kept.
const MAX_IDEMPOTENCY_KEY: usize = 256;

/// The visible status `raw` names, or 404.
async fn visible_status(state: &AppState, raw: &str) -> AppResult<StoredMessage> {
    let id = account_id(raw).map_err(|_| unknown_message())?;
    match state.store.message_by_id(id).await? {
        Some(found) if !found.hidden => Ok(found),
        _ => Err(unknown_message()),
    }
}

/// Refuses what MiniTwit cannot post as asked: media, polls, and visibilities other than
/// public (a direct message posted publicly would surprise its author).
fn refuse_unsupported(params: &Params) -> AppResult<()> {
    if !params.list("media_ids").is_empty() {
        return Err(AppError::invalid("MiniTwit statuses cannot have media"));
    }
    if !params.list("poll[options]").is_empty() {
        return Err(AppError::invalid("MiniTwit statuses cannot have polls"));
    }
    match params.get("visibility") {
        None | Some("" | "public" | "unlisted") => Ok(()),
        Some(_) => Err(AppError::invalid("MiniTwit statuses are public")),
    }
}

/// `POST /api/v1/statuses`: the same rules and limits as a post from the pages; a repeat
/// of an `Idempotency-Key` answers the status the first request posted.
#[handler]
pub async fn create(req: &Request, body: Body, state: Data<&AppState>) -> AppResult<Response> {
    let (me, _) = user(req, &state, Need::Write).await?;
    let params = Params::read(req, body).await?;
    refuse_unsupported(&params)?;
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY);
    // Held until the post is remembered: a copy of this request sent meanwhile waits,
    // then finds it.
    let _key_guard = match key {
        Some(key) => Some(state.store.lock_idempotency_key(me.id, key).await),
        None => None,
    };
    if let Some(key) = key {
        if let Some(id) = state.store.idempotent_status(me.id, key).await? {
            if let Some(found) = state.store.message_by_id(id).await? {
                return Ok(json(&Status::new(&found.message, &state.public_url)));
            }
        }
    }
    state.limits.check_post(me.id)?;
    let text = params.get("status").unwrap_or("");
    let message = post_message(&state, &me, text, None).await?;
    if let Some(key) = key {
        state
            .store
            .remember_idempotent_status(me.id, key, message.message_id)
            .await?;
    }
    Ok(json(&Status::new(&message, &state.public_url)))
}

/// `GET /api/v1/statuses/:id`.
#[handler]
pub async fn show(
    req: &Request,
    Path(id): Path<String>,
    state: Data<&AppState>,
) -> AppResult<Response> {
    optional_reader(req, &state).await?;
    let found = visible_status(&state, &id).await?;
    Ok(json(&Status::new(&found.message, &state.public_url)))
}

/// `DELETE /api/v1/statuses/:id`: the author's own, or any as a moderator. The message is
/// hidden the way a moderator hides it, so every open stream gets `delete` exactly once
/// (docs/delivery.md); the answer has its `text`, as Mastodon's does.
#[handler]
pub async fn delete(
    req: &Request,
    Path(id): Path<String>,
    state: Data<&AppState>,
) -> AppResult<Response> {
    let (me, _) = user(req, &state, Need::Write).await?;
    let found = visible_status(&state, &id).await?;
    let message = &found.message;
    if message.author_id != me.id && !state.store.is_moderator(me.id).await? {
        return Err(AppError::Forbidden(Forbidden::NotModerator));
    }
    set_hidden(&state, message.message_id, true).await?;
    let status = Status::new(message, &state.public_url).with_text(&message.text);
    Ok(json(&status))
}

/// `GET /api/v1/statuses/:id/context`: MiniTwit has no replies.
#[handler]
pub async fn context(
    req: &Request,
    Path(id): Path<String>,
    state: Data<&AppState>,
) -> AppResult<Response> {
    optional_reader(req, &state).await?;
    visible_status(&state, &id).await?;
    Ok(json(&json!({ "ancestors": [], "descendants": [] })))
}
