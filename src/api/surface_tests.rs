//! The API as the simulator sees it, through the app's real router: errors are the
//! simulator's JSON whichever layer refused, and every unknown user is worded one way.

use poem::http::{Method, StatusCode};
use poem::Request;

use crate::state::test_app::TestApp;

const SIM_AUTH: &str = "Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh";

async fn send(app: &TestApp, method: Method, path: &str, body: &str) -> (StatusCode, String) {
    let req = Request::builder()
        .method(method)
        .uri_str(path)
        .header("authorization", SIM_AUTH)
        .body(body.to_owned());
    let res = app.call(req).await;
    let status = res.status();
    let body = res.into_body().into_string().await.expect("body");
    (status, body)
}

#[tokio::test]
async fn an_unknown_follow_target_is_an_unknown_user_like_any_other() {
    let app = TestApp::start().await;
    let alice = r#"{"username":"alice","email":"a@example.com","pwd":"x"}"#;
    let (status, _) = send(&app, Method::POST, "/api/register", alice).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let unknown = r#"{"status":404,"error_msg":"Unknown user"}"#;
    let named = send(&app, Method::GET, "/api/msgs/nobody", "").await;
    assert_eq!(named, (StatusCode::NOT_FOUND, unknown.to_owned()));
    for body in [r#"{"follow":"nobody"}"#, r#"{"unfollow":"nobody"}"#] {
        let target = send(&app, Method::POST, "/api/fllws/alice", body).await;
        assert_eq!(
            target,
            (StatusCode::NOT_FOUND, unknown.to_owned()),
            "{body}"
        );
    }
}

#[tokio::test]
async fn refusals_before_any_handler_are_the_simulators_json() {
    let app = TestApp::start().await;
    // The body limit, ahead of routing.
    let huge = format!(r#"{{"content":"{}"}}"#, "x".repeat(70 * 1024));
    let (status, body) = send(&app, Method::POST, "/api/msgs/alice", &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body.starts_with(r#"{"status":413,"error_msg":"#), "{body}");
    // The credential, an extractor.
    let req = Request::builder().uri_str("/api/msgs?no=abc").finish();
    let res = app.call(req).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        res.into_body().into_string().await.expect("body"),
        r#"{"status":403,"error_msg":"You are not authorized to use this resource!"}"#
    );
    // `no` that is not an integer means 100: the request is answered, not refused.
    let (status, body) = send(&app, Method::GET, "/api/msgs?no=abc&latest=x", "").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "[]"));
}
