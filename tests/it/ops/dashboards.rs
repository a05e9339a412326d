//! The Grafana dashboards: well formed, wired to the provisioned datasources, and every
//! PromQL query valid against a real Prometheus scraping a running instance under light
//! load, most of them returning data.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Backend, TestApp, TestDb};
use crate::ops::metrics::light_traffic;
use crate::ops::{repo_path, tool_or_skip};

const DASHBOARDS: &[&str] = &["business", "service"];

fn dashboard(name: &str) -> Value {
    let path = repo_path(&format!("grafana/dashboards/{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?} is not JSON: {e}"))
}

/// Every panel, rows' nested panels included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for panel in list.as_array().into_iter().flatten() {
            out.push(panel);
            walk(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// `(panel title, expr)` of every Prometheus query.
fn promql_queries(dashboard: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for panel in panels(dashboard) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let uid = target["datasource"]["uid"]
                .as_str()
                .or(panel["datasource"]["uid"].as_str())
                .unwrap_or_default();
            if uid == "prometheus" {
                let expr = target["expr"]
                    .as_str()
                    .expect("a Prometheus target has expr");
                out.push((
                    panel["title"].as_str().unwrap_or_default().to_owned(),
                    expr.to_owned(),
                ));
            }
        }
    }
    out
}

#[test]
fn dashboards_are_provisioned_and_well_formed() {
    let datasources = std::fs::read_to_string(repo_path(
        "grafana/provisioning/datasources/datasources.yml",
    ))
    .expect("datasources provisioning");
    let provider =
        std::fs::read_to_string(repo_path("grafana/provisioning/dashboards/dashboards.yml"))
            .expect("dashboard provider");
    assert!(provider.contains("path: /var/lib/grafana/dashboards"));
    let stack = std::fs::read_to_string(repo_path("docker-stack.yml")).expect("stack");
    let mut uids = HashSet::new();
    for name in DASHBOARDS {
        let d = dashboard(name);
        assert!(uids.insert(d["uid"].as_str().expect("uid").to_owned()));
        assert!(d["title"]
            .as_str()
            .is_some_and(|t| t.starts_with("MiniTwit")));
        // Mounted into Grafana by the stack, where the provider looks.
        assert!(
            stack.contains(&format!("target: /var/lib/grafana/dashboards/{name}.json")),
            "{name}.json is not mounted by docker-stack.yml"
        );
        let mut ids = HashSet::new();
        for panel in panels(&d) {
            let title = panel["title"].as_str().unwrap_or_default();
            assert!(
                ids.insert(panel["id"].as_i64().expect("panel id")),
                "{title}"
            );
            assert!(panel["gridPos"]["w"].as_i64().is_some(), "{title}");
            if panel["type"] == "row" {
                continue;
            }
            let uid = panel["datasource"]["uid"].as_str().expect("datasource uid");
            assert!(
                datasources.contains(&format!("uid: {uid}")),
                "{title}: datasource {uid} is not provisioned"
            );
            assert!(
                panel["targets"].as_array().is_some_and(|t| !t.is_empty()),
                "{title} has no query"
            );
        }
    }
    // What the issue asks each dashboard to show.
    let business = serde_json::to_string(&dashboard("business")).expect("json");
    for family in [
        "minitwit_users",
        "minitwit_messages",
        "minitwit_follows",
        "minitwit_ws_connections",
        "minitwit_latest_sim_action",
    ] {
        assert!(business.contains(family), "Business lacks {family}");
    }
    let service = serde_json::to_string(&dashboard("service")).expect("json");
    for family in [
        "minitwit_http_requests_total",
        "minitwit_http_request_duration_seconds_bucket",
        "minitwit_fanout_delay_seconds_bucket",
        "minitwit_ws_messages_sent_total",
        "minitwit_ws_slow_disconnects_total",
        "minitwit_pubsub_messages_received_total",
        "minitwit_pubsub_errors_total",
        "minitwit_rate_limited_total",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        // What the realtime and security work measure.
        "minitwit_delivery_catchup_queries_total",
        "minitwit_delivery_catchup_messages_total",
        "minitwit_redis_stalls_total",
        "minitwit_ws_refused_total",
        "minitwit_password_hash_wait_seconds_bucket",
        "minitwit_password_hash_rejected_total",
    ] {
        assert!(service.contains(family), "Service lacks {family}");
    }
}

/// Grafana's variables, replaced by what they stand for on a dashboard showing all replicas.
fn concrete(expr: &str) -> String {
    expr.replace("$__rate_interval", "30s")
        .replace("${__rate_interval}", "30s")
        .replace("$__interval", "5s")
        .replace("$__range", "1m")
        .replace("${instance}", ".*")
        .replace("$instance", ".*")
}

