//! The streams' rendering of [`AppError`]: what `/ws` and `/sse` answer instead of opening,
//! in one place. A refusal about the request itself (a bad `stream` or `since`, no session
//! for `home`, an unknown user) is a short plain text; limits and database outages are the
//! simulator's error JSON (`api::error`), as the streams have always answered them.

use poem::http::StatusCode;
use poem::Response;

use crate::error::AppError;

/// The refusal for `error`.
pub fn response(error: &AppError) -> Response {
    match error {
        AppError::Invalid(text) => plain(error.status(), text),
        AppError::Unauthorized => {
            plain(error.status(), "the home stream needs a logged-in session")
        }
        AppError::NotFound(what) => plain(error.status(), what),
        _ => crate::api::error::response(error),
    }
}

/// 503 when the caps on open streams are reached (SPEC §4), for a stream that is not a
/// websocket (a websocket is upgraded and closed with 1013 instead).
pub fn too_many_streams() -> Response {
    let mut res = plain(
        StatusCode::SERVICE_UNAVAILABLE,
        "too many open streams: try again later",
    );
    res.headers_mut().insert(
        poem::http::header::RETRY_AFTER,
        poem::http::HeaderValue::from_static("5"),
    );
    res
}

fn plain(status: StatusCode, text: &str) -> Response {
    Response::builder()
        .status(status)
        .content_type("text/plain; charset=utf-8")
        .body(text.to_owned())
}
