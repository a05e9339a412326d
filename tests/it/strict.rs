//! `MINITWIT_TEST_STRICT=1` (testkit's `STRICT_VAR`; `.ci/run` sets it): a test that would
//! skip a part because a service is missing fails instead, with the reason it would have
//! printed, so a CI machine without PostgreSQL does not pass without testing it.

use std::process::Command;

use crate::common::Backend;

const REASON: &str = "skipped the strict probe on PostgreSQL: TEST_DATABASE_URL is not set";

/// Stands for every test with a PostgreSQL part, which it skips without
/// `TEST_DATABASE_URL`; the test below runs it alone in a child process.
#[test]
fn a_postgres_part() {
    let _ = Backend::postgres_or_skip("the strict probe");
}

/// This test binary running only [`a_postgres_part`], without `TEST_DATABASE_URL` and
/// with `MINITWIT_TEST_STRICT` as given: whether it passed, and what it printed.
fn without_postgres(strict: Option<&str>) -> (bool, String) {
    let mut command = Command::new(std::env::current_exe().expect("this test binary"));
    command
        .args(["--exact", "strict::a_postgres_part"])
        .env_remove("TEST_DATABASE_URL")
        .env_remove(testkit::STRICT_VAR);
    if let Some(value) = strict {
        command.env(testkit::STRICT_VAR, value);
    }
    let out = command.output().expect("the test binary runs");
    let printed =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        printed.contains("1 passed") || printed.contains("1 failed"),
        "{printed}"
    );
    (out.status.success(), printed)
}

#[test]
fn a_skip_passes_with_its_reason_unless_strict() {
    for strict in [None, Some(""), Some("0")] {
        let (passed, printed) = without_postgres(strict);
        assert!(passed, "{strict:?}: {printed}");
        assert!(printed.contains(REASON), "{strict:?}: {printed}");
    }
}

#[test]
fn under_strict_a_skip_fails_with_its_reason() {
    for strict in ["1", "true"] {
        let (passed, printed) = without_postgres(Some(strict));
        assert!(!passed, "{strict}: {printed}");
        assert!(printed.contains(REASON), "{strict}: {printed}");
    }
}
