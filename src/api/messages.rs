//! `/api/msgs` and `/api/msgs/{username}`: read timelines and post messages.

use poem::{Request, Response};
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde::{Deserialize, Serialize};

use super::auth::{Path, SimulatorAuth};
use super::documented::{Changed, JsonBody, LenientInt, Reply, SimulatorErrors};
use super::latest::committing_latest;
use super::{json_response_sized, no_content, no_param, State};
use crate::error::AppError;
use crate::posting::post_message as store_and_publish;
use crate::store::{TimelineMessage, TimelineScope, User};

/// One message as the simulator reads it (the documented shape; [`ApiMessageRef`] writes
/// it).
#[derive(Serialize, Object)]
struct ApiMessage {
    content: String,
    /// Unix seconds.
    pub_date: i64,
    user: String,
}

/// An [`ApiMessage`] borrowed from a row, so a cached page is written without copying it.
#[derive(Serialize)]
struct ApiMessageRef<'a> {
    content: &'a str,
    pub_date: i64,
    user: &'a str,
}

fn as_json(messages: &[TimelineMessage]) -> Response {
    let out: Vec<ApiMessageRef> = messages
        .iter()
        .map(|m| ApiMessageRef {
            content: &m.text,
            pub_date: m.pub_date,
            user: &m.username,
        })
        .collect();
    // The keys, quotes and date take under 64 bytes a message; escapes rarely add more.
    let size: usize = messages
        .iter()
        .map(|m| m.text.len() + m.username.len() + 64)
        .sum();
    json_response_sized(&out, size + 2)
}

/// What the timelines answer besides their errors (documentation; the handlers build it).
#[derive(ApiResponse)]
#[allow(dead_code)]
enum TimelineReply {
    /// Newest first.
    #[oai(status = 200)]
    Ok(Json<Vec<ApiMessage>>),
}

/// The body of a new message: empty, over 1000 characters or with a control character other
/// than a line feed, carriage return or tab is a 400. A CRLF or lone CR is stored as LF.
#[derive(Deserialize, Object)]
struct PostBody {
    content: String,
}

pub struct MessagesApi;

#[OpenApi]
impl MessagesApi {
    /// Everyone's messages, newest first.
    #[oai(path = "/msgs", method = "get")]
    async fn public_messages(
        &self,
        req: &Request,
        state: State<'_>,
        _auth: SimulatorAuth,
        /// How many (default 100; a value that is not an integer means 100).
        #[oai(name = "no")]
        _no: Query<LenientInt>,
        #[oai(name = "latest")] _latest: Query<LenientInt>,
    ) -> Reply<TimelineReply, SimulatorErrors> {
        public_messages(req, state).await.into()
    }

    /// One user's messages, newest first.
    #[oai(path = "/msgs/:username", method = "get")]
    async fn user_messages(
        &self,
        req: &Request,
        state: State<'_>,
        _auth: SimulatorAuth,
        username: Path<User>,
        /// How many (default 100; a value that is not an integer means 100).
        #[oai(name = "no")]
        _no: Query<LenientInt>,
        #[oai(name = "latest")] _latest: Query<LenientInt>,
    ) -> Reply<TimelineReply, SimulatorErrors> {
        user_messages(req, state, username).await.into()
    }

    /// Posts a message as this user.
    #[oai(path = "/msgs/:username", method = "post")]
    async fn post_message(
        &self,
        req: &Request,
        state: State<'_>,
        _auth: SimulatorAuth,
        username: Path<User>,
        #[oai(name = "latest")] _latest: Query<LenientInt>,
        body: JsonBody<PostBody>,
    ) -> Reply<Changed, SimulatorErrors> {
        post_message(req, state, username, body).await.into()
    }
}

async fn public_messages(req: &Request, state: State<'_>) -> Result<Response, AppError> {
    let no = no_param(req);
    if no == 0 {
        return Ok(as_json(&[]));
    }
    let messages = state.store.newest_page(TimelineScope::Public, no).await?;
    Ok(as_json(&messages))
}

async fn user_messages(
    req: &Request,
    state: State<'_>,
    Path(user): Path<User>,
) -> Result<Response, AppError> {
    let user_id = user.id;
    let no = no_param(req);
    if no == 0 {
        return Ok(as_json(&[]));
    }
    let messages = state
        .store
        .newest_page(TimelineScope::User(user_id), no)
        .await?;
    Ok(as_json(&messages))
}

async fn post_message(
    req: &Request,
    state: State<'_>,
    Path(author): Path<User>,
    body: JsonBody<PostBody>,
) -> Result<Response, AppError> {
    let body = body.parse()?;
    committing_latest(req, async |latest| {
        store_and_publish(&state, &author, &body.content, latest).await
    })
    .await?;
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_borrowed_message_is_written_as_the_documented_one() {
        let owned = ApiMessage {
            content: "hi \"there\" ✓".into(),
            pub_date: 1_700_000_000,
            user: "Roger Histand".into(),
        };
        let borrowed = ApiMessageRef {
            content: &owned.content,
            pub_date: owned.pub_date,
            user: &owned.user,
        };
        assert_eq!(
            serde_json::to_string(&owned).ok(),
            serde_json::to_string(&borrowed).ok()
        );
    }
}
