//! Observability and deployment (issues 5 and 13): `/metrics` and its labels, JSON logs with
//! request ids, the business gauges, the deployment files checked by the tools that read
//! them (promtool, amtool, a real Prometheus and Alertmanager, `docker stack config`).

#[path = "../common/mod.rs"]
mod common;

mod alerting;
mod api_docs;
mod backup;
mod business;
mod configs;
mod dashboards;
mod error_reports;
mod logs;
mod metrics;
mod sink;

use std::path::PathBuf;

/// A file of the repository, by its path from the repository root.
pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The binary named by `env_var`, or its usual Debian path; `None` (after saying why the
/// test is skipped) when neither exists.
pub fn tool_or_skip(env_var: &str, default: &str, test: &str) -> Option<PathBuf> {
    let path = std::env::var(env_var)
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(default));
    if path.exists() {
        Some(path)
    } else {
        crate::common::skip_notice(&format!(
            "skipped {test}: {} not found (set {env_var} or install it)",
            path.display()
        ));
        None
    }
}

/// Reads a starting server's stderr (`LOG_FORMAT=json`) until it says where it serves, and
/// returns that address; stderr keeps being drained for the server's whole life, since a
/// closed pipe would break its logging.
pub fn serving_addr(child: &mut std::process::Child) -> String {
    use std::io::{BufRead, BufReader};
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx.iter()
        .find_map(|line| {
            let v: serde_json::Value = serde_json::from_str(&line).ok()?;
            v["addr"]
                .as_str()
                .filter(|_| v["message"].as_str().is_some_and(|m| m.contains("serving")))
                .map(str::to_owned)
        })
        .expect("the server says where it serves")
}
