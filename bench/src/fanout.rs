//! The fan-out benchmark: starts one or two `minitwit` servers (two share a SQLite file
//! and Redis), holds N websockets on `public` spread over them, posts at a fixed rate
//! through the API of the last server, and measures on every socket the delay from just
//! before the POST to the frame's arrival (so it includes the HTTP request and commit).
//!
//! Client sockets bind source addresses 127.0.0.1, 127.0.0.2, … (25,000 each), since one
//! source address has only ~28k ephemeral ports.
//!
//! With `--floor` the same client first measures [`crate::floor`], a bare poem broadcast
//! server, so every figure has its floor beside it; for both it reports server CPU time
//! per delivery (from `/proc/<pid>/stat` over the posting window).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpSocket;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;

use crate::child::{cpu_secs, start_floor, wait_ready, Server};

const SIM_AUTH: &str = "Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh";
/// Sockets per source address (below the ~28k ephemeral ports of one address).
const PER_SOURCE: usize = 25_000;
/// Connections being opened at once.
const CONNECT_CONCURRENCY: usize = 256;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The `minitwit` binary to start (build it with --release).
    #[arg(long, default_value = "target/release/minitwit")]
    server: PathBuf,
    /// Servers to start; with 2, they share a SQLite file and Redis (needs --redis-url).
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// Redis for the instances (required for --instances 2; optional for 1).
    #[arg(long)]
    redis_url: Option<String>,
    /// Websockets to hold open, split evenly over the instances.
    #[arg(long, default_value_t = 10_000)]
    sockets: usize,
    /// Posts per second during the measurement.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Seconds of posting.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// First port for the servers (instance i listens on port + i).
    #[arg(long, default_value_t = 18080)]
    port: u16,
    /// Measure the bare poem broadcast server first (one instance), as the floor.
    #[arg(long)]
    floor: bool,
}

/// What is measured: MiniTwit, or the floor server built into this binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Minitwit,
    Floor,
}

/// Latency histogram in 50 µs buckets up to 5 s (plus overflow), shared lock-free by
/// every socket task.
struct Histogram {
    buckets: Vec<AtomicU64>,
}

const BUCKET_US: u64 = 50;
const BUCKETS: usize = 100_000;

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            buckets: (0..=BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn record(&self, micros: u64) {
        let i = ((micros / BUCKET_US) as usize).min(BUCKETS);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// Upper edge of the bucket holding quantile `q`, in milliseconds.
    fn quantile_ms(&self, q: f64) -> f64 {
        let total = self.count();
        if total == 0 {
            return f64::NAN;
        }
        let target = ((total as f64) * q).ceil() as u64;
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Ordering::Relaxed);
            if seen >= target {
                return ((i as u64 + 1) * BUCKET_US) as f64 / 1000.0;
            }
        }
        f64::INFINITY
    }
}

/// What every socket task shares.
struct Shared {
    /// Latency per instance the socket is connected to.
    latency: Vec<Histogram>,
    frames: AtomicU64,
    subscribed: AtomicU64,
    closed: AtomicU64,
}

/// One run's figures, for the comparison with the floor.
struct Report {
    kind: Kind,
    deliveries_per_sec: f64,
    /// p99 on the posting instance, ms.
    p99_ms: f64,
    rss_per_socket_kb: f64,
    cpu_us_per_delivery: f64,
}

