//! `/api/msgs` and `/api/msgs/{username}`: read timelines and post messages.

use poem::web::Path;
use poem::{Request, Response};
use serde::{Deserialize, Serialize};

use super::{json_response, no_content, no_param, parse_json, require_simulator, State};
use crate::error::ApiError;
use crate::posting::post_message as store_and_publish;
use crate::store::{Page, TimelineMessage, TimelineScope};

/// One message as the simulator reads it.
#[derive(Serialize)]
struct ApiMessage<'a> {
    content: &'a str,
    pub_date: i64,
    user: &'a str,
}

fn as_json(messages: &[TimelineMessage]) -> Response {
    let out: Vec<ApiMessage<'_>> = messages
        .iter()
        .map(|m| ApiMessage {
            content: &m.text,
            pub_date: m.pub_date,
            user: &m.username,
        })
        .collect();
    json_response(&out)
}

fn newest(limit: u64) -> Page {
    Page::Newest {
        limit,
        before: None,
    }
}

#[poem::handler]
pub async fn public_messages(req: &Request, state: State<'_>) -> Result<Response, ApiError> {
    require_simulator(req, &state)?;
    let no = no_param(req);
    if no == 0 {
        return Ok(as_json(&[]));
    }
    let messages = state
        .store
        .timeline(TimelineScope::Public, newest(no))
        .await?;
    Ok(as_json(&messages))
}

#[poem::handler]
pub async fn user_messages(
    req: &Request,
    state: State<'_>,
    Path(username): Path<String>,
) -> Result<Response, ApiError> {
    require_simulator(req, &state)?;
    let user_id = state
        .store
        .user_id_by_name(&username)
        .await?
        .ok_or_else(|| ApiError::not_found("Unknown user"))?;
    let no = no_param(req);
    if no == 0 {
        return Ok(as_json(&[]));
    }
    let messages = state
        .store
        .timeline(TimelineScope::User(user_id), newest(no))
        .await?;
    Ok(as_json(&messages))
}

#[derive(Deserialize)]
struct PostBody {
    content: String,
}

#[poem::handler]
pub async fn post_message(
    req: &Request,
    state: State<'_>,
    Path(username): Path<String>,
    body: Vec<u8>,
) -> Result<Response, ApiError> {
    require_simulator(req, &state)?;
    let author = state
        .store
        .user_by_name(&username)
        .await?
        .ok_or_else(|| ApiError::not_found("Unknown user"))?;
    let body: PostBody = parse_json(&body)?;
    store_and_publish(&state, &author, &body.content)
        .await
        .map_err(|e| e.into_api_error())?;
    Ok(no_content())
}
