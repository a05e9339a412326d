//! The simulator API of SPEC §2, mounted at `/api`: one file per resource.
//!
//! Every response body is built here by hand, so it stays byte-for-byte what the
//! simulator expects, errors included (`error` renders every `AppError` as the simulator's
//! JSON); who may call is an extractor in the handler's signature (`auth`: the simulator's
//! credential, the user in the path); writes that a browser says come from another site's
//! page are refused on the router, before anything else; the OpenAPI document is generated
//! from the same handlers and types (`openapi`, `documented`).

mod auth;
mod documented;
pub mod error;
mod follows;
mod latest;
mod messages;
pub mod openapi;
mod register;

use std::sync::Arc;

use poem::http::{Method, StatusCode};
use poem::web::Data;
use poem::{get, Endpoint, EndpointExt, IntoEndpoint, IntoResponse, Request, Response, Route};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use auth::Simulator;

use crate::error::{AppError, Forbidden};
use crate::origin::is_not_same_origin;
use crate::query::query_param;
use crate::state::AppState;

/// `no` when it is missing or not an integer (SPEC §2).
const DEFAULT_NO: u64 = 100;
/// The most messages or follows one response holds, so one request cannot exhaust memory.
pub const MAX_NO: u64 = 10_000;

pub fn routes() -> impl IntoEndpoint {
    let operations = openapi::service();
    let document = operations.spec();
    let docs = openapi::docs_endpoint(operations.swagger_ui_html());
    Route::new()
        // A websocket: no request/response operation for the document to describe.
        .at("/stream", get(crate::streams::api_stream))
        .at("/openapi.json", get(openapi::document_endpoint(document)))
        .at("/docs", get(docs))
        .nest("/", operations)
        .around(latest::record_latest)
        .around(refuse_writes_from_other_sites)
}

/// Another site's page must not make its visitors' browsers write here (register accounts
/// with a form or `fetch` that needs no preflight): a write whose browser says it did not
/// come from our own origin is refused with the API's 403, before anything else, `latest`
/// included, as it is not the simulator's. The simulator sends neither `Sec-Fetch-Site`
/// nor `Origin` and passes; so does the docs page's "Try it out" (same origin).
async fn refuse_writes_from_other_sites<E: Endpoint>(
    ep: Arc<E>,
    req: Request,
) -> poem::Result<Response> {
    if ![Method::GET, Method::HEAD].contains(req.method()) && is_not_same_origin(&req) {
        tracing::info!(uri = %req.uri(), "refused an API write from another site");
        return Ok(error::response(&AppError::Forbidden(
            Forbidden::CrossOrigin,
        )));
    }
    ep.call(req).await.map(IntoResponse::into_response)
}

/// `?no=N`: 100 when missing or not an integer, 0 for negatives, capped at [`MAX_NO`].
fn no_param(req: &Request) -> u64 {
    match query_param(req, "no").map(|v| v.trim().parse::<i64>()) {
        Some(Ok(n)) => n.clamp(0, MAX_NO as i64) as u64,
        _ => DEFAULT_NO,
    }
}

/// Parses a JSON body; malformed JSON, a missing key or a wrong type is a 400, never a 500.
fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    serde_json::from_slice(body).map_err(|e| {
        AppError::invalid(format!(
            "The request body is not valid JSON for this endpoint: {e}"
        ))
    })
}

fn json_response<T: Serialize>(value: &T) -> Response {
    json_response_sized(value, 128)
}

/// A JSON response written into a buffer of `capacity` bytes: growing the buffer while
/// writing copies it each time, which shows on the hot reads.
fn json_response_sized<T: Serialize>(value: &T, capacity: usize) -> Response {
    let mut body = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut body, value) {
        Ok(()) => Response::builder()
            .content_type("application/json")
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise response");
            Response::builder()
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .finish()
        }
    }
}

fn no_content() -> Response {
    Response::builder().status(StatusCode::NO_CONTENT).finish()
}

/// Handler argument for the shared state.
type State<'a> = Data<&'a AppState>;

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str) -> Request {
        Request::builder()
            .uri(format!("/api/msgs?{query}").parse().expect("uri"))
            .finish()
    }

    #[test]
    fn no_defaults_clamps_and_falls_back() {
        assert_eq!(no_param(&request("")), 100);
        assert_eq!(no_param(&request("no=abc")), 100);
        assert_eq!(no_param(&request("no=7")), 7);
        assert_eq!(no_param(&request("no=0")), 0);
        assert_eq!(no_param(&request("no=-3")), 0);
        assert_eq!(no_param(&request("no=99999999")), MAX_NO);
    }

    proptest::proptest! {
        #[test]
        fn query_parameters_never_panic(query in "[a-z0-9=&%+.-]{0,40}|\\PC{0,40}") {
            let encoded: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
            for q in [query.clone(), format!("no={encoded}"), format!("latest={encoded}&no={encoded}")] {
                if let Ok(uri) = format!("/api/msgs?{q}").parse::<poem::http::Uri>() {
                    let req = Request::builder().uri(uri).finish();
                    proptest::prop_assert!(no_param(&req) <= MAX_NO);
                    let _ = query_param(&req, "latest");
                }
            }
        }
    }
}
