//! `Password`: a non-empty secret without control characters that never prints, hashed and
//! verified with Argon2id.

use std::fmt;

use argon2::password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

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

    /// An Argon2id PHC string, in fresh memory. Blocking work of tens of milliseconds; a
    /// server hashes through `limits::HashSlots`, which reuses a bounded set of memories.
    pub fn hash(&self) -> String {
        self.hash_in(&mut HashMemory::new())
    }

    /// [`Password::hash`] in `memory`, so the 19 MiB is not allocated again per hash.
    pub fn hash_in(&self, memory: &mut HashMemory) -> String {
        let salt = SaltString::generate(&mut OsRng);
        let hasher = hasher();
        compute(&hasher, self.0.as_bytes(), salt.as_salt(), memory)
            .and_then(|output| {
                Ok(PasswordHash {
                    algorithm: Algorithm::Argon2id.ident(),
                    version: Some(Version::V0x13.into()),
                    params: ParamsString::try_from(hasher.params())?,
                    salt: Some(salt.as_salt()),
                    hash: Some(output),
                }
                .to_string())
            })
            // Hashing a bounded byte string with valid parameters and a fresh salt cannot fail.
            .unwrap_or_else(|e| panic!("argon2 hashing failed: {e}"))
    }

    /// Whether this password matches a stored PHC string (false for a malformed one).
    pub fn verify(&self, phc: &str) -> bool {
        self.verify_in(phc, &mut HashMemory::new())
    }

    /// [`Password::verify`] in `memory` (or fresh memory, for a hash stored with more).
    pub fn verify_in(&self, phc: &str, memory: &mut HashMemory) -> bool {
        let Ok(stored) = PasswordHash::new(phc) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
            return false;
        };
        let Ok(algorithm) = Algorithm::try_from(stored.algorithm) else {
            return false;
        };
        let version = match stored.version.map(Version::try_from) {
            None => Version::default(),
            Some(Ok(version)) => version,
            Some(Err(_)) => return false,
        };
        // The stored parameters, with the output as long as the stored hash.
        let Ok(params) = Params::try_from(&stored) else {
            return false;
        };
        let hasher = Argon2::new(algorithm, version, params);
        // `Output`'s equality is constant-time.
        compute(&hasher, self.0.as_bytes(), salt, memory).is_ok_and(|output| output == expected)
    }
}

/// The 19 MiB an Argon2id hash works in, kept to be reused: the process holds a fixed
/// number of these instead of allocating one per login.
pub struct HashMemory(Vec<Block>);

impl HashMemory {
    pub fn new() -> HashMemory {
        HashMemory(vec![Block::default(); hasher().params().block_count()])
    }
}

impl Default for HashMemory {
    fn default() -> Self {
        HashMemory::new()
    }
}

/// The raw hash of `password` with `salt`, in `memory` when it is large enough for the
/// parameters (always, for hashes we made), otherwise in a fresh allocation.
fn compute(
    hasher: &Argon2<'_>,
    password: &[u8],
    salt: argon2::password_hash::Salt<'_>,
    memory: &mut HashMemory,
) -> argon2::password_hash::Result<Output> {
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf)?;
    let blocks = hasher.params().block_count();
    let len = hasher
        .params()
        .output_len()
        .unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    Output::init_with(len, |out| {
        let result = match memory.0.get_mut(..blocks) {
            Some(memory) => hasher.hash_password_into_with_memory(password, salt, out, memory),
            None => hasher.hash_password_into(password, salt, out),
        };
        result.map_err(Into::into)
    })
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
    fn reused_memory_gives_hashes_the_standard_verifier_accepts() {
        use argon2::PasswordVerifier;
        let mut memory = HashMemory::new();
        let pw = Password::parse("correct horse").expect("valid");
        let first = pw.hash_in(&mut memory);
        let second = pw.hash_in(&mut memory);
        assert_ne!(first, second, "a fresh salt each time");
        for phc in [&first, &second] {
            let parsed = PasswordHash::new(phc).expect("PHC string");
            assert!(Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok());
            assert!(pw.verify_in(phc, &mut memory));
            assert!(!Password::parse("wrong")
                .expect("valid")
                .verify_in(phc, &mut memory));
        }
        // A hash made elsewhere with other parameters (less memory, Argon2i) verifies too.
        let other = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(1024, 3, 1, Some(16)).expect("params"),
        );
        let salt = SaltString::generate(&mut OsRng);
        let phc = argon2::PasswordHasher::hash_password(&other, b"correct horse", &salt)
            .expect("hash")
            .to_string();
        assert!(pw.verify_in(&phc, &mut memory));
        assert!(!Password::parse("wrong")
            .expect("valid")
            .verify_in(&phc, &mut memory));
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
