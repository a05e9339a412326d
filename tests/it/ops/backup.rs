//! Backups of the SQLite database: `minitwit backup` under concurrent posting gives a file
//! that opens, passes SQLite's integrity check and holds every acknowledged message; the
//! server's scheduled backups appear and are pruned to the newest N; PostgreSQL gets the
//! pg_dump hint.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database, DatabaseBackend, Statement};

use crate::common::{Backend, TestApp, TestDb};

/// Opens a backup file read-only; `(integrity_check result, every message text)`.
async fn inspect(path: &Path) -> (String, Vec<String>) {
    let url = format!("sqlite://{}?mode=ro", path.display());
    let db = Database::connect(&url).await.expect("the backup opens");
    let check = db
        .query_one(Statement::from_string(
            DatabaseBackend::Sqlite,
            "PRAGMA integrity_check",
        ))
        .await
        .expect("integrity_check runs")
        .expect("a row");
    let check: String = check.try_get_by_index(0).expect("text");
    let rows = db
        .query_all(Statement::from_string(
            DatabaseBackend::Sqlite,
            "SELECT text FROM messages",
        ))
        .await
        .expect("messages");
    let texts = rows
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).expect("text"))
        .collect();
    let _ = db.close().await;
    (check, texts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_posting_holds_every_acknowledged_message() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    assert_eq!(app.register("writer").await.status(), 204);

    // Posts go on, as fast as the server takes them, before, during and after the backup.
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        let http = app.http.clone();
        let url = app.url("/api/msgs/writer");
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let content = format!("message {n}");
                let res = http
                    .post(&url)
                    .header("Authorization", crate::common::SIM_AUTH)
                    .json(&serde_json::json!({ "content": content }))
                    .send()
                    .await
                    .expect("post");
                assert_eq!(res.status(), 204);
                acknowledged.lock().expect("lock").push(content);
            }
        })
    };
    // The writer stops at its first refused post: fail then, rather than wait forever.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().expect("lock").len() < 200 {
        assert!(!writer.is_finished(), "the writer stopped before 200 posts");
        assert!(Instant::now() < deadline, "fewer than 200 posts in 60 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("copy.db");
    let before: Vec<String> = acknowledged.lock().expect("lock").clone();
    let (ok, out) = {
        let target = target.clone();
        let url = app.db_url.clone();
        tokio::task::spawn_blocking(move || {
            let out = Command::new(env!("CARGO_BIN_EXE_minitwit"))
                .arg("backup")
                .arg(&target)
                .env("DATABASE_URL", url)
                .env("RUST_LOG", "warn")
                .output()
                .expect("minitwit backup runs");
            (
                out.status.success(),
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            )
        })
        .await
        .expect("join")
    };
    let during = acknowledged.lock().expect("lock").len() - before.len();
    stop.store(true, Ordering::Relaxed);
    writer.await.expect("writer");
    assert!(ok, "minitwit backup failed:\n{out}");
    assert!(
        during > 0,
        "the server stopped taking posts during the backup"
    );

    let (check, texts) = inspect(&target).await;
    assert_eq!(check, "ok");
    let missing: Vec<&String> = before.iter().filter(|t| !texts.contains(t)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged messages are missing from the backup, e.g. {:?}",
        missing.len(),
        missing.first()
    );

    // A second backup never overwrites a file.
    let out = Command::new(env!("CARGO_BIN_EXE_minitwit"))
        .arg("backup")
        .arg(&target)
        .env("DATABASE_URL", &app.db_url)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists"));
    app.stop().await;
}

