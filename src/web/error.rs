//! The pages' rendering of [`AppError`]: an HTML page with the right status (never JSON),
//! in one place. The pages' router is wrapped once by [`render_errors`]: whatever under it
//! fails with an [`AppError`] (a handler, an extractor, the cross-origin guard, a rate
//! limit, the body limit) is answered with this page.

use std::sync::Arc;

use poem::{Endpoint, Request, Response};
use tera::Context;

use super::templates;
use crate::error::{rendered, AppError, Forbidden};

/// The text of `error` in the pages' words.
fn message(error: &AppError) -> &str {
    match error {
        AppError::Invalid(message) => message,
        AppError::Unauthorized => "You need to sign in to do that.",
        AppError::Forbidden(Forbidden::CrossOrigin) => {
            "This request came from another site and was refused."
        }
        AppError::Forbidden(Forbidden::NotModerator) => "Only moderators may do that.",
        // Neither the simulator's credential nor a token's scopes guard a page; worded for
        // completeness.
        AppError::Forbidden(Forbidden::NotSimulator | Forbidden::OutsideScopes) => {
            "You may not do that."
        }
        AppError::NotFound(_) => "There is no such page or user.",
        AppError::TooLarge => "The request is too large.",
        AppError::RateLimited(_) => "Too many requests, please slow down and try again shortly.",
        AppError::Busy(_) => "The server is busy, please try again shortly.",
        AppError::Unavailable => "The database is unavailable, please try again shortly.",
        AppError::Internal => "Something went wrong on our side.",
    }
}

/// The error page for `error`, with `Retry-After` for limits.
pub fn response(error: &AppError) -> Response {
    let status = error.status();
    let mut ctx = Context::new();
    ctx.insert(
        "status",
        &format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error")
        ),
    );
    ctx.insert("message", message(error));
    let body = templates::render("error.html", &ctx).unwrap_or_else(|_| message(error).to_owned());
    let mut res = Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        .body(body);
    error.add_retry_after(&mut res);
    res
}

/// Middleware wrapping the pages' router: an [`AppError`] from anything under it becomes
/// its page, keeping the route the router matched (the metrics label). Poem's own errors
/// (no such route, wrong method) pass through as poem answers them.
pub async fn render_errors<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    rendered(ep.call(req).await, response)
}
