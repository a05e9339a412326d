//! The app's one error: what went wrong, said by the domain, the store and the limits, and
//! mapped to an HTTP status here. Handlers, extractors, guards and middleware return it
//! (as a `poem::Error` that holds it); each surface's router is wrapped once by its
//! renderer, which turns it into that surface's answer: `api::error` the simulator's JSON,
//! `web::error` an HTML page, `streams::refusal` a stream's plain refusal. Nothing below
//! the surfaces knows how it will be shown.
//!
//! Causes (database errors) are logged where they are converted, here, and never sent to
//! the client.

use std::borrow::Cow;

use poem::http::StatusCode;
use poem::{IntoResponse, PathPattern, Response};

use crate::overload::{HashBusy, RateLimited};
use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppError {
    /// The request itself is wrong (a rule the user broke, a bad body or parameter), with
    /// the text to show: 400.
    Invalid(Cow<'static, str>),
    /// The action needs a logged-in user: 401, as the classic app answers.
    Unauthorized,
    /// The caller may not do this: 403.
    Forbidden(Forbidden),
    /// Something named does not exist (the text says what, for the API): 404.
    NotFound(&'static str),
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

/// Why a caller was refused with 403; each surface words it its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forbidden {
    /// An API call without the simulator's credential.
    NotSimulator,
    /// A state-changing request from another site's page.
    CrossOrigin,
    /// An action only moderators may take.
    NotModerator,
    /// An access token whose scopes do not cover the action (the Mastodon-compatible API).
    OutsideScopes,
}

/// "Unknown user": the one wording of a 404 for a user named in a request (the simulator
/// API's text for a user in the path, a follow's target, a stream's user).
pub const UNKNOWN_USER: &str = "Unknown user";

impl AppError {
    /// A 400 with `message`.
    pub fn invalid(message: impl Into<Cow<'static, str>>) -> AppError {
        AppError::Invalid(message.into())
    }

    /// A 404 for a user named in the request.
    pub fn unknown_user() -> AppError {
        AppError::NotFound(UNKNOWN_USER)
    }

    /// The status every surface answers this error with.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Invalid(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Busy(_) | AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Adds `Retry-After` to a response rendering this error, when it has one to say.
    pub fn add_retry_after(&self, res: &mut Response) {
        match self {
            AppError::RateLimited(limited) => limited.add_retry_after(res),
            AppError::Busy(busy) => busy.add_retry_after(res),
            _ => {}
        }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {self:?}", self.status())
    }
}

impl std::error::Error for AppError {}

/// Lets handlers and middleware return it as a `poem::Error`, for the surface's renderer to
/// find (`poem::Error::downcast_ref`). Outside any surface it is a bare status.
impl poem::error::ResponseError for AppError {
    fn status(&self) -> StatusCode {
        AppError::status(self)
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                AppError::Unavailable
            }
            StoreError::Db(cause) => {
                tracing::error!(error = %cause, "database error");
                AppError::Internal
            }
        }
    }
}

impl From<RateLimited> for AppError {
    fn from(limited: RateLimited) -> Self {
        AppError::RateLimited(limited)
    }
}

impl From<HashBusy> for AppError {
    fn from(busy: HashBusy) -> Self {
        AppError::Busy(busy)
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// `answer` with an [`AppError`] in it turned into `render`'s response, keeping the route
/// the router matched (the metrics label); any other error is left as it is. The one body
/// of every surface's renderer middleware, which differ only in `render`.
pub fn rendered<T: IntoResponse>(
    answer: poem::Result<T>,
    render: fn(&AppError) -> Response,
) -> poem::Result<Response> {
    match answer {
        Ok(res) => Ok(res.into_response()),
        Err(err) => match err.downcast_ref::<AppError>() {
            Some(error) => {
                let mut res = render(error);
                if let Some(pattern) = err.data::<PathPattern>() {
                    res.set_data(pattern.clone());
                }
                Ok(res)
            }
            None => Err(err),
        },
    }
}
