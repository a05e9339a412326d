//! The app's one wall clock: Unix time in seconds (message dates, session expiry) and in
//! microseconds (bus envelopes, fan-out delay). A clock before 1970 reads as 0.

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    now_us() / 1_000_000
}
