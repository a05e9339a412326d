//! The Mastodon-compatible API (docs/mastodon.md): real client libraries run against it.

mod clients;
