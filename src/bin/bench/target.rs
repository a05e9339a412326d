//! What a benchmark runs against: a fresh database (a temp SQLite file, or a new PostgreSQL
//! database created from an admin URL) and, for HTTP benchmarks, the release `minitwit`
//! binary serving it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clap::ValueEnum;
use minitwit::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh database, removed on drop (SQLite) or left for inspection (PostgreSQL,
/// named `minitwit_bench_*`).
pub struct BenchDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl BenchDb {
    pub async fn create(backend: Backend, pg_admin_url: &str) -> Result<BenchDb, String> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("bench.db").display()
                );
                Ok(BenchDb {
                    url,
                    _dir: Some(dir),
                })
            }
            Backend::Postgres => {
                use minitwit::store::admin_execute;
                let name = format!(
                    "minitwit_bench_{}",
                    &uuid::Uuid::new_v4().simple().to_string()[..8]
                );
                admin_execute(pg_admin_url, &format!("CREATE DATABASE {name}")).await?;
                let mut url = url::Url::parse(pg_admin_url).map_err(|e| e.to_string())?;
                url.set_path(&name);
                Ok(BenchDb {
                    url: url.to_string(),
                    _dir: None,
                })
            }
        }
    }

    pub async fn store(&self) -> Result<Store, String> {
        let store = Store::connect(&self.url).await?;
        store.migrate().await?;
        Ok(store)
    }
}

/// The release `minitwit` binary, serving until dropped.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    pub fn start(db_url: &str, extra_env: &[(&str, &str)]) -> Result<Server, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let minitwit = exe.with_file_name("minitwit");
        if !minitwit.exists() {
            return Err(format!(
                "{} not found: build it with --release first",
                minitwit.display()
            ));
        }
        let mut command = Command::new(&minitwit);
        command
            .args(["serve", "--bind", "127.0.0.1:0", "--database-url", db_url])
            .env("RUST_LOG", "warn,minitwit=info")
            .env("LOG_FORMAT", "json")
            .env_remove("REDIS_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in extra_env {
            command.env(key, value);
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start minitwit: {e}"))?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let (false, Some(at)) = (sent, line.find("http://127.0.0.1:")) {
                    let addr: String = line[at..]
                        .chars()
                        .take_while(|c| !c.is_whitespace() && *c != '"')
                        .collect();
                    let _ = tx.send(addr);
                    sent = true;
                }
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| "minitwit did not start".to_owned())?;
        Ok(Server { child, base })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
