//! `Password`: a non-empty secret without control characters that never prints, hashed and
//! verified with Argon2id.

use std::fmt;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

use super::chars::has_control;

/// Long enough for any passphrase, short enough that hashing stays cheap.
const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Clone)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    pub fn parse(raw: &str) -> Result<Password, &'static str> {
        if raw.is_empty() {
            return Err("You have to enter a password");
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err("The password must be at most 1024 bytes");
        }
        if has_control(raw) {
            return Err("The password may not contain control characters");
        }
        Ok(Password(raw.to_owned()))
    }

    /// An Argon2id PHC string. Blocking work of a few milliseconds: call it from
    /// `spawn_blocking` on a server.
    pub fn hash(&self) -> String {
        let salt = SaltString::generate(&mut OsRng);
        hasher()
            .hash_password(self.0.as_bytes(), &salt)
            .map(|h| h.to_string())
            // Hashing a bounded byte string with valid parameters and a fresh salt cannot fail.
            .unwrap_or_else(|e| panic!("argon2 hashing failed: {e}"))
    }

    /// Whether this password matches a stored PHC string (false for a malformed one).
    pub fn verify(&self, phc: &str) -> bool {
        PasswordHash::new(phc)
            .map(|parsed| hasher().verify_password(self.0.as_bytes(), &parsed).is_ok())
            .unwrap_or(false)
    }
}

/// Argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane).
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_only_the_same_password() {
        let pw = Password::parse("]=)[X{Km{z").expect("valid");
        let phc = pw.hash();
        assert!(phc.starts_with("$argon2id$"));
        assert!(pw.verify(&phc));
        assert!(!Password::parse("other").expect("valid").verify(&phc));
        assert!(!pw.verify("not a hash"));
    }

    #[test]
    fn empty_is_rejected_and_debug_hides_it() {
        assert_eq!(
            Password::parse("").map(|_| ()),
            Err("You have to enter a password")
        );
        let pw = Password::parse("hunter2").expect("valid");
        assert!(!format!("{pw:?}").contains("hunter2"));
        assert!(Password::parse("a\0b").is_err());
        assert!(Password::parse("tab\there").is_err());
        assert!(Password::parse("]=)[X{Km{z ü").is_ok());
    }
}
