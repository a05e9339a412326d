//! Real Mastodon client libraries against a real server: `tests/clients/mastodon_py/flow.py`
//! (Mastodon.py) and `tests/clients/masto/flow.mjs` (masto.js) log in, follow, post, page
//! the timelines, stream over SSE and websockets and meet refusals, each through its
//! library's own API (docs/mastodon.md). A test fails with the script's whole transcript.
//!
//! The libraries come from `.ci/run`: `MASTODON_PY_PYTHON` names a Python with Mastodon.py
//! installed (default `.ci/venv/bin/python`), `MASTO_DIR` a folder with `node_modules/masto`
//! (default `tests/clients/masto`). Without them a test skips, and under
//! `MINITWIT_TEST_STRICT=1` fails.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use crate::common::web::WebClient;
use crate::common::{self, Backend, TestApp, TestDb};
use crate::ops::repo_path;

/// The users the scripts log in as (their docstrings say so), all with `PASSWORD`.
const USERS: [&str; 3] = ["alice", "bob", "carol"];
/// The password `TestApp::register` gives every user.
const PASSWORD: &str = "secret";
/// A whole flow: about fifty posts, four password logins and a dozen stream waits of at
/// most ten seconds each; far less when nothing fails.
const FLOW_DEADLINE: Duration = Duration::from_secs(240);

/// A Python that imports Mastodon.py, or `None` after saying why the test skips.
async fn mastodon_py_python() -> Option<PathBuf> {
    let python = std::env::var_os("MASTODON_PY_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_path(".ci/venv/bin/python"));
    let probe = Command::new(&python)
        .args(["-c", "import mastodon, websocket"])
        .output()
        .await;
    match probe {
        Ok(out) if out.status.success() => Some(python),
        outcome => {
            common::skip_notice(&format!(
                "skipped the Mastodon.py flow: {} cannot import Mastodon.py with its websocket \
                 extra ({}); set MASTODON_PY_PYTHON or run .ci/run, which installs \
                 Mastodon.py[websocket-streaming]==2.3.3 into .ci/venv",
                python.display(),
                match outcome {
                    Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                    Err(e) => e.to_string(),
                }
            ));
            None
        }
    }
}

/// Node and a folder holding `node_modules/masto`, or `None` after saying why the test
/// skips.
async fn masto_dir() -> Option<(PathBuf, PathBuf)> {
    let dir = std::env::var_os("MASTO_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_path("tests/clients/masto"));
    let node = std::env::var_os("NODE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("node"));
    let node_runs = Command::new(&node)
        .arg("--version")
        .output()
        .await
        .is_ok_and(|out| out.status.success());
    let why = if !node_runs {
        format!("{} does not run (set NODE_BIN)", node.display())
    } else if !dir.join("node_modules/masto/package.json").is_file() {
        format!(
            "{} has no node_modules/masto (set MASTO_DIR, or `npm ci` there as .ci/run does)",
            dir.display()
        )
    } else {
        return Some((node, dir));
    };
    common::skip_notice(&format!("skipped the masto flow: {why}"));
    None
}

/// A server on a fresh `backend` database with the scripts' users and a moderator, who
/// hides what a script asks to.
struct Stage {
    app: TestApp,
    db: TestDb,
    moderator: WebClient,
}

impl Stage {
    async fn new(backend: Backend) -> Stage {
        let db = TestDb::new(backend).await;
        let app = TestApp::start(&db.url).await;
        for user in USERS {
            assert_eq!(app.register(user).await.status(), 204, "register {user}");
        }
        let moderator = WebClient::new(&app);
        moderator.register_and_login("moderator", PASSWORD).await;
        assert!(app
            .state
            .store
            .set_moderator("moderator", true)
            .await
            .expect("grant"));
        Stage { app, db, moderator }
    }

    /// Hides status `id` through the moderators' web route, as a moderator would; what went
    /// wrong otherwise.
    async fn hide(&self, id: &str) -> Result<(), String> {
        let id: i64 = id
            .trim()
            .parse()
            .map_err(|_| format!("HIDE {id:?}: not an id"))?;
        let page = self
            .moderator
            .post(&format!("/messages/{id}/hide"), &[])
            .await;
        match page.status {
            302 => Ok(()),
            status => Err(format!("hiding {id} answered {status}: {}", page.body)),
        }
    }

    async fn finish(self) {
        self.app.stop().await;
        self.db.drop_db().await;
    }
}

/// Runs a flow script against `stage`, answering its `HIDE <id>` lines; panics with the
/// transcript unless it exits 0 after printing `PASS`.
async fn run_flow(name: &str, mut command: Command, stage: &Stage) {
    command
        .arg(&stage.app.base)
        .env("MINITWIT_BASE_URL", &stage.app.base)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let mut stderr = child.stderr.take().expect("piped stderr");
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });

    let mut transcript = String::new();
    let conversation = async {
        while let Some(line) = stdout.next_line().await.expect("the script's stdout") {
            transcript.push_str(&line);
            transcript.push('\n');
            if let Some(id) = line.strip_prefix("HIDE ") {
                if let Err(why) = stage.hide(id).await {
                    transcript.push_str(&format!("runner: {why}\n"));
                    let _ = child.start_kill();
                    break;
                }
                stdin
                    .write_all(b"hidden\n")
                    .await
                    .expect("the script's stdin");
            }
        }
        child.wait().await.expect("the script exits")
    };
    let status = tokio::time::timeout(FLOW_DEADLINE, conversation).await;
    let _ = child.start_kill();
    let stderr = stderr.await.unwrap_or_default();
    // Shown with `--nocapture`: how long each step took.
    eprintln!("{name} flow:\n{transcript}");
    let passed = matches!(&status, Ok(status) if status.success())
        && transcript.lines().any(|line| line.starts_with("PASS"));
    assert!(
        passed,
        "the {name} flow failed ({}):\n{transcript}--- stderr ---\n{stderr}",
        match status {
            Ok(status) => status.to_string(),
            Err(_) => format!("still running after {FLOW_DEADLINE:?}"),
        }
    );
}

async fn mastodon_py_flow(backend: Backend) {
    let Some(python) = mastodon_py_python().await else {
        return;
    };
    let stage = Stage::new(backend).await;
    let mut command = Command::new(python);
    command.arg(repo_path("tests/clients/mastodon_py/flow.py"));
    run_flow("Mastodon.py", command, &stage).await;
    stage.finish().await;
}

async fn masto_flow(backend: Backend) {
    let Some((node, dir)) = masto_dir().await else {
        return;
    };
    // Node resolves `import "masto"` from the script's own folder: run a copy beside a link
    // to MASTO_DIR's node_modules, wherever that folder is.
    let beside = tempfile::tempdir().expect("temp dir");
    let script = beside.path().join("flow.mjs");
    std::fs::copy(repo_path("tests/clients/masto/flow.mjs"), &script).expect("copy flow.mjs");
    link_dir(
        &dir.join("node_modules"),
        &beside.path().join("node_modules"),
    );
    let stage = Stage::new(backend).await;
    let mut command = Command::new(node);
    command.arg(&script);
    run_flow("masto", command, &stage).await;
    stage.finish().await;
}

fn link_dir(target: &Path, link: &Path) {
    let target = target.canonicalize().expect("node_modules exists");
    std::os::unix::fs::symlink(&target, link).expect("link node_modules");
}

crate::on_both_backends!(backend: mastodon_py_flow, masto_flow);
