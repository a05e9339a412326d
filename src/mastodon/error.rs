//! The Mastodon-compatible API's rendering of [`AppError`]: `{"error": "…"}` as JSON with
//! the error's status, in Mastodon's words where it has them. The surface's router is
//! wrapped once by [`render_errors`], so handlers, the token check, the body limit and
//! the rate limits all answer this way.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::{Endpoint, Request, Response};

use crate::error::{rendered, AppError, Forbidden};
use crate::overload::{HashBusy, RateLimited};

/// The 401 text Mastodon answers for a missing, unknown or revoked token.
pub const INVALID_TOKEN: &str = "The access token is invalid";
/// The 403 text for a token without the scope an action needs.
pub const OUTSIDE_SCOPES: &str = "This action is outside the authorized scopes";

fn message(error: &AppError) -> &str {
    match error {
        AppError::Invalid(message) => message,
        AppError::Unauthorized => INVALID_TOKEN,
        AppError::Forbidden(Forbidden::CrossOrigin) => {
            "Requests from another site's page are refused"
        }
        AppError::Forbidden(Forbidden::NotModerator) => "This action is not allowed",
        AppError::Forbidden(Forbidden::NotSimulator | Forbidden::OutsideScopes) => OUTSIDE_SCOPES,
        AppError::NotFound(_) => "Record not found",
        AppError::TooLarge => "The request body is larger than 64 KiB",
        AppError::RateLimited(_) => RateLimited::MESSAGE,
        AppError::Busy(_) => HashBusy::MESSAGE,
        AppError::Unavailable => "The database is unavailable, try again shortly",
        AppError::Internal => "Internal server error",
    }
}

/// `{"error": …}` for `error`.
pub fn body(error: &AppError) -> String {
    serde_json::json!({ "error": message(error) }).to_string()
}

/// The whole response: status, JSON body and, for limits, `Retry-After`.
pub fn response(error: &AppError) -> Response {
    let mut res = Response::builder()
        .status(error.status())
        .content_type("application/json; charset=utf-8")
        .body(body(error));
    error.add_retry_after(&mut res);
    res
}

/// Middleware wrapping the surface's router: every [`AppError`] under it becomes
/// Mastodon's JSON, keeping the route the router matched (the metrics label); so does any
/// other error (an unknown route, a method the route does not take), with its status.
pub async fn render_errors<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    match rendered(ep.call(req).await, response) {
        Err(other) => {
            let status = other.status();
            let text = match status {
                StatusCode::NOT_FOUND => "Record not found".to_owned(),
                _ => status.canonical_reason().unwrap_or("Error").to_owned(),
            };
            Ok(Response::builder()
                .status(status)
                .content_type("application/json; charset=utf-8")
                .body(serde_json::json!({ "error": text }).to_string()))
        }
        answer => answer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_mastodon_json() {
        assert_eq!(
            body(&AppError::Unauthorized),
            r#"{"error":"The access token is invalid"}"#
        );
        assert_eq!(
            body(&AppError::NotFound("Unknown message")),
            r#"{"error":"Record not found"}"#
        );
    }
}
