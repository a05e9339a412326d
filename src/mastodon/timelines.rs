//! The home and public timelines, paged by id like the classic pages (keyset, so page 100
//! costs what page 1 does) with Mastodon's parameters and `Link` header.

use poem::web::Data;
use poem::{handler, Request, Response};

use super::auth::{optional_reader, user, Need};
use super::paging::{paged_response, requested_range};
use super::params::Params;
use super::statuses_body;
use crate::error::AppResult;
use crate::state::AppState;
use crate::store::TimelineScope;

/// Reads `scope` within the request's page and answers it with its `Link` header.
async fn timeline(
    req: &Request,
    state: &AppState,
    scope: TimelineScope,
    path: &str,
) -> AppResult<Response> {
    let params = Params::query(req);
    let range = requested_range(&params)?;
    let page = state.store.timeline_range(scope, range).await?;
    Ok(paged_response(
        statuses_body(&page, &state.public_url),
        &page,
        &range,
        &state.public_url,
        path,
    ))
}

/// `GET /api/v1/timelines/home`: the caller's own statuses and those of whom they follow.
#[handler]
pub async fn home(req: &Request, state: Data<&AppState>) -> AppResult<Response> {
    let (me, _) = user(req, &state, Need::Read).await?;
    timeline(
        req,
        &state,
        TimelineScope::Home(me.id),
        "/api/v1/timelines/home",
    )
    .await
}

/// `GET /api/v1/timelines/public`: everyone's (MiniTwit is one instance, so `local` and
/// `remote` change nothing).
#[handler]
pub async fn public(req: &Request, state: Data<&AppState>) -> AppResult<Response> {
    optional_reader(req, &state).await?;
    timeline(
        req,
        &state,
        TimelineScope::Public,
        "/api/v1/timelines/public",
    )
    .await
}
