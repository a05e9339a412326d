//! The limits README.md lists under "Limits": request body size, rate limits per client
//! IP and per user, how many password hashes run at once, and how long a connection may
//! dawdle. Refusals are [`crate::error::AppError`]s; no surface is known here.

mod body;
mod client_ip;
mod deadlines;
mod hashing;
mod rate;

pub use body::{limit_body, MAX_BODY_BYTES};
pub use client_ip::{address_bucket, client_ip, TrustedProxies};
pub use deadlines::{DeadlineAcceptor, Deadlines, HEAD_TIMEOUT, IDLE_TIMEOUT, MAX_HEAD_BYTES};
pub use hashing::{HashBusy, HashSlots, MAX_HASH_WAIT};
pub use rate::{Limiter, RateLimitSettings, RateLimited, RateLimits};
