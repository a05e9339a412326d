//! MiniTwit: a realtime Twitter-like microblog, compatible with the ITU MiniTwit simulator.
//!
//! - [`config`]: the command line and settings (flags with environment fallbacks).
//! - [`startup`]: builds the app from settings and serves it; tests use it too.
//! - [`domain`]: usernames, emails, passwords and message texts, parsed once.
//! - [`store`]: SeaORM entities, migrations and every query.
//! - [`registration`], [`posting`]: the actions shared by the API and the pages.
//! - [`api`]: the simulator API under `/api`.
//! - [`web`]: the classic MiniTwit pages (timelines, login, registration, follow).
//! - [`realtime`]: publishing of new messages and follow changes to open streams.
//! - [`sim`], [`seed`]: the load tool that replays simulator scenarios, and bulk seeding.
//! - [`metrics`]: the Prometheus registry (every family of SPEC §5), request middleware
//!   labelled by route pattern, `/metrics`, and the business gauges refreshed from the store.
//! - [`limits`]: body size, rate limits, password-hash slots and slow-client deadlines
//!   (SPEC §6).
//! - [`health`], [`telemetry`] (logs, request ids), [`error`]: the operational edges.

pub mod api;
pub mod config;
pub mod domain;
pub mod error;
pub mod health;
pub mod limits;
pub mod metrics;
pub mod posting;
pub mod realtime;
pub mod registration;
pub mod seed;
pub mod sim;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod web;
