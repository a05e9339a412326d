//! `/api/msgs` and `/api/msgs/{username}`: read timelines and post messages.

use poem::{Request, Response};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde::{Deserialize, Serialize};

use super::documented::{JsonBody, LenientInt, Reply, SimulatorCredential};
use super::{json_response, no_content, no_param, State};
use crate::error::{ApiError, ErrorBody};
use crate::posting::post_message as store_and_publish;
use crate::store::{Page, TimelineMessage, TimelineScope};

/// One message as the simulator reads it.
#[derive(Serialize, Object)]
struct ApiMessage {
    content: String,
    /// Unix seconds.
    pub_date: i64,
    user: String,
}

fn as_json(messages: Vec<TimelineMessage>) -> Response {
    let out: Vec<ApiMessage> = messages
        .into_iter()
        .map(|m| ApiMessage {
            content: m.text,
            pub_date: m.pub_date,
            user: m.username,
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

/// What the timelines answer (documentation; the handlers build the responses).
#[derive(ApiResponse)]
#[allow(dead_code)]
enum TimelineReplies {
    /// Newest first.
    #[oai(status = 200)]
    Ok(Json<Vec<ApiMessage>>),
    /// Without the simulator's credential.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// Unknown user.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

/// The body of a new message.
#[derive(Deserialize, Object)]
struct PostBody {
    content: String,
}

/// What posting answers (documentation; the handler builds the response).
#[derive(ApiResponse)]
#[allow(dead_code)]
enum PostReplies {
    /// Posted.
    #[oai(status = 204)]
    Posted,
    /// A body that is not `{"content": "…"}`, or a message that is empty, too long or has
    /// control characters.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
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
        auth: SimulatorCredential,
        /// How many (default 100; a value that is not an integer means 100).
        #[oai(name = "no")]
        _no: Query<LenientInt>,
        #[oai(name = "latest")] _latest: Query<LenientInt>,
    ) -> Reply<TimelineReplies> {
        public_messages(req, state, auth).await.into()
    }

    /// One user's messages, newest first.
    #[oai(path = "/msgs/:username", method = "get")]
    async fn user_messages(
        &self,
        req: &Request,
        state: State<'_>,
        auth: SimulatorCredential,
        username: Path<String>,
        /// How many (default 100; a value that is not an integer means 100).
        #[oai(name = "no")]
        _no: Query<LenientInt>,
        #[oai(name = "latest")] _latest: Query<LenientInt>,
    ) -> Reply<TimelineReplies> {
        user_messages(req, state, auth, &username).await.into()
    }

    /// Posts a message as this user.
    #[oai(path = "/msgs/:username", method = "post")]
    async fn post_message(
        &self,
        state: State<'_>,
        auth: SimulatorCredential,
        username: Path<String>,
        #[oai(name = "latest")] _latest: Query<LenientInt>,
        body: JsonBody<PostBody>,
    ) -> Reply<PostReplies> {
        post_message(state, auth, &username, body).await.into()
    }
}

async fn public_messages(
    req: &Request,
    state: State<'_>,
    auth: SimulatorCredential,
) -> Result<Response, ApiError> {
    auth.require()?;
    let no = no_param(req);
    if no == 0 {
        return Ok(as_json(Vec::new()));
    }
    let messages = state
        .store
        .timeline(TimelineScope::Public, newest(no))
        .await?;
    Ok(as_json(messages))
}

async fn user_messages(
    req: &Request,
    state: State<'_>,
    auth: SimulatorCredential,
    username: &str,
) -> Result<Response, ApiError> {
    auth.require()?;
    let user_id = state
        .store
        .user_id_by_name(username)
        .await?
        .ok_or_else(|| ApiError::not_found("Unknown user"))?;
    let no = no_param(req);
    if no == 0 {
        return Ok(as_json(Vec::new()));
    }
    let messages = state
        .store
        .timeline(TimelineScope::User(user_id), newest(no))
        .await?;
    Ok(as_json(messages))
}

async fn post_message(
    state: State<'_>,
    auth: SimulatorCredential,
    username: &str,
    body: JsonBody<PostBody>,
) -> Result<Response, ApiError> {
    auth.require()?;
    let author = state
        .store
        .user_by_name(username)
        .await?
        .ok_or_else(|| ApiError::not_found("Unknown user"))?;
    let body = body.parse()?;
    store_and_publish(&state, &author, &body.content)
        .await
        .map_err(|e| e.into_api_error())?;
    Ok(no_content())
}
