//! One typed configuration: every setting is a flag with an environment-variable fallback (README.md, "Commands and configuration").

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::limits::{Deadlines, RateLimitSettings, TrustedProxies};

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
    /// Replay a simulator scenario against any MiniTwit API.
    Sim(SimArgs),
    /// Fill the database with generated users, messages and follows, for benchmarks.
    Seed(SeedArgs),
    /// Give or take a user's moderator role (moderators may hide messages).
    Moderator {
        #[command(subcommand)]
        action: ModeratorAction,
    },
    /// Write a consistent copy of the SQLite database while the server keeps serving.
    Backup(BackupArgs),
}

#[derive(Debug, Clone, Subcommand)]
pub enum ModeratorAction {
    /// Make NAME a moderator.
    Grant { name: String },
    /// Take the moderator role from NAME.
    Revoke { name: String },
}

#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// The file to write; it must not exist yet.
    pub path: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct SimArgs {
    /// Base URL of the API, e.g. http://127.0.0.1:8080/api
    pub url: String,
    /// Tab-separated scenario: id, delay, timestamp, command, user, argument[, password].
    pub scenario: PathBuf,
    /// Requests in flight at once; each user's actions still run in order.
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// Replay only the first N actions.
    #[arg(long)]
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    #[arg(long, default_value_t = 10_000)]
    pub users: usize,
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: usize,
    #[arg(long, default_value_t = 100)]
    pub follows_per_user: usize,
}

/// When the session cookie carries `Secure` (README.md, "Commands and configuration", `MINITWIT_COOKIE_SECURE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CookieSecure {
    /// When the request came over HTTPS, as a trusted proxy's `X-Forwarded-Proto` says.
    Auto,
    True,
    False,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// The simulator's password when none is set. It is public (the simulator ships with it),
/// so it only suits a server that nobody else can reach: startup warns otherwise.
pub const PUBLIC_SIMULATOR_PASSWORD: &str = "super_safe!";