pub async fn run(args: Args) -> Result<(), String> {
    if args.instances == 0 || args.instances > 2 {
        return Err("--instances must be 1 or 2".into());
    }
    if args.instances == 2 && args.redis_url.is_none() {
        return Err("--instances 2 needs --redis-url".into());
    }
    let mut reports = Vec::new();
    if args.floor {
        reports.push(measure(&args, Kind::Floor).await?);
    }
    reports.push(measure(&args, Kind::Minitwit).await?);
    if let [floor, minitwit] = reports.as_slice() {
        println!(
            "## minitwit against the floor ({:?} vs {:?})",
            minitwit.kind, floor.kind
        );
        let ratio = |ours: f64, floor: f64| ours / floor;
        println!(
            "deliveries/s {:.0} vs {:.0} ({:.2}x); p99 {:.2} ms vs {:.2} ms ({:.2}x); RSS per idle socket {:.1} KB vs {:.1} KB ({:.2}x); server CPU per delivery {:.2} µs vs {:.2} µs ({:.2}x)",
            minitwit.deliveries_per_sec,
            floor.deliveries_per_sec,
            ratio(minitwit.deliveries_per_sec, floor.deliveries_per_sec),
            minitwit.p99_ms,
            floor.p99_ms,
            ratio(minitwit.p99_ms, floor.p99_ms),
            minitwit.rss_per_socket_kb,
            floor.rss_per_socket_kb,
            ratio(minitwit.rss_per_socket_kb, floor.rss_per_socket_kb),
            minitwit.cpu_us_per_delivery,
            floor.cpu_us_per_delivery,
            ratio(minitwit.cpu_us_per_delivery, floor.cpu_us_per_delivery),
        );
    }
    Ok(())
}

