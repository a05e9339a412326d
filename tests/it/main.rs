//! MiniTwit's integration tests against a real server, one module per area (`api`, `web`,
//! `mastodon`, `realtime`, `hardening`, `ops`, `proxy`, `tools`) and the helpers they share
//! (`common`), linked into one test binary: each area was a binary of its own, and linking
//! each of them with the whole server made every `cargo test` slower (BENCHMARKS.md, "Test
//! suite: one binary"). Run one area or one test by its path: `cargo test --test it
//! ops::api_docs` (README.md, "Tests").

mod common;

mod api;
mod hardening;
mod mastodon;
mod ops;
mod proxy;
mod realtime;
mod strict;
mod tools;
mod web;
