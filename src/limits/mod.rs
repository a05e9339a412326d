//! Limits of SPEC §6: request body size, rate limits per client IP and per user, and how
//! many password hashes run at once.

mod body;
mod client_ip;
mod hashing;
mod rate;

pub use body::{limit_body, MAX_BODY_BYTES};
pub use client_ip::{client_ip, TrustedProxies};
pub use hashing::{HashBusy, HashSlots, MAX_HASH_WAIT};
pub use rate::{Limiter, RateLimitSettings, RateLimited, RateLimits};
