//! MiniTwit: a realtime Twitter-like microblog, compatible with the ITU MiniTwit simulator.
//!
//! - [`config`]: the command line and settings (flags with environment fallbacks).
//! - [`startup`]: builds the app from settings and serves it; tests use it too. What can
//!   stop it from starting is a typed chain ([`startup::StartupError`],
//!   [`store::SetupError`]), printed as one line by [`error_chain`].
//! - [`domain`]: usernames, emails, passwords and message texts, parsed once.
//! - [`store`]: SeaORM entities, migrations and every query; [`store::Pools`] says which
//!   pool each kind of query runs on, per backend.
//! - [`actions`]: what the API and the pages do on a user's behalf (registering, posting,
//!   following, moderating), one file each, all answering `AppResult`.
//! - [`api`]: the simulator API under `/api`; who may call is an extractor (`api::auth`).
//! - [`web`]: the classic MiniTwit pages (timelines, login, registration, follow); who is
//!   visiting is an extractor (`web::extract`).
//! - [`realtime`]: the fan-out engine: every committed change published once reaches
//!   every open stream it belongs to on every instance (docs/delivery.md); no HTTP.
//! - [`mastodon`]: the Mastodon-compatible client API (OAuth, accounts, statuses,
//!   timelines, streaming) for the apps people already use (docs/mastodon.md).
//! - [`streams`]: the stream surface on top of it: `/ws`, `/sse`, `/api/stream`
//!   (docs/protocol.md). docs/architecture.md draws the layers.
//! - [`sim`], [`seed`]: the load tool that replays simulator scenarios, and bulk seeding.
//! - [`metrics`]: the Prometheus registry (every family README.md lists under "Metrics and
//!   logs"), the route label taken from the pattern poem's router matched, and the business
//!   gauges refreshed from the store; [`scrape`]: `/metrics`.
//! - [`assets`]: `/static/*path`, the stylesheet and the live-update script.
//! - [`avatar`]: the Gravatar URL of a message's author, for pages and live frames.
//! - [`origin`]: where a browser says a request comes from (`Sec-Fetch-Site`, `Origin`);
//!   [`browser_policy`]: the headers that say what a browser may do with a response.
//! - [`limits`]: body size, rate limits, password-hash slots and slow-client deadlines
//!   (README.md, "Limits").
//!   [`overload`]: the refusals they raise (429, 503), below both `limits` and `error`;
//!   [`rate_limit`]: the route middleware that declares a per-address limit.
//! - [`error`]: `AppError`, the one error of the app, mapped to a status; each surface's
//!   router is wrapped once by its renderer: `api::error` (JSON), `web::error` (pages),
//!   `streams::refusal` (streams).
//! - [`clock`]: the one wall clock; [`query`]: query-string parameters;
//!   [`session_cookie`]: the session cookie's name and settings.
//! - [`health`], [`telemetry`] (logs, and the one request middleware: ids, spans, the
//!   `request finished` line and the HTTP metrics): the operational edges; [`log_writer`]
//!   writes the log lines from a thread of its own.
//! - [`backup`]: `minitwit backup` and the server's scheduled SQLite backups.
//! - [`error_reports`]: panics and logged errors sent to Sentry when `SENTRY_DSN` is set.

pub mod actions;
pub mod api;
pub mod assets;
pub mod avatar;
pub mod backup;
pub mod browser_policy;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod error_chain;
pub mod error_reports;
pub mod health;
pub mod limits;
pub mod log_writer;
pub mod mastodon;
pub mod metrics;
pub mod origin;
pub mod overload;
pub mod query;
pub mod rate_limit;
pub mod realtime;
pub mod scrape;
pub mod seed;
pub mod session_cookie;
pub mod sim;
pub mod startup;
pub mod state;
pub mod store;
pub mod streams;
pub mod telemetry;
pub mod web;
