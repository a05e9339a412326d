//! What a benchmark runs against: a fresh database ([`testkit::TestDb`], a temp SQLite
//! file or a new PostgreSQL database kept for inspection) and, for HTTP benchmarks, the
//! release `minitwit` binary serving it ([`testkit::ServerProcess`]) — the same database
//! helper and launcher the integration tests use.

use clap::ValueEnum;
use minitwit::store::Store;
use testkit::{ServerProcess, TestDb};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh database for a run: removed on drop (SQLite) or left for inspection
/// (PostgreSQL, named `minitwit_bench_*`).
pub struct BenchDb(TestDb);

impl std::ops::Deref for BenchDb {
    type Target = TestDb;
    fn deref(&self) -> &TestDb {
        &self.0
    }
}

impl BenchDb {
    pub async fn create(backend: Backend, pg_admin_url: &str) -> Result<BenchDb, String> {
        let backend = match backend {
            Backend::Sqlite => testkit::Backend::Sqlite,
            Backend::Postgres => testkit::Backend::Postgres,
        };
        Ok(BenchDb(
            TestDb::create(backend, pg_admin_url, "minitwit_bench").await?,
        ))
    }

    pub async fn store(&self) -> Result<Store, String> {
        let store = Store::connect(&self.url).await?;
        store.migrate().await?;
        Ok(store)
    }
}

/// The release `minitwit` binary next to this one, serving `db_url` until dropped.
pub struct Server(ServerProcess);

impl std::ops::Deref for Server {
    type Target = ServerProcess;
    fn deref(&self) -> &ServerProcess {
        &self.0
    }
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
        let mut env = vec![("RUST_LOG", "warn,minitwit=info")];
        env.extend_from_slice(extra_env);
        Ok(Server(ServerProcess::start(&minitwit, db_url, &env)?))
    }
}
