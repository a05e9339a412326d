//! The realtime engine: every committed message, hide, unhide and follow change is
//! published here once, and reaches every subscribed stream on every instance exactly
//! once (docs/delivery.md). It knows no HTTP: the websocket and SSE handlers that open
//! streams on it are a surface above it (`crate::streams`, docs/architecture.md).
//!
//! The database is the source of truth and the bus is the fast path. A post is delivered
//! to this instance's streams at once and to the other instances through Redis pub/sub;
//! each instance's dispatcher feeds a [`delivery::Cursor`] that drops repeats, holds an
//! early id briefly for order, and asks the database for ids the bus did not bring (a gap
//! that stays open, the newest committed id polled every second, and at once after the
//! bus reconnects). So a message may be late but is never lost or doubled.
//!
//! Why pub/sub plus catch-up queries rather than Redis Streams: Streams keep entries but
//! order them by XADD, not by id, and still miss a message whose publisher died between
//! COMMIT and XADD, so the database query would be needed anyway. With it, pub/sub is
//! enough: at most one Redis subscription per instance, nothing stored in Redis, and a
//! Redis outage only delays messages by the poll interval.
//!
//! - [`hub`]: the one interface the actions publish to and streams subscribe through.
//! - [`event`]: what changed ([`Event`]), and the hooks that hear of every change.
//! - [`envelope`]: the event format between instances, and what the dispatcher hears.
//! - [`dispatcher`]: the task that feeds the cursors from the bus and the database and
//!   hands what they release to the registry, with the position each frame reaches.
//! - [`delivery`]: the cursor of delivered, held and missing ids; [`visibility`]: where
//!   messages changed lately stand, so a late hide or unhide does not undo a newer one.
//! - [`registry`]: this instance's subscriptions and the per-event delivery;
//!   [`queue`]: each open stream's queue of frames and signals.
//! - [`redis_bus`]: the Redis side, with its health checks.
//! - [`protocol`]: stream names, positions and the JSON frames of docs/protocol.md;
//!   [`format`]: the frame formats of other surfaces, each frame built once per stream
//!   and format.
//! - [`subscription`]: one stream of a socket or SSE response: registration, `since`
//!   replay and its join with the live feed.
//! - [`logins`]: ends a `home` stream when its login does (logout, expiry), on every
//!   instance.
//! - [`slots`]: the per-instance and per-address caps on open streams.
//! - [`runtime`]: the stream tasks' own runtime, so fan-out never starves requests.

pub mod delivery;
pub mod dispatcher;
pub mod envelope;
pub mod event;
pub mod format;
pub mod hub;
pub mod logins;
pub mod protocol;
pub mod queue;
pub mod redis_bus;
pub mod registry;
pub mod runtime;
pub mod slots;
pub mod subscription;
pub mod visibility;

pub use event::{Event, Noticed};
pub use hub::{Hub, SocketLimits};
