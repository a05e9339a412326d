//! One typed configuration: every setting is a flag with an environment-variable fallback (SPEC §1).

use std::fmt;
use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The `minitwit` command line.
#[derive(Debug, Parser)]
#[command(
    name = "minitwit",
    version,
    about = "A realtime Twitter-like microblog"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate if needed, then serve HTTP and websockets (the default).
    Serve,
    /// Apply migrations and exit (safe to run from several replicas at once).
    Migrate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// A value that must never reach a log line or a debug print.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// Settings shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Listen address.
    #[arg(
        long,
        env = "MINITWIT_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: SocketAddr,
    /// `sqlite://…` or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://minitwit.db?mode=rwc", global = true, value_parser = parse_database_url)]
    pub database_url: String,
    /// Unset: in-process fan-out (one instance). Set: Redis pub/sub across instances.
    #[arg(long, env = "REDIS_URL", global = true, value_parser = parse_redis_url)]
    pub redis_url: Option<String>,
    /// Redis pub/sub channel of the fan-out; instances sharing it see each other's posts.
    #[arg(
        long,
        env = "MINITWIT_REDIS_CHANNEL",
        default_value = "minitwit:events",
        global = true
    )]
    pub redis_channel: String,
    /// Frames a websocket may have queued before it is closed with 4008.
    #[arg(long, env = "MINITWIT_WS_QUEUE", default_value_t = 256, global = true)]
    pub ws_queue: usize,
    /// Seconds between server pings on a websocket.
    #[arg(
        long,
        env = "MINITWIT_WS_PING_SECS",
        default_value_t = 25,
        global = true
    )]
    pub ws_ping_secs: u64,
    /// Seconds of silence after which a websocket peer is closed.
    #[arg(
        long,
        env = "MINITWIT_WS_IDLE_SECS",
        default_value_t = 60,
        global = true
    )]
    pub ws_idle_secs: u64,
    /// Key for signed session cookies; must be set and shared by replicas.
    #[arg(
        long,
        env = "MINITWIT_SECRET_KEY",
        global = true,
        hide_env_values = true
    )]
    pub secret_key: Option<Secret>,
    /// Basic-auth user of the simulator.
    #[arg(
        long,
        env = "SIMULATOR_USER",
        default_value = "simulator",
        global = true
    )]
    pub simulator_user: String,
    /// Basic-auth password of the simulator.
    #[arg(
        long,
        env = "SIMULATOR_PASSWORD",
        default_value = "super_safe!",
        global = true,
        hide_env_values = true
    )]
    pub simulator_password: Secret,
    /// If set, `/metrics` requires `Authorization: Bearer <token>`.
    #[arg(long, env = "METRICS_TOKEN", global = true, hide_env_values = true)]
    pub metrics_token: Option<Secret>,
    /// Log filter, in `RUST_LOG` syntax.
    #[arg(long, env = "RUST_LOG", default_value = "info", global = true)]
    pub log_level: String,
    /// `pretty` for people, `json` for one JSON object per line.
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_enum,
        default_value = "pretty",
        global = true,
        ignore_case = true
    )]
    pub log_format: LogFormat,
}

impl Settings {
    /// Settings for a server in a test: the given database, a random port, no Redis, and
    /// no influence from the caller's environment.
    pub fn for_tests(database_url: &str) -> Settings {
        Settings {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.to_owned(),
            redis_url: None,
            redis_channel: format!("minitwit:test:{}", uuid::Uuid::new_v4().simple()),
            ws_queue: 256,
            ws_ping_secs: 25,
            ws_idle_secs: 60,
            secret_key: Some(Secret(
                "test secret key that is long enough to sign cookies".into(),
            )),
            simulator_user: "simulator".into(),
            simulator_password: Secret("super_safe!".into()),
            metrics_token: None,
            log_level: "warn".into(),
            log_format: LogFormat::Pretty,
        }
    }
}

fn parse_database_url(raw: &str) -> Result<String, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
    match url.scheme() {
        "sqlite" | "postgres" | "postgresql" => Ok(raw.to_owned()),
        other => Err(format!(
            "unsupported scheme `{other}`: use sqlite://… or postgres://…"
        )),
    }
}

fn parse_redis_url(raw: &str) -> Result<String, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
    match url.scheme() {
        "redis" | "rediss" => Ok(raw.to_owned()),
        other => Err(format!("unsupported scheme `{other}`: use redis://…")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_must_be_sqlite_or_postgres() {
        assert!(parse_database_url("sqlite://minitwit.db?mode=rwc").is_ok());
        assert!(parse_database_url("postgres://postgres@127.0.0.1/x").is_ok());
        assert!(parse_database_url("mysql://x").is_err());
        assert!(parse_database_url("not a url").is_err());
    }

    #[test]
    fn secrets_do_not_print() {
        let s: Secret = "hunter2".parse().expect("infallible");
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
