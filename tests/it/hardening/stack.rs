//! The stack's defaults (README.md, "Deployment on Docker Swarm"): every credential from a Docker secret, none with a public
//! default; checked in docker-stack.yml and by running the image's entrypoint.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn repo(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The indented block of `name` under `services:` in docker-stack.yml.
fn service(stack: &str, name: &str) -> String {
    let start = stack
        .find(&format!("\n  {name}:\n"))
        .unwrap_or_else(|| panic!("no service {name}"));
    stack[start + 1..]
        .lines()
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with("    ") || l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_credential_of_the_stack_comes_from_a_secret() {
    let stack = repo("docker-stack.yml");
    let app = service(&stack, "app");
    for (setting, secret) in [
        ("DATABASE_URL_FILE", "database_url"),
        ("MINITWIT_SECRET_KEY_FILE", "minitwit_secret_key"),
        ("METRICS_TOKEN_FILE", "metrics_token"),
        ("SIMULATOR_PASSWORD_FILE", "simulator_password"),
        ("REDIS_PASSWORD_FILE", "redis_password"),
    ] {
        assert!(
            app.contains(&format!("{setting}: /run/secrets/{secret}")),
            "{setting} is not read from the {secret} secret:\n{app}"
        );
        assert!(
            stack.contains(&format!("file: ./secrets/{secret}")),
            "{secret} is not a file under secrets/"
        );
    }
    // No credential written into the stack itself.
    for literal in [
        "SIMULATOR_PASSWORD:",
        "super_safe",
        "requirepass ",
        "METRICS_TOKEN:",
    ] {
        let inline = stack
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .any(|l| l.contains(literal) && !l.contains("/run/secrets/"));
        assert!(!inline, "{literal} is set in the stack itself");
    }
    let redis = service(&stack, "redis");
    assert!(
        redis.contains("requirepass"),
        "Redis without a password:\n{redis}"
    );
    assert!(redis.contains("/run/secrets/redis_password"), "{redis}");
    // A health check that authenticates: an unauthenticated `redis-cli ping` exits 0 on
    // NOAUTH, so it would report a locked Redis healthy whatever happens.
    assert!(
        redis.contains("REDISCLI_AUTH") && redis.contains("PONG"),
        "{redis}"
    );
}

/// Runs deploy/entrypoint.sh with a stand-in `minitwit` that prints what it was given.
fn entrypoint(env: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let fake = dir.path().join("minitwit");
    std::fs::write(
        &fake,
        "#!/bin/sh\nprintf '%s|%s' \"$REDIS_URL\" \"$SIMULATOR_PASSWORD\"\n",
    )
    .expect("write");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("sh");
    cmd.arg(format!(
        "{}/deploy/entrypoint.sh",
        env!("CARGO_MANIFEST_DIR")
    ))
    .env_clear()
    .env("PATH", path);
    for (name, value) in env {
        let value = value.replace("DIR", &dir.path().display().to_string());
        cmd.env(name, value);
    }
    for (name, content) in [
        ("redis_password", "0a1b2c3d"),
        ("bad_password", "p@ss/word"),
        ("sim", "s3cret\n"),
    ] {
        std::fs::write(dir.path().join(name), content).expect("secret");
    }
    let out = cmd.output().expect("sh runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_entrypoint_puts_the_redis_password_into_redis_url() {
    let (ok, out) = entrypoint(&[
        ("REDIS_URL", "redis://redis:6379"),
        ("REDIS_PASSWORD_FILE", "DIR/redis_password"),
        ("SIMULATOR_PASSWORD_FILE", "DIR/sim"),
    ]);
    assert!(ok, "{out}");
    assert_eq!(out, "redis://:0a1b2c3d@redis:6379|s3cret");
    // Without a password file, REDIS_URL is passed as it is.
    let (ok, out) = entrypoint(&[("REDIS_URL", "redis://redis:6379")]);
    assert!(ok, "{out}");
    assert_eq!(out, "redis://redis:6379|");
    // A password that would break the URL, or a missing file, stops with one clear line.
    let (ok, out) = entrypoint(&[
        ("REDIS_URL", "redis://redis:6379"),
        ("REDIS_PASSWORD_FILE", "DIR/bad_password"),
    ]);
    assert!(!ok);
    assert!(out.contains("URL-safe"), "{out}");
    let (ok, out) = entrypoint(&[
        ("REDIS_URL", "redis://redis:6379"),
        ("REDIS_PASSWORD_FILE", "DIR/missing"),
    ]);
    assert!(!ok);
    assert!(out.contains("REDIS_PASSWORD_FILE"), "{out}");
}