/// A secret setting that is set but blank, as an empty variable or an empty Docker secret
/// file (deploy/entrypoint.sh) gives it: serving would open what it guards to anyone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting} is set but empty: {fix}")]
pub struct EmptySecret {
    pub setting: &'static str,
    pub fix: &'static str,
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
    /// The address people reach this server at (`https://minitwit.example`), as the
    /// Mastodon-compatible API writes it into account and status URLs, `Link` headers and
    /// the streaming URL (docs/mastodon.md). Unset: `http://` and the bound address.
    #[arg(long, env = "MINITWIT_PUBLIC_URL", global = true, value_parser = parse_public_url)]
    pub public_url: Option<String>,
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
    /// Open websocket and SSE streams this instance accepts; past it new ones are refused
    /// (close 1013). 0: no limit.
    #[arg(
        long,
        env = "MINITWIT_MAX_SOCKETS",
        default_value_t = 50_000,
        global = true
    )]
    pub max_sockets: usize,
    /// Open streams one client address may hold on this instance. 0: no limit.
    #[arg(
        long,
        env = "MINITWIT_MAX_SOCKETS_PER_IP",
        default_value_t = 200,
        global = true
    )]
    pub max_sockets_per_ip: usize,
    /// Key for signed session cookies; must be set and shared by replicas (not empty).
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
    /// Basic-auth password of the simulator; may not be empty.
    #[arg(
        long,
        env = "SIMULATOR_PASSWORD",
        default_value = PUBLIC_SIMULATOR_PASSWORD,
        global = true,
        hide_env_values = true
    )]
    pub simulator_password: Secret,
    /// If set, `/metrics` requires `Authorization: Bearer <token>` (set, it may not be empty).
    #[arg(long, env = "METRICS_TOKEN", global = true, hide_env_values = true)]
    pub metrics_token: Option<Secret>,
    /// Comma-separated IPs or CIDR networks of reverse proxies whose `X-Forwarded-For`
    /// names the client for rate limiting (e.g. `10.0.0.0/8`). Empty: trust nobody.
    #[arg(long, env = "MINITWIT_TRUSTED_PROXIES", default_value = "", global = true, value_parser = parse_trusted_proxies)]
    pub trusted_proxies: TrustedProxies,
    /// Login attempts per client IP per minute (burst of the same size); 0 turns it off.
    #[arg(
        long,
        env = "MINITWIT_LOGIN_PER_MINUTE",
        default_value_t = 20,
        global = true
    )]
    pub login_per_minute: u32,
    /// Registrations per client IP per minute; 0 turns it off.
    #[arg(
        long,
        env = "MINITWIT_REGISTER_PER_MINUTE",
        default_value_t = 10,
        global = true
    )]
    pub register_per_minute: u32,
    /// Websocket connects per client IP per minute; 0 turns it off.
    #[arg(
        long,
        env = "MINITWIT_WS_CONNECTS_PER_MINUTE",
        default_value_t = 120,
        global = true
    )]
    pub ws_connects_per_minute: u32,
    /// Posts per user per minute from the web; 0 turns it off.
    #[arg(
        long,
        env = "MINITWIT_POSTS_PER_MINUTE",
        default_value_t = 30,
        global = true
    )]
    pub posts_per_minute: u32,
    /// Apply the per-IP limits to requests carrying the simulator's credential too.
    #[arg(
        long,
        env = "MINITWIT_LIMIT_SIMULATOR",
        default_value_t = false,
        global = true
    )]
    pub limit_simulator: bool,
    /// Password hashes computed at once; each Argon2id hash holds 19 MiB. A login or
    /// registration that waits more than 2 s for one gets 503 with `Retry-After`.
    #[arg(
        long,
        env = "MINITWIT_HASH_CONCURRENCY",
        default_value_t = 4,
        global = true,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub hash_concurrency: u32,
    /// Absolute lifetime of a login session, in days.
    #[arg(
        long,
        env = "MINITWIT_SESSION_DAYS",
        default_value_t = 14,
        global = true,
        value_parser = clap::value_parser!(u32).range(1..=3650)
    )]
    pub session_days: u32,
    /// `auto`: the session cookie is `Secure` when the request came over HTTPS (a trusted
    /// proxy's `X-Forwarded-Proto`); `true` / `false`: always / never.
    #[arg(
        long,
        env = "MINITWIT_COOKIE_SECURE",
        value_enum,
        default_value = "auto",
        global = true,
        ignore_case = true
    )]
    pub cookie_secure: CookieSecure,
    /// Seconds a client has to send a whole request head (decimals allowed).
    #[arg(long = "head-timeout-secs", value_name = "SECS", env = "MINITWIT_HEAD_TIMEOUT_SECS", default_value = "10", global = true, value_parser = parse_timeout_secs)]
    pub head_timeout: Duration,
    /// Seconds a request body has to arrive after its head (decimals allowed).
    #[arg(long = "body-timeout-secs", value_name = "SECS", env = "MINITWIT_BODY_TIMEOUT_SECS", default_value = "30", global = true, value_parser = parse_timeout_secs)]
    pub body_timeout: Duration,
    /// Seconds without traffic after which a connection is closed (decimals allowed).
    #[arg(long = "idle-timeout-secs", value_name = "SECS", env = "MINITWIT_IDLE_TIMEOUT_SECS", default_value = "60", global = true, value_parser = parse_timeout_secs)]
    pub idle_timeout: Duration,
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
    /// SQLite only: keep timestamped backups in this directory.
    #[arg(long, env = "MINITWIT_BACKUP_DIR", global = true)]
    pub backup_dir: Option<PathBuf>,
    /// How often to take a backup into `--backup-dir`: `30s`, `15m`, `1h`, `1d`.
    #[arg(long, env = "MINITWIT_BACKUP_EVERY", default_value = "1h", global = true, value_parser = crate::backup::parse_every)]
    pub backup_every: Duration,
    /// How many of the newest backups to keep in `--backup-dir`.
    #[arg(
        long,
        env = "MINITWIT_BACKUP_KEEP",
        default_value_t = 24,
        global = true
    )]
    pub backup_keep: usize,
    /// Report server errors and panics to this Sentry (or Sentry-compatible) DSN.
    #[arg(long, env = "SENTRY_DSN", global = true, hide_env_values = true)]
    pub sentry_dsn: Option<Secret>,
}

/// An absolute `http(s)://` URL, kept without a trailing slash.
fn parse_public_url(raw: &str) -> Result<String, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an http:// or https:// URL with a host".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

