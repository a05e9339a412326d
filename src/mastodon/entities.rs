//! Mastodon's Account, Status and Relationship entities as MiniTwit fills them in
//! (docs/mastodon.md, "Entities"): what MiniTwit has no concept of is present and empty,
//! false or null, so clients that read every field find it. Serialized with borrowed
//! strings, as a timeline page writes twenty of them per request.

use serde::Serialize;

use crate::avatar::gravatar_url;
use crate::store::{AccountStats, Relationship, TimelineMessage};

/// Seconds in a day: Mastodon gives an account's `created_at` as a day.
const DAY: i64 = 86_400;
/// The avatar size clients ask Mastodon for.
const AVATAR_SIZE: u32 = 400;

/// `unix_seconds` as Mastodon writes times: ISO 8601 UTC with milliseconds.
pub fn iso_time(unix_seconds: i64) -> String {
    chrono::DateTime::from_timestamp(unix_seconds, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// The day `unix_seconds` falls on, as a date (`last_status_at`).
fn iso_day(unix_seconds: i64) -> String {
    chrono::DateTime::from_timestamp(unix_seconds, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

/// A status's text as Mastodon's HTML `content`: escaped, in one paragraph, line breaks as
/// `<br>`.
pub fn content_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str("<p>");
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("<br>"),
            other => out.push(other),
        }
    }
    out.push_str("</p>");
    out
}

/// A username as a URL path segment.
fn path_segment(username: &str) -> String {
    url::form_urlencoded::byte_serialize(username.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Who an account is, as every Account entity needs it.
pub struct AccountOf<'a> {
    pub id: i64,
    pub username: &'a str,
    pub email: &'a str,
}

#[derive(Serialize)]
pub struct Account<'a> {
    id: String,
    username: &'a str,
    acct: &'a str,
    display_name: &'a str,
    locked: bool,
    bot: bool,
    discoverable: bool,
    group: bool,
    created_at: String,
    note: &'static str,
    url: String,
    uri: String,
    avatar: String,
    avatar_static: String,
    header: &'static str,
    header_static: &'static str,
    followers_count: i64,
    following_count: i64,
    statuses_count: i64,
    last_status_at: Option<String>,
    emojis: [(); 0],
    fields: [(); 0],
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<Source>,
}

/// `verify_credentials`'s extra: the account's own settings.
#[derive(Serialize)]
struct Source {
    privacy: &'static str,
    sensitive: bool,
    language: Option<&'static str>,
    note: &'static str,
    fields: [(); 0],
    follow_requests_count: u32,
}

impl<'a> Account<'a> {
    /// The account of `who`, with its counts when known (`None`: zeros, as inside statuses
    /// and stream frames; `created_at` is then `fallback_day`'s day).
    pub fn new(
        who: AccountOf<'a>,
        stats: Option<&AccountStats>,
        fallback_day: i64,
        base: &str,
    ) -> Account<'a> {
        let stats = stats.copied().unwrap_or_default();
        let day = stats.first_status_at.unwrap_or(fallback_day);
        let avatar = gravatar_url(who.email, AVATAR_SIZE);
        let url = format!("{base}/{}", path_segment(who.username));
        Account {
            id: who.id.to_string(),
            username: who.username,
            acct: who.username,
            display_name: who.username,
            locked: false,
            bot: false,
            discoverable: false,
            group: false,
            created_at: iso_time(day - day.rem_euclid(DAY)),
            note: "",
            uri: url.clone(),
            url,
            avatar_static: avatar.clone(),
            avatar,
            header: "",
            header_static: "",
            followers_count: stats.followers,
            following_count: stats.following,
            statuses_count: stats.statuses,
            last_status_at: stats.last_status_at.map(iso_day),
            emojis: [],
            fields: [],
            source: None,
        }
    }

    /// Adds `source`, as `verify_credentials` answers.
    pub fn with_source(mut self) -> Account<'a> {
        self.source = Some(Source {
            privacy: "public",
            sensitive: false,
            language: None,
            note: "",
            fields: [],
            follow_requests_count: 0,
        });
        self
    }
}

