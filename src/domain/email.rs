//! `Email`: what the classic MiniTwit accepts (it must contain `@`), at a sane length.

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
    }

    proptest::proptest! {
        #[test]
        fn accepted_exactly_when_it_has_an_at_and_fits(raw in ".{0,300}") {
            let expected = raw.contains('@') && raw.chars().count() <= 254;
            proptest::prop_assert_eq!(Email::parse(&raw).is_ok(), expected);
        }
    }
}
