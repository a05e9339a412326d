//! An error and its causes as one line ("cannot start: cannot connect to PostgreSQL:
//! connection refused"), for the binary's exit message and for callers whose errors are
//! still text.

use std::error::Error;

/// `err`, then each of its sources, separated by `: `.
pub fn one_line(err: &dyn Error) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot connect to the database")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn causes_follow_on_one_line() {
        let err = Outer(std::io::Error::other("connection refused"));
        assert_eq!(
            one_line(&err),
            "cannot connect to the database: connection refused"
        );
    }
}
