//! The API's rendering of [`AppError`]: the status and the simulator's
//! `{"status":…,"error_msg":…}` body, in one place. The API's router is wrapped once by
//! [`render_errors`], so every API error, and every refusal of an `/api/` request by a
//! middleware (the body limit, the cross-site refusal, a rate limit), is built here.

use std::sync::Arc;

use poem::{Endpoint, Request, Response};

use crate::error::{rendered, AppError, Forbidden};
use crate::limits::{HashBusy, RateLimited};

/// The exact 403 text the simulator expects without its credential.
const NOT_AUTHORIZED: &str = "You are not authorized to use this resource!";

/// The body of every API error; also its schema in the OpenAPI document.
#[derive(serde::Serialize, poem_openapi::Object)]
pub struct ErrorBody {
    pub status: u16,
    pub error_msg: String,
}

/// The text of `error` in the API's words.
fn message(error: &AppError) -> &str {
    match error {
        AppError::Invalid(message) => message,
        AppError::Forbidden(Forbidden::CrossOrigin) => {
            "Requests from another site's page are refused"
        }
        AppError::Unauthorized | AppError::Forbidden(_) => NOT_AUTHORIZED,
        AppError::NotFound(what) => what,
        AppError::TooLarge => "The request body is larger than 64 KiB",
        AppError::RateLimited(_) => RateLimited::MESSAGE,
        AppError::Busy(_) => HashBusy::MESSAGE,
        AppError::Unavailable => "The database is unavailable, try again shortly",
        AppError::Internal => "Internal server error",
    }
}

/// The JSON body, `status` first as the simulator's reference writes it.
pub fn body(error: &AppError) -> String {
    serde_json::to_string(&ErrorBody {
        status: error.status().as_u16(),
        error_msg: message(error).to_owned(),
    })
    .unwrap_or_default()
}

/// The whole response: status, JSON body and, for limits, `Retry-After`.
pub fn response(error: &AppError) -> Response {
    let mut res = Response::builder()
        .status(error.status())
        .content_type("application/json")
        .body(body(error));
    error.add_retry_after(&mut res);
    res
}

/// Middleware wrapping the API's router: an [`AppError`] from anything under it becomes
/// the simulator's JSON, keeping the route the router matched (the metrics label).
pub async fn render_errors<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    rendered(ep.call(req).await, response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_body_is_exactly_the_simulators() {
        assert_eq!(
            body(&AppError::Forbidden(Forbidden::NotSimulator)),
            r#"{"status":403,"error_msg":"You are not authorized to use this resource!"}"#
        );
    }
}
