//! The stream surface: the HTTP handlers that open streams on the realtime engine
//! (`crate::realtime`) and write its frames to clients, as websockets and as server-sent
//! events (docs/protocol.md). Beside `api` and `web`; the engine below knows no HTTP
//! (docs/architecture.md).
//!
//! - [`routes`]: MiniTwit's `/ws`, `/api/stream` (mounted by the API), `/sse` and
//!   `/static/live.js`: what is refused before a stream opens. The only file that knows
//!   the pages' sessions, so another surface (Mastodon's streaming) uses the rest.
//! - [`start`]: a stream's place under the caps, and the start of a socket's task.
//! - [`upgrade`]: the websocket handshake, so a socket is one task that writes shared
//!   frames; [`socket`]: that task (subscriptions, replay, pings, the flood limit);
//!   [`budget`]: its budgets of frames and replays; [`close`]: how it ends (close codes).
//! - [`sse`]: a stream as server-sent events.
//! - [`dialect`]: a stream's protocol: MiniTwit's, or another surface's client frames,
//!   answers, events and frame formats.
//! - [`reader`]: whose a stream is, and its count in the connections gauge.
//! - [`refusal`]: how a stream that cannot open is answered (`AppError` rendered for
//!   streams).

pub mod budget;
pub mod close;
pub mod dialect;
pub mod reader;
pub mod refusal;
pub mod routes;
pub mod socket;
pub mod sse;
pub mod start;
pub mod upgrade;

pub use routes::{api_stream, live_js, sse_stream, ws_stream};
