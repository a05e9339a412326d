//! A runtime of its own for the websocket tasks.
//!
//! One post to 10,000 sockets makes 10,000 tasks runnable at once. On the main runtime the
//! next HTTP request (and each of its database round trips) would queue behind all of
//! them, so posting slowed down with the audience and, overloaded, timed out. Here the
//! socket tasks queue among themselves, and the OS shares the cores between these threads
//! and the main runtime's.

use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle, Runtime};

static SOCKETS: OnceLock<Option<Runtime>> = OnceLock::new();

/// Where socket tasks run: the dedicated runtime, or the current one if it cannot start.
pub fn handle() -> Handle {
    let runtime = SOCKETS.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("minitwit-ws")
            .enable_all()
            .build()
            .map_err(|e| tracing::warn!(error = %e, "no websocket runtime; sharing the main one"))
            .ok()
    });
    match runtime {
        Some(runtime) => runtime.handle().clone(),
        None => Handle::current(),
    }
}
