//! Websocket streams against real servers (SPEC §4): one instance on SQLite and PostgreSQL,
//! two instances sharing PostgreSQL and Redis, Redis going away and coming back, slow
//! readers, and the live page in headless Chromium.

#[path = "../common/mod.rs"]
mod common;

mod client;
mod cluster;
mod live_page;
mod pages;
mod protocol;
mod slow;
mod streams;