fn backups_in(dir: &Path) -> Vec<PathBuf> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "db"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_keeps_the_newest_scheduled_backups() {
    let db = TestDb::new(Backend::Sqlite).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let backups = dir.path().join("backups");
    let app = TestApp::start_with(&db.url, |s| {
        s.backup_dir = Some(backups.clone());
        s.backup_every = Duration::from_secs(1);
        s.backup_keep = 3;
    })
    .await;
    assert_eq!(app.register("alice").await.status(), 204);
    assert_eq!(app.tweet("alice", "kept safe").await.status(), 204);

    // Backups appear, one a second, and never more than 3 stay.
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < 5 {
        assert!(
            Instant::now() < deadline,
            "only {} backups in 20 s: {seen:?}",
            seen.len()
        );
        let now = backups_in(&backups);
        assert!(now.len() <= 3, "not pruned: {now:?}");
        seen.extend(now);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let kept = backups_in(&backups);
    assert_eq!(kept.len(), 3, "{kept:?}");
    // The oldest ones went, the newest stayed.
    let newest_seen: Vec<&PathBuf> = seen.iter().rev().take(3).collect();
    assert!(kept.iter().all(|k| seen.contains(k)));
    assert!(
        kept.iter().rev().zip(&newest_seen).any(|(k, n)| k == *n),
        "kept {kept:?}, newest seen {newest_seen:?}"
    );
    let (check, texts) = inspect(kept.last().expect("a backup")).await;
    assert_eq!(check, "ok");
    assert!(texts.iter().any(|t| t == "kept safe"), "{texts:?}");
    app.stop().await;
}

#[test]
fn on_postgresql_the_command_says_how_to_use_pg_dump() {
    let out = Command::new(env!("CARGO_BIN_EXE_minitwit"))
        .args(["backup", "/tmp/never-written.db"])
        .env("DATABASE_URL", "postgres://minitwit@127.0.0.1:1/minitwit")
        .output()
        .expect("runs");
    assert!(!out.status.success(), "no backup was made: not a success");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("pg_dump") && stderr.contains("pg_restore"),
        "{stderr}"
    );
    assert!(!Path::new("/tmp/never-written.db").exists());
}

/// The stack's pg_backup loop (deploy/pg_backup.sh) run for real against a PostgreSQL test
/// database: dumps appear, only the newest BACKUP_KEEP stay, and the newest restores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stacks_pg_dump_loop_keeps_restorable_dumps() {
    let Some(backend) = Backend::postgres_or_skip("the pg_backup loop") else {
        return;
    };
    let (Some(_), Some(pg_restore)) = (
        crate::ops::tool_or_skip("PG_DUMP_BIN", "/usr/bin/pg_dump", "the pg_backup loop"),
        crate::ops::tool_or_skip(
            "PG_RESTORE_BIN",
            "/usr/bin/pg_restore",
            "the pg_backup loop",
        ),
    ) else {
        return;
    };
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db.url).await;
    assert_eq!(app.register("alice").await.status(), 204);
    assert_eq!(app.tweet("alice", "in the dump").await.status(), 204);

    let url = url::Url::parse(&db.url).expect("url");
    let dir = tempfile::tempdir().expect("temp dir");
    let password = dir.path().join("postgres_password");
    std::fs::write(&password, url.password().unwrap_or_default()).expect("secret");
    let backups = dir.path().join("backups");
    let mut child = Command::new("sh")
        .arg(crate::ops::repo_path("deploy/pg_backup.sh"))
        .env("PGHOST", url.host_str().expect("host"))
        .env("PGPORT", url.port().unwrap_or(5432).to_string())
        .env("PGUSER", url.username())
        .env("PGDATABASE", url.path().trim_start_matches('/'))
        .env("PGPASSWORD_FILE", &password)
        .env("BACKUP_DIR", &backups)
        .env("BACKUP_EVERY_SECONDS", "1")
        .env("BACKUP_KEEP", "2")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("sh runs");
    let stdout = child.stdout.take().expect("stdout");
    let written = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter(|l| l.starts_with("pg_backup: wrote"))
            .take(4)
            .count()
    });
    let written = tokio::time::timeout(Duration::from_secs(30), written)
        .await
        .expect("4 dumps within 30 s")
        .expect("join");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(written, 4);

    let mut dumps: Vec<PathBuf> = std::fs::read_dir(&backups)
        .expect("backups dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    dumps.sort();
    assert!(
        dumps.len() <= 2
            && !dumps.is_empty()
            && dumps
                .iter()
                .all(|d| d.extension().is_some_and(|e| e == "dump")),
        "{dumps:?}"
    );

    // Restore the newest into an empty database, as README says.
    let restored = TestDb::new(backend).await;
    let out = Command::new(pg_restore)
        .arg("--no-owner")
        .arg(format!("--dbname={}", restored.url))
        .arg(dumps.last().expect("a dump"))
        .output()
        .expect("pg_restore runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let conn = Database::connect(&restored.url).await.expect("connect");
    let row = conn
        .query_one(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT count(*) FROM messages WHERE text = 'in the dump'",
        ))
        .await
        .expect("query")
        .expect("row");
    assert_eq!(row.try_get_by_index::<i64>(0).expect("count"), 1);
    let _ = conn.close().await;
    app.stop().await;
    restored.drop_db().await;
    db.drop_db().await;
}
