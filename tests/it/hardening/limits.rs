//! Body and rate limits as a client meets them.

use crate::common::{self, Backend, TestApp, TestDb, SIM_AUTH};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn app_with_default_limits() -> (TestApp, TestDb) {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start_with(&db.url, |s| {
        s.login_per_minute = 20;
        s.register_per_minute = 10;
        s.ws_connects_per_minute = 120;
        s.posts_per_minute = 30;
    })
    .await;
    (app, db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_413_whether_declared_or_streamed() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    app.register("alice").await;
    let huge = json!({ "content": "x".repeat(70 * 1024) });
    let res = app.post_api("/msgs/alice", huge).await;
    assert_eq!(res.status(), 413);
    let body: Value = res.json().await.expect("JSON error");
    assert_eq!(body["status"], 413);

    // Chunked, with no Content-Length: counted as it arrives.
    let mut stream = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /api/msgs/alice HTTP/1.1\r\nHost: {}\r\nAuthorization: {SIM_AUTH}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        app.addr
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let chunk = "y".repeat(8 * 1024);
    for _ in 0..10 {
        let framed = format!("{:x}\r\n{chunk}\r\n", chunk.len());
        if stream.write_all(framed.as_bytes()).await.is_err() {
            break; // the server may answer and close before we finish
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");

    // Just under the limit is fine.
    let ok = json!({ "content": "z".repeat(1000) });
    assert_eq!(app.post_api("/msgs/alice", ok).await.status(), 204);
    let messages: Vec<Value> = app.get_api("/msgs").await.json().await.expect("JSON");
    assert_eq!(
        messages.len(),
        1,
        "nothing from the refused bodies was recorded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_posts_are_never_rate_limited() {
    let (app, _db) = app_with_default_limits().await;
    assert_eq!(app.register("alice").await.status(), 204);
    let texts: Vec<String> = (0..300).map(|i| format!("rapid {i}")).collect();
    let posts = texts.iter().map(|text| app.tweet("alice", text));
    let statuses: Vec<u16> = futures_util::future::join_all(posts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert!(statuses.iter().all(|s| *s == 204), "{statuses:?}");
    // 301 registrations by the simulator are not limited either.
    for i in 0..30 {
        assert_eq!(app.register(&format!("user{i}")).await.status(), 204);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_api_registrations_are_limited_per_ip_with_retry_after() {
    let (app, _db) = app_with_default_limits().await;
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for i in 0..15 {
        let res = app
            .http
            .post(app.url("/api/register"))
            .json(&json!({"username": format!("anon{i}"), "email": "a@b", "pwd": "p"}))
            .send()
            .await
            .expect("post");
        if res.status() == 429 {
            retry_after = res
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body: Value = res.json().await.expect("JSON error");
            assert_eq!(body["status"], 429);
            statuses.push(429);
        } else {
            statuses.push(res.status().as_u16());
        }
    }
    assert_eq!(&statuses[..10], &[204; 10], "{statuses:?}");
    assert_eq!(&statuses[10..], &[429; 5], "{statuses:?}");
    let secs: u64 = retry_after.expect("Retry-After").parse().expect("seconds");
    assert!((1..=60).contains(&secs));
    let metrics = app.state.metrics.encode();
    assert!(
        metrics.contains("minitwit_rate_limited_total{limiter=\"register\"} 5"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_are_404_and_unknown_methods_405() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    let res = app
        .http
        .get(app.url("/api/nothing/here"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 404);
    let res = app
        .http
        .delete(app.url("/api/msgs"))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 405);
    let res = app
        .http
        .put(app.url("/api/latest"))
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rapid_failed_logins_get_429_with_retry_after() {
    let (app, _db) = app_with_default_limits().await;
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let res = app
            .http
            .post(app.url("/login"))
            .form(&[("username", "nobody"), ("password", "guess")])
            .send()
            .await
            .expect("post");
        let status = res.status().as_u16();
        if status == 429 {
            let secs: u64 = res
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .expect("Retry-After in seconds");
            assert!((1..=60).contains(&secs));
        }
        statuses.push(status);
    }
    // The form answers 200 with "Invalid username" while allowed, as the classic app does.
    assert_eq!(&statuses[..20], &[200; 20], "{statuses:?}");
    assert_eq!(&statuses[20..], &[429; 20], "{statuses:?}");
    assert!(app
        .state
        .metrics
        .encode()
        .contains("minitwit_rate_limited_total{limiter=\"login\"} 20"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_posting_is_limited_per_user() {
    let (app, _db) = app_with_default_limits().await;
    assert_eq!(app.register("poster").await.status(), 204);
    let client = common::web::WebClient::new(&app);
    client.login("poster", "secret").await;
    let mut statuses = Vec::new();
    for i in 0..35 {
        statuses.push(
            client
                .post("/add_message", &[("text", &format!("post {i}"))])
                .await
                .status,
        );
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 302).count(),
        30,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        5,
        "{statuses:?}"
    );
}

/// With every password-hash slot busy, a login or registration waits at most 2 s, then gets
/// 503 with `Retry-After` (JSON on the API, a page on the web), and works once a slot frees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_and_registrations_get_503_when_no_hash_slot_frees_in_time() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start_with(&db.url, |s| s.hash_concurrency = 1).await;
    assert_eq!(app.register("alice").await.status(), 204);
    // Something else holds the only slot for 4 s.
    let hashing = app.state.hashing.clone();
    let holder = tokio::spawn(async move {
        hashing
            .run(|_| std::thread::sleep(std::time::Duration::from_secs(4)))
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    let started = std::time::Instant::now();
    let (api, web) = tokio::join!(
        app.register("bob"),
        app.http
            .post(app.url("/login"))
            .form(&[("username", "alice"), ("password", "secret")])
            .send(),
    );
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_secs(2) && waited < std::time::Duration::from_secs(4),
        "{waited:?}"
    );
    assert_eq!(api.status(), 503);
    assert!(api.headers().contains_key("retry-after"));
    let body: Value = api.json().await.expect("JSON error");
    assert_eq!(body["status"], 503);
    let web = web.expect("login answers");
    assert_eq!(web.status(), 503);
    assert!(web.headers().contains_key("retry-after"));
    assert!(web
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html")));
    assert!(web.text().await.expect("page").contains("try again"));
    assert!(app
        .state
        .metrics
        .encode()
        .contains("minitwit_password_hash_rejected_total 2"));

    holder
        .await
        .expect("joins")
        .expect("the holder got its slot");
    assert_eq!(app.register("bob").await.status(), 204);
    let res = app
        .http
        .post(app.url("/login"))
        .form(&[("username", "alice"), ("password", "secret")])
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), 302);
}
