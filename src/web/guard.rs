//! Refuses state-changing requests sent from anywhere but our own pages (CSRF), by what
//! the browser says in `Sec-Fetch-Site` and `Origin` (`crate::origin`). Requests with
//! neither header (plain HTTP clients, the classic test suite) pass: browsers send at least
//! one of them on every cross-origin POST, and `Sec-Fetch-Site` on every GET.
//!
//! Declared where the routes are (`web::routes`): [`refuse_cross_origin_writes`] wraps the
//! whole router, [`refuse_cross_origin`] the few routes that change state even on GET. A
//! refusal is [`AppError::Forbidden`], rendered as the pages' 403.

use std::sync::Arc;

use poem::http::Method;
use poem::{Endpoint, IntoResponse, Request, Response};

use crate::error::{AppError, Forbidden};
use crate::origin::is_not_same_origin;

/// The live streams only read, so a sibling subdomain may open them (`realtime`).
pub use crate::origin::is_cross_origin;

/// Middleware for the routes that change state on any method (the follow links, logout):
/// only our own pages, or the visitor typing the address, may call them. A sibling
/// subdomain's link or image (`Sec-Fetch-Site: same-site`, no `Origin`) is refused too.
pub async fn refuse_cross_origin<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    if is_not_same_origin(&req) {
        return Err(refused(&req));
    }
    ep.call(req).await.map(IntoResponse::into_response)
}

/// Middleware for every page: a request that may write (any method but GET and HEAD) must
/// come from our own pages; a link from another site to a page still works.
pub async fn refuse_cross_origin_writes<E: Endpoint>(
    ep: Arc<E>,
    req: Request,
) -> poem::Result<Response> {
    if ![Method::GET, Method::HEAD].contains(req.method()) && is_not_same_origin(&req) {
        return Err(refused(&req));
    }
    ep.call(req).await.map(IntoResponse::into_response)
}

fn refused(req: &Request) -> poem::Error {
    tracing::info!(uri = %req.uri(), "refused a cross-origin request");
    AppError::Forbidden(Forbidden::CrossOrigin).into()
}