impl Settings {
    /// Settings for a server in a test: the command line's defaults, as `minitwit` with no
    /// flags and no environment has them, except for the given database, a random port, a
    /// Redis channel of its own, a fixed cookie key, no rate limits or socket caps, and
    /// quieter logs. The defaults come from the parser, so they are written down once.
    pub fn for_tests(database_url: &str) -> Settings {
        // Without the `env` fallbacks: a developer's DATABASE_URL, REDIS_URL or RUST_LOG
        // must not reach a test's server.
        let defaults = parse_without_env(&["minitwit"])
            .unwrap_or_else(|e| panic!("the command line's defaults do not parse: {e}"));
        Settings {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.to_owned(),
            redis_channel: format!("minitwit:test:{}", uuid::Uuid::new_v4().simple()),
            // No caps in tests, as no rate limits: tests open hundreds of sockets from one
            // address; the caps' own tests set them.
            max_sockets: 0,
            max_sockets_per_ip: 0,
            secret_key: Some(Secret(
                "test secret key that is long enough to sign cookies".into(),
            )),
            // Off in tests, so tests that open many sockets or log in often are not limited;
            // the rate-limit tests turn them on explicitly.
            login_per_minute: 0,
            register_per_minute: 0,
            ws_connects_per_minute: 0,
            posts_per_minute: 0,
            log_level: "warn".into(),
            ..defaults.settings
        }
    }
}

impl Settings {
    /// The server's backup schedule, when `--backup-dir` is set.
    pub fn backup_schedule(&self) -> Option<crate::backup::Schedule> {
        self.backup_dir.as_ref().map(|dir| crate::backup::Schedule {
            dir: dir.clone(),
            every: self.backup_every,
            keep: self.backup_keep,
        })
    }

    /// Refuses a secret that is given but blank (only whitespace counts as blank too): an
    /// empty simulator password, metrics token or cookie key guards nothing.
    pub fn refuse_empty_secrets(&self) -> Result<(), EmptySecret> {
        let secrets = [
            (
                Some(&self.simulator_password),
                "SIMULATOR_PASSWORD (--simulator-password)",
                "the simulator API would accept an empty password; set a secret one",
            ),
            (
                self.metrics_token.as_ref(),
                "METRICS_TOKEN (--metrics-token)",
                "give it a token, or unset it to serve /metrics without one",
            ),
            (
                self.secret_key.as_ref(),
                "MINITWIT_SECRET_KEY (--secret-key)",
                "give it a long random key, or unset it for a random key per start",
            ),
        ];
        for (secret, setting, fix) in secrets {
            if secret.is_some_and(|s| s.expose().trim().is_empty()) {
                return Err(EmptySecret { setting, fix });
            }
        }
        Ok(())
    }

    /// Whether the simulator API answers to the public default password on an address
    /// other machines can reach.
    pub fn public_simulator_password_exposed(&self) -> bool {
        self.simulator_password.expose() == PUBLIC_SIMULATOR_PASSWORD
            && !self.bind.ip().is_loopback()
    }

    /// How long a connection may take over a request head and body, and stay silent.
    pub fn deadlines(&self) -> Deadlines {
        Deadlines {
            head: self.head_timeout,
            body: self.body_timeout,
            idle: self.idle_timeout,
        }
    }

    pub fn rate_limits(&self) -> RateLimitSettings {
        RateLimitSettings {
            login_per_minute: self.login_per_minute,
            register_per_minute: self.register_per_minute,
            ws_connects_per_minute: self.ws_connects_per_minute,
            posts_per_minute: self.posts_per_minute,
        }
    }
}

/// `args` as the command line, without the environment-variable fallbacks.
fn parse_without_env(args: &[&str]) -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    Cli::command()
        .mut_args(|arg| arg.env(None))
        .try_get_matches_from(args)
        .and_then(|matches| Cli::from_arg_matches(&matches))
}

fn parse_trusted_proxies(raw: &str) -> Result<TrustedProxies, String> {
    TrustedProxies::parse(raw)
}

