//! Opening a stream, for every surface that serves one (MiniTwit's routes, Mastodon's):
//! the client's place under the caps on open streams, and a websocket's one task started
//! on the socket runtime. Knows no surface's requests or sessions.

use std::net::IpAddr;

use poem::{Request, Response};

use super::socket::{self, Connection};
use super::upgrade::WsUpgrade;
use crate::limits::{address_bucket, client_ip};
use crate::realtime::runtime;
use crate::state::AppState;

/// The client's address as the caps on open streams count it: an IPv6 client by its /64.
pub fn client_bucket(req: &Request, state: &AppState) -> Option<IpAddr> {
    client_ip(req, &state.settings.trusted_proxies).map(address_bucket)
}

/// Answers the upgrade and starts the socket's one task on the socket runtime; the task
/// awaits the upgraded connection itself, so nothing waits for it on the request runtime.
pub fn start(ws: WsUpgrade, conn: Connection) -> Response {
    let (response, pending) = ws.accept();
    // If the socket runtime is gone (process exiting), the socket just closes.
    drop(runtime::handle().spawn(socket::run(pending, conn)));
    response
}
