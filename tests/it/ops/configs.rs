//! The deployment files, checked by the tools that read them: promtool for the Prometheus
//! config and alert rules, `docker stack config` for the stack, and the image's entrypoint
//! run for real against the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::ops::{repo_path, tool_or_skip};

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("command runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// monitoring/ copied to a temp dir, with the Docker secret's path pointing at a real file
/// (promtool checks that the token file exists).
fn monitoring_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let token = dir.path().join("metrics_token");
    std::fs::write(&token, "token").expect("write token");
    for name in ["prometheus.yml", "alerts.yml", "alerts_test.yml"] {
        let text = std::fs::read_to_string(repo_path(&format!("monitoring/{name}")))
            .unwrap_or_else(|e| panic!("monitoring/{name}: {e}"));
        let text = text.replace("/run/secrets/metrics_token", &token.display().to_string());
        std::fs::write(dir.path().join(name), text).expect("write copy");
    }
    dir
}

#[test]
fn promtool_accepts_the_prometheus_config_and_alert_rules() {
    let Some(promtool) = tool_or_skip("PROMTOOL_BIN", "/usr/bin/promtool", "promtool checks")
    else {
        return;
    };
    let dir = monitoring_copy();
    let (ok, out) = run(Command::new(&promtool)
        .arg("check")
        .arg("config")
        .arg(dir.path().join("prometheus.yml")));
    assert!(ok, "promtool check config:\n{out}");
    // The config's rule file is checked with it; check it on its own too, for its count.
    let (ok, out) = run(Command::new(&promtool)
        .arg("check")
        .arg("rules")
        .arg(dir.path().join("alerts.yml")));
    assert!(ok, "promtool check rules:\n{out}");
    assert!(out.contains("SUCCESS: 7 rules found"), "{out}");
}

#[test]
fn alert_rules_fire_on_the_failures_they_name() {
    let Some(promtool) = tool_or_skip("PROMTOOL_BIN", "/usr/bin/promtool", "promtool test rules")
    else {
        return;
    };
    let dir = monitoring_copy();
    let (ok, out) = run(Command::new(&promtool).current_dir(dir.path()).args([
        "test",
        "rules",
        "alerts_test.yml",
    ]));
    assert!(ok, "promtool test rules:\n{out}");
}

#[test]
fn amtool_accepts_the_alertmanager_config() {
    let Some(amtool) = tool_or_skip("AMTOOL_BIN", "/usr/bin/amtool", "amtool check-config") else {
        return;
    };
    let (ok, out) = run(Command::new(&amtool)
        .arg("check-config")
        .arg(repo_path("monitoring/alertmanager.yml")));
    assert!(ok, "amtool check-config:\n{out}");
    assert!(out.contains("2 inhibit rules"), "{out}");
    // Prometheus sends its alerts to the stack's Alertmanager.
    let prometheus =
        std::fs::read_to_string(repo_path("monitoring/prometheus.yml")).expect("prometheus.yml");
    assert!(
        prometheus.contains("alerting:") && prometheus.contains("alertmanager:9093"),
        "monitoring/prometheus.yml has no alerting section"
    );
}

/// The block of service `name` in `docker stack config` output (two-space indented keys).
fn service_block<'a>(yaml: &'a str, name: &str) -> &'a str {
    let services = &yaml[yaml.find("\nservices:\n").expect("services") + 1..];
    let header = format!("\n  {name}:\n");
    let start = services
        .find(&header)
        .unwrap_or_else(|| panic!("no service {name}"))
        + header.len();
    let rest = &services[start..];
    let end = rest
        .lines()
        .scan(0, |offset, line| {
            let at = *offset;
            *offset += line.len() + 1;
            Some((at, line))
        })
        .find(|(_, line)| !line.starts_with("   ") && !line.is_empty())
        .map(|(at, _)| at)
        .unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn docker_stack_config_accepts_the_stack() {
    let docker = std::env::var_os("DOCKER_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            ["/usr/local/bin/docker", "/usr/bin/docker"]
                .into_iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
        })
        .filter(|p| p.exists());
    let Some(docker) = docker else {
        crate::common::skip_notice_allowed_under_strict(
            "skipped docker stack config: no docker CLI (set DOCKER_BIN, or install Docker's CLI, 23.0 or later)",
            "`docker stack config` came with Docker 23.0, Debian's docker.io is 20.10, and \
             download.docker.com does not resolve on CI's machines (.ci/run)",
        );
        return;
    };
    // The client renders and validates the file without an engine.
    let (ok, yaml) = run(Command::new(docker)
        .current_dir(repo_path(""))
        .args(["stack", "config", "-c", "docker-stack.yml"])
        .env_remove("MINITWIT_REPLICAS")
        .env_remove("MINITWIT_IMAGE"));
    assert!(ok, "docker stack config:\n{yaml}");
    for service in [
        "proxy",
        "app",
        "postgres",
        "pg_backup",
        "redis",
        "prometheus",
        "alertmanager",
        "grafana",
        "loki",
        "promtail",
    ] {
        service_block(&yaml, service);
    }
    let app = service_block(&yaml, "app");
    let replicas: u32 = app
        .lines()
        .find_map(|l| l.trim().strip_prefix("replicas: "))
        .expect("app replicas")
        .parse()
        .expect("a number");
    assert!(replicas >= 2, "{app}");
    assert!(app.contains("order: start-first"), "{app}");
    assert!(
        app.contains("healthcheck:") && app.contains("/healthz"),
        "{app}"
    );
    assert!(
        !app.contains("ports:"),
        "the app must only be reached through the proxy"
    );
    assert!(app.contains("REDIS_URL: redis://redis:6379"), "{app}");
    let proxy = service_block(&yaml, "proxy");
    assert!(proxy.contains("published: 80"), "{proxy}");
    // Secrets come from files outside the repository, never from committed values.
    assert!(!yaml.contains("PASSWORD: "), "{yaml}");
    for secret in [
        "database_url",
        "postgres_password",
        "minitwit_secret_key",
        "metrics_token",
        "grafana_admin_password",
        "alert_webhook_url",
    ] {
        assert!(
            yaml.contains(&format!("secrets/{secret}")),
            "secret {secret} is not a file under secrets/"
        );
        assert!(!repo_path(&format!("secrets/{secret}")).exists() || gitignored("secrets/"));
    }
    // Every config file the stack mounts exists.
    for line in yaml.lines().filter_map(|l| l.trim().strip_prefix("file: ")) {
        if !line.contains("/secrets/") {
            assert!(Path::new(line).exists(), "missing {line}");
        }
    }
}

