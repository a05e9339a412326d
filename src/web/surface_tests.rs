//! The pages through the app's real router: a refusal by any layer under the pages' router
//! (the body limit, the cross-origin guard, an extractor) is an HTML page, never JSON.

use poem::http::{Method, StatusCode};
use poem::Request;

use crate::state::test_app::TestApp;

async fn page(app: &TestApp, req: Request) -> (StatusCode, String, String) {
    let res = app.call(req).await;
    let status = res.status();
    let content_type = res.content_type().unwrap_or_default().to_owned();
    let body = res.into_body().into_string().await.expect("body");
    (status, content_type, body)
}

#[tokio::test]
async fn refusals_under_the_pages_are_pages() {
    let app = TestApp::start().await;
    let huge = format!("text={}", "x".repeat(70 * 1024));
    let cases = [
        (
            Request::builder()
                .method(Method::POST)
                .uri_str("/add_message")
                .body(huge),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            Request::builder()
                .method(Method::POST)
                .uri_str("/login")
                .header("sec-fetch-site", "cross-site")
                .body("username=a&password=b"),
            StatusCode::FORBIDDEN,
        ),
        (
            Request::builder()
                .uri_str("/alice/follow")
                .header("sec-fetch-site", "same-site")
                .finish(),
            StatusCode::FORBIDDEN,
        ),
        (
            Request::builder().uri_str("/alice/follow").finish(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            Request::builder().uri_str("/nobody").finish(),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (req, expected) in cases {
        let uri = req.uri().clone();
        let (status, content_type, body) = page(&app, req).await;
        assert_eq!(status, expected, "{uri}");
        assert!(
            content_type.starts_with("text/html"),
            "{uri}: {content_type}"
        );
        assert!(body.contains("<html"), "{uri}: {body}");
    }
}

#[tokio::test]
async fn the_home_page_is_routed_beside_every_other_route() {
    let app = TestApp::start().await;
    // Anonymous: the home timeline sends the reader to the public one.
    let (status, _, _) = page(&app, Request::builder().uri_str("/").finish()).await;
    assert_eq!(status, StatusCode::FOUND);
    let (status, _, body) = page(&app, Request::builder().uri_str("/public").finish()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Public Timeline"), "{body}");
}
