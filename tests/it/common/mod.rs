//! Test helpers shared by every integration test binary: a real MiniTwit server on a random
//! port with a fresh database (testkit's [`TestDb`]: a temp SQLite file, or a fresh
//! PostgreSQL database when `TEST_DATABASE_URL` is set), the binary as a child process
//! ([`server_process`]), and typed clients for its API.
#![allow(dead_code)]

pub mod browser;
pub mod faults;
pub mod web;

/// This test build's `minitwit` binary serving `db_url` on a random port, with extra
/// environment settings (testkit's launcher, which benchmarks use too).
pub fn server_process(db_url: &str, env: &[(&str, &str)]) -> ServerProcess {
    ServerProcess::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_minitwit")),
        db_url,
        env,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

use std::net::SocketAddr;

use minitwit::config::Settings;
use minitwit::startup::Application;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const SIM_AUTH: &str = "Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh";

pub use testkit::{skip_notice, skip_notice_allowed_under_strict, Backend, ServerProcess, TestDb};

/// A running server; stop it with [`TestApp::stop`] (or let the runtime drop it).
pub struct TestApp {
    pub addr: SocketAddr,
    /// The server's state, for what no endpoint shows (metrics before `/metrics` exists).
    pub state: minitwit::state::AppState,
    pub db_url: String,
    pub base: String,
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    /// Starts a server on a random port against `db_url`, with settings adjusted by `tweak`.
    pub async fn start_with(db_url: &str, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        if std::env::var("TEST_LOG").is_ok() {
            let mut s = Settings::for_tests(db_url);
            s.log_level = "debug".into();
            minitwit::telemetry::init(&s);
        }
        let mut settings = Settings::for_tests(db_url);
        tweak(&mut settings);
        let app = Application::build(settings).await.expect("app builds");
        let addr = app.addr();
        let state = app.state().clone();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async move {
            let _ = rx.await;
        }));
        TestApp {
            addr,
            state,
            db_url: db_url.to_owned(),
            base: format!("http://{addr}"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    pub async fn start(db_url: &str) -> TestApp {
        TestApp::start_with(db_url, |_| {}).await
    }

    /// Stops the server gracefully and waits until it has closed its database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    // --- the simulator's API, as the simulator calls it ---

    pub async fn get_api(&self, path_and_query: &str) -> reqwest::Response {
        self.http
            .get(self.url(&format!("/api{path_and_query}")))
            .header("Authorization", SIM_AUTH)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_api(
        &self,
        path_and_query: &str,
        body: serde_json::Value,
    ) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/api{path_and_query}")))
            .header("Authorization", SIM_AUTH)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn register(&self, username: &str) -> reqwest::Response {
        self.post_api(
            "/register",
            serde_json::json!({"username": username, "email": format!("{}@example.com", username.replace(' ', ".")), "pwd": "secret"}),
        )
        .await
    }

    pub async fn tweet(&self, username: &str, content: &str) -> reqwest::Response {
        self.post_api(
            &format!("/msgs/{}", encode(username)),
            serde_json::json!({ "content": content }),
        )
        .await
    }

    pub async fn follow(&self, who: &str, whom: &str) -> reqwest::Response {
        self.post_api(
            &format!("/fllws/{}", encode(who)),
            serde_json::json!({ "follow": whom }),
        )
        .await
    }

    pub async fn unfollow(&self, who: &str, whom: &str) -> reqwest::Response {
        self.post_api(
            &format!("/fllws/{}", encode(who)),
            serde_json::json!({ "unfollow": whom }),
        )
        .await
    }

    pub async fn latest(&self) -> i64 {
        let body: serde_json::Value = self
            .http
            .get(self.url("/api/latest"))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        body["latest"].as_i64().expect("latest is an integer")
    }
}

/// Runs SQL straight against a test database (to set up what no endpoint can, like a
/// flagged message).
pub async fn exec_sql(db_url: &str, sql: &str) {
    use sea_orm::{ConnectionTrait, Database};
    let db = Database::connect(db_url).await.expect("connect");
    db.execute_unprepared(sql).await.expect("sql runs");
    let _ = db.close().await;
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A TCP port free right now on 127.0.0.1, for servers a test starts itself.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Percent-encodes a path segment (spaces as %20, Unicode as UTF-8 bytes).
pub fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Runs a test body on a fresh database of `backend`, then drops the database.
pub async fn with_app<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db.url).await;
    body(app).await;
    db.drop_db().await;
}

/// Declares `sqlite` and `postgres` variants of an async test `fn name(app: TestApp)`
/// (a fresh database and a server on it), or with `backend:` first, of `fn name(backend:
/// Backend)` (for tests that manage their own databases and servers). The PostgreSQL one
/// runs when `TEST_DATABASE_URL` is set (CI sets it) and says why it skipped otherwise.
#[macro_export]
macro_rules! on_both_backends {
    (backend: $($name:ident),* $(,)?) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(common::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(backend) = common::Backend::postgres_or_skip(stringify!($name)) {
                        super::$name(backend).await;
                    }
                }
            }
        )*
    };
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    common::with_app(common::Backend::Sqlite, super::$name).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(backend) = common::Backend::postgres_or_skip(stringify!($name)) {
                        common::with_app(backend, super::$name).await;
                    }
                }
            }
        )*
    };
}
