//! `Username`: 1–64 characters, no `/`, not a reserved route name (README.md, "Limits"), NFC-normalised,
//! without control characters, without characters that render as nothing (bidi marks,
//! zero-width characters, fillers, variation selectors: `chars::is_invisible`) and without
//! leading or trailing spaces (README.md, "The web pages"); and `UsernameQuery`, a name that an existing user
//! could have.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

use super::chars::is_invisible;

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
    // The Mastodon-compatible API's paths (docs/mastodon.md).
    "oauth",
    "nodeinfo",
    ".well-known",
];

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Parses a username as registration accepts it. Existing names are looked up as plain
    /// strings, so this is only for names being created.
    ///
    /// The name is stored NFC-normalised, so "Å" typed as one code point or as "A" plus a
    /// combining ring is one name, not two users who look alike.
    pub fn parse(raw: &str) -> Result<Username, &'static str> {
        let normalised: String = raw.nfc().collect();
        let raw = normalised.as_str();
        if raw.is_empty() {
            return Err("You have to enter a username");
        }
        if raw.starts_with(char::is_whitespace) || raw.ends_with(char::is_whitespace) {
            return Err("The username may not start or end with a space");
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
        if raw.chars().any(is_invisible) {
            return Err("The username may not contain invisible formatting characters");
        }
        if RESERVED_USERNAMES
            .iter()
            .any(|r| r.eq_ignore_ascii_case(raw))
        {
            return Err("This username is reserved");
        }
        Ok(Username(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A name to look a user up by (a path segment, a follow target, the login form),
/// normalised as registered names are. A string that no registered name can equal (a
/// control character, a slash, too long) does not parse, so it never reaches a query:
/// PostgreSQL would answer a NUL with an error, SQLite with "no such user".
///
/// Looser than [`Username`] on purpose: names registered before the bidi, zero-width and
/// space rules stay reachable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsernameQuery(String);

impl UsernameQuery {
    pub fn parse(raw: &str) -> Option<UsernameQuery> {
        let normalised: String = raw.nfc().collect();
        let chars = normalised.chars().count();
        let possible = (1..=MAX_USERNAME_CHARS).contains(&chars)
            && !normalised.contains('/')
            && !normalised.chars().any(char::is_control);
        possible.then_some(UsernameQuery(normalised))
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

    #[test]
    fn normalises_to_nfc() {
        let decomposed = "A\u{30a}sa";
        let name = Username::parse(decomposed).expect("valid");
        assert_eq!(name.as_str(), "\u{c5}sa");
        assert_eq!(Username::parse("\u{c5}sa"), Ok(name.clone()));
        assert_eq!(
            UsernameQuery::parse(decomposed).map(|q| q.as_str().to_owned()),
            Some(name.as_str().to_owned())
        );
    }

    #[test]
    fn refuses_lookalike_tricks() {
        for raw in [
            " alice",
            "alice ",
            "\u{a0}alice",
            "al\u{200b}ice",
            "al\u{200d}ice",
            "alice\u{2060}",
            "\u{feff}alice",
            "\u{202e}ecila",
            "al\u{200e}ice",
            "\u{2066}alice\u{2069}",
            "a\tb",
            "a\u{7f}b",
            "a\nb",
        ] {
            assert!(Username::parse(raw).is_err(), "{raw:?}");
        }
        assert!(Username::parse("alice smith").is_ok());
    }

    #[test]
    fn refuses_every_character_that_renders_as_nothing() {
        for (c, name) in [
            ('\u{61c}', "ARABIC LETTER MARK (bidi)"),
            ('\u{ad}', "SOFT HYPHEN"),
            ('\u{2061}', "FUNCTION APPLICATION"),
            ('\u{2062}', "INVISIBLE TIMES"),
            ('\u{2063}', "INVISIBLE SEPARATOR"),
            ('\u{2064}', "INVISIBLE PLUS"),
            ('\u{180e}', "MONGOLIAN VOWEL SEPARATOR"),
            ('\u{3164}', "HANGUL FILLER"),
            ('\u{115f}', "HANGUL CHOSEONG FILLER"),
            ('\u{ffa0}', "HALFWIDTH HANGUL FILLER"),
            ('\u{fe00}', "VARIATION SELECTOR-1"),
            ('\u{fe0e}', "VARIATION SELECTOR-15"),
            ('\u{fe0f}', "VARIATION SELECTOR-16"),
            ('\u{e0100}', "VARIATION SELECTOR-17"),
            ('\u{e01ef}', "VARIATION SELECTOR-256"),
        ] {
            for raw in [
                format!("al{c}ice"),
                format!("{c}alice"),
                format!("alice{c}"),
            ] {
                assert_eq!(
                    Username::parse(&raw),
                    Err("The username may not contain invisible formatting characters"),
                    "{name} (U+{:04X}) in {raw:?}",
                    u32::from(c)
                );
            }
            // A filler alone would be a name that shows as blank.
            assert!(Username::parse(&c.to_string()).is_err(), "{name} alone");
        }
    }

    #[test]
    fn queries_that_cannot_name_a_user_do_not_parse() {
        assert!(UsernameQuery::parse("a\0b").is_none());
        assert!(UsernameQuery::parse("a\u{1f}").is_none());
        assert!(UsernameQuery::parse("").is_none());
        assert!(UsernameQuery::parse("a/b").is_none());
        assert!(UsernameQuery::parse(&"x".repeat(65)).is_none());
        assert!(UsernameQuery::parse("Roger Histand").is_some());
        assert!(UsernameQuery::parse(" legacy ").is_some());
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics_and_accepts_only_valid_names(raw in "\\PC{0,80}|.{0,80}") {
            if let Ok(name) = Username::parse(&raw) {
                let nfc: String = raw.nfc().collect();
                proptest::prop_assert_eq!(name.as_str(), nfc.as_str());
                let raw = nfc;
                let chars = raw.chars().count();
                proptest::prop_assert!((1..=MAX_USERNAME_CHARS).contains(&chars));
                proptest::prop_assert!(!raw.contains('/'));
                proptest::prop_assert!(!RESERVED_USERNAMES.iter().any(|r| r.eq_ignore_ascii_case(&raw)));
                proptest::prop_assert!(!raw.chars().any(|c| c.is_control() || is_invisible(c)));
                proptest::prop_assert_eq!(raw.trim(), raw.as_str());
                // Whatever registers can be looked up again by the same text.
                proptest::prop_assert_eq!(
                    UsernameQuery::parse(&raw).map(|q| q.as_str().to_owned()),
                    Some(raw.clone())
                );
            }
        }
    }
}
