//! The binary's command line: bad settings fail with one clear line; `migrate` is safe from
//! several processes at once.

use std::process::Command;

use crate::common::{Backend, TestDb};

fn minitwit(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_minitwit"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .output()
        .expect("minitwit runs")
}

#[test]
fn unparsable_database_url_exits_non_zero_with_a_clear_line() {
    let out = minitwit(&["migrate", "--database-url", "mysql://localhost/x"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--database-url") && stderr.contains("mysql"),
        "{stderr}"
    );
}

#[test]
fn unreachable_database_exits_non_zero_with_one_line() {
    let out = minitwit(&[
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--database-url",
        "postgres://postgres@127.0.0.1:1/none",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("minitwit:"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("PostgreSQL"), "{stderr}");
}

#[test]
fn bad_bind_address_is_refused() {
    let out = minitwit(&["serve", "--bind", "nowhere"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bind"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrate_runs_all_succeed_on_postgres() {
    let Some(backend) = Backend::postgres_or_skip("concurrent_migrate") else {
        return;
    };
    let db = TestDb::new(backend).await;
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_minitwit"))
                .args(["migrate", "--database-url", &db.url])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawns")
        })
        .collect();
    // All four run at once; the advisory lock lets one apply and the rest find it done.
    for child in children {
        let out = child.wait_with_output().expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    db.drop_db().await;
}
