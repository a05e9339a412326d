//! What MiniTwit's integration tests and its benchmarks share, so neither keeps a copy:
//!
//! - [`TestDb`]: a fresh, empty database per test or run — a temp SQLite file, or a new
//!   PostgreSQL database created from an admin URL and dropped afterwards.
//! - [`ServerProcess`]: the real `minitwit` binary serving on a random port, for tests and
//!   benchmarks that kill, signal or measure the process itself.
//! - [`skip_notice`]: why a test skipped a part, shown where a developer sees it.

mod db;
mod server;

pub use db::{admin_execute, Backend, TestDb};
pub use server::ServerProcess;

/// Says why a test is skipped where a developer sees it: straight to the process's stderr,
/// because `eprintln!` output of a passing test is captured and never shown.
pub fn skip_notice(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}
