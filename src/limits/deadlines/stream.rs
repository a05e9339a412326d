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
mod tests;
