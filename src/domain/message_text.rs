//! `MessageText`: a message body of 1–1000 characters that may span lines: line feeds,
//! carriage returns and tabs are allowed, every other control character is refused
//! (README.md, "Limits"). Line breaks are stored as `\n` whichever way they were sent;
//! everything else is kept exactly as written.

use std::borrow::Cow;

use super::chars::{is_control, is_text_layout};

pub const MAX_MESSAGE_CHARS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: &str) -> Result<MessageText, &'static str> {
        let text = unix_line_breaks(raw);
        if text.trim().is_empty() {
            return Err("The message may not be empty");
        }
        // Counted as stored: a CRLF is one character.
        if text.chars().count() > MAX_MESSAGE_CHARS {
            return Err("The message must be at most 1000 characters");
        }
        // A NUL must never reach PostgreSQL (it refuses one in text with an error), and
        // escapes or other controls do not belong in a post anyone reads.
        if text.chars().any(|c| is_control(c) && !is_text_layout(c)) {
            return Err("The message may not contain control characters");
        }
        Ok(MessageText(text.into_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// CRLF (what a browser's form sends for a line break) and a lone CR (old Mac text) become
/// LF, so one message reads the same through the API, the pages and the streams.
fn unix_line_breaks(raw: &str) -> Cow<'_, str> {
    if raw.contains('\r') {
        Cow::Owned(raw.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(raw: &str) -> Result<String, &'static str> {
        MessageText::parse(raw).map(|m| m.0)
    }

    #[test]
    fn keeps_unicode_exactly_and_bounds_length() {
        let text = "Ünïcødé 🐦 <b>\"quotes\"</b> ";
        assert_eq!(parsed(text), Ok(text.to_owned()));
        assert!(MessageText::parse(&"🐦".repeat(1000)).is_ok());
        assert!(MessageText::parse(&"a".repeat(1001)).is_err());
        assert!(MessageText::parse("").is_err());
        assert!(MessageText::parse("  \n").is_err());
        assert!(MessageText::parse("\r\n\t").is_err());
    }

    #[test]
    fn line_breaks_and_tabs_are_kept_with_breaks_as_lf() {
        assert_eq!(
            parsed("first line\nsecond\tline"),
            Ok("first line\nsecond\tline".into())
        );
        assert_eq!(parsed("windows\r\nbreak"), Ok("windows\nbreak".into()));
        assert_eq!(parsed("old mac\rbreak"), Ok("old mac\nbreak".into()));
        assert_eq!(parsed("a\r\n\r\nb\r\rc\n\r"), Ok("a\n\nb\n\nc\n\n".into()));
        // 999 CRLFs and a letter are 1000 characters once stored.
        assert!(MessageText::parse(&format!("{}a", "\r\n".repeat(999))).is_ok());
    }

    #[test]
    fn other_control_characters_are_refused() {
        for raw in [
            "a\0b",
            "esc\u{1b}[2J",
            "del\u{7f}",
            "bell\u{7}",
            "vertical\u{b}tab",
            "form\u{c}feed",
            "line\n\0",
            "unit\u{1f}sep",
        ] {
            assert_eq!(
                MessageText::parse(raw),
                Err("The message may not contain control characters"),
                "{raw:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn accepted_exactly_when_non_blank_short_and_without_other_controls(raw in "\\PC{0,1100}|\\s{0,5}|[a \\x00-\\x1f\\x7f]{0,10}|[a\\r\\n\\t]{0,12}") {
            let stored = raw.replace("\r\n", "\n").replace('\r', "\n");
            let expected = !stored.trim().is_empty()
                && stored.chars().count() <= MAX_MESSAGE_CHARS
                && !stored.chars().any(|c| is_control(c) && !is_text_layout(c));
            match MessageText::parse(&raw) {
                Ok(text) => {
                    proptest::prop_assert!(expected);
                    proptest::prop_assert_eq!(text.as_str(), stored.as_str());
                    proptest::prop_assert!(!text.as_str().contains('\r'));
                }
                Err(_) => proptest::prop_assert!(!expected),
            }
        }
    }
}
