//! The pages' rendering of [`AppError`]: an HTML page with the right status (never JSON),
//! in one place. Handlers return [`WebResult`]; `?` turns any [`AppError`] (or a store,
//! limit or template error) into a [`PageError`], which poem renders here.

use poem::error::ResponseError;
use poem::http::StatusCode;
use poem::Response;
use tera::Context;

use super::templates;
use crate::error::{AppError, Forbidden};
use crate::limits::{HashBusy, RateLimited};
use crate::store::StoreError;

/// An [`AppError`] on its way to becoming a page.
#[derive(Debug)]
pub struct PageError(pub AppError);

/// The text of `error` in the pages' words.
fn message(error: &AppError) -> &str {
    match error {
        AppError::Invalid(message) => message,
        AppError::Unauthorized => "You need to sign in to do that.",
        AppError::Forbidden(Forbidden::CrossOrigin) => {
            "This request came from another site and was refused."
        }
        AppError::Forbidden(Forbidden::NotModerator) => "Only moderators may do that.",
        // The simulator's credential guards no page; worded for completeness.
        AppError::Forbidden(Forbidden::NotSimulator) => "You may not do that.",
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
    let body = templates::render("error.html", &ctx).unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot render the error page");
        message(error).to_owned()
    });
    let mut res = Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        .body(body);
    error.add_retry_after(&mut res);
    res
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.0.status(), message(&self.0))
    }
}

impl std::error::Error for PageError {}

impl ResponseError for PageError {
    fn status(&self) -> StatusCode {
        self.0.status()
    }

    fn as_response(&self) -> Response {
        response(&self.0)
    }
}

impl From<AppError> for PageError {
    fn from(error: AppError) -> Self {
        PageError(error)
    }
}

impl From<StoreError> for PageError {
    fn from(err: StoreError) -> Self {
        PageError(err.into())
    }
}

impl From<RateLimited> for PageError {
    fn from(limited: RateLimited) -> Self {
        PageError(limited.into())
    }
}

impl From<HashBusy> for PageError {
    fn from(busy: HashBusy) -> Self {
        PageError(busy.into())
    }
}

impl From<tera::Error> for PageError {
    fn from(err: tera::Error) -> Self {
        tracing::error!(error = ?err, "template rendering failed");
        PageError(AppError::Internal)
    }
}

pub type WebResult<T> = Result<T, PageError>;
