//! Slow clients are dropped (SPEC §6): a connection that has not sent a whole request head
//! within 10 s, or that stays silent for 60 s, is closed. poem 3.1 does not expose hyper's
//! `header_read_timeout` (and hyper's starts on an idle keep-alive connection too, so it
//! would close those after 10 s, not 60 s), so the accepted stream itself keeps the time.
//!
//! The stream watches bytes, not HTTP: a request head ends at the first `\r\n\r\n`, the
//! server's first write after it ends the request, and a `101 Switching Protocols` (a
//! websocket) leaves only the idle limit. Heads over [`MAX_HEAD_BYTES`] are dropped too.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// A client must send its whole request head within this (SPEC §6).
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection with no traffic either way for this long is closed (SPEC §6).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest request head accepted: nginx's default buffers hold 4 × 8 KiB.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// How long a connection may take over a head, and stay silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    pub head: Duration,
    pub idle: Duration,
}

impl Default for Deadlines {
    /// SPEC §6: [`HEAD_TIMEOUT`] and [`IDLE_TIMEOUT`].
    fn default() -> Self {
        Deadlines {
            head: HEAD_TIMEOUT,
            idle: IDLE_TIMEOUT,
        }
    }
}

/// Wraps an acceptor so that every connection it gives keeps the deadlines.
pub struct DeadlineAcceptor<A> {
    inner: A,
    deadlines: Deadlines,
}

impl<A> DeadlineAcceptor<A> {
    pub fn new(inner: A, deadlines: Deadlines) -> DeadlineAcceptor<A> {
        DeadlineAcceptor { inner, deadlines }
    }
}

impl<A: Acceptor> Acceptor for DeadlineAcceptor<A> {
    type Io = Deadlined<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    fn accept(
        &mut self,
    ) -> impl Future<Output = io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)>> + Send {
        let deadlines = self.deadlines;
        let accepted = self.inner.accept();
        async move {
            let (io, local, remote, scheme) = accepted.await?;
            Ok((Deadlined::new(io, deadlines), local, remote, scheme))
        }
    }
}

/// Where the connection is, as far as the deadlines care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading a request head that began at `since`; `seen` bytes so far, and the last
    /// bytes read (to find a `\r\n\r\n` split across reads).
    Head {
        since: Instant,
        seen: usize,
        tail: [u8; 3],
    },
    /// The head is in; the server is reading the body or working on the answer.
    Request,
    /// Answered, waiting for the next request on a kept-alive connection.
    Idle,
    /// A websocket (or HTTP/2): no more heads, only the idle limit.
    Upgraded,
}

/// A stream that errors with `TimedOut` once a deadline passes, which makes hyper drop the
/// connection.
pub struct Deadlined<T> {
    inner: T,
    deadlines: Deadlines,
    phase: Phase,
    last_activity: Instant,
    timer: Pin<Box<Sleep>>,
}

impl<T> Deadlined<T> {
    pub fn new(inner: T, deadlines: Deadlines) -> Deadlined<T> {
        let now = Instant::now();
        Deadlined {
            inner,
            deadlines,
            // The first head is due 10 s after the connection opened, bytes or not.
            phase: Phase::Head {
                since: now,
                seen: 0,
                tail: [0; 3],
            },
            last_activity: now,
            timer: Box::pin(tokio::time::sleep_until(now + deadlines.head)),
        }
    }

    fn deadline(&self) -> Instant {
        let idle = self.last_activity + self.deadlines.idle;
        match self.phase {
            Phase::Head { since, .. } => idle.min(since + self.deadlines.head),
            _ => idle,
        }
    }

    fn on_read(&mut self, bytes: &[u8]) -> io::Result<()> {
        let now = Instant::now();
        self.last_activity = now;
        if self.phase == Phase::Idle {
            self.phase = Phase::Head {
                since: now,
                seen: 0,
                tail: [0; 3],
            };
        }
        let Phase::Head { since, seen, tail } = self.phase else {
            return Ok(());
        };
        if seen == 0 && bytes.starts_with(b"PRI * HTTP/2") {
            self.phase = Phase::Upgraded;
            return Ok(());
        }
        // The end may straddle reads: look at the last bytes before this read, then this read.
        let mut joint = [0u8; 6];
        joint[..3].copy_from_slice(&tail);
        let head = bytes.len().min(3);
        joint[3..3 + head].copy_from_slice(&bytes[..head]);
        let ends = |w: &[u8]| w == b"\r\n\r\n";
        if joint[..3 + head].windows(4).any(ends) || bytes.windows(4).any(ends) {
            self.phase = Phase::Request;
            return Ok(());
        }
        let seen = seen + bytes.len();
        if seen > MAX_HEAD_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too large",
            ));
        }
        let tail = match bytes.len() {
            0 => tail,
            1 => [tail[1], tail[2], bytes[0]],
            2 => [tail[2], bytes[0], bytes[1]],
            n => [bytes[n - 3], bytes[n - 2], bytes[n - 1]],
        };
        self.phase = Phase::Head { since, seen, tail };
        Ok(())
    }

    fn on_write(&mut self, first_bytes: &[u8]) {
        self.last_activity = Instant::now();
        self.phase = match self.phase {
            Phase::Upgraded => Phase::Upgraded,
            _ if first_bytes.starts_with(b"HTTP/1.1 101") => Phase::Upgraded,
            // `100 Continue` asks for the body: the request goes on.
            _ if first_bytes.starts_with(b"HTTP/1.1 100") => Phase::Request,
            Phase::Request | Phase::Idle => Phase::Idle,
            // Answering before the head is complete (hyper's 400 for garbage): the
            // connection ends anyway; keep the head deadline until it does.
            head @ Phase::Head { .. } => head,
        };
    }

    /// Pending unless the deadline passed; arms the timer so the task wakes at it.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let deadline = self.deadline();
        if self.timer.deadline() != deadline {
            self.timer.as_mut().reset(deadline);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                match self.phase {
                    Phase::Head { .. } => "request head not received in time",
                    _ => "connection idle",
                },
            )),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Deadlined<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    /// The SPEC's 10 s and 60 s, scaled down 50 times so the tests take real time briefly.
    const SCALED: Deadlines = Deadlines {
        head: Duration::from_millis(200),
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

    #[tokio::test]
    async fn a_head_end_split_across_reads_is_found() {
        let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        // Every way of cutting the head in three reads finds its end at the last byte.
        for a in 0..head.len() {
            for b in a..head.len() {
                let (_client, mut server) = pair();
                for part in [&head[..a], &head[a..b], &head[b..head.len() - 1]] {
                    server.on_read(part).expect("fits");
                    assert!(matches!(server.phase, Phase::Head { .. }), "{a} {b}");
                }
                server.on_read(&head[head.len() - 1..]).expect("fits");
                assert_eq!(server.phase, Phase::Request, "{a} {b}");
            }
        }
    }
}
