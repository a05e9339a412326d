//! The refusals of an overloaded server: a request over a rate limit ([`RateLimited`], 429)
//! and a password hash that found no free slot in time ([`HashBusy`], 503), each with the
//! `Retry-After` it tells the client. `limits` raises them and `error::AppError` carries
//! them; they sit below both, so neither imports the other.

use poem::Response;

/// Which limit refused a request; also the `limiter` label of `minitwit_rate_limited_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limiter {
    Login,
    Register,
    WsConnect,
    Post,
}

impl Limiter {
    pub const ALL: [Limiter; 4] = [
        Limiter::Login,
        Limiter::Register,
        Limiter::WsConnect,
        Limiter::Post,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Limiter::Login => "login",
            Limiter::Register => "register",
            Limiter::WsConnect => "ws_connect",
            Limiter::Post => "post",
        }
    }
}

/// A request refused by a limiter, with how long until it would be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    pub limiter: Limiter,
    pub retry_after_secs: u64,
}

impl RateLimited {
    /// The API's text for it (the pages word it their own way).
    pub const MESSAGE: &'static str = "Too many requests, please slow down and try again shortly";

    /// Sets `Retry-After` on a 429 response.
    pub fn add_retry_after(&self, res: &mut Response) {
        if let Ok(value) = self.retry_after_secs.to_string().parse() {
            res.headers_mut()
                .insert(poem::http::header::RETRY_AFTER, value);
        }
    }
}

/// No slot came free in time: 503 with `Retry-After`, worth a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashBusy;

impl HashBusy {
    pub const MESSAGE: &'static str = "The server is busy, please try again shortly";
    /// Seconds a client is told to wait: a hash takes tens of milliseconds, so a slot is
    /// likely free by then.
    pub const RETRY_AFTER_SECS: u64 = 1;

    pub fn add_retry_after(&self, res: &mut Response) {
        res.headers_mut().insert(
            poem::http::header::RETRY_AFTER,
            poem::http::HeaderValue::from(Self::RETRY_AFTER_SECS),
        );
    }
}
