//! `Email`: what the classic MiniTwit accepts (it must contain `@`), at a sane length,
//! without control characters.

use super::chars::has_control;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

const MAX_EMAIL_CHARS: usize = 254;

impl Email {
    pub fn parse(raw: &str) -> Result<Email, &'static str> {
        if !raw.contains('@') {
            return Err("You have to enter a valid email address");
        }
        if raw.chars().count() > MAX_EMAIL_CHARS {
            return Err("The email address must be at most 254 characters");
        }
        if has_control(raw) {
            return Err("The email address may not contain control characters");
        }
        Ok(Email(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_an_at_sign() {
        assert!(Email::parse("Roger+Histand@hotmail.com").is_ok());
        assert_eq!(
            Email::parse("nope"),
            Err("You have to enter a valid email address")
        );
        assert!(Email::parse("").is_err());
        assert!(Email::parse(&format!("a@{}", "b".repeat(300))).is_err());
        assert!(Email::parse("a\0@b").is_err());
        assert!(Email::parse("a@b\r\nBcc: c@d").is_err());
    }

    proptest::proptest! {
        #[test]
        fn accepted_exactly_when_it_has_an_at_and_fits(raw in ".{0,300}|[a@\\x00-\\x1f\\x7f]{0,10}") {
            let expected = raw.contains('@') && raw.chars().count() <= 254 && !has_control(&raw);
            proptest::prop_assert_eq!(Email::parse(&raw).is_ok(), expected);
        }
    }
}
