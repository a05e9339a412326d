//! Limits of SPEC §6: request body size, and rate limits per client IP and per user.

mod body;
mod client_ip;
mod rate;

pub use body::{limit_body, MAX_BODY_BYTES};
pub use client_ip::{client_ip, TrustedProxies};
pub use rate::{Limiter, RateLimitSettings, RateLimited, RateLimits};
