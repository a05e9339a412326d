//! Slow clients (SPEC §6): a client that has not sent its whole request head within 10 s is
//! dropped; honest clients, slow ones included, are served; heads have a sane size limit.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{Backend, TestApp, TestDb};

/// Reads until the server closes; what it sent, and when it closed.
async fn read_to_close(stream: &mut TcpStream, started: Instant) -> (String, Duration) {
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut response)).await;
    (
        String::from_utf8_lossy(&response).into_owned(),
        started.elapsed(),
    )
}

async fn half_sent_head(app: &TestApp) {
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    let started = Instant::now();
    stream
        .write_all(b"GET /public HTTP/1.1\r\nHost: x\r\nUser-Agent: slowloris\r\n")
        .await
        .expect("write");
    let (response, after) = read_to_close(&mut stream, started).await;
    assert!(
        response.is_empty(),
        "no answer to half a request: {response}"
    );
    assert!(
        after < Duration::from_secs(15),
        "dropped within 15 s, not {after:?}"
    );
    assert!(
        after >= Duration::from_secs(9),
        "not before 10 s: {after:?}"
    );
}

async fn slow_but_whole_head(app: &TestApp) {
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    for part in [
        "GET /public HTTP/1.1\r\n",
        "Host: x\r\n",
        "Connection: close\r\n",
        "\r\n",
    ] {
        stream.write_all(part.as_bytes()).await.expect("write");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let (response, _) = read_to_close(&mut stream, Instant::now()).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

async fn kept_alive_past_the_head_timeout(app: &TestApp) {
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.expect("first answer");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // Idle longer than the head timeout, shorter than the idle timeout: still open.
    tokio::time::sleep(Duration::from_secs(12)).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("second request on the kept-alive connection");
    let (response, _) = read_to_close(&mut stream, Instant::now()).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response:?}");
}

async fn header_sizes(app: &TestApp) {
    let request = |header_bytes: usize| {
        format!(
            "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\nConnection: close\r\n\r\n",
            "a".repeat(header_bytes)
        )
    };
    // A large but sane head (big cookies) is served.
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    stream
        .write_all(request(16 * 1024).as_bytes())
        .await
        .expect("write");
    let (response, _) = read_to_close(&mut stream, Instant::now()).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response:?}");
    // A megabyte of headers is not read to the end: the connection is dropped.
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    let _ = stream.write_all(request(1024 * 1024).as_bytes()).await;
    let (response, after) = read_to_close(&mut stream, Instant::now()).await;
    assert!(!response.starts_with("HTTP/1.1 200"), "{response:?}");
    assert!(!response.starts_with("HTTP/1.1 5"), "{response:?}");
    assert!(after < Duration::from_secs(5), "{after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_dropped_and_honest_ones_served() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    tokio::join!(
        half_sent_head(&app),
        slow_but_whole_head(&app),
        kept_alive_past_the_head_timeout(&app),
        header_sizes(&app),
    );
    // And the server is as good as new.
    let res = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("alive");
    assert_eq!(res.status(), 200);
}