fn gitignored(pattern: &str) -> bool {
    std::fs::read_to_string(repo_path(".gitignore"))
        .expect(".gitignore")
        .lines()
        .any(|l| l.trim() == pattern)
}

#[test]
fn the_proxy_upgrades_websockets_and_hides_metrics() {
    // No nginx here to run `nginx -t`; these are the directives that carry the contract.
    let conf = std::fs::read_to_string(repo_path("proxy/nginx.conf")).expect("nginx.conf");
    let directives: Vec<String> = conf
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    let has = |d: &str| directives.iter().any(|l| l == d);
    assert!(has("location = /metrics {"));
    assert!(has("return 404;"));
    assert!(has("proxy_set_header Upgrade $http_upgrade;"));
    assert!(has("proxy_set_header Connection $connection_upgrade;"));
    assert!(has("proxy_http_version 1.1;"));
    assert!(has("proxy_set_header X-Request-Id $request_id;"));
    assert!(
        directives.iter().filter(|l| l.contains('{')).count()
            == directives.iter().filter(|l| l.contains('}')).count(),
        "unbalanced braces"
    );
}

/// Runs the image's entrypoint with settings given as `*_FILE` secrets, as Swarm does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entrypoint_reads_settings_from_secret_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = |name: &str, value: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("{value}\n")).expect("write secret");
        path
    };
    let db_url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("minitwit.db").display()
    );
    let database_url = secret("database_url", &db_url);
    let token = secret("metrics_token", "token-from-a-file");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_minitwit"))
        .parent()
        .expect("bin dir")
        .to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut entrypoint = Command::new(repo_path("deploy/entrypoint.sh"));
    entrypoint
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("PATH", &path)
        .env("DATABASE_URL_FILE", &database_url)
        .env("METRICS_TOKEN_FILE", &token)
        .env("LOG_FORMAT", "json")
        .env_remove("DATABASE_URL")
        .env_remove("METRICS_TOKEN")
        .env_remove("REDIS_URL");
    let server = crate::common::ServerProcess::spawn(entrypoint).expect("entrypoint serves");
    let addr = server.base.trim_start_matches("http://").to_owned();
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/metrics");
    let anonymous = http.get(&url).send().await.expect("get");
    assert_eq!(
        anonymous.status(),
        401,
        "METRICS_TOKEN_FILE was not applied"
    );
    // The trailing newline of the file is not part of the token.
    let with_token = http
        .get(&url)
        .bearer_auth("token-from-a-file")
        .send()
        .await
        .expect("get");
    assert_eq!(with_token.status(), 200);
    assert!(
        dir.path().join("minitwit.db").exists(),
        "DATABASE_URL_FILE was not applied"
    );
    drop(server);

    // A secret file that is missing stops the container with a clear line.
    let out = Command::new(repo_path("deploy/entrypoint.sh"))
        .args(["serve"])
        .env("PATH", &path)
        .env("METRICS_TOKEN_FILE", dir.path().join("missing"))
        .output()
        .expect("entrypoint runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("METRICS_TOKEN_FILE"), "{stderr}");
}

/// The image's `HEALTHCHECK` command, as the exec-form JSON array after `CMD`.
fn dockerfile_healthcheck() -> Vec<String> {
    let dockerfile = std::fs::read_to_string(repo_path("Dockerfile")).expect("Dockerfile");
    let joined = dockerfile.replace("\\\n", " ");
    let line = joined
        .lines()
        .find(|l| l.starts_with("HEALTHCHECK"))
        .expect("a HEALTHCHECK");
    let json = &line[line.find("CMD [").expect("exec form") + 4..];
    serde_json::from_str(json).expect("CMD is a JSON array")
}

/// The probe has no curl to lean on; run it for real against a server (on the test's port
/// instead of 8080) and against a port where nothing listens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_healthcheck_probe_tells_up_from_down() {
    let probe = dockerfile_healthcheck();
    assert_eq!(probe[0], "bash");
    let script = probe[2].clone();
    // The stack restates the same probe.
    let stack = std::fs::read_to_string(repo_path("docker-stack.yml")).expect("stack");
    let escaped = serde_json::to_string(&script).expect("json");
    assert!(
        stack.contains(&escaped),
        "docker-stack.yml's healthcheck differs"
    );

    let db = crate::common::TestDb::new(crate::common::Backend::Sqlite).await;
    let app = crate::common::TestApp::start(&db.url).await;
    let port = app.addr.port().to_string();
    let run_probe = |port: String| {
        let script = script.replace("8080", &port);
        tokio::task::spawn_blocking(move || {
            Command::new("bash")
                .args(["-c", &script])
                .stderr(Stdio::null())
                .status()
                .expect("bash runs")
                .success()
        })
    };
    assert!(run_probe(port.clone()).await.expect("probe"), "healthy app");
    app.stop().await;
    assert!(!run_probe(port).await.expect("probe"), "stopped app");
}
