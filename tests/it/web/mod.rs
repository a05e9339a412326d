//! The classic MiniTwit pages against a real server: the classic web test flows, escaping,
//! pagination, cross-origin refusal and cookies over HTTP (on SQLite always, on PostgreSQL
//! when `TEST_DATABASE_URL` is set), and one end-to-end run in headless Chromium.

mod classic;
mod e2e;
mod escaping;
mod headers;
mod home_timeline;
mod moderation;
mod pagination;
mod security;
