//! Headless Chromium for end-to-end tests, driven over the DevTools protocol.
//!
//! Starts `$CHROMIUM_BIN` (or `/usr/bin/chromium`) with a fresh profile and
//! `--remote-debugging-port=0`, reads the websocket address it prints on stderr, opens a
//! tab and talks to it with tokio-tungstenite. Tests skip (with a printed reason) only when
//! no Chromium binary exists; CI installs one.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

/// Chromium can take a while to start on a busy two-core machine.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on any single DevTools call.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A running headless Chromium; killed when dropped.
pub struct Chromium {
    child: Child,
    /// `host:port` of the DevTools endpoint.
    devtools: String,
    /// The browser-level websocket (to open tabs).
    browser: Cdp,
    /// The fresh profile, removed with the browser.
    _profile: tempfile::TempDir,
}

impl Chromium {
    /// The Chromium binary: `$CHROMIUM_BIN`, else `/usr/bin/chromium` if it exists.
    pub fn binary() -> Option<PathBuf> {
        match std::env::var_os("CHROMIUM_BIN") {
            Some(path) => Some(PathBuf::from(path)),
            None => {
                let default = PathBuf::from("/usr/bin/chromium");
                default.exists().then_some(default)
            }
        }
    }

    /// Launches Chromium, or prints why `test` is skipped when there is no binary.
    pub async fn launch_or_skip(test: &str) -> Option<Chromium> {
        let Some(binary) = Chromium::binary() else {
            super::skip_notice(&format!(
                "skipped {test}: no Chromium (set CHROMIUM_BIN or install /usr/bin/chromium)"
            ));
            return None;
        };
        Some(Chromium::launch(&binary).await)
    }

    /// Launches `binary` headless with the flags CI's machines need.
    pub async fn launch(binary: &std::path::Path) -> Chromium {
        Chromium::launch_with_args(binary, &[]).await
    }

