//! Accounts: the caller's own (`verify_credentials`), lookups by name and id, an account's
//! statuses, following and unfollowing, and relationships.

use poem::web::{Data, Path};
use poem::{handler, Request, Response};

use super::auth::{optional_reader, user, Need};
use super::entities::{Account, AccountOf, RelationshipView};
use super::paging::{paged_response, requested_range};
use super::params::Params;
use super::{json, statuses_body};
use crate::actions::follows::{follow, unfollow};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::{NewestPage, TimelineScope, User};

/// The 404 for an account id or name that names nobody.
fn unknown_account() -> AppError {
    AppError::NotFound("Record not found")
}

/// `raw` as an account id, or 404 (an id that is not a number names nobody).
pub fn account_id(raw: &str) -> AppResult<i64> {
    raw.parse().map_err(|_| unknown_account())
}

/// The user with id `raw`, or 404.
async fn account_user(state: &AppState, raw: &str) -> AppResult<User> {
    state
        .store
        .user_by_id(account_id(raw)?)
        .await?
        .ok_or_else(unknown_account)
}

/// `user`'s Account with its counts.
async fn account_json(state: &AppState, user: &User, with_source: bool) -> AppResult<Response> {
    let stats = state.store.account_stats(user.id).await?;
    let account = Account::new(
        AccountOf {
            id: user.id,
            username: &user.username,
            email: &user.email,
        },
        Some(&stats),
        crate::clock::unix_now(),
        &state.public_url,
    );
    Ok(match with_source {
        true => json(&account.with_source()),
        false => json(&account),
    })
}

/// `GET /api/v1/accounts/verify_credentials`.
#[handler]
pub async fn verify_credentials(req: &Request, state: Data<&AppState>) -> AppResult<Response> {
    let (me, _) = user(req, &state, Need::Read).await?;
    account_json(&state, &me, true).await
}

/// `GET /api/v1/accounts/lookup?acct=NAME` (or `NAME@this.domain`).
#[handler]
pub async fn lookup(req: &Request, state: Data<&AppState>) -> AppResult<Response> {
    optional_reader(req, &state).await?;
    let params = Params::query(req);
    let acct = params.get("acct").unwrap_or("").trim_start_matches('@');
    let domain = super::instance::domain(&state.public_url);
    let name = match acct.rsplit_once('@') {
        Some((name, at)) if at.eq_ignore_ascii_case(domain) => name,
        Some(_) => return Err(unknown_account()),
        None => acct,
    };
    let user = state
        .store
        .user_by_name(name)
        .await?
        .ok_or_else(unknown_account)?;
    account_json(&state, &user, false).await
}

/// `GET /api/v1/accounts/:id`.
#[handler]
pub async fn show(
    req: &Request,
    Path(id): Path<String>,
    state: Data<&AppState>,
) -> AppResult<Response> {
    optional_reader(req, &state).await?;
    let user = account_user(&state, &id).await?;
    account_json(&state, &user, false).await
}

/// `GET /api/v1/accounts/:id/statuses`, paged; no pinned statuses in MiniTwit.
#[handler]
pub async fn statuses(
    req: &Request,
    Path(id): Path<String>,
    state: Data<&AppState>,
) -> AppResult<Response> {
    optional_reader(req, &state).await?;
    let user = account_user(&state, &id).await?;
    let params = Params::query(req);
    let range = requested_range(&params)?;
    let page = match params.get("pinned") {
        Some("true" | "1") => NewestPage::uncached(Vec::new()),
        _ => {
            state
                .store
                .timeline_range(TimelineScope::User(user.id), range)
                .await?
        }
    };
    let path = format!("/api/v1/accounts/{}/statuses", user.id);
    Ok(paged_response(
        statuses_body(&page, &state.public_url),
        &page,
        &range,
        &state.public_url,
        &path,
    ))
}

/// The relationship of `me` to `whom`, as follow and unfollow answer.
async fn relationship_json(state: &AppState, me: i64, whom: i64) -> AppResult<Response> {
    let mut found = state.store.relationships(me, &[whom]).await?;
    let relationship = found.pop().ok_or(AppError::Internal)?;
    Ok(json(&RelationshipView::from(relationship)))
}

/// `POST /api/v1/accounts/:id/follow`.
#[handler]
pub async fn follow_account(
    req: &Request,
    Path(id): Path<String>,
    state: Data<&AppState>,
) -> AppResult<Response> {
    let (me, _) = user(req, &state, Need::Follow).await?;
    let whom = account_user(&state, &id).await?;
    if whom.id == me.id {
        return Err(AppError::invalid("You cannot follow yourself"));
    }
    follow(&state, me.id, whom.id, None).await?;
    relationship_json(&state, me.id, whom.id).await
}

/// `POST /api/v1/accounts/:id/unfollow`.
#[handler]
pub async fn unfollow_account(
    req: &Request,
    Path(id): Path<String>,
    state: Data<&AppState>,
) -> AppResult<Response> {
    let (me, _) = user(req, &state, Need::Follow).await?;
    let whom = account_user(&state, &id).await?;
    unfollow(&state, me.id, whom.id, None).await?;
    relationship_json(&state, me.id, whom.id).await
}

/// Most ids one relationships request may ask about.
const MAX_RELATIONSHIPS: usize = 40;

/// `GET /api/v1/accounts/relationships?id[]=…`.
#[handler]
pub async fn relationships(req: &Request, state: Data<&AppState>) -> AppResult<Response> {
    let (me, _) = user(req, &state, Need::Read).await?;
    let params = Params::query(req);
    let ids: Vec<i64> = params
        .list("id")
        .iter()
        .take(MAX_RELATIONSHIPS)
        .filter_map(|raw| raw.parse().ok())
        .collect();
    let found = state.store.relationships(me.id, &ids).await?;
    let views: Vec<RelationshipView> = found.into_iter().map(RelationshipView::from).collect();
    Ok(json(&views))
}
