//! `/api/fllws/{username}`: list whom a user follows, follow and unfollow.

use poem::web::Path;
use poem::{Request, Response};
use serde::{Deserialize, Serialize};

use super::{json_response, no_content, no_param, parse_json, require_simulator, State};
use crate::error::ApiError;
use crate::posting::{follow, unfollow};

#[derive(Serialize)]
struct Follows {
    follows: Vec<String>,
}

#[poem::handler]
pub async fn list_follows(
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
    let follows = if no == 0 {
        Vec::new()
    } else {
        state.store.followee_names(user_id, no).await?
    };
    Ok(json_response(&Follows { follows }))
}

#[derive(Deserialize)]
struct FollowBody {
    follow: Option<String>,
    unfollow: Option<String>,
}

#[poem::handler]
pub async fn change_follow(
    req: &Request,
    state: State<'_>,
    Path(username): Path<String>,
    body: Vec<u8>,
) -> Result<Response, ApiError> {
    require_simulator(req, &state)?;
    let who = state
        .store
        .user_id_by_name(&username)
        .await?
        .ok_or_else(|| ApiError::not_found("Unknown user"))?;
    let body: FollowBody = parse_json(&body)?;
    let (target, following) = match (body.follow, body.unfollow) {
        (Some(target), _) => (target, true),
        (None, Some(target)) => (target, false),
        (None, None) => {
            return Err(ApiError::bad_request(
                "The body needs a \"follow\" or an \"unfollow\" key",
            ))
        }
    };
    let whom = state
        .store
        .user_id_by_name(&target)
        .await?
        .ok_or_else(|| ApiError::not_found("Unknown user to follow or unfollow"))?;
    if following {
        follow(&state, who, whom).await?;
    } else {
        unfollow(&state, who, whom).await?;
    }
    Ok(no_content())
}