    /// Like [`Chromium::launch`], with extra command-line flags (such as a proxy).
    pub async fn launch_with_args(binary: &std::path::Path, extra: &[&str]) -> Chromium {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--remote-debugging-port=0",
            ])
            .args(extra)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let stderr = child.stderr.take().expect("piped stderr");
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = Vec::new();
        let ws_url = tokio::time::timeout(LAUNCH_TIMEOUT, async {
            while let Some(line) = lines.next_line().await.expect("chromium stderr") {
                if let Some(url) = line.split("DevTools listening on ").nth(1) {
                    return Some(url.trim().to_owned());
                }
                seen.push(line);
            }
            None
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| {
            panic!(
                "chromium printed no DevTools address; its stderr:\n{}",
                seen.join("\n")
            )
        });
        // Keep draining stderr so Chromium never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let devtools = ws_url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .expect("host:port")
            .to_owned();
        let browser = Cdp::connect(&ws_url).await;
        Chromium {
            child,
            devtools,
            browser,
            _profile: profile,
        }
    }

    /// Opens a new tab on `about:blank`.
    pub async fn new_tab(&mut self) -> Tab {
        let target = self
            .browser
            .call("Target.createTarget", json!({ "url": "about:blank" }))
            .await;
        let id = target["targetId"].as_str().expect("targetId");
        let cdp = Cdp::connect(&format!("ws://{}/devtools/page/{id}", self.devtools)).await;
        Tab { cdp }
    }

    /// Opens a tab in a new browser context: its own cookies and storage, like a second
    /// person on another machine (two users logged in at once).
    pub async fn new_isolated_tab(&mut self) -> Tab {
        let context = self
            .browser
            .call("Target.createBrowserContext", json!({}))
            .await;
        let context_id = context["browserContextId"]
            .as_str()
            .expect("browserContextId");
        let target = self
            .browser
            .call(
                "Target.createTarget",
                json!({ "url": "about:blank", "browserContextId": context_id }),
            )
            .await;
        let id = target["targetId"].as_str().expect("targetId");
        let cdp = Cdp::connect(&format!("ws://{}/devtools/page/{id}", self.devtools)).await;
        Tab { cdp }
    }

    /// Asks Chromium to quit (so it reaps its own helper processes), killing it if it
    /// has not within 5 s.
    pub async fn close(mut self) {
        // Chromium may drop the socket before answering, so the reply is not awaited.
        let _ = self
            .browser
            .ws
            .send(Message::text(
                json!({ "id": 0, "method": "Browser.close" }).to_string(),
            ))
            .await;
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// One DevTools websocket: numbered calls; events are kept for whoever asks for them.
struct Cdp {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    events: Vec<Value>,
}

impl Cdp {
    async fn connect(url: &str) -> Cdp {
        let (ws, _) = connect_async(url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to DevTools at {url}: {e}"));
        Cdp {
            ws,
            next_id: 0,
            events: Vec::new(),
        }
    }

    /// Sends `method` and returns its `result`; panics on a protocol error or timeout.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({ "id": id, "method": method, "params": params });
        tokio::time::timeout(CALL_TIMEOUT, async {
            self.ws
                .send(Message::text(request.to_string()))
                .await
                .expect("send to DevTools");
            while let Some(frame) = self.ws.next().await {
                let frame = frame.expect("DevTools frame");
                let Ok(text) = frame.to_text() else { continue };
                let Ok(reply) = serde_json::from_str::<Value>(text) else {
                    continue;
                };
                if reply["id"].as_u64() == Some(id) {
                    if let Some(error) = reply.get("error") {
                        panic!("{method} failed: {error}");
                    }
                    return reply["result"].clone();
                }
                if reply.get("method").is_some() {
                    self.events.push(reply);
                }
            }
            panic!("DevTools closed during {method}");
        })
        .await
        .unwrap_or_else(|_| panic!("{method} took over {CALL_TIMEOUT:?}"))
    }
}

/// A browser tab.
pub struct Tab {
    cdp: Cdp,
}

impl Tab {
    /// Loads `url` (following redirects) and waits until the new document has loaded.
    pub async fn goto(&mut self, url: &str) {
        self.mark_document().await;
        self.cdp.call("Page.navigate", json!({ "url": url })).await;
        self.wait_for_new_document().await;
    }

    /// Clicks `selector` (a link or a submit button) and waits for the page it leads to.
    pub async fn click_and_wait(&mut self, selector: &str) {
        self.mark_document().await;
        self.click(selector).await;
        self.wait_for_new_document().await;
    }

    /// Runs `script` in every document this tab loads from now on, before the page's own
    /// scripts (to take a browser feature away, say).
    pub async fn before_each_document(&mut self, script: &str) {
        self.cdp.call("Page.enable", json!({})).await;
        self.cdp
            .call(
                "Page.addScriptToEvaluateOnNewDocument",
                json!({ "source": script }),
            )
            .await;
    }

    /// Marks the current document, so a later wait can tell a new one from it.
    async fn mark_document(&mut self) {
        self.eval("window.__minitwitOldDocument = true").await;
    }

    async fn wait_for_new_document(&mut self) {
        self.wait_for("!window.__minitwitOldDocument && document.readyState === 'complete'")
            .await;
    }

    /// Sends a DevTools command to this tab (e.g. `Network.enable`) and returns its result.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.cdp.call(method, params).await
    }

    /// The DevTools events received so far (after `Network.enable`, every request), and
    /// forgets them.
    pub fn take_events(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.cdp.events)
    }

    /// The current address.
    pub async fn location(&mut self) -> String {
        self.eval("location.href")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Evaluates `expression` in the page (promises awaited) and returns its value.
    /// Errs with the exception text when it throws.
    pub async fn try_eval(&mut self, expression: &str) -> Result<Value, String> {
        let reply = self
            .cdp
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        match reply.get("exceptionDetails") {
            Some(details) => Err(details.to_string()),
            None => Ok(reply["result"]["value"].clone()),
        }
    }

    /// Evaluates `expression`, panicking if it throws.
    pub async fn eval(&mut self, expression: &str) -> Value {
        self.try_eval(expression)
            .await
            .unwrap_or_else(|e| panic!("`{expression}` threw: {e}"))
    }

    /// Polls `condition` (a JS boolean expression) until it holds, for up to 15 s; a page
    /// in the middle of navigating simply counts as "not yet".
    pub async fn wait_for(&mut self, condition: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Value::Bool(true)) = self.try_eval(condition).await {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                let page = self
                    .try_eval("document.documentElement.outerHTML")
                    .await
                    .unwrap_or_default();
                panic!("timed out waiting for `{condition}`; the page:\n{page}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Types `value` into the field matching `selector`, as a user would leave it.
    pub async fn fill(&mut self, selector: &str, value: &str) {
        let selector_js = serde_json::to_string(selector).expect("json");
        let value_js = serde_json::to_string(value).expect("json");
        let found = self
            .eval(&format!(
                "(() => {{ const el = document.querySelector({selector_js}); \
                 if (!el) return false; el.focus(); el.value = {value_js}; \
                 el.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()"
            ))
            .await;
        assert_eq!(found, Value::Bool(true), "no field matches {selector}");
    }

    /// Clicks the element matching `selector`.
    pub async fn click(&mut self, selector: &str) {
        let selector_js = serde_json::to_string(selector).expect("json");
        let found = self
            .eval(&format!(
                "(() => {{ const el = document.querySelector({selector_js}); \
                 if (!el) return false; el.click(); return true; }})()"
            ))
            .await;
        assert_eq!(
            found,
            Value::Bool(true),
            "nothing to click matches {selector}"
        );
    }

    /// The visible text of the page.
    pub async fn text(&mut self) -> String {
        self.eval("document.body.innerText")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}
