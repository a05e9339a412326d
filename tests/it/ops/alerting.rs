//! Alerts end to end, with the real tools: Prometheus scrapes a MiniTwit instance with the
//! stack's alert rules, the instance stops, and Alertmanager with the stack's own config
//! delivers `MiniTwitDown` to a chat webhook (a sink in the test) while the symptoms it
//! explains stay muted. Only the waiting times are shortened.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{free_port, Backend, TestApp, TestDb};
use crate::ops::dashboards::{has_data, Prometheus};
use crate::ops::sink::{Received, Sink};
use crate::ops::{repo_path, tool_or_skip};

/// An Alertmanager for the test, killed when dropped.
struct Alertmanager {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `text` with `from` replaced by `to`; panics if `from` is not there, so a changed config
/// fails here instead of silently keeping its production timings.
fn replaced(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "expected `{from}` in the config");
    text.replace(from, to)
}

impl Alertmanager {
    /// monitoring/alertmanager.yml with the webhook secret pointing at `webhook_url` and
    /// the waits cut to a second; no clustering, its own storage, a free port.
    fn start(bin: &Path, webhook_url: &str) -> Alertmanager {
        let dir = tempfile::tempdir().expect("temp dir");
        let secret = dir.path().join("alert_webhook_url");
        std::fs::write(&secret, webhook_url).expect("secret");
        let config = std::fs::read_to_string(repo_path("monitoring/alertmanager.yml"))
            .expect("alertmanager.yml");
        let config = replaced(
            &config,
            "/run/secrets/alert_webhook_url",
            &secret.display().to_string(),
        );
        let config = replaced(&config, "group_wait: 30s", "group_wait: 1s");
        let config = replaced(&config, "group_wait: 10s", "group_wait: 1s");
        let config = replaced(&config, "group_interval: 5m", "group_interval: 1s");
        std::fs::write(dir.path().join("alertmanager.yml"), config).expect("config");
        let port = free_port();
        let child = Command::new(bin)
            .arg(format!(
                "--config.file={}",
                dir.path().join("alertmanager.yml").display()
            ))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("alertmanager starts");
        Alertmanager {
            child,
            port,
            _dir: dir,
        }
    }
}

/// The stack's alert rules with every `for:` cut to 2 s, and a Prometheus that scrapes
/// `target` and evaluates them every second, sending to `alertmanager_port`.
fn prometheus(bin: &Path, target: &str, alertmanager_port: u16) -> Prometheus {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = std::fs::read_to_string(repo_path("monitoring/alerts.yml")).expect("alerts.yml");
    let rules = replaced(&rules, "for: 1m", "for: 2s");
    let rules = replaced(&rules, "for: 5m", "for: 2s");
    std::fs::write(dir.path().join("alerts.yml"), rules).expect("rules");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         rule_files: [alerts.yml]\n\
         alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{alertmanager_port}']\n\
         scrape_configs:\n  - job_name: minitwit\n    static_configs:\n      - targets: ['{target}']\n"
    );
    Prometheus::start_in(bin, dir, &config)
}

/// The title of a Slack-format notification, e.g. `[FIRING:1] MiniTwitDown`.
fn title(notification: &Received) -> String {
    notification
        .json()
        .and_then(|v| v["attachments"][0]["title"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("not a Slack-format message: {}", notification.text()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_instance_reaches_the_chat_webhook_as_minitwit_down() {
    let (Some(prometheus_bin), Some(alertmanager_bin)) = (
        tool_or_skip("PROMETHEUS_BIN", "/usr/bin/prometheus", "the alerting test"),
        tool_or_skip(
            "ALERTMANAGER_BIN",
            "/usr/bin/prometheus-alertmanager",
            "the alerting test",
        ),
    ) else {
        return;
    };
    let mut chat = Sink::start().await;
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    let alertmanager = Alertmanager::start(&alertmanager_bin, &format!("{}/hooks/chat", chat.base));
    let prometheus = prometheus(&prometheus_bin, &app.addr.to_string(), alertmanager.port);
    let http = reqwest::Client::new();

    // The instance is scraped and MiniTwitDown is not firing: the service is up.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let up = prometheus
            .try_query(&http, r#"up{job="minitwit"} == 1"#)
            .await;
        let down = prometheus
            .try_query(&http, r#"ALERTS{alertname="MiniTwitDown"}"#)
            .await;
        if up.as_ref().is_some_and(has_data) && down.is_some_and(|d| !has_data(&d)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never scraped the app"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // What was sent while the one instance was up (it is fewer than 2 replicas) is not
    // what this test is about.
    tokio::time::sleep(Duration::from_secs(1)).await;
    chat.drain();

    app.stop().await;

    let deadline = Instant::now() + Duration::from_secs(40);
    let mut seen = Vec::new();
    let down = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(notification) = chat.next(left).await else {
            panic!("no MiniTwitDown notification within 40 s; received: {seen:?}");
        };
        assert_eq!(notification.path, "/hooks/chat");
        let title = title(&notification);
        if title.contains("MiniTwitDown") {
            break notification;
        }
        seen.push(title);
    };
    assert!(title(&down).starts_with("[FIRING:1]"), "{}", down.text());
    assert!(
        down.text().contains("MiniTwit is down: no replica answers"),
        "{}",
        down.text()
    );
    // The replica-down alert fires too, but MiniTwitDown explains it: it is muted.
    let symptom = prometheus
        .try_query(
            &http,
            r#"ALERTS{alertname="MiniTwitInstanceDown", alertstate="firing"}"#,
        )
        .await
        .expect("Prometheus answers");
    assert!(has_data(&symptom), "MiniTwitInstanceDown should fire too");
    tokio::time::sleep(Duration::from_secs(3)).await;
    seen.extend(chat.drain().iter().map(title));
    assert!(
        !seen.iter().any(|t| t.contains("MiniTwitInstanceDown")),
        "a symptom was sent while MiniTwitDown fires: {seen:?}"
    );
    drop(prometheus);
    drop(alertmanager);
}
