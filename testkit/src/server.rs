//! The `minitwit` binary as a child process on a random port.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

/// How long a server may take to say where it listens (migrations included).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Log lines kept unread at most.
const LOG_LINES_KEPT: usize = 100_000;

/// A running `minitwit serve`; killed when dropped.
pub struct ServerProcess {
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The lines the server logs (stderr), from its first on, for tests that read them.
    pub logs: Receiver<String>,
}

impl ServerProcess {
    /// Starts `binary serve` on 127.0.0.1:0 against `db_url`, logging JSON at `info`
    /// (overridable through `env`), without the caller's `REDIS_URL`, and waits until it
    /// logs where it listens.
    pub fn start(
        binary: &Path,
        db_url: &str,
        env: &[(&str, &str)],
    ) -> Result<ServerProcess, String> {
        let mut command = Command::new(binary);
        command
            .args(["serve", "--bind", "127.0.0.1:0", "--database-url", db_url])
            .env("RUST_LOG", "info")
            .env("LOG_FORMAT", "json")
            .env_remove("REDIS_URL")
            .envs(env.iter().copied());
        ServerProcess::spawn(command)
    }

    /// Runs `command` (the binary, or something that execs it such as the image's
    /// entrypoint) with its stderr piped, and waits until it logs where it listens on
    /// 127.0.0.1.
    pub fn spawn(mut command: Command) -> Result<ServerProcess, String> {
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        // Bounded: a benchmark's server logs for minutes and nobody reads it; lines past
        // the bound are dropped (a test that reads the log keeps up with it).
        let (line_tx, logs) = std::sync::mpsc::sync_channel(LOG_LINES_KEPT);
        let (base_tx, base_rx) = std::sync::mpsc::channel();
        // Reads the log to its end, so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut base_tx = Some(base_tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("http://127.0.0.1:") {
                    if let Some(tx) = base_tx.take() {
                        let base: String = line[at..]
                            .chars()
                            .take_while(|c| !c.is_whitespace() && *c != '"')
                            .collect();
                        let _ = tx.send(base);
                    }
                }
                let _ = line_tx.try_send(line);
            }
        });
        match base_rx.recv_timeout(START_TIMEOUT) {
            Ok(base) => Ok(ServerProcess { child, base, logs }),
            Err(_) => {
                let _ = child.kill();
                let logged: Vec<String> = logs.try_iter().collect();
                Err(format!(
                    "{program} did not say where it listens; it logged:\n{}",
                    logged.join("\n")
                ))
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and wait for it to be gone.
    pub fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM: the server finishes in-flight requests and exits.
    pub fn sigterm(&self) -> Result<(), String> {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .map_err(|e| format!("kill: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("kill -TERM answered {status}"))
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
