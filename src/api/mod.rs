//! The simulator API (README.md, "The simulator API"), mounted at `/api`: one file per
//! resource, one router wrapped once by its policy and its renderer.
//!
//! Every response body stays byte-for-byte what the simulator expects: answers are
//! written with serde in the declared field order (`documented::Json`), errors are
//! `AppError`s that the router's renderer (`error`) turns into the simulator's JSON. Who
//! may call is an extractor in the handler's signature (`auth`: the simulator's
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
#[cfg(test)]
mod surface_tests;

use std::sync::Arc;

use poem::http::Method;
use poem::web::Data;
use poem::{get, Endpoint, EndpointExt, IntoResponse, Request, Response, Route};

pub use auth::Simulator;
use documented::LenientInt;

use crate::error::{AppError, Forbidden};
use crate::limits::limit_body;
use crate::origin::is_not_same_origin;
use crate::state::AppState;

/// `no` when it is missing or not an integer (README.md, "The simulator API").
const DEFAULT_NO: u64 = 100;
/// The most messages or follows one response holds, so one request cannot exhaust memory.
pub const MAX_NO: u64 = 10_000;

/// The API's router: the operations, the document, the docs page and `/api/stream`,
/// wrapped once by what applies to all of them, outermost first: the rendering of every
/// `AppError` as the simulator's JSON, the body limit, the refusal of cross-site writes
/// and the recording of `latest`.
pub fn routes() -> impl Endpoint<Output = Response> {
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
        .around(limit_body)
        .around(error::render_errors)
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
        return Err(AppError::Forbidden(Forbidden::CrossOrigin).into());
    }
    ep.call(req).await.map(IntoResponse::into_response)
}

/// `?no=N`: 100 when missing or not an integer, 0 for negatives, capped at [`MAX_NO`].
fn count(no: LenientInt) -> u64 {
    match no.0 {
        Some(n) => n.clamp(0, MAX_NO as i64) as u64,
        None => DEFAULT_NO,
    }
}

/// Handler argument for the shared state.
type State<'a> = Data<&'a AppState>;

#[cfg(test)]
mod tests {
    use super::*;
    use poem_openapi::types::ParseFromParameter;

    /// `no` as the handlers read it from a query string.
    fn no(query: &str) -> u64 {
        let values = url::form_urlencoded::parse(query.as_bytes())
            .filter(|(key, _)| key == "no")
            .map(|(_, value)| value.into_owned());
        count(LenientInt::parse_from_parameters(values).unwrap_or_default())
    }

    #[test]
    fn no_defaults_clamps_and_falls_back() {
        assert_eq!(no(""), 100);
        assert_eq!(no("no=abc"), 100);
        assert_eq!(no("no=7"), 7);
        assert_eq!(no("no= 7"), 7);
        assert_eq!(no("no=0"), 0);
        assert_eq!(no("no=-3"), 0);
        assert_eq!(no("no=99999999"), MAX_NO);
        assert_eq!(no("no=5&no=9"), 5);
    }

    proptest::proptest! {
        #[test]
        fn query_parameters_never_panic(query in "[a-z0-9=&%+.-]{0,40}|\\PC{0,40}") {
            let encoded: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
            for q in [query.clone(), format!("no={encoded}"), format!("latest={encoded}&no={encoded}")] {
                proptest::prop_assert!(no(&q) <= MAX_NO);
            }
        }
    }
}
