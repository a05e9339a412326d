//! Slow clients (README.md, "Limits"): a client that has not sent its whole request head in
//! time, or dawdles over a body, or opens with HTTP/2's cleartext preface, is dropped;
//! honest clients, slow ones included, are served; heads have a sane size limit. The server
//! runs with short deadlines (the defaults are 10 s, 30 s and 60 s) so this takes seconds.

use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{Backend, TestApp, TestDb, SIM_AUTH};

const HEAD: Duration = Duration::from_millis(400);
const BODY: Duration = Duration::from_millis(700);
const IDLE: Duration = Duration::from_millis(1500);
/// How late a deadline may be noticed on a busy machine; less than `IDLE - HEAD`, so a
/// connection left to the idle limit is not taken for one dropped at the head deadline.
const LATE: Duration = Duration::from_millis(800);

/// Reads until the server closes; what it sent, and when it closed.
async fn read_to_close(
    stream: &mut (impl AsyncRead + Unpin),
    started: Instant,
) -> (String, Duration) {
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await;
    (
        String::from_utf8_lossy(&response).into_owned(),
        started.elapsed(),
    )
}

/// Closed with nothing said, at `deadline` after `started` (not before, and not much later).
fn dropped_at(what: &str, (response, after): (String, Duration), deadline: Duration) {
    assert!(response.is_empty(), "{what}: no answer, got {response:?}");
    assert!(
        after >= deadline && after < deadline + LATE,
        "{what}: dropped after {deadline:?}, not {after:?}"
    );
}

