//! `latest`: -1 at first, recorded before auth and validation, integers only.

use crate::common::{self, TestApp};
use crate::on_both_backends;

async fn latest_is_minus_one_before_any_was_recorded(app: TestApp) {
    let res = app
        .http
        .get(app.url("/api/latest"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.expect("body"), r#"{"latest":-1}"#);
}

async fn latest_is_recorded_before_auth_and_validation(app: TestApp) {
    // 403: no credential.
    let res = app
        .http
        .get(app.url("/api/msgs?latest=11"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 403);
    assert_eq!(app.latest().await, 11);
    // 404: unknown user.
    let res = app.get_api("/msgs/nobody?latest=12").await;
    assert_eq!(res.status(), 404);
    assert_eq!(app.latest().await, 12);
    // 400: bad register body.
    let res = app
        .post_api("/register?latest=13", serde_json::json!({}))
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(app.latest().await, 13);
    // Success, on every endpoint shape.
    assert_eq!(
        app.post_api(
            "/register?latest=14",
            serde_json::json!({"username":"a","email":"a@a","pwd":"p"})
        )
        .await
        .status(),
        204
    );
    assert_eq!(app.latest().await, 14);
    // A later, smaller id still wins: it is the latest processed, not the maximum.
    assert_eq!(app.get_api("/msgs?latest=2").await.status(), 200);
    assert_eq!(app.latest().await, 2);
}

async fn non_integer_latest_is_ignored(app: TestApp) {
    assert_eq!(app.get_api("/msgs?latest=5").await.status(), 200);
    for junk in ["abc", "1.5", "", "99999999999999999999999"] {
        let res = app.get_api(&format!("/msgs?latest={junk}")).await;
        assert_eq!(res.status(), 200, "latest={junk}");
        assert_eq!(app.latest().await, 5, "latest={junk} must be ignored");
    }
}

/// A client that hangs up while its request is handled (as the simulator does after its
/// timeout) still has its `latest` recorded.
async fn latest_of_an_abandoned_request_is_recorded(app: TestApp) {
    use tokio::io::AsyncWriteExt;
    let body = r#"{"username":"alice","email":"a@a","pwd":"p"}"#;
    let request = format!(
        "POST /api/register?latest=77 HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        common::SIM_AUTH,
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    // Gone while the password is hashed.
    drop(stream);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
    while app.latest().await != 77 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "latest of the abandoned request was never recorded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

on_both_backends!(
    latest_of_an_abandoned_request_is_recorded,
    latest_is_minus_one_before_any_was_recorded,
    latest_is_recorded_before_auth_and_validation,
    non_integer_latest_is_ignored,
);
