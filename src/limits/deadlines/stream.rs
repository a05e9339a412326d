//! The accepted stream that keeps a connection's deadlines: it errs with `TimedOut` once
//! one passes, which makes hyper drop the connection.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::body::BodyScan;
use super::head::HeadScan;
use super::Deadlines;

/// Where the connection is, as far as the deadlines care.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Reading a request head that began at `since`.
    Head { since: Instant, scan: HeadScan },
    /// Reading the body of a head that ended at `since`.
    Body { since: Instant, scan: BodyScan },
    /// The request is in; the server is working on the answer.
    Request,
    /// Answered, waiting for the next request on a kept-alive connection.
    Idle,
    /// A websocket: no more heads, only the idle limit.
    Upgraded,
}

impl Phase {
    fn head(now: Instant) -> Phase {
        Phase::Head {
            since: now,
            scan: HeadScan::default(),
        }
    }
}

/// A stream that errors with `TimedOut` once a deadline passes, which makes hyper drop the
/// connection.
pub struct Deadlined<T> {
    inner: T,
    deadlines: Deadlines,
    phase: Phase,
    last_activity: Instant,
    timer: Pin<Box<Sleep>>,
    /// Which deadline passed. Writes fail from then on too: hyper would otherwise answer a
    /// request whose body read failed (with a 400 that blames the request), and a client
    /// too slow to send is not owed an answer, just as one too slow with its head is not.
    expired: Option<&'static str>,
}

impl<T> Deadlined<T> {
    pub fn new(inner: T, deadlines: Deadlines) -> Deadlined<T> {
        let now = Instant::now();
        Deadlined {
            inner,
            deadlines,
            // The first head is due `head` after the connection opened, bytes or not.
            phase: Phase::head(now),
            last_activity: now,
            timer: Box::pin(tokio::time::sleep_until(now + deadlines.head)),
            expired: None,
        }
    }

    fn deadline(&self) -> Instant {
        let idle = self.last_activity + self.deadlines.idle;
        match self.phase {
            Phase::Head { since, .. } => idle.min(since + self.deadlines.head),
            Phase::Body { since, .. } => idle.min(since + self.deadlines.body),
            _ => idle,
        }
    }

    fn on_read(&mut self, bytes: &[u8]) -> io::Result<()> {
        let now = Instant::now();
        self.last_activity = now;
        if self.phase == Phase::Idle {
            self.phase = Phase::head(now);
        }
        let mut bytes = bytes;
        if let Phase::Head { scan, .. } = &mut self.phase {
            let Some((used, framing)) = scan.feed(bytes)? else {
                return Ok(());
            };
            // The body is due `body` after its head, however long the head took.
            self.phase = match BodyScan::new(framing) {
                Some(scan) => Phase::Body { since: now, scan },
                None => Phase::Request,
            };
            bytes = &bytes[used..];
        }
        if let Phase::Body { scan, .. } = &mut self.phase {
            if scan.feed(bytes) {
                self.phase = Phase::Request;
            }
        }
        Ok(())
    }

    fn on_write(&mut self, first_bytes: &[u8]) {
        self.last_activity = Instant::now();
        self.phase = match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Upgraded => Phase::Upgraded,
            _ if first_bytes.starts_with(b"HTTP/1.1 101") => Phase::Upgraded,
            // `100 Continue` asks for the body: the request goes on, its deadline too.
            body @ Phase::Body { .. } if first_bytes.starts_with(b"HTTP/1.1 100") => body,
            // Answering before the head is complete (hyper's 400 for garbage): the
            // connection ends anyway; keep the head deadline until it does.
            head @ Phase::Head { .. } => head,
            // Answered (before the body was all in, too: hyper then closes the connection,
            // or reads what follows as the next head, under the head deadline).
            Phase::Body { .. } | Phase::Request | Phase::Idle => Phase::Idle,
        };
    }

    /// Pending unless the deadline passed; arms the timer so the task wakes at it.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let deadline = self.deadline();
        if self.timer.deadline() != deadline {
            self.timer.as_mut().reset(deadline);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                let why = match self.phase {
                    Phase::Head { .. } => "request head not received in time",
                    Phase::Body { .. } => "request body not received in time",
                    _ => "connection idle",
                };
                self.expired = Some(why);
                Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, why))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// The error every read and write gets once a deadline has passed.
    fn expired_error(&self) -> Option<io::Error> {
        self.expired
            .map(|why| io::Error::new(io::ErrorKind::TimedOut, why))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Deadlined<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = this.expired_error() {
            return Poll::Ready(Err(e));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = &buf.filled()[before..];
                if !read.is_empty() {
                    this.on_read(read)?;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.poll_deadline(cx).map(Err),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Deadlined<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(e) = this.expired_error() {
            return Poll::Ready(Err(e));
        }
        let written = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written {
            if n > 0 {
                this.on_write(buf);
            }
        }
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(e) = this.expired_error() {
            return Poll::Ready(Err(e));
        }
        let written = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = written {
            if n > 0 {
                let first = bufs
                    .iter()
                    .find(|b| !b.is_empty())
                    .map_or(&[][..], |b| &b[..]);
                this.on_write(first);
            }
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
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
}