/// Writes `bytes` one at a time every 100 ms, until done or the server is gone.
async fn drip(mut writer: impl AsyncWrite + Unpin, bytes: &[u8]) {
    for byte in bytes {
        if writer.write_all(&[*byte]).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn half_sent_head(app: &TestApp) {
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    let started = Instant::now();
    stream
        .write_all(b"GET /public HTTP/1.1\r\nHost: x\r\nUser-Agent: slowloris\r\n")
        .await
        .expect("write");
    let closed = read_to_close(&mut stream, started).await;
    // The deadline started at accept, a moment before `started`.
    dropped_at("half a head", closed, HEAD - Duration::from_millis(50));
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
        tokio::time::sleep(HEAD / 8).await;
    }
    let (response, _) = read_to_close(&mut stream, Instant::now()).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

async fn kept_alive_past_the_head_timeout_until_idle(app: &TestApp) {
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.expect("first answer");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // Idle longer than the head timeout, shorter than the idle timeout: still open.
    tokio::time::sleep(HEAD * 2).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("second request on the kept-alive connection");
    let n = stream.read(&mut buf).await.expect("second answer");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &buf[..n]);
    // Then silent past the idle timeout: closed.
    let (rest, after) = read_to_close(&mut stream, Instant::now()).await;
    assert!(rest.is_empty(), "{rest:?}");
    assert!(
        after >= IDLE - Duration::from_millis(50) && after < IDLE + LATE,
        "closed after {IDLE:?} idle, not {after:?}"
    );
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
    assert!(after < HEAD + LATE, "{after:?}");
}

/// The head of a simulator registration of `name`, with `framing` saying how the body ends.
fn register_head(framing: &str) -> String {
    format!(
        "POST /api/register HTTP/1.1\r\nHost: x\r\nAuthorization: {SIM_AUTH}\r\n\
         Content-Type: application/json\r\nConnection: close\r\n{framing}\r\n\r\n"
    )
}

fn register_body(name: &str) -> String {
    format!(r#"{{"username":"{name}","email":"{name}@example.com","pwd":"secret"}}"#)
}

/// `body` as chunks of at most 8 bytes.
fn chunked(body: &str) -> String {
    let mut out = String::new();
    for chunk in body.as_bytes().chunks(8) {
        out += &format!(
            "{:x}\r\n{}\r\n",
            chunk.len(),
            String::from_utf8_lossy(chunk)
        );
    }
    out + "0\r\n\r\n"
}

async fn dripped_bodies(app: &TestApp) {
    let body = register_body("dripper");
    for (framing, body) in [
        (format!("Content-Length: {}", body.len()), body.clone()),
        ("Transfer-Encoding: chunked".to_owned(), chunked(&body)),
    ] {
        let stream = TcpStream::connect(app.addr).await.expect("connect");
        let (mut reader, mut writer) = stream.into_split();
        writer
            .write_all(register_head(&framing).as_bytes())
            .await
            .expect("head");
        let started = Instant::now();
        let dripper = tokio::spawn(async move { drip(writer, body.as_bytes()).await });
        let closed = read_to_close(&mut reader, started).await;
        dropped_at(&format!("a dripped body ({framing})"), closed, BODY);
        dripper.abort();
    }
}

async fn bodies_in_time(app: &TestApp) {
    for (i, chunks) in [false, true].into_iter().enumerate() {
        for pieces in [1, 3] {
            let name = format!("uploader{i}{pieces}");
            let body = register_body(&name);
            let (framing, body) = if chunks {
                ("Transfer-Encoding: chunked".to_owned(), chunked(&body))
            } else {
                (format!("Content-Length: {}", body.len()), body)
            };
            let mut stream = TcpStream::connect(app.addr).await.expect("connect");
            stream
                .write_all(register_head(&framing).as_bytes())
                .await
                .expect("head");
            // Slowly too: pieces over half the body deadline.
            for piece in body.as_bytes().chunks(body.len().div_ceil(pieces)) {
                tokio::time::sleep(BODY / 2 / pieces as u32).await;
                stream.write_all(piece).await.expect("body");
            }
            let (response, _) = read_to_close(&mut stream, Instant::now()).await;
            assert!(
                response.starts_with("HTTP/1.1 204"),
                "{framing} in {pieces}: {response:?}"
            );
        }
    }
}

/// HTTP/2's cleartext ("prior knowledge") preface; an empty SETTINGS frame follows it.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const H2_SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];

async fn http2_preface_then_nothing(app: &TestApp) {
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    let started = Instant::now();
    stream.write_all(H2_PREFACE).await.expect("preface");
    let (response, after) = read_to_close(&mut stream, started).await;
    assert!(response.is_empty(), "no HTTP/2 spoken: {response:?}");
    assert!(
        after < HEAD + LATE,
        "dropped by the head deadline: {after:?}"
    );
}

async fn http2_preface_dripped(app: &TestApp) {
    let stream = TcpStream::connect(app.addr).await.expect("connect");
    let started = Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    // The request line at once, as a client's first write; the rest a byte at a time.
    let (line, rest) = H2_PREFACE.split_at(16);
    writer.write_all(line).await.expect("preface");
    let dripper = tokio::spawn(async move {
        drip(writer, &[rest, H2_SETTINGS].concat()).await;
    });
    let (response, after) = read_to_close(&mut reader, started).await;
    assert!(response.is_empty(), "no HTTP/2 spoken: {response:?}");
    assert!(
        after < HEAD + LATE,
        "dropped by the head deadline: {after:?}"
    );
    dripper.abort();
}

/// A server with the short deadlines, on a fresh SQLite database (kept with it).
async fn start() -> (TestDb, TestApp) {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start_with(&db.url, |s| {
        s.head_timeout = HEAD;
        s.body_timeout = BODY;
        s.idle_timeout = IDLE;
    })
    .await;
    (db, app)
}

/// One test per case, each on its own server, so a failure names its case.
macro_rules! cases {
    ($($case:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            let (_db, app) = start().await;
            super::$case(&app).await;
            // And the server is as good as new.
            let res = app.http.get(app.url("/healthz")).send().await.expect("alive");
            assert_eq!(res.status(), 200);
        }
    )*};
}

mod case {
    use super::start;

    cases!(
        half_sent_head,
        slow_but_whole_head,
        kept_alive_past_the_head_timeout_until_idle,
        header_sizes,
        dripped_bodies,
        bodies_in_time,
        http2_preface_then_nothing,
        http2_preface_dripped,
    );
}
