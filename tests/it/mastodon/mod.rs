//! The Mastodon-compatible API (docs/mastodon.md) against a real server.

mod streaming;