/// A Prometheus server for the test, killed when dropped.
pub struct Prometheus {
    child: Child,
    pub base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Scrapes `target` every second with our alert rules loaded, as the stack's job does.
    fn start(bin: &std::path::Path, target: &str, token: &str) -> Prometheus {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("token"), token).expect("token");
        std::fs::copy(
            repo_path("monitoring/alerts.yml"),
            dir.path().join("alerts.yml"),
        )
        .expect("copy alerts");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files: [alerts.yml]\n\
             scrape_configs:\n  - job_name: minitwit\n    static_configs:\n      - targets: ['{target}']\n\
             \x20   authorization:\n      type: Bearer\n      credentials_file: {}\n",
            dir.path().join("token").display()
        );
        Prometheus::start_in(bin, dir, &config)
    }

    /// Runs Prometheus on a free port with `config` as its configuration, in `dir` (which
    /// holds the rule files the config names).
    pub fn start_in(bin: &std::path::Path, dir: tempfile::TempDir, config: &str) -> Prometheus {
        std::fs::write(dir.path().join("prometheus.yml"), config).expect("config");
        let port = crate::common::free_port();
        let child = Command::new(bin)
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts");
        Prometheus {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    async fn query(&self, http: &reqwest::Client, expr: &str) -> Value {
        self.try_query(http, expr)
            .await
            .expect("Prometheus answers")
    }

    /// `None` while Prometheus is not listening yet.
    pub async fn try_query(&self, http: &reqwest::Client, expr: &str) -> Option<Value> {
        http.get(format!("{}/api/v1/query", self.base))
            .query(&[("query", expr)])
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()
    }
}

/// Whether a query answer holds at least one sample that is a number.
pub fn has_data(answer: &Value) -> bool {
    answer["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|series| {
            series["value"][1]
                .as_str()
                .and_then(|v| v.parse::<f64>().ok())
                .is_some_and(|v| !v.is_nan())
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_query_is_valid_and_most_return_data() {
    let Some(bin) = tool_or_skip(
        "PROMETHEUS_BIN",
        "/usr/bin/prometheus",
        "the dashboard queries",
    ) else {
        return;
    };
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start_with(&db.url, |s| {
        s.metrics_token = Some("prom-token".parse().expect("infallible"));
    })
    .await;
    let prometheus = Prometheus::start(&bin, &app.addr.to_string(), "prom-token");
    let http = reqwest::Client::new();

    // Ready, and scraping our instance successfully (with the token).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = prometheus
            .try_query(&http, r#"up{job="minitwit"} == 1"#)
            .await;
        if answer.as_ref().is_some_and(has_data) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never scraped the app"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Light load for a while, so rates and quantiles have several scrapes to work with.
    let load_until = Instant::now() + Duration::from_secs(8);
    let mut round = 0;
    while Instant::now() < load_until {
        round += 1;
        light_traffic(&app, round).await;
        for path in [
            "/public",
            "/",
            "/login",
            "/register",
            &format!("/alice{round}"),
        ] {
            app.http.get(app.url(path)).send().await.expect("page");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Two more scrapes after the last request.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut total = 0;
    let mut invalid = Vec::new();
    let mut empty = Vec::new();
    for name in DASHBOARDS {
        for (title, expr) in promql_queries(&dashboard(name)) {
            total += 1;
            let expr = concrete(&expr);
            let answer = prometheus.query(&http, &expr).await;
            if answer["status"] != "success" {
                invalid.push(format!("{name} / {title}: {expr}: {}", answer["error"]));
            } else if !has_data(&answer) {
                empty.push(format!("{name} / {title}: {expr}"));
            }
        }
    }
    assert!(total >= 30, "only {total} queries found");
    assert!(
        invalid.is_empty(),
        "invalid queries:\n{}",
        invalid.join("\n")
    );
    let with_data = total - empty.len();
    eprintln!(
        "{with_data}/{total} dashboard queries returned data; without data:\n{}",
        empty.join("\n")
    );
    assert!(
        with_data * 100 >= total * 80,
        "only {with_data}/{total} queries returned data; without:\n{}",
        empty.join("\n")
    );

    // The alert rules load and evaluate against the live data without errors.
    let rules: Value = http
        .get(format!("{}/api/v1/rules", prometheus.base))
        .send()
        .await
        .expect("rules")
        .json()
        .await
        .expect("json");
    let all: Vec<&Value> = rules["data"]["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(all.len(), 7, "{rules}");
    for rule in all {
        assert_eq!(rule["health"], "ok", "{rule}");
    }
    // Nothing is wrong with a healthy instance under light load.
    let firing = prometheus
        .query(
            &http,
            r#"ALERTS{alertstate="firing", alertname!="MiniTwitTooFewReplicas"}"#,
        )
        .await;
    assert!(!has_data(&firing), "alerts firing: {firing}");
    drop(prometheus);
    app.stop().await;
}