async fn measure(args: &Args, kind: Kind) -> Result<Report, String> {
    // The floor has no Redis: it is one instance.
    let instances = match kind {
        Kind::Minitwit => args.instances,
        Kind::Floor => 1,
    };
    let dir = tempfile_dir()?;
    let db = format!("sqlite://{}/bench.db?mode=rwc", dir.display());
    let channel = format!("minitwit:bench:{}", std::process::id());
    let mut servers = Vec::new();
    for i in 0..instances {
        let addr = SocketAddr::from(([127, 0, 0, 1], args.port + i as u16));
        servers.push(match kind {
            Kind::Minitwit => start_server(args, addr, &db, &channel).await?,
            Kind::Floor => start_floor(addr).await?,
        });
    }
    let http = reqwest::Client::new();
    let poster = servers.last().map(|s| s.addr).ok_or("no server")?;
    let res = http
        .post(format!("http://{poster}/api/register"))
        .json(
            &serde_json::json!({"username": "bench", "email": "bench@example.com", "pwd": "bench"}),
        )
        .send()
        .await
        .map_err(|e| format!("register: {e}"))?;
    if !res.status().is_success() {
        return Err(format!("register answered {}", res.status()));
    }

    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before: Vec<u64> = servers.iter().map(|s| rss_kib(&s.child)).collect();
    let shared = Arc::new(Shared {
        latency: (0..instances).map(|_| Histogram::new()).collect(),
        frames: AtomicU64::new(0),
        subscribed: AtomicU64::new(0),
        closed: AtomicU64::new(0),
    });

    let opening = Instant::now();
    let targets: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
    let mut tasks = Vec::with_capacity(args.sockets);
    let (ready_tx, mut ready_rx) =
        tokio::sync::mpsc::channel::<Result<(), String>>(CONNECT_CONCURRENCY);
    let permits = Arc::new(tokio::sync::Semaphore::new(CONNECT_CONCURRENCY));
    for n in 0..args.sockets {
        let instance = n % targets.len();
        let target = targets[instance];
        let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (n / PER_SOURCE) as u8));
        let shared = shared.clone();
        let ready = ready_tx.clone();
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        tasks.push(tokio::spawn(async move {
            let ws = connect(source, target).await;
            drop(permit);
            match ws {
                Ok(ws) => {
                    let _ = ready.send(Ok(())).await;
                    read_frames(ws, instance, &shared).await;
                }
                Err(e) => {
                    let _ = ready.send(Err(e)).await;
                }
            }
        }));
    }
    drop(ready_tx);
    let mut connected = 0;
    while connected < args.sockets {
        match ready_rx.recv().await {
            Some(Ok(())) => connected += 1,
            Some(Err(e)) => return Err(format!("socket {connected}: {e}")),
            None => break,
        }
    }
    // Wait for every `subscribed`, then let the servers settle before reading RSS.
    let deadline = Instant::now() + Duration::from_secs(60);
    while (shared.subscribed.load(Ordering::Relaxed) as usize) < args.sockets {
        if Instant::now() > deadline {
            return Err("not every socket was subscribed within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let open_secs = opening.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle: Vec<u64> = servers.iter().map(|s| rss_kib(&s.child)).collect();

    // Post at the set rate; each content carries its send time in µs.
    let posts = (args.rate * args.duration as f64).round() as u64;
    let period = Duration::from_secs_f64(1.0 / args.rate);
    let started = Instant::now();
    let cpu_before: Vec<f64> = servers
        .iter()
        .map(|s| s.child.id().map_or(0.0, cpu_secs))
        .collect();
    let frames_before = shared.frames.load(Ordering::Relaxed);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let url = format!("http://{poster}/api/msgs/bench");
    let mut in_flight = Vec::new();
    for seq in 0..posts {
        tick.tick().await;
        let http = http.clone();
        let url = url.clone();
        in_flight.push(tokio::spawn(async move {
            let content = format!("bench {seq} {}", now_us());
            http.post(&url)
                .header("Authorization", SIM_AUTH)
                .json(&serde_json::json!({ "content": content }))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }));
    }
    let mut failed_posts = 0;
    for post in in_flight {
        if post.await.unwrap_or(0) != 204 {
            failed_posts += 1;
        }
    }
    let expected = posts * args.sockets as u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    while shared.frames.load(Ordering::Relaxed) - frames_before < expected
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let delivered = shared.frames.load(Ordering::Relaxed) - frames_before;
    let rss_loaded: Vec<u64> = servers.iter().map(|s| rss_kib(&s.child)).collect();
    let cpu_used: f64 = servers
        .iter()
        .zip(&cpu_before)
        .map(|(s, before)| s.child.id().map_or(0.0, cpu_secs) - before)
        .sum();

    println!(
        "## fanout ({kind:?}): {} sockets on {instances} instance(s), {} posts/s for {} s",
        args.sockets, args.rate, args.duration
    );
    println!("sockets opened and subscribed in {open_secs:.1} s");
    println!(
        "deliveries: {delivered}/{expected} in {elapsed:.2} s = {:.0} deliveries/s (offered {:.0}/s); failed posts: {failed_posts}; sockets closed by server: {}",
        delivered as f64 / elapsed,
        args.rate * args.sockets as f64,
        shared.closed.load(Ordering::Relaxed),
    );
    for (i, h) in shared.latency.iter().enumerate() {
        let role = if instances == 1 {
            "the instance"
        } else if i + 1 == instances {
            "the posting instance"
        } else {
            "the other instance (via Redis)"
        };
        println!(
            "post→frame latency on {role}: p50 {:.2} ms, p99 {:.2} ms, max≤{:.2} ms ({} frames)",
            h.quantile_ms(0.50),
            h.quantile_ms(0.99),
            h.quantile_ms(1.0),
            h.count()
        );
    }
    for (i, ((before, idle), loaded)) in rss_before
        .iter()
        .zip(&rss_idle)
        .zip(&rss_loaded)
        .enumerate()
    {
        let per = args.sockets / instances;
        println!(
            "server {i} RSS: {} KiB before sockets, {} KiB with {per} idle sockets ({:.1} KB per socket), {} KiB after the load",
            before,
            idle,
            (idle.saturating_sub(*before)) as f64 * 1.024 / per as f64,
            loaded
        );
    }
    let cpu_us_per_delivery = cpu_used * 1e6 / delivered.max(1) as f64;
    println!(
        "server CPU during posting: {cpu_used:.2} s = {cpu_us_per_delivery:.2} µs per delivery"
    );
    for t in tasks {
        t.abort();
    }
    let posting = shared.latency.last().ok_or("no instance")?;
    let per = args.sockets / instances;
    let report = Report {
        kind,
        deliveries_per_sec: delivered as f64 / elapsed,
        p99_ms: posting.quantile_ms(0.99),
        rss_per_socket_kb: (rss_idle[instances - 1].saturating_sub(rss_before[instances - 1]))
            as f64
            * 1.024
            / per as f64,
        cpu_us_per_delivery,
    };
    drop(servers);
    let _ = std::fs::remove_dir_all(&dir);
    // Sockets of this run close before the next run binds the same ports.
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(report)
}

async fn start_server(
    args: &Args,
    addr: SocketAddr,
    db: &str,
    channel: &str,
) -> Result<Server, String> {
    let mut cmd = Command::new(&args.server);
    cmd.arg("serve")
        .env("MINITWIT_BIND", addr.to_string())
        .env("DATABASE_URL", db)
        .env(
            "MINITWIT_SECRET_KEY",
            "bench secret key, long enough for cookies",
        )
        .env("MINITWIT_REDIS_CHANNEL", channel)
        .env("RUST_LOG", "warn")
        // Every socket comes from 127.0.0.x: the per-IP connect limit and the per-address
        // socket cap would refuse most.
        .env("MINITWIT_WS_CONNECTS_PER_MINUTE", "0")
        .env("MINITWIT_MAX_SOCKETS_PER_IP", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true);
    match &args.redis_url {
        Some(url) => cmd.env("REDIS_URL", url),
        None => cmd.env_remove("REDIS_URL"),
    };
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", args.server.display()))?;
    wait_ready(Server { child, addr }).await
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(source: IpAddr, target: SocketAddr) -> Result<Ws, String> {
    let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    // Binding to port 0 makes the kernel search for a free port at bind time (slow with
    // thousands of sockets), so only sockets past the first source address bind.
    if source != IpAddr::V4(Ipv4Addr::LOCALHOST) {
        socket
            .bind(SocketAddr::new(source, 0))
            .map_err(|e| format!("bind {source}: {e}"))?;
    }
    let tcp = socket
        .connect(target)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let url = format!("ws://{target}/ws?stream=public");
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (ws, _) = tokio_tungstenite::client_async_with_config(
        url,
        tokio_tungstenite::MaybeTlsStream::Plain(tcp),
        Some(config),
    )
    .await
    .map_err(|e| format!("handshake: {e}"))?;
    Ok(ws)
}

/// Reads frames until the socket closes, timing each bench message.
async fn read_frames(mut ws: Ws, instance: usize, shared: &Shared) {
    while let Some(frame) = ws.next().await {
        match frame {
            Ok(Message::Text(text)) => {
                if let Some(sent) = sent_at(&text) {
                    let now = now_us();
                    shared.latency[instance].record(now.saturating_sub(sent));
                    shared.frames.fetch_add(1, Ordering::Relaxed);
                } else if text.contains("\"subscribed\"") {
                    shared.subscribed.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(Message::Ping(payload)) => {
                let _ = ws.send(Message::Pong(payload)).await;
            }
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    shared.closed.fetch_add(1, Ordering::Relaxed);
}

/// The send time a bench post carries: `"content":"bench SEQ MICROS"`, found without a
/// full JSON parse (the client must stay cheaper than the server it measures).
fn sent_at(frame: &str) -> Option<u64> {
    let start = frame.find("\"content\":\"bench ")? + "\"content\":\"bench ".len();
    let rest = &frame[start..];
    let rest = &rest[rest.find(' ')? + 1..];
    let end = rest.find('"')?;
    rest[..end].parse().ok()
}

/// The app's clock, as the unsigned microseconds the histogram counts in.
fn now_us() -> u64 {
    minitwit::clock::now_us().max(0) as u64
}

/// VmRSS of a child process, in KiB (0 if unreadable).
fn rss_kib(child: &Child) -> u64 {
    let Some(pid) = child.id() else { return 0 };
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

fn tempfile_dir() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("minitwit-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("temp dir: {e}"))?;
    Ok(dir)
}
