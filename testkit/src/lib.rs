//! What MiniTwit's integration tests and its benchmarks share, so neither keeps a copy:
//!
//! - [`TestDb`]: a fresh, empty database per test or run — a temp SQLite file, or a new
//!   PostgreSQL database created from an admin URL and dropped afterwards.
//! - [`ServerProcess`]: the real `minitwit` binary serving on a random port, for tests and
//!   benchmarks that kill, signal or measure the process itself.
//! - [`skip_notice`]: why a test skipped a part, shown where a developer sees it; the one
//!   way every test skips, so that [`STRICT_VAR`] can turn every skip into a failure.

mod db;
mod server;

pub use db::{admin_execute, Backend, TestDb};
pub use server::ServerProcess;

/// `MINITWIT_TEST_STRICT=1` (`.ci/run` sets it): a test that would skip a part because a
/// service or tool is missing fails instead, so a machine without PostgreSQL, Redis,
/// Chromium, nginx or a monitoring tool cannot pass without testing what needs it.
pub const STRICT_VAR: &str = "MINITWIT_TEST_STRICT";

/// Whether skips fail: [`STRICT_VAR`] is set to anything but empty or `0`.
pub fn strict() -> bool {
    std::env::var_os(STRICT_VAR).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Says why a test skips a part, where a developer sees it; under [`STRICT_VAR`] the test
/// fails with the same message instead.
pub fn skip_notice(message: &str) {
    skip(message, None);
}

/// Like [`skip_notice`], for a part that CI cannot provide what it needs for, so strict
/// mode lets it skip too; `why` says why, and is printed with the message.
pub fn skip_notice_allowed_under_strict(message: &str, why: &str) {
    skip(message, Some(why));
}

/// Every skip of every test comes here.
fn skip(message: &str, allowed_under_strict: Option<&str>) {
    match (strict(), allowed_under_strict) {
        (false, _) => notice(message),
        (true, Some(why)) => notice(&format!("{message} (allowed under {STRICT_VAR}: {why})")),
        (true, None) => panic!("{message} ({STRICT_VAR} is set: nothing may be skipped)"),
    }
}

/// Says something to the developer straight on the process's stderr, because `eprintln!`
/// output of a passing test is captured and never shown.
pub fn notice(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}
