//! Hundreds of malformed requests: random methods, paths with `%ff` and NUL, invalid UTF-8
//! bodies, wrong types, nulls, huge numbers, wrong content types. No 5xx; server alive.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{Backend, TestApp, TestDb, SIM_AUTH};

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "FOO",
];
const PATHS: &[&str] = &[
    "/",
    "/public",
    "/api/latest",
    "/api/register",
    "/api/msgs",
    "/api/msgs/alice",
    "/api/msgs/%ff",
    "/api/msgs/%00",
    "/api/msgs/a%2Fb",
    "/api/fllws/alice",
    "/api/fllws/%ff%fe",
    "/api/fllws/ghost",
    "/alice",
    "/%ff",
    "/%00",
    "/alice/follow",
    "/ghost/unfollow",
    "/login",
    "/register",
    "/add_message",
    "/logout",
    "/ws",
    "/metrics",
    "/healthz",
    "/readyz",
    "/static/..%2f..%2fetc%2fpasswd",
    "/api/docs",
    "/api/openapi.json",
    "/%E2%82%AC",
    "/api/msgs/%C3%28",
];
const QUERIES: &[&str] = &[
    "",
    "?latest=1",
    "?latest=99999999999999999999999",
    "?latest=-5",
    "?latest=%ff",
    "?no=-1",
    "?no=99999999999999999999",
    "?no=%00",
    "?no=1e9",
    "?latest=1&latest=x&no=2",
    "?%ff=%fe",
    "?before=abc",
    "?before=-1",
    "?stream=%ff",
    "?since=x",
];

fn body(rng: &mut StdRng) -> (Vec<u8>, &'static str) {
    let bodies: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xff, 0xfe, 0x00, 0x80],
        b"{".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        br#"{"content": null}"#.to_vec(),
        br#"{"content": 123456789012345678901234567890}"#.to_vec(),
        br#"{"content": {"nested": [1, 2, 3]}}"#.to_vec(),
        br#"{"follow": null, "unfollow": 5}"#.to_vec(),
        br#"{"username": [], "email": false, "pwd": 1e400}"#.to_vec(),
        b"username=%ff&password=%00&email=x".to_vec(),
        b"text=%ff%fe".to_vec(),
        "[".repeat(10_000).into_bytes(),
        br#"{"content": "\ud800"}"#.to_vec(),
    ];
    let types = [
        "application/json",
        "application/x-www-form-urlencoded",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin1",
    ];
    (
        bodies[rng.gen_range(0..bodies.len())].clone(),
        types[rng.gen_range(0..types.len())],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_requests_never_get_a_5xx() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    app.register("alice").await;
    let mut rng = StdRng::seed_from_u64(6);
    let mut seen = std::collections::BTreeMap::new();
    for i in 0..400 {
        let method = METHODS[rng.gen_range(0..METHODS.len())];
        let path = PATHS[rng.gen_range(0..PATHS.len())];
        let query = QUERIES[rng.gen_range(0..QUERIES.len())];
        let (body, content_type) = body(&mut rng);
        let mut request = app
            .http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
                format!("{}{path}{query}", app.base),
            )
            .header("content-type", content_type)
            .body(body.clone());
        if rng.gen_bool(0.5) {
            request = request.header("Authorization", SIM_AUTH);
        }
        let res = request.send().await.expect("server answers");
        let status = res.status().as_u16();
        *seen.entry(status).or_insert(0) += 1;
        assert!(
            status < 500,
            "request {i}: {method} {path}{query} ({content_type}, {body:?}) -> {status}"
        );
    }
    eprintln!("statuses seen: {seen:?}");

    // Raw bytes no client library would send: a NUL and invalid UTF-8 in the request line.
    for raw in [
        &b"GET /api/msgs/\x00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"[..],
        &b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"[..],
        &b"POST /api/register HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\n\xff\xff\xff\xff"[..],
        &b"GARBAGE\r\n\r\n"[..],
    ] {
        let mut stream = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
        stream.write_all(raw).await.expect("write");
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response).await;
        let text = String::from_utf8_lossy(&response);
        assert!(!text.starts_with("HTTP/1.1 5"), "{raw:?} -> {text}");
    }

    // Still alive and correct.
    let res = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("alive");
    assert_eq!(res.status(), 200);
    assert_eq!(app.tweet("alice", "still here").await.status(), 204);
}
