//! `Username`: 1–64 characters, no `/`, not a reserved route name (SPEC §6).

use std::fmt;

pub const MAX_USERNAME_CHARS: usize = 64;

/// Names that would shadow a page or endpoint at `/{username}`.
pub const RESERVED_USERNAMES: &[&str] = &[
    "public",
    "login",
    "logout",
    "register",
    "add_message",
    "api",
    "ws",
    "sse",
    "messages",
    "metrics",
    "static",
    "healthz",
    "readyz",
];

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Parses a username as registration accepts it. Existing names are looked up as plain
    /// strings, so this is only for names being created.
    pub fn parse(raw: &str) -> Result<Username, &'static str> {
        if raw.is_empty() {
            return Err("You have to enter a username");
        }
        if raw.chars().count() > MAX_USERNAME_CHARS {
            return Err("The username must be at most 64 characters");
        }
        if raw.contains('/') {
            return Err("The username may not contain a slash");
        }
        if raw.chars().any(char::is_control) {
            return Err("The username may not contain control characters");
        }
        if RESERVED_USERNAMES
            .iter()
            .any(|r| r.eq_ignore_ascii_case(raw))
        {
            return Err("This username is reserved");
        }
        Ok(Username(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_spaces_and_unicode() {
        assert_eq!(
            Username::parse("Roger Histand").map(|u| u.to_string()),
            Ok("Roger Histand".to_owned())
        );
        assert!(Username::parse("Åsa Ørsted 日本").is_ok());
    }

    #[test]
    fn rejects_empty_long_slashed_and_reserved() {
        assert_eq!(Username::parse(""), Err("You have to enter a username"));
        assert!(Username::parse(&"x".repeat(65)).is_err());
        assert!(Username::parse(&"é".repeat(64)).is_ok());
        assert!(Username::parse("a/b").is_err());
        assert!(Username::parse("a\0b").is_err());
        for name in RESERVED_USERNAMES {
            assert!(Username::parse(name).is_err(), "{name}");
        }
        assert!(Username::parse("Public").is_err());
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics_and_accepts_only_valid_names(raw in "\\PC{0,80}|.{0,80}") {
            if let Ok(name) = Username::parse(&raw) {
                proptest::prop_assert_eq!(name.as_str(), raw.as_str());
                let chars = raw.chars().count();
                proptest::prop_assert!((1..=MAX_USERNAME_CHARS).contains(&chars));
                proptest::prop_assert!(!raw.contains('/'));
                proptest::prop_assert!(!RESERVED_USERNAMES.iter().any(|r| r.eq_ignore_ascii_case(&raw)));
            }
        }
    }
}
