//! Servers a benchmark starts as child processes (MiniTwit's release binary or this
//! binary's `floor-server`), so their CPU time and memory are read from `/proc` the same
//! way for both.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// A started server; killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Starts `bench floor-server` (this binary) on `addr` and waits until it answers.
pub async fn start_floor(addr: SocketAddr) -> Result<Server, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let child = Command::new(exe)
        .args(["floor-server", "--bind", &addr.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start the floor server: {e}"))?;
    wait_ready(Server { child, addr }).await
}

/// User plus system CPU time of process `pid` so far, in seconds (0 if unreadable).
/// `/proc/<pid>/stat` counts in clock ticks, 100 a second on Linux.
pub fn cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at field 3: state.
    let Some(rest) = stat.rfind(')').map(|at| &stat[at + 1..]) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 12th and 13th here.
    (ticks(11) + ticks(12)) / 100.0
}

/// Polls `/readyz` until the server answers 2xx (30 s at most).
pub async fn wait_ready(server: Server) -> Result<Server, String> {
    let addr = server.addr;
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(res) = http.get(format!("http://{addr}/readyz")).send().await {
            if res.status().is_success() {
                return Ok(server);
            }
        }
        if Instant::now() > deadline {
            return Err(format!("server on {addr} not ready within 30 s"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Context switches (voluntary and not) of every live thread of process `pid` so far:
/// each is a thread going to sleep or being woken, the cost of a hand-off between threads.
pub fn context_switches(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("status")).ok())
        .flat_map(|status| {
            status
                .lines()
                .filter(|line| line.contains("ctxt_switches:"))
                .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}
