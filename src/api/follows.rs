//! `/api/fllws/{username}`: list whom a user follows, follow and unfollow.

use poem_openapi::param::Query;
use poem_openapi::{Object, OpenApi};
use serde::{Deserialize, Serialize};

use super::auth::{Path, Secured, Simulator};
use super::documented::{
    Changed, Failure, Json, JsonAnswer, JsonBody, LenientInt, ReadErrors, WriteErrors,
};
use super::latest::Latest;
use super::{count, State};
use crate::actions::follows::{follow, unfollow};
use crate::error::AppError;
use crate::store::User;

#[derive(Serialize, Object)]
struct Follows {
    /// Names of the users followed.
    follows: Vec<String>,
}

impl JsonAnswer for Follows {
    type Doc = Self;
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
        state: State<'_>,
        _auth: Secured<Simulator>,
        username: Path<User>,
        /// How many (default 100; a value that is not an integer means 100).
        no: Query<LenientInt>,
        #[oai(name = "latest")] _recorded: Latest,
    ) -> Result<Json<Follows>, Failure<ReadErrors>> {
        let Path(user) = username;
        let no = count(no.0);
        let follows = if no == 0 {
            Vec::new()
        } else {
            state.store.followee_names(user.id, no).await?
        };
        Ok(Json(Follows { follows }))
    }

    /// Follows or unfollows another user.
    #[oai(path = "/fllws/:username", method = "post")]
    async fn change_follow(
        &self,
        state: State<'_>,
        _auth: Secured<Simulator>,
        username: Path<User>,
        latest: Latest,
        body: JsonBody<FollowBody>,
    ) -> Result<Changed, Failure<WriteErrors>> {
        let Path(who) = username;
        let body = body.parse()?;
        let (target, following) = match (body.follow, body.unfollow) {
            (Some(target), _) => (target, true),
            (None, Some(target)) => (target, false),
            (None, None) => {
                return Err(
                    AppError::invalid("The body needs a \"follow\" or an \"unfollow\" key").into(),
                )
            }
        };
        let whom = state
            .store
            .user_id_by_name(&target)
            .await?
            .ok_or_else(AppError::unknown_user)?;
        let changed = match following {
            true => follow(&state, who.id, whom, latest.value()).await,
            false => unfollow(&state, who.id, whom, latest.value()).await,
        };
        latest.committed(changed)?;
        Ok(Changed::Done)
    }
}
