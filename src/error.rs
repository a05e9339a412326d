//! The API's one error type, mapped to a status and the simulator's JSON body in one place.
//!
//! Causes are logged here and never sent to the client.

use std::borrow::Cow;

use poem::error::ResponseError;
use poem::http::StatusCode;
use poem::Response;

use crate::store::StoreError;

/// `{"status":…,"error_msg":…}`, the body the simulator expects with every API error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: Cow<'static, str>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn forbidden() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "You are not authorized to use this resource!",
        )
    }

    pub fn not_found(message: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// The JSON body, `status` first as the simulator's reference writes it.
    pub fn body(&self) -> String {
        serde_json::to_string(&ErrorBody {
            status: self.status.as_u16(),
            error_msg: self.message.to_string(),
        })
        .unwrap_or_default()
    }
}

/// The body of every API error; also its schema in the OpenAPI document.
#[derive(serde::Serialize, poem_openapi::Object)]
pub struct ErrorBody {
    pub status: u16,
    pub error_msg: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> Response {
        Response::builder()
            .status(self.status)
            .content_type("application/json")
            .body(self.body())
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The database is unavailable, try again shortly",
                )
            }
            StoreError::Db(cause) => {
                tracing::error!(error = %cause, "database error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_body_is_exactly_the_simulators() {
        assert_eq!(
            ApiError::forbidden().body(),
            r#"{"status":403,"error_msg":"You are not authorized to use this resource!"}"#
        );
    }
}
