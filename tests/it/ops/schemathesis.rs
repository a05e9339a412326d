//! Runs schemathesis (PyPI; `.ci/run` installs it into `.ci/venv`) against a live server's
//! OpenAPI document: it generates requests from the document and checks that no answer is
//! a 5xx and none contradicts the document's statuses and schemas.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::ops::tool_or_skip;

/// One schemathesis run: the document's URL, headers sent with every request, and the
/// `schemathesis.toml` that pins parameters to things that exist.
pub struct Run<'a> {
    pub document_url: String,
    pub headers: Vec<String>,
    pub config: &'a str,
    /// What the test is, for the skip notice.
    pub what: &'a str,
}

/// The schemathesis binary, or `None` after saying why the test is skipped.
pub fn binary(what: &str) -> Option<PathBuf> {
    tool_or_skip(
        "SCHEMATHESIS_BIN",
        &crate::ops::repo_path(".ci/venv/bin/schemathesis")
            .display()
            .to_string(),
        what,
    )
}

impl Run<'_> {
    /// Runs it to the end (bounded: a handful of cases per operation and phase keeps CI
    /// fast) and returns its transcript; panics with the transcript when it found problems.
    pub async fn passes(self, schemathesis: &PathBuf) -> String {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("schemathesis.toml"), self.config).expect("config");
        let mut cmd = Command::new(schemathesis);
        cmd.arg("run").arg(&self.document_url).args([
            "--checks",
            "not_a_server_error,status_code_conformance,response_schema_conformance",
            "--max-examples",
            "10",
            "--seed",
            "1",
            "--generation-database",
            "none",
            "--request-timeout",
            "5",
            "--no-color",
        ]);
        for header in &self.headers {
            cmd.args(["--header", header]);
        }
        cmd.current_dir(dir.path());
        let out = tokio::time::timeout(
            Duration::from_secs(240),
            tokio::process::Command::from(cmd).output(),
        )
        .await
        .expect("schemathesis finished within 4 minutes")
        .expect("schemathesis runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "{}: schemathesis found problems:\n{text}",
            self.what
        );
        text
    }
}
