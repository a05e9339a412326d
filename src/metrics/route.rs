//! Maps a request to the route pattern and method used as metric labels and log fields.
//!
//! poem does not hand the matched pattern to an outer middleware, so the patterns of our
//! known routes are listed here. Usernames must never become label values: every segment
//! that is a user's name is replaced by `:username`, and anything unknown is `other`, so the
//! number of label values stays fixed whatever clients send.

use poem::http::Method;

use crate::domain::RESERVED_USERNAMES;

/// Single-segment routes served under their own name (SPEC §1, §3, §4, §5).
const FIXED: &[&str] = &[
    "/",
    "/public",
    "/login",
    "/logout",
    "/register",
    "/add_message",
    "/ws",
    "/sse",
    "/metrics",
    "/healthz",
    "/readyz",
];

/// Fixed routes of the simulator API, under `/api`.
const API_FIXED: &[&str] = &[
    "/api/latest",
    "/api/register",
    "/api/msgs",
    "/api/stream",
    "/api/openapi.json",
    "/api/docs",
];

/// The route pattern `path` belongs to, or `other`.
pub fn route_pattern(path: &str) -> &'static str {
    if let Some(fixed) = FIXED.iter().chain(API_FIXED).find(|p| **p == path) {
        return fixed;
    }
    let Some(rest) = path.strip_prefix('/') else {
        return "other";
    };
    let segments: Vec<&str> = rest.split('/').collect();
    match segments.as_slice() {
        ["static", file] if !file.is_empty() => "/static/*path",
        ["api", "msgs", user] if !user.is_empty() => "/api/msgs/:username",
        ["api", "fllws", user] if !user.is_empty() => "/api/fllws/:username",
        ["messages", id, "hide"] if !id.is_empty() => "/messages/:id/hide",
        ["messages", id, "unhide"] if !id.is_empty() => "/messages/:id/unhide",
        [user] if is_username(user) => "/:username",
        [user, "follow"] if is_username(user) => "/:username/follow",
        [user, "unfollow"] if is_username(user) => "/:username/unfollow",
        _ => "other",
    }
}

fn is_username(segment: &str) -> bool {
    !segment.is_empty() && !RESERVED_USERNAMES.contains(&segment)
}

/// The method as a label: the standard ones by name, anything else as `OTHER`, so custom
/// methods cannot add label values either.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_routes_keep_their_name() {
        for path in FIXED.iter().chain(API_FIXED) {
            assert_eq!(route_pattern(path), *path);
        }
    }

    #[test]
    fn usernames_become_patterns() {
        assert_eq!(route_pattern("/alice"), "/:username");
        assert_eq!(route_pattern("/a%20b"), "/:username");
        assert_eq!(route_pattern("/alice/follow"), "/:username/follow");
        assert_eq!(route_pattern("/alice/unfollow"), "/:username/unfollow");
        assert_eq!(route_pattern("/api/msgs/alice"), "/api/msgs/:username");
        assert_eq!(route_pattern("/api/fllws/b%C3%B8b"), "/api/fllws/:username");
        assert_eq!(route_pattern("/static/style.css"), "/static/*path");
        assert_eq!(route_pattern("/messages/42/hide"), "/messages/:id/hide");
        assert_eq!(route_pattern("/messages/42/unhide"), "/messages/:id/unhide");
    }

    #[test]
    fn anything_else_is_other() {
        for path in [
            "/alice/bob",
            "/api/unknown",
            "/api/msgs/a/b",
            "/api/msgs/",
            "//",
            "/static/",
            "/static/a/b",
            "/public/follow",
            "",
            "*",
        ] {
            assert_eq!(route_pattern(path), "other", "{path}");
        }
    }

    #[test]
    fn custom_methods_do_not_add_labels() {
        assert_eq!(method_label(&Method::GET), "GET");
        let custom = Method::from_bytes(b"BREW").expect("valid token");
        assert_eq!(method_label(&custom), "OTHER");
    }
}
