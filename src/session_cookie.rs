//! The session cookie: its name and how it is signed and scoped. Below the surfaces and
//! startup, so the pages (`web::secure_cookie`), the server's wiring (`startup`) and the
//! tests name one cookie without importing each other.

use std::time::Duration;

use poem::session::CookieConfig;
use poem::web::cookie::{CookieKey, SameSite};
use sha2::{Digest, Sha512};

use crate::config::{CookieSecure, Settings};

/// Name of the signed session cookie; the session holds `user_id` (i64) once logged in.
pub const SESSION_COOKIE: &str = "minitwit_session";

/// Sessions live in a signed cookie keyed by `MINITWIT_SECRET_KEY`, so any replica sharing
/// the key accepts any session; a login in it counts while its row in the database does
/// (`web::session`). `Max-Age` tells the browser the login's absolute lifetime.
pub fn config(settings: &Settings) -> CookieConfig {
    let key = match &settings.secret_key {
        // SHA-512 stretches a secret of any length to the 64 bytes a cookie key needs.
        Some(secret) => CookieKey::from(Sha512::digest(secret.expose().as_bytes()).as_slice()),
        None => {
            tracing::warn!(
                "MINITWIT_SECRET_KEY is not set: using a random key, so sessions end on restart \
                 and are not shared between replicas"
            );
            CookieKey::generate()
        }
    };
    CookieConfig::signed(key)
        .name(SESSION_COOKIE)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(settings.cookie_secure == CookieSecure::True)
        .max_age(Duration::from_secs(
            u64::from(settings.session_days) * 86_400,
        ))
}
