//! A small HTTP server for tests that stands in for a notification receiver (a chat
//! webhook, a Sentry endpoint): it answers 200 to everything and hands every request to
//! the test.

use std::time::Duration;

use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Request, Server};
use tokio::sync::mpsc;

/// One request the sink received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub struct Sink {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    rx: mpsc::UnboundedReceiver<Received>,
    server: tokio::task::JoinHandle<()>,
}

impl Sink {
    pub async fn start() -> Sink {
        let (tx, rx) = mpsc::unbounded_channel();
        let endpoint = poem::endpoint::make(move |mut req: Request| {
            let tx = tx.clone();
            async move {
                let body = req.take_body().into_vec().await.unwrap_or_default();
                let _ = tx.send(Received {
                    path: req.uri().path().to_owned(),
                    body,
                });
                "{}"
            }
        });
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("sink binds");
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .expect("sink address");
        let server = tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(endpoint).await;
        });
        Sink {
            base: format!("http://{addr}"),
            rx,
            server,
        }
    }

    /// The next request within `wait`, if one comes.
    pub async fn next(&mut self, wait: Duration) -> Option<Received> {
        tokio::time::timeout(wait, self.rx.recv())
            .await
            .ok()
            .flatten()
    }

    /// Everything received so far, without waiting.
    pub fn drain(&mut self) -> Vec<Received> {
        std::iter::from_fn(|| self.rx.try_recv().ok()).collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.server.abort();
    }
}
