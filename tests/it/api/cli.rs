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

/// Runs `command` (a `minitwit serve`, or something that execs one): whether it kept
/// serving, and the lines it printed as `minitwit: …`. For settings that should stop it
/// before it serves; one still running after 10 s is killed and counts as served.
fn run_until_refused(mut command: Command) -> (bool, Vec<String>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("stderr");
    let mut child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("it runs");
    let mut exited = None;
    for _ in 0..100 {
        exited = child.try_wait().expect("wait");
        if exited.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let served = match exited {
        Some(status) => status.success(),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            true
        }
    };
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    let lines = stderr
        .lines()
        .filter(|l| l.starts_with("minitwit:"))
        .map(str::to_owned)
        .collect();
    (served, lines)
}

/// `minitwit serve …` on a fresh SQLite file in `dir`.
fn serve_args(dir: &std::path::Path) -> Vec<String> {
    let db = format!("sqlite://{}?mode=rwc", dir.join("m.db").display());
    ["serve", "--bind", "127.0.0.1:0", "--database-url", &db]
        .map(str::to_owned)
        .to_vec()
}

#[test]
fn empty_secrets_stop_the_server_with_one_line_naming_them() {
    for (name, value) in [
        ("SIMULATOR_PASSWORD", ""),
        ("SIMULATOR_PASSWORD", " "),
        ("METRICS_TOKEN", ""),
        ("MINITWIT_SECRET_KEY", ""),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut command = Command::new(env!("CARGO_BIN_EXE_minitwit"));
        command
            .args(serve_args(dir.path()))
            .env_remove("REDIS_URL")
            .env(name, value);
        let (served, lines) = run_until_refused(command);
        assert!(!served, "{name}={value:?} was served");
        assert_eq!(lines.len(), 1, "{name}={value:?}: {lines:?}");
        assert!(
            lines[0].contains(name) && lines[0].contains("empty"),
            "{lines:?}"
        );
    }
}

/// Docker secrets reach the binary through deploy/entrypoint.sh, which turns `NAME_FILE`
/// into `NAME`: an empty secret file is an empty setting, and stops the server.
#[test]
fn an_empty_secret_file_stops_the_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("bin dir");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_minitwit"), bin.join("minitwit"))
        .expect("link the binary");
    let secret = dir.path().join("simulator_password");
    std::fs::write(&secret, "\n").expect("an empty secret (a newline, as `echo` writes)");
    let mut command = Command::new("sh");
    command
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/entrypoint.sh"))
        .args(serve_args(dir.path()))
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("SIMULATOR_PASSWORD_FILE", &secret);
    let (served, lines) = run_until_refused(command);
    assert!(!served, "served with an empty secret file");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("SIMULATOR_PASSWORD"), "{lines:?}");
}

/// Serves on `bind` with the given environment until it says where it listens; returns
/// every line it logged until then.
fn startup_log(bind: &str, env: &[(&str, &str)]) -> Vec<String> {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_minitwit"))
        .args(["serve", "--bind", bind, "--database-url", &db])
        .env_remove("REDIS_URL")
        .env_remove("SIMULATOR_PASSWORD")
        .env("RUST_LOG", "info")
        .env("LOG_FORMAT", "json")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("minitwit starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = Vec::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        let serving = line.contains("MiniTwit is serving");
        lines.push(line);
        if serving {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    lines
}

#[test]
fn the_public_simulator_password_off_loopback_is_warned_about() {
    let warned = |lines: &[String]| {
        lines
            .iter()
            .any(|l| l.contains("WARN") && l.contains("SIMULATOR_PASSWORD"))
    };
    let open = startup_log("0.0.0.0:0", &[]);
    assert!(
        open.iter().any(|l| l.contains("MiniTwit is serving")),
        "{open:?}"
    );
    assert!(warned(&open), "{open:?}");
    let local = startup_log("127.0.0.1:0", &[]);
    assert!(!warned(&local), "{local:?}");
    let secret = startup_log("0.0.0.0:0", &[("SIMULATOR_PASSWORD", "not the default")]);
    assert!(!warned(&secret), "{secret:?}");
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
