//! Websocket streams against real servers (docs/protocol.md): one instance on SQLite and PostgreSQL,
//! two instances sharing PostgreSQL and Redis, Redis going away and coming back, slow
//! readers, the live page in headless Chromium, the delivery guarantee under injected
//! network faults, and the cached pages following the events of every instance.

pub mod client;
pub mod cluster;
mod edges;
mod integrity;
mod limits;
mod live_page;
mod logins;
mod moderation;
mod page_caches;
mod pages;
mod protocol;
mod resume;
mod slow;
pub mod sse;
mod streams;
