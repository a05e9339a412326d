//! The Gravatar URL shown next to every message, on the pages and in live frames alike
//! (README.md, "The web pages"), so a rendered and a pushed message look the same.

/// Gravatar of `md5(lower(trim(email)))`, an identicon when the address has none.
pub fn gravatar_url(email: &str, size: u32) -> String {
    let digest = md5::compute(email.trim().to_lowercase().as_bytes());
    format!("https://www.gravatar.com/avatar/{digest:x}?d=identicon&s={size}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gravatar_hashes_the_trimmed_lowercase_address() {
        // md5("myemailaddress@example.com"), Gravatar's documented example.
        assert_eq!(
            gravatar_url("  MyEmailAddress@example.com ", 48),
            "https://www.gravatar.com/avatar/0bc83cb571cd1c50ba6f3e8a78ef1346?d=identicon&s=48"
        );
    }
}
