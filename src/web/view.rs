//! What the templates show: messages with their avatar, date and author link, ready to print.

use serde::Serialize;

use crate::store::TimelineMessage;

/// One message as a timeline renders it (and as the live-update script mirrors it).
#[derive(Debug, Serialize)]
pub struct MessageView {
    pub id: i64,
    pub username: String,
    /// `/{username}`, percent-encoded as `encodeURIComponent` would.
    pub path: String,
    pub text: String,
    pub avatar: String,
    /// `YYYY-MM-DD @ HH:MM`, UTC.
    pub date: String,
}

impl From<&TimelineMessage> for MessageView {
    fn from(m: &TimelineMessage) -> Self {
        MessageView {
            id: m.message_id,
            username: m.username.clone(),
            path: user_path(&m.username),
            text: m.text.clone(),
            avatar: gravatar_url(&m.email, 48),
            date: format_date(m.pub_date),
        }
    }
}

pub use crate::avatar::gravatar_url;

/// `YYYY-MM-DD @ HH:MM` in UTC, as the classic pages print dates.
pub fn format_date(unix_seconds: i64) -> String {
    chrono::DateTime::from_timestamp(unix_seconds, 0)
        .map(|t| t.format("%Y-%m-%d @ %H:%M").to_string())
        .unwrap_or_default()
}

/// The path of a user's page: `/` + the name percent-encoded like `encodeURIComponent`
/// (so spaces, `?` and `#` in a name cannot break the link).
pub fn user_path(username: &str) -> String {
    const KEEP: &[u8] = b"-_.!~*'()";
    let mut out = String::with_capacity(username.len() + 1);
    out.push('/');
    for &b in username.as_bytes() {
        if b.is_ascii_alphanumeric() || KEEP.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_minutes() {
        assert_eq!(format_date(0), "1970-01-01 @ 00:00");
        assert_eq!(format_date(1_700_000_000), "2023-11-14 @ 22:13");
    }

    #[test]
    fn user_paths_are_percent_encoded() {
        assert_eq!(user_path("alice"), "/alice");
        assert_eq!(user_path("Roger Histand"), "/Roger%20Histand");
        assert_eq!(user_path("a?b#c"), "/a%3Fb%23c");
        assert_eq!(user_path("Åsa"), "/%C3%85sa");
    }
}