#[derive(Serialize)]
pub struct Status<'a> {
    id: String,
    created_at: String,
    in_reply_to_id: Option<()>,
    in_reply_to_account_id: Option<()>,
    sensitive: bool,
    spoiler_text: &'static str,
    visibility: &'static str,
    language: Option<()>,
    uri: String,
    url: String,
    replies_count: u32,
    reblogs_count: u32,
    favourites_count: u32,
    edited_at: Option<()>,
    favourited: bool,
    reblogged: bool,
    muted: bool,
    bookmarked: bool,
    pinned: bool,
    content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    reblog: Option<()>,
    application: Option<()>,
    account: Account<'a>,
    media_attachments: [(); 0],
    mentions: [(); 0],
    tags: [(); 0],
    emojis: [(); 0],
    card: Option<()>,
    poll: Option<()>,
}

impl<'a> Status<'a> {
    pub fn new(message: &'a TimelineMessage, base: &str) -> Status<'a> {
        let account = Account::new(
            AccountOf {
                id: message.author_id,
                username: &message.username,
                email: &message.email,
            },
            None,
            message.pub_date,
            base,
        );
        let url = format!("{}#{}", account.url, message.message_id);
        Status {
            id: message.message_id.to_string(),
            created_at: iso_time(message.pub_date),
            in_reply_to_id: None,
            in_reply_to_account_id: None,
            sensitive: false,
            spoiler_text: "",
            visibility: "public",
            language: None,
            uri: format!("{base}/api/v1/statuses/{}", message.message_id),
            url,
            replies_count: 0,
            reblogs_count: 0,
            favourites_count: 0,
            edited_at: None,
            favourited: false,
            reblogged: false,
            muted: false,
            bookmarked: false,
            pinned: false,
            content: content_html(&message.text),
            text: None,
            reblog: None,
            application: None,
            account,
            media_attachments: [],
            mentions: [],
            tags: [],
            emojis: [],
            card: None,
            poll: None,
        }
    }

    /// Adds the plain `text`, as Mastodon answers a delete (for "delete and redraft").
    pub fn with_text(mut self, text: &'a str) -> Status<'a> {
        self.text = Some(text);
        self
    }
}

/// `message` as a Status entity's JSON text: what timelines hold and stream frames carry
/// as their payload, built one way for both.
pub fn status_json(message: &TimelineMessage, base: &str) -> String {
    serde_json::to_string(&Status::new(message, base)).unwrap_or_default()
}

#[derive(Serialize)]
pub struct RelationshipView {
    id: String,
    following: bool,
    showing_reblogs: bool,
    notifying: bool,
    languages: Option<()>,
    followed_by: bool,
    blocking: bool,
    blocked_by: bool,
    muting: bool,
    muting_notifications: bool,
    requested: bool,
    requested_by: bool,
    domain_blocking: bool,
    endorsed: bool,
    note: &'static str,
}

impl From<Relationship> for RelationshipView {
    fn from(r: Relationship) -> Self {
        RelationshipView {
            id: r.id.to_string(),
            following: r.following,
            showing_reblogs: r.following,
            notifying: false,
            languages: None,
            followed_by: r.followed_by,
            blocking: false,
            blocked_by: false,
            muting: false,
            muting_notifications: false,
            requested: false,
            requested_by: false,
            domain_blocking: false,
            endorsed: false,
            note: "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> TimelineMessage {
        TimelineMessage {
            message_id: 42,
            author_id: 7,
            username: "ann lee".into(),
            email: "ann@example.com".into(),
            text: text.into(),
            pub_date: 1_764_943_387,
        }
    }

    #[test]
    fn content_is_escaped_with_line_breaks() {
        assert_eq!(
            content_html("<b>hi</b> & \"you\"\nbye"),
            "<p>&lt;b&gt;hi&lt;/b&gt; &amp; &quot;you&quot;<br>bye</p>"
        );
    }

    #[test]
    fn a_status_has_every_field_clients_read() {
        let json: serde_json::Value =
            serde_json::from_str(&status_json(&message("hello"), "https://mt.example"))
                .expect("json");
        assert_eq!(json["id"], "42");
        assert_eq!(json["created_at"], "2025-12-05T14:03:07.000Z");
        assert_eq!(json["content"], "<p>hello</p>");
        assert_eq!(json["visibility"], "public");
        assert_eq!(json["media_attachments"], serde_json::json!([]));
        assert!(json["reblog"].is_null() && json["poll"].is_null() && json["card"].is_null());
        assert_eq!(json["account"]["id"], "7");
        assert_eq!(json["account"]["acct"], "ann lee");
        assert_eq!(json["account"]["url"], "https://mt.example/ann%20lee");
        assert_eq!(json["account"]["created_at"], "2025-12-05T00:00:00.000Z");
        assert_eq!(json["account"]["fields"], serde_json::json!([]));
        assert!(json.get("text").is_none());
    }
}
