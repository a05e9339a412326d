//! Slow clients are dropped (README.md, "Limits"): a connection that has not sent a whole
//! request head within 10 s of opening (or of its previous answer), nor the body within 30 s
//! of the head, or that stays silent for 60 s, is closed. poem 3.1 does not expose hyper's
//! `header_read_timeout` (and hyper's starts on an idle keep-alive connection too, so it
//! would close those after 10 s, not 60 s), nor has any body deadline, so the accepted
//! stream itself keeps the time.
//!
//! The stream watches bytes, following just enough HTTP/1.1 to know where a head
//! ([`head`]) and its body ([`body`]) end; the server's first write after them ends the
//! request, and a `101 Switching Protocols` (a websocket) leaves only the idle limit.
//! Cleartext HTTP/2 is refused: hyper would serve it on this port, past every deadline.

mod body;
mod head;
mod stream;

use std::future::Future;
use std::io;
use std::time::Duration;

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};

pub use head::MAX_HEAD_BYTES;
pub use stream::Deadlined;

/// A client must send its whole request head within this, by default.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// A request body must be in within this of its head, by default.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection with no traffic either way for this long is closed, by default.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a connection may take over a head and a body, and stay silent
/// (`--head-timeout-secs`, `--body-timeout-secs`, `--idle-timeout-secs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    pub head: Duration,
    pub body: Duration,
    pub idle: Duration,
}

impl Default for Deadlines {
    /// [`HEAD_TIMEOUT`], [`BODY_TIMEOUT`] and [`IDLE_TIMEOUT`].
    fn default() -> Self {
        Deadlines {
            head: HEAD_TIMEOUT,
            body: BODY_TIMEOUT,
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
