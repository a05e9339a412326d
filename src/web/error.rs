//! Errors of the pages, answered as HTML pages with the right status, never as JSON.
//!
//! Causes are logged here and never shown to the visitor.

use poem::error::ResponseError;
use poem::http::StatusCode;
use poem::Response;
use tera::Context;

use super::templates;
use crate::limits::{HashBusy, RateLimited};
use crate::store::StoreError;

#[derive(Debug)]
pub enum WebError {
    /// The request itself is wrong (a bad `before`, an over-long message): 400.
    BadRequest(&'static str),
    /// The action needs a logged-in user: 401, as the classic app answers.
    Unauthorized,
    /// A state-changing request from another origin: 403.
    CrossOrigin,
    /// An action only moderators may take: 403.
    NotModerator,
    /// No such user: 404.
    NotFound,
    /// A request body over the limit: 413.
    TooLarge,
    /// Too many attempts from this client or user: 429 with `Retry-After`.
    RateLimited(RateLimited),
    /// No password-hash slot came free in time: 503 with `Retry-After`.
    Busy(HashBusy),
    /// The database did not answer in time: 503, worth a retry.
    Unavailable,
    /// A bug or a broken database: 500, logged.
    Internal,
}

impl WebError {
    fn message(&self) -> &'static str {
        match self {
            WebError::BadRequest(message) => message,
            WebError::Unauthorized => "You need to sign in to do that.",
            WebError::CrossOrigin => "This request came from another site and was refused.",
            WebError::NotModerator => "Only moderators may do that.",
            WebError::NotFound => "There is no such page or user.",
            WebError::TooLarge => "The request is too large.",
            WebError::RateLimited(_) => {
                "Too many requests, please slow down and try again shortly."
            }
            WebError::Busy(_) => "The server is busy, please try again shortly.",
            WebError::Unavailable => "The database is unavailable, please try again shortly.",
            WebError::Internal => "Something went wrong on our side.",
        }
    }
}

impl std::fmt::Display for WebError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status(), self.message())
    }
}

impl std::error::Error for WebError {}

impl ResponseError for WebError {
    fn status(&self) -> StatusCode {
        match self {
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Unauthorized => StatusCode::UNAUTHORIZED,
            WebError::CrossOrigin | WebError::NotModerator => StatusCode::FORBIDDEN,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            WebError::Busy(_) | WebError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn as_response(&self) -> Response {
        let status = self.status();
        let mut ctx = Context::new();
        ctx.insert(
            "status",
            &format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("Error")
            ),
        );
        ctx.insert("message", self.message());
        let body = templates::render("error.html", &ctx).unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot render the error page");
            self.message().to_owned()
        });
        let mut res = Response::builder()
            .status(status)
            .content_type("text/html; charset=utf-8")
            .body(body);
        match self {
            WebError::RateLimited(limited) => limited.add_retry_after(&mut res),
            WebError::Busy(busy) => busy.add_retry_after(&mut res),
            _ => {}
        }
        res
    }
}

impl From<StoreError> for WebError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                WebError::Unavailable
            }
            StoreError::Db(cause) => {
                tracing::error!(error = %cause, "database error");
                WebError::Internal
            }
        }
    }
}

impl From<RateLimited> for WebError {
    fn from(limited: RateLimited) -> Self {
        WebError::RateLimited(limited)
    }
}

impl From<HashBusy> for WebError {
    fn from(busy: HashBusy) -> Self {
        WebError::Busy(busy)
    }
}

impl From<tera::Error> for WebError {
    fn from(err: tera::Error) -> Self {
        tracing::error!(error = ?err, "template rendering failed");
        WebError::Internal
    }
}

pub type WebResult<T> = Result<T, WebError>;
