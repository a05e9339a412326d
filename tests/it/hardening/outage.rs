//! PostgreSQL stopped mid-run (a private cluster this test starts): fast 503s and a
//! not-ready `/readyz`, then recovery without a restart when the database returns.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::TestApp;

/// A throwaway PostgreSQL cluster in a temp dir, run as the `postgres` user when we are root
/// (PostgreSQL refuses to run as root).
struct PrivateCluster {
    dir: PathBuf,
    port: u16,
    bin: PathBuf,
}

fn pg_bin_dir() -> Option<PathBuf> {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<PathBuf> = std::fs::read_dir(root)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|v| v.join("bin"))
        .filter(|b| b.join("pg_ctl").exists())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false)
}

impl PrivateCluster {
    fn run(&self, program: &str, args: &[&str]) {
        let bin = self.bin.join(program);
        let status = if is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&bin)
                .args(args)
                .status()
        } else {
            Command::new(&bin).args(args).status()
        }
        .expect("postgres tool runs");
        assert!(status.success(), "{program} {args:?} failed");
    }

    fn create(bin: PathBuf) -> PrivateCluster {
        let dir =
            std::env::temp_dir().join(format!("minitwit-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .expect("chown");
            assert!(status.success());
        }
        let cluster = PrivateCluster {
            dir,
            port: crate::common::free_port(),
            bin,
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        cluster.start();
        cluster
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        );
    }

    fn stop(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let bin = self.bin.join("pg_ctl");
        let data = self.data();
        let _ = if is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&bin)
                .args(["-D", &data, "-m", "immediate", "stop"])
                .output()
        } else {
            Command::new(&bin)
                .args(["-D", &data, "-m", "immediate", "stop"])
                .output()
        };
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_gives_fast_503s_then_recovers() {
    let Some(bin) = pg_bin_dir() else {
        if std::env::var("TEST_DATABASE_URL").is_ok() {
            panic!("TEST_DATABASE_URL is set but no PostgreSQL binaries in /usr/lib/postgresql");
        }
        crate::common::skip_notice(
            "skipped database_outage: no PostgreSQL binaries in /usr/lib/postgresql",
        );
        return;
    };
    let cluster = tokio::task::spawn_blocking(move || PrivateCluster::create(bin))
        .await
        .expect("cluster");
    let app = TestApp::start(&cluster.url()).await;
    assert_eq!(app.register("alice").await.status(), 204);
    assert_eq!(app.tweet("alice", "before the outage").await.status(), 204);

    let cluster = tokio::task::spawn_blocking(move || {
        cluster.stop();
        cluster
    })
    .await
    .expect("stopped");
    for path in ["/msgs", "/msgs/alice"] {
        let started = Instant::now();
        let res = app.get_api(path).await;
        assert_eq!(res.status(), 503, "{path}");
        let body: serde_json::Value = res.json().await.expect("JSON error");
        assert_eq!(body["status"], 503);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{path} took {:?}",
            started.elapsed()
        );
    }
    let started = Instant::now();
    assert_eq!(app.tweet("alice", "during the outage").await.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(3));
    let ready = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 503);
    // What is down, and no error text (hostnames, ports, driver messages) for strangers.
    assert_eq!(ready.text().await.expect("body"), "not ready: database");
    let health = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200, "the process itself is fine");

    let cluster = tokio::task::spawn_blocking(move || {
        cluster.start();
        cluster
    })
    .await
    .expect("started");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if app.get_api("/msgs").await.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "no recovery within 20 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.tweet("alice", "after the outage").await.status(), 204);
    let ready = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);
    let messages: Vec<serde_json::Value> = app.get_api("/msgs").await.json().await.expect("JSON");
    let texts: Vec<&str> = messages
        .iter()
        .map(|m| m["content"].as_str().expect("content"))
        .collect();
    assert_eq!(texts, ["after the outage", "before the outage"]);
    app.stop().await;
    drop(cluster);
}

/// `/readyz` names Redis when the configured Redis does not answer, and says no more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_names_redis_when_it_is_down() {
    let db = crate::common::TestDb::new(crate::common::Backend::Sqlite).await;
    let nobody = crate::common::free_port();
    let app = TestApp::start_with(&db.url, |s| {
        s.redis_url = Some(format!("redis://127.0.0.1:{nobody}"));
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let res = app
            .http
            .get(app.url("/readyz"))
            .send()
            .await
            .expect("readyz");
        let status = res.status();
        let body = res.text().await.expect("body");
        if status == 503 {
            assert_eq!(body, "not ready: redis");
            break;
        }
        assert!(Instant::now() < deadline, "/readyz stayed {status} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
