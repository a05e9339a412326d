//! The OpenAPI 3 document of this surface, served at `/api/v1/openapi.json`
//! (docs/mastodon.md). It is written by hand in `openapi.json` beside this file, not
//! generated: the handlers read their parameters through [`super::params::Params`], which
//! no derive can describe. The test below and tests/it/ops/mastodon_docs.rs keep it true:
//! every route is in it, and schemathesis finds no answer that contradicts it.

use poem::{handler, Response};

/// The document, embedded in the binary.
const DOCUMENT: &str = include_str!("openapi.json");

/// `GET /api/v1/openapi.json`.
#[handler]
pub fn document() -> Response {
    Response::builder()
        .content_type("application/json")
        .body(DOCUMENT)
}

#[cfg(test)]
mod tests {
    use poem::http::{Method, StatusCode};
    use poem::{Endpoint, Request};
    use serde_json::Value;

    use super::DOCUMENT;

    fn document() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
    }

    /// The paths `routes()` declares, read from its source so that a route added there
    /// and not here fails this test (a hand-kept list would drift with the router), in
    /// OpenAPI's spelling (`{id}` for `:id`).
    fn routed_paths() -> Vec<String> {
        let source = include_str!("mod.rs");
        let body = source
            .split("pub fn routes(")
            .nth(1)
            .expect("mod.rs has routes()");
        body.split('"')
            .skip(1)
            .step_by(2)
            .filter(|literal| literal.starts_with('/'))
            .map(|path| {
                path.split('/')
                    .map(|segment| match segment.strip_prefix(':') {
                        Some(name) => format!("{{{name}}}"),
                        None => segment.to_owned(),
                    })
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect()
    }

    #[test]
    fn every_route_is_documented() {
        let doc = document();
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
        let paths = doc["paths"].as_object().expect("paths");
        let routed = routed_paths();
        assert!(routed.len() > 20, "{routed:?}");
        for path in routed {
            // The streaming API is not request/response (docs/mastodon.md, "Streaming").
            if path.starts_with("/api/v1/streaming") {
                continue;
            }
            assert!(paths.contains_key(&path), "{path} is not documented");
        }
    }

    /// Each documented operation reaches a handler: without the app's state a handler
    /// fails with 500, where an unknown path is a 404 and an unknown method a 405.
    #[tokio::test]
    async fn every_documented_operation_is_routed() {
        let doc = document();
        let routes = super::super::routes(&std::sync::Arc::from("http://127.0.0.1:8080"));
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                let concrete = path.replace("{id}", "1");
                let req = Request::builder()
                    .method(Method::from_bytes(method.to_uppercase().as_bytes()).expect("method"))
                    .uri(concrete.parse().expect("uri"))
                    .finish();
                let status = routes.get_response(req).await.status();
                assert!(
                    ![StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&status),
                    "{method} {path} is documented but answers {status}"
                );
            }
        }
    }
}
