//! Faults the way networks make them: a TCP proxy a test puts between an instance and
//! PostgreSQL or Redis. It passes bytes through, or delays every chunk by a random time
//! (order kept within a connection), or stalls (holds bytes, TCP stays up), or cuts every
//! connection and refuses new ones, until told otherwise. It also counts the chunks the
//! upstream sent back: each is one answer to a round trip the instance made.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does to the bytes right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Bytes pass at once.
    None,
    /// Each chunk waits a random time up to `max`, from a generator seeded with `seed`.
    Jitter { max: Duration, seed: u64 },
    /// Bytes are held; connections stay open.
    Stall,
    /// Every connection is closed and new ones are closed at once.
    Cut,
}

/// A proxy to one upstream; stops when dropped.
pub struct FaultProxy {
    pub addr: SocketAddr,
    fault: watch::Sender<Fault>,
    accept: JoinHandle<()>,
    /// Chunks read from the upstream and passed on, over every connection.
    answers: Arc<AtomicU64>,
}

impl FaultProxy {
    /// Starts a proxy on a random port of 127.0.0.1 in front of `upstream`.
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (fault, watching) = watch::channel(Fault::None);
        let connections = Arc::new(AtomicU64::new(0));
        let answers = Arc::new(AtomicU64::new(0));
        let counted = answers.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let fault = watching.clone();
                if *fault.borrow() == Fault::Cut {
                    drop(client);
                    continue;
                }
                let n = connections.fetch_add(1, Ordering::Relaxed);
                let counted = counted.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    // Both directions end together: a cut closes the whole connection.
                    tokio::select! {
                        _ = pump(client_read, server_write, fault.clone(), n * 2, None) => {}
                        _ = pump(server_read, client_write, fault, n * 2 + 1, Some(counted)) => {}
                    }
                });
            }
        });
        FaultProxy {
            addr,
            fault,
            accept,
            answers,
        }
    }

    /// Starts a proxy in front of the host and port of `url` and returns it with `url`
    /// pointed at the proxy instead.
    pub async fn in_front_of(url: &str) -> (FaultProxy, String) {
        let mut parsed = url::Url::parse(url).expect("a URL");
        let host = parsed.host_str().expect("a host").to_owned();
        let port = parsed.port_or_known_default().expect("a port");
        let upstream = tokio::net::lookup_host((host.as_str(), port))
            .await
            .expect("resolve")
            .find(SocketAddr::is_ipv4)
            .expect("an IPv4 address");
        let proxy = FaultProxy::start(upstream).await;
        parsed.set_host(Some("127.0.0.1")).expect("host");
        parsed.set_port(Some(proxy.addr.port())).expect("port");
        (proxy, parsed.to_string())
    }

    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }

    /// How many chunks the upstream has sent back so far. A request-answer protocol
    /// answers each round trip in one chunk on loopback (a large answer may take more).
    pub fn answers(&self) -> u64 {
        self.answers.load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        // Ends every connection's pumps too.
        self.fault.send_replace(Fault::Cut);
    }
}

/// Copies `from` to `to` chunk by chunk, applying the current fault to each chunk, and
/// counts the chunks in `chunks` if given.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut fault: watch::Receiver<Fault>,
    stream: u64,
    chunks: Option<Arc<AtomicU64>>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut rng: Option<(u64, rand::rngs::StdRng)> = None;
    loop {
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            _ = wait_for(&mut fault, |f| f == Fault::Cut) => return,
        };
        loop {
            let current = *fault.borrow_and_update();
            match current {
                Fault::None => break,
                Fault::Cut => return,
                Fault::Stall => {
                    wait_for(&mut fault, |f| f != Fault::Stall).await;
                }
                Fault::Jitter { max, seed } => {
                    let rng = match &mut rng {
                        Some((s, rng)) if *s == seed => rng,
                        slot => {
                            let rng = rand::rngs::StdRng::seed_from_u64(seed ^ stream);
                            &mut slot.insert((seed, rng)).1
                        }
                    };
                    let delay = rng.gen_range(Duration::ZERO..=max);
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => break,
                        _ = wait_for(&mut fault, |f| f == Fault::Cut) => return,
                    }
                }
            }
        }
        if let Some(chunks) = &chunks {
            chunks.fetch_add(1, Ordering::Relaxed);
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Completes when the fault satisfies `done` (at once if it does already).
async fn wait_for(fault: &mut watch::Receiver<Fault>, done: impl Fn(Fault) -> bool) {
    if fault.wait_for(|f| done(*f)).await.is_err() {
        // The proxy is gone: nothing will change any more.
        std::future::pending::<()>().await;
    }
}
