//! The streams' rendering of [`AppError`]: what `/ws`, `/sse` and `/api/stream` answer
//! instead of opening, in one place (docs/protocol.md, "Refusals").
//!
//! A refusal about the request itself (a bad `stream` or `since`, no session for `home`, an
//! unknown user) is a short plain text on the browser streams; limits and database
//! outages, and every refusal of the simulator's `/api/stream`, are the simulator's error
//! JSON, `{"status":…,"error_msg":…}`, as the streams have always answered them. That body
//! is written here rather than borrowed from the API's renderer (`api::error`), so this
//! surface imports nothing from the API, which mounts `/api/stream` from here
//! (docs/architecture.md); the wording of the errors a stream can meet is the same.

use poem::http::StatusCode;
use poem::Response;

use crate::error::{AppError, Forbidden};
use crate::limits::{HashBusy, RateLimited};

/// The refusal of a browser stream (`/ws`, `/sse`) for `error`.
pub fn response(error: &AppError) -> Response {
    match error {
        AppError::Invalid(text) => plain(error.status(), text),
        AppError::Unauthorized => {
            plain(error.status(), "the home stream needs a logged-in session")
        }
        AppError::NotFound(what) => plain(error.status(), what),
        _ => simulator_json(error),
    }
}

/// The refusal of the simulator's `/api/stream` for `error`: its JSON, as every API
/// error.
pub fn simulator_json(error: &AppError) -> Response {
    /// `status` first, as the simulator's reference writes it.
    #[derive(serde::Serialize)]
    struct Body<'a> {
        status: u16,
        error_msg: &'a str,
    }
    let body = Body {
        status: error.status().as_u16(),
        error_msg: simulator_message(error),
    };
    let mut res = Response::builder()
        .status(error.status())
        .content_type("application/json")
        .body(serde_json::to_string(&body).unwrap_or_default());
    error.add_retry_after(&mut res);
    res
}

/// The simulator's wording of `error`.
fn simulator_message(error: &AppError) -> &str {
    match error {
        AppError::Invalid(message) => message,
        AppError::Forbidden(Forbidden::CrossOrigin) => {
            "Requests from another site's page are refused"
        }
        AppError::Unauthorized | AppError::Forbidden(_) => {
            "You are not authorized to use this resource!"
        }
        AppError::NotFound(what) => what,
        AppError::TooLarge => "The request body is larger than 64 KiB",
        AppError::RateLimited(_) => RateLimited::MESSAGE,
        AppError::Busy(_) => HashBusy::MESSAGE,
        AppError::Unavailable => "The database is unavailable, try again shortly",
        AppError::Internal => "Internal server error",
    }
}

/// 503 when the caps on open streams are reached (docs/protocol.md, "Refusals"), for a
/// stream that is not a websocket (a websocket is upgraded and closed with 1013 instead).
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON refusals are byte for byte the API's (`api::error`), `status` first.
    #[tokio::test]
    async fn simulator_refusals_are_the_apis_bytes() {
        for error in [
            AppError::Forbidden(Forbidden::NotSimulator),
            AppError::NotFound("unknown user"),
            AppError::invalid("user is required: ?user=NAME"),
            AppError::Unavailable,
            AppError::Internal,
            AppError::RateLimited(RateLimited {
                limiter: crate::limits::Limiter::WsConnect,
                retry_after_secs: 7,
            }),
        ] {
            let ours = simulator_json(&error);
            let theirs = crate::api::error::response(&error);
            assert_eq!(ours.status(), theirs.status());
            assert_eq!(
                ours.headers().get("retry-after"),
                theirs.headers().get("retry-after")
            );
            let ours = ours.into_body().into_string().await.expect("body");
            let theirs = theirs.into_body().into_string().await.expect("body");
            assert_eq!(ours, theirs, "{error:?}");
        }
    }
}
