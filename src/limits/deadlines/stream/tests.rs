//! The stream's deadlines against a client on the other end of an in-memory pipe.

use super::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use crate::limits::deadlines::MAX_HEAD_BYTES;

/// The default 10 s, 30 s and 60 s, scaled down 50 times so the tests take real time
/// briefly.
const SCALED: Deadlines = Deadlines {
    head: Duration::from_millis(200),
    body: Duration::from_millis(600),
    idle: Duration::from_millis(1200),
};

fn pair() -> (DuplexStream, Deadlined<DuplexStream>) {
    let (client, server) = tokio::io::duplex(1 << 16);
    (client, Deadlined::new(server, SCALED))
}

/// Reads until the stream errors; returns the error kind and when it came.
async fn read_until_error(server: &mut Deadlined<DuplexStream>) -> (io::ErrorKind, Duration) {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match server.read(&mut buf).await {
            Ok(0) => panic!("unexpected end of stream"),
            Ok(_) => {}
            Err(e) => return (e.kind(), started.elapsed()),
        }
    }
}

/// Not before `expected`, and late by less than the gap between the two deadlines (a
/// busy test machine may wake timers late, but never early).
fn about(actual: Duration, expected: Duration) -> bool {
    actual >= expected && actual < expected + Duration::from_millis(700)
}

#[tokio::test]
async fn a_silent_or_half_sent_head_is_dropped_in_time() {
    let (_client, mut server) = pair();
    let (kind, after) = read_until_error(&mut server).await;
    assert_eq!(kind, io::ErrorKind::TimedOut);
    assert!(about(after, SCALED.head), "{after:?}");

    let (mut client, mut server) = pair();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let trickle = tokio::spawn(async move {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if client.write_all(b"X-A: b\r\n").await.is_err() {
                break;
            }
        }
    });
    let (kind, after) = read_until_error(&mut server).await;
    assert_eq!(kind, io::ErrorKind::TimedOut);
    assert!(
        about(after, SCALED.head),
        "trickling bytes does not extend it: {after:?}"
    );
    trickle.abort();
}

#[tokio::test]
async fn a_kept_alive_connection_may_idle_then_is_closed() {
    let (mut client, mut server) = pair();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 64];
    assert!(server.read(&mut buf).await.expect("head") > 0);
    server
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        .await
        .expect("answer");
    // Quiet for three head timeouts is fine; the next request starts its own.
    let reader = tokio::spawn(async move {
        let mut buf = [0u8; 64];
        let n = server.read(&mut buf).await.expect("second head");
        (server, n)
    });
    tokio::time::sleep(SCALED.head * 3).await;
    client
        .write_all(b"GET /again HTTP/1.1\r\n\r\n")
        .await
        .expect("write");
    let (mut server, n) = reader.await.expect("joins");
    assert!(n > 0);
    server
        .write_all(b"HTTP/1.1 200 OK\r\n\r\n")
        .await
        .expect("answer");
    let (kind, after) = read_until_error(&mut server).await;
    assert_eq!(kind, io::ErrorKind::TimedOut);
    assert!(about(after, SCALED.idle), "{after:?}");
}

#[tokio::test]
async fn a_websocket_only_has_the_idle_limit() {
    let (mut client, mut server) = pair();
    client
        .write_all(b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 64];
    assert!(server.read(&mut buf).await.expect("head") > 0);
    server
        .write_all(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
        .await
        .expect("101");
    // Frames without any `\r\n\r\n`, for many head timeouts: never a head timeout.
    for _ in 0..6 {
        tokio::time::sleep(SCALED.head * 2).await;
        client.write_all(&[0x89, 0x00]).await.expect("ping");
        assert_eq!(server.read(&mut buf).await.expect("frame"), 2);
    }
    let (kind, after) = read_until_error(&mut server).await;
    assert_eq!(kind, io::ErrorKind::TimedOut);
    assert!(about(after, SCALED.idle), "{after:?}");
}

#[tokio::test]
async fn an_oversized_head_is_refused() {
    let (mut client, mut server) = pair();
    let big = format!(
        "GET / HTTP/1.1\r\nX-Big: {}\r\n",
        "a".repeat(MAX_HEAD_BYTES)
    );
    let writer = tokio::spawn(async move {
        let _ = client.write_all(big.as_bytes()).await;
        client
    });
    let (kind, _) = read_until_error(&mut server).await;
    assert_eq!(kind, io::ErrorKind::InvalidData);
    drop(writer);
}

/// Writes `bytes` a few at a time, every 20 ms, until done or the server is gone; gives
/// the client back, still open.
async fn drip(mut client: DuplexStream, bytes: Vec<u8>) -> DuplexStream {
    for part in bytes.chunks(5) {
        if client.write_all(part).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    client
}

#[tokio::test]
async fn a_dripped_body_is_dropped_at_the_body_deadline() {
    let length = [
        b"POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n".to_vec(),
        vec![b'a'; 1000],
    ];
    let chunked = [
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
        b"1\r\na\r\n".repeat(200),
    ];
    for [head, body] in [length, chunked] {
        let (mut client, mut server) = pair();
        client.write_all(&head).await.expect("head");
        let dripper = tokio::spawn(drip(client, body));
        let (kind, after) = read_until_error(&mut server).await;
        assert_eq!(kind, io::ErrorKind::TimedOut);
        assert!(about(after, SCALED.body), "{after:?}");
        // No answer gets out either (hyper would write a 400 for the failed body).
        let answer = server.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        assert_eq!(answer.expect_err("refused").kind(), io::ErrorKind::TimedOut);
        dripper.abort();
    }
}

#[tokio::test]
async fn a_body_in_time_may_wait_for_its_answer() {
    let (mut client, mut server) = pair();
    let head = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    let body = b"5\r\nhello\r\n0\r\n\r\n";
    client.write_all(head).await.expect("head");
    let client = tokio::spawn(drip(client, body.to_vec()));
    let mut buf = [0u8; 1024];
    let mut got = 0;
    while got < head.len() + body.len() {
        got += server.read(&mut buf).await.expect("request");
    }
    // The server thinks for longer than the body deadline: no deadline but idle.
    let waited = tokio::time::timeout(SCALED.body + SCALED.head, server.read(&mut buf)).await;
    assert!(waited.is_err(), "still open: {waited:?}");
    server
        .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
        .await
        .expect("answer");
    drop(client);
}

#[tokio::test]
async fn the_body_deadline_counts_from_the_head_through_100_continue() {
    let (mut client, mut server) = pair();
    client
        .write_all(b"POST / HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        .await
        .expect("head");
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    assert!(server.read(&mut buf).await.expect("head") > 0);
    server
        .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
        .await
        .expect("100");
    let (kind, _) = read_until_error(&mut server).await;
    assert_eq!(kind, io::ErrorKind::TimedOut);
    assert!(
        about(started.elapsed(), SCALED.body),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_http2_preface_is_refused() {
    let (mut client, mut server) = pair();
    client
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .expect("preface");
    let (kind, after) = read_until_error(&mut server).await;
    assert_eq!(kind, io::ErrorKind::InvalidData);
    assert!(after < SCALED.head, "{after:?}");
}
