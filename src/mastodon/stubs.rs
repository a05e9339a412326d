//! What web clients call on login that MiniTwit has no concept of: answered with the empty
//! list or the defaults Mastodon gives a new account, so the client carries on. Each
//! needs a valid token, as Mastodon's do.

use poem::web::Data;
use poem::{handler, Request, Response};
use serde_json::json;

use super::auth::{user, Need};
use super::json;
use crate::error::AppResult;
use crate::state::AppState;

/// `[]` for a valid reader: notifications, lists, filters, followed tags, follow requests,
/// custom emojis need no user but answer the same.
#[handler]
pub async fn empty_list(req: &Request, state: Data<&AppState>) -> AppResult<Response> {
    user(req, &state, Need::Read).await?;
    Ok(json(&json!([])))
}

/// `GET /api/v1/custom_emojis`: none, and public.
#[handler]
pub fn no_custom_emojis() -> Response {
    json(&json!([]))
}

/// `GET /api/v1/preferences`: the defaults of a new account.
#[handler]
pub async fn preferences(req: &Request, state: Data<&AppState>) -> AppResult<Response> {
    user(req, &state, Need::Read).await?;
    Ok(json(&json!({
        "posting:default:visibility": "public",
        "posting:default:sensitive": false,
        "posting:default:language": null,
        "reading:expand:media": "default",
        "reading:expand:spoilers": false,
    })))
}

/// `GET /api/v1/markers`: no read positions kept.
#[handler]
pub async fn markers(req: &Request, state: Data<&AppState>) -> AppResult<Response> {
    user(req, &state, Need::Read).await?;
    Ok(json(&json!({})))
}