/// Decimal seconds, more than 0 (a zero deadline would drop every connection) and at
/// most a day.
fn parse_timeout_secs(raw: &str) -> Result<Duration, String> {
    let secs: f64 = raw
        .trim()
        .parse()
        .map_err(|_| format!("`{raw}` is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 86_400.0) {
        return Err(format!(
            "`{raw}`: give more than 0 and at most 86400 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
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
    fn security_settings_have_the_spec_defaults_and_refuse_nonsense() {
        let cli = Cli::try_parse_from(["minitwit"]).expect("defaults parse");
        assert_eq!(cli.settings.hash_concurrency, 4);
        assert_eq!(cli.settings.session_days, 14);
        assert_eq!(cli.settings.cookie_secure, CookieSecure::Auto);
        let cli = Cli::try_parse_from(["minitwit", "--cookie-secure", "TRUE"]).expect("parses");
        assert_eq!(cli.settings.cookie_secure, CookieSecure::True);
        assert!(Cli::try_parse_from(["minitwit", "--hash-concurrency", "0"]).is_err());
        assert!(Cli::try_parse_from(["minitwit", "--session-days", "0"]).is_err());
        assert!(Cli::try_parse_from(["minitwit", "--cookie-secure", "maybe"]).is_err());
    }

    #[test]
    fn empty_secrets_are_named_and_unset_ones_are_fine() {
        let parse = |args: &[&str]| {
            let mut argv = vec!["minitwit"];
            argv.extend_from_slice(args);
            Cli::try_parse_from(argv)
                .expect("parses")
                .settings
                .refuse_empty_secrets()
                .map_err(|e| e.setting)
        };
        assert_eq!(parse(&[]), Ok(()));
        assert_eq!(
            parse(&["--simulator-password", ""]),
            Err("SIMULATOR_PASSWORD (--simulator-password)")
        );
        assert_eq!(
            parse(&["--metrics-token", " "]),
            Err("METRICS_TOKEN (--metrics-token)")
        );
        assert_eq!(
            parse(&["--secret-key", ""]),
            Err("MINITWIT_SECRET_KEY (--secret-key)")
        );
        assert_eq!(
            parse(&["--metrics-token", "t", "--secret-key", "k"]),
            Ok(())
        );
    }

    #[test]
    fn the_public_password_is_flagged_off_loopback_only() {
        let exposed = |args: &[&str]| {
            let mut argv = vec!["minitwit"];
            argv.extend_from_slice(args);
            Cli::try_parse_from(argv)
                .expect("parses")
                .settings
                .public_simulator_password_exposed()
        };
        assert!(!exposed(&[]));
        assert!(!exposed(&["--bind", "[::1]:8080"]));
        assert!(exposed(&["--bind", "0.0.0.0:8080"]));
        assert!(exposed(&["--bind", "[::]:8080"]));
        assert!(!exposed(&[
            "--bind",
            "0.0.0.0:8080",
            "--simulator-password",
            "x"
        ]));
    }

    #[test]
    fn deadlines_default_to_10_30_60_s_and_take_fractions() {
        let cli = Cli::try_parse_from(["minitwit"]).expect("defaults parse");
        assert_eq!(cli.settings.deadlines(), Deadlines::default());
        assert_eq!(
            Deadlines::default(),
            Deadlines {
                head: Duration::from_secs(10),
                body: Duration::from_secs(30),
                idle: Duration::from_secs(60),
            }
        );
        let cli = Cli::try_parse_from(["minitwit", "--head-timeout-secs", "0.3"]).expect("parses");
        assert_eq!(cli.settings.deadlines().head, Duration::from_millis(300));
        for bad in ["0", "-1", "NaN", "inf", "1e9", "10s", ""] {
            assert!(
                Cli::try_parse_from(["minitwit", "--body-timeout-secs", bad]).is_err(),
                "{bad}"
            );
        }
    }

    /// Only what a test server needs differs from the command line's defaults, so a
    /// changed default reaches the tests too.
    #[test]
    fn test_settings_are_the_defaults_but_for_what_tests_need() {
        let defaults = parse_without_env(&["minitwit"])
            .expect("defaults parse")
            .settings;
        let mut tests = Settings::for_tests("sqlite://test.db?mode=rwc");
        assert_eq!(tests.bind.port(), 0);
        assert_eq!(tests.login_per_minute, 0);
        assert!(tests.secret_key.is_some());
        tests.bind = defaults.bind;
        tests.database_url = defaults.database_url.clone();
        tests.redis_channel = defaults.redis_channel.clone();
        tests.max_sockets = defaults.max_sockets;
        tests.max_sockets_per_ip = defaults.max_sockets_per_ip;
        tests.secret_key = defaults.secret_key.clone();
        tests.login_per_minute = defaults.login_per_minute;
        tests.register_per_minute = defaults.register_per_minute;
        tests.ws_connects_per_minute = defaults.ws_connects_per_minute;
        tests.posts_per_minute = defaults.posts_per_minute;
        tests.log_level = defaults.log_level.clone();
        assert_eq!(format!("{tests:?}"), format!("{defaults:?}"));
    }

    #[test]
    fn secrets_do_not_print() {
        let s: Secret = "hunter2".parse().expect("infallible");
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
