//! `MessageText`: a message body of 1–1000 characters without control characters (SPEC §6),
//! kept exactly as written.

use super::chars::has_control;

pub const MAX_MESSAGE_CHARS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: &str) -> Result<MessageText, &'static str> {
        if raw.trim().is_empty() {
            return Err("The message may not be empty");
        }
        if raw.chars().count() > MAX_MESSAGE_CHARS {
            return Err("The message must be at most 1000 characters");
        }
        // Newlines and tabs too: the classic form is one line, the simulator's scenario has
        // none, and the SPEC refuses every C0 control.
        if has_control(raw) {
            return Err("The message may not contain control characters");
        }
        Ok(MessageText(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_unicode_exactly_and_bounds_length() {
        let text = "Ünïcødé 🐦 <b>\"quotes\"</b> ";
        assert_eq!(MessageText::parse(text).map(|m| m.0), Ok(text.to_owned()));
        assert!(MessageText::parse(&"🐦".repeat(1000)).is_ok());
        assert!(MessageText::parse(&"a".repeat(1001)).is_err());
        assert!(MessageText::parse("").is_err());
        assert!(MessageText::parse("  \n").is_err());
        for raw in [
            "a\0b",
            "line\nbreak",
            "tab\there",
            "cr\r",
            "esc\u{1b}[2J",
            "del\u{7f}",
        ] {
            assert!(MessageText::parse(raw).is_err(), "{raw:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn accepted_exactly_when_non_blank_and_at_most_1000_chars(raw in "\\PC{0,1100}|\\s{0,5}|[a \\x00-\\x1f\\x7f]{0,10}") {
            let expected = !raw.trim().is_empty()
                && raw.chars().count() <= MAX_MESSAGE_CHARS
                && !has_control(&raw);
            match MessageText::parse(&raw) {
                Ok(text) => {
                    proptest::prop_assert!(expected);
                    proptest::prop_assert_eq!(text.as_str(), raw.as_str());
                }
                Err(_) => proptest::prop_assert!(!expected),
            }
        }
    }
}
