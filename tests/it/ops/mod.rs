//! Observability and deployment (issues 5 and 13): `/metrics` and its labels, JSON logs with
//! request ids, the business gauges, the deployment files checked by the tools that read
//! them (promtool, amtool, a real Prometheus and Alertmanager, `docker stack config`).

mod alerting;
mod api_docs;
mod backup;
mod business;
mod configs;
mod dashboards;
mod error_reports;
mod logs;
mod mastodon_docs;
mod metrics;
mod schemathesis;
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
