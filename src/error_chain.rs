//! An error and its causes as one line ("cannot start: cannot connect to PostgreSQL:
//! connection refused"), for the binary's exit message and for callers whose errors are
//! still text.

use std::error::Error;

/// `err`, then each of its sources, separated by `: `. A cause whose text its parent
/// already ends with is not repeated (sqlx's database errors print their source).
pub fn one_line(err: &dyn Error) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
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

    #[derive(Debug, thiserror::Error)]
    #[error("error returned from database: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn a_cause_already_printed_is_not_repeated() {
        let err = Outer(std::io::Error::other(Repeats(std::io::Error::other(
            "locked",
        ))));
        assert_eq!(
            one_line(&err),
            "cannot connect to the database: error returned from database: locked"
        );
    }
}
