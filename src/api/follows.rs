//! `/api/fllws/{username}`: list whom a user follows, follow and unfollow.

use poem::{Request, Response};
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde::{Deserialize, Serialize};

use super::auth::{Path, SimulatorAuth};
use super::documented::{Changed, JsonBody, LenientInt, Reply, SimulatorErrors};
use super::latest::committing_latest;
use super::{json_response, no_content, no_param, State};
use crate::error::AppError;
use crate::posting::{follow, unfollow};
use crate::store::User;

#[derive(Serialize, Object)]
struct Follows {
    /// Names of the users followed.
    follows: Vec<String>,
}

/// What listing follows answers besides its errors (documentation; the handler builds it).
#[derive(ApiResponse)]
#[allow(dead_code)]
enum FollowsReply {
    #[oai(status = 200)]
    Ok(Json<Follows>),
}

/// `{"follow": "name"}` or `{"unfollow": "name"}`; neither key is a 400, an unknown target a
/// 404, following twice or unfollowing someone not followed a 204.
#[derive(Deserialize, Object)]
struct FollowBody {
    follow: Option<String>,
    unfollow: Option<String>,
}

pub struct FollowsApi;

#[OpenApi]
impl FollowsApi {
    /// Whom this user follows.
    #[oai(path = "/fllws/:username", method = "get")]
    async fn list_follows(
        &self,
        req: &Request,
        state: State<'_>,
        _auth: SimulatorAuth,
        username: Path<User>,
        /// How many (default 100; a value that is not an integer means 100).
        #[oai(name = "no")]
        _no: Query<LenientInt>,
        #[oai(name = "latest")] _latest: Query<LenientInt>,
    ) -> Reply<FollowsReply, SimulatorErrors> {
        list_follows(req, state, username).await.into()
    }

    /// Follows or unfollows another user.
    #[oai(path = "/fllws/:username", method = "post")]
    async fn change_follow(
        &self,
        req: &Request,
        state: State<'_>,
        _auth: SimulatorAuth,
        username: Path<User>,
        #[oai(name = "latest")] _latest: Query<LenientInt>,
        body: JsonBody<FollowBody>,
    ) -> Reply<Changed, SimulatorErrors> {
        change_follow(req, state, username, body).await.into()
    }
}

async fn list_follows(
    req: &Request,
    state: State<'_>,
    Path(user): Path<User>,
) -> Result<Response, AppError> {
    let user_id = user.id;
    let no = no_param(req);
    let follows = if no == 0 {
        Vec::new()
    } else {
        state.store.followee_names(user_id, no).await?
    };
    Ok(json_response(&Follows { follows }))
}

async fn change_follow(
    req: &Request,
    state: State<'_>,
    Path(who): Path<User>,
    body: JsonBody<FollowBody>,
) -> Result<Response, AppError> {
    let who = who.id;
    let body = body.parse()?;
    let (target, following) = match (body.follow, body.unfollow) {
        (Some(target), _) => (target, true),
        (None, Some(target)) => (target, false),
        (None, None) => {
            return Err(AppError::invalid(
                "The body needs a \"follow\" or an \"unfollow\" key",
            ))
        }
    };
    let whom = state
        .store
        .user_id_by_name(&target)
        .await?
        .ok_or(AppError::NotFound("Unknown user to follow or unfollow"))?;
    committing_latest(req, async |latest| match following {
        true => follow(&state, who, whom, latest).await,
        false => unfollow(&state, who, whom, latest).await,
    })
    .await?;
    Ok(no_content())
}
