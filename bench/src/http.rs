//! HTTP throughput with wrk (Debian's `wrk`) at 64 connections against a release server:
//! the `/healthz` ceiling, the simulator endpoints, the pages, and a scenario-shaped mix;
//! each as req/s, p99 and ratio to the ceiling.

use std::io::Write;
use std::process::Command;

use clap::Args;
use rand::SeedableRng;

use crate::target::{Backend, BenchDb, Server};

const AUTH: &str = "Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh";

#[derive(Args)]
pub struct HttpArgs {
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: Backend,
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg_admin_url: String,
    /// Seconds per endpoint.
    #[arg(long, default_value_t = 10)]
    duration: u32,
    #[arg(long, default_value_t = 64)]
    connections: u32,
    #[arg(long, default_value_t = 1000)]
    users: usize,
    #[arg(long, default_value_t = 100_000)]
    messages: usize,
}

struct WrkResult {
    requests_per_sec: f64,
    p99_ms: f64,
    errors: u64,
}

pub async fn run(args: HttpArgs) -> Result<(), String> {
    if Command::new("wrk").arg("--version").output().is_err() {
        return Err("wrk not found: apt-get install wrk".into());
    }
    let db = BenchDb::create(args.backend, &args.pg_admin_url).await?;
    let store = db.store().await?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let users = minitwit::seed::seed_users(&store, args.users, 20, &mut rng).await?;
    minitwit::seed::seed_messages(&store, &users.ids, args.messages, &mut rng).await?;
    let token = mastodon_token(&store, &users.names).await?;
    store.close().await;
    // The seeded names share a prefix: "seedXXXXXX 17". Lua picks a random number.
    let prefix = users
        .names
        .first()
        .and_then(|n| n.split(' ').next())
        .ok_or("no users seeded")?
        .to_owned();
    // Statuses are posted by one user: its per-user post limit would answer 429.
    let server = Server::start(&db.url, &[("MINITWIT_POSTS_PER_MINUTE", "0")])?;
    println!(
        "backend {:?}, {} users, {} messages, wrk -t2 -c{} -d{}s (load generator on the same machine)",
        args.backend, args.users, args.messages, args.connections, args.duration
    );

    let n = args.users;
    let random_user = format!("'{prefix}%20' .. math.random(0, {})", n - 1);
    let cases: Vec<(&str, String)> = vec![
        ("GET /healthz (ceiling)", get_script("'/healthz'", false)),
        ("GET /api/msgs?no=20", get_script("'/api/msgs?no=20'", true)),
        (
            "GET /api/msgs/{user}?no=20",
            get_script(&format!("'/api/msgs/' .. {random_user} .. '?no=20'"), true),
        ),
        ("GET /public", get_script("'/public'", false)),
        (
            "GET /{user}",
            get_script(&format!("'/' .. {random_user}"), false),
        ),
        ("POST /api/msgs/{user}", post_tweet_script(&random_user)),
        (
            "GET /api/fllws/{user}",
            get_script(&format!("'/api/fllws/' .. {random_user}"), true),
        ),
        (
            "POST /api/fllws/{user} (follow, unfollow)",
            follow_script(&random_user),
        ),
        ("GET /api/latest", get_script("'/api/latest'", true)),
        (
            "GET /api/v1/timelines/public (Mastodon)",
            bearer_get_script("'/api/v1/timelines/public'", &token),
        ),
        (
            "GET /api/v1/timelines/home (Mastodon)",
            bearer_get_script("'/api/v1/timelines/home'", &token),
        ),
        (
            "POST /api/v1/statuses (Mastodon)",
            post_status_script(&token),
        ),
        ("scenario mix", mix_script(&random_user)),
    ];
    println!("\n| endpoint | req/s | p99 ms | ratio to /healthz | non-2xx/3xx |");
    println!("|---|---:|---:|---:|---:|");
    let mut ceiling = None;
    for (name, script) in cases {
        let result = wrk(&server.base, &script, args.connections, args.duration)?;
        let ceiling = *ceiling.get_or_insert(result.requests_per_sec);
        println!(
            "| {name} | {:.0} | {:.2} | {:.0}% | {} |",
            result.requests_per_sec,
            result.p99_ms,
            100.0 * result.requests_per_sec / ceiling,
            result.errors
        );
    }
    let rss = std::fs::read_to_string(format!("/proc/{}/status", server.pid()))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS"))
        .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_owned())
        .unwrap_or_default();
    println!("\nserver RSS after the run: {rss} kB");
    Ok(())
}

/// A read-write token of the first seeded user, who follows the seeding's share of the
/// others, issued straight in the store (the password grant would measure Argon2).
async fn mastodon_token(
    store: &minitwit::store::Store,
    names: &[String],
) -> Result<String, String> {
    let name = names.first().ok_or("no users seeded")?;
    let user = store
        .user_by_name(name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the first seeded user is missing")?;
    let redirect = ["urn:ietf:wg:oauth:2.0:oob".to_owned()];
    let (app, _) = store
        .create_app(minitwit::store::NewApp {
            name: "bench",
            website: None,
            redirect_uris: &redirect,
            scopes: "read write",
        })
        .await
        .map_err(|e| e.to_string())?;
    store
        .create_token(Some(app.app_id), Some(&user), "read write")
        .await
        .map_err(|e| e.to_string())
}

fn bearer_get_script(path_expr: &str, token: &str) -> String {
    format!(
        "wrk.headers['Authorization'] = 'Bearer {token}'\n\
         request = function()\n  return wrk.format('GET', {path_expr})\nend\n"
    )
}

fn post_status_script(token: &str) -> String {
    format!(
        "wrk.headers['Authorization'] = 'Bearer {token}'\n\
         wrk.headers['Content-Type'] = 'application/x-www-form-urlencoded'\n\
         counter = 0\n\
         request = function()\n\
           counter = counter + 1\n\
           return wrk.format('POST', '/api/v1/statuses', nil, 'status=benchmark%20status%20' .. counter)\n\
         end\n"
    )
}

fn get_script(path_expr: &str, auth: bool) -> String {
    let headers = if auth {
        format!("wrk.headers['Authorization'] = '{AUTH}'\n")
    } else {
        String::new()
    };
    format!("{headers}request = function()\n  return wrk.format('GET', {path_expr})\nend\n")
}

/// A wrk script sending the simulator's JSON requests: `body` is the inside of its
/// `request` function, which sees `counter`, the number of this request (from 1).
fn simulator_script(body: &str) -> String {
    format!(
        "wrk.headers['Authorization'] = '{AUTH}'\n\
         wrk.headers['Content-Type'] = 'application/json'\n\
         counter = 0\n\
         request = function()\n\
           counter = counter + 1\n\
         {body}\
         end\n"
    )
}

fn post_tweet_script(random_user: &str) -> String {
    simulator_script(&format!(
        "  return wrk.format('POST', '/api/msgs/' .. {random_user} .. '?latest=' .. counter, nil, '{{\"content\": \"benchmark post ' .. counter .. ' Grüße\"}}')\n"
    ))
}

/// Follows and unfollows of random pairs, alternating, each with its own `latest`.
fn follow_script(random_user: &str) -> String {
    simulator_script(&format!(
        "  local key = (counter % 2 == 0) and 'unfollow' or 'follow'\n\
           local whom = string.gsub({random_user}, '%%20', ' ')\n\
           return wrk.format('POST', '/api/fllws/' .. {random_user} .. '?latest=' .. counter, nil, '{{\"' .. key .. '\": \"' .. whom .. '\"}}')\n"
    ))
}

/// The simulator's proportions: 44% tweets, 38% follows, 18% unfollows, plus reads of
/// `latest` and the public messages the simulator's checks make.
fn mix_script(random_user: &str) -> String {
    simulator_script(&format!(
        "  local r = math.random(100)\n\
           local who = {random_user}\n\
           local q = '?latest=' .. counter\n\
           if r <= 42 then\n\
             return wrk.format('POST', '/api/msgs/' .. who .. q, nil, '{{\"content\": \"mix ' .. counter .. '\"}}')\n\
           elseif r <= 78 then\n\
             return wrk.format('POST', '/api/fllws/' .. who .. q, nil, '{{\"follow\": \"' .. string.gsub({random_user}, '%%20', ' ') .. '\"}}')\n\
           elseif r <= 95 then\n\
             return wrk.format('POST', '/api/fllws/' .. who .. q, nil, '{{\"unfollow\": \"' .. string.gsub({random_user}, '%%20', ' ') .. '\"}}')\n\
           elseif r <= 98 then\n\
             return wrk.format('GET', '/api/msgs?no=20' .. '&latest=' .. counter)\n\
           else\n\
             return wrk.format('GET', '/api/latest')\n\
           end\n"
    ))
}

fn wrk(base: &str, script: &str, connections: u32, duration: u32) -> Result<WrkResult, String> {
    let mut file = tempfile::Builder::new()
        .suffix(".lua")
        .tempfile()
        .map_err(|e| e.to_string())?;
    file.write_all(script.as_bytes())
        .map_err(|e| e.to_string())?;
    let out = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{duration}s"),
            "--latency",
            "-s",
        ])
        .arg(file.path())
        .arg(base)
        .output()
        .map_err(|e| format!("wrk: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "wrk failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let requests_per_sec = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no Requests/sec in wrk output:\n{text}"))?;
    let p99_ms = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("99%"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(parse_wrk_duration_ms)
        .ok_or_else(|| format!("no 99% latency in wrk output:\n{text}"))?;
    let errors = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("Non-2xx or 3xx responses:"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    Ok(WrkResult {
        requests_per_sec,
        p99_ms,
        errors,
    })
}

/// wrk prints `812.00us`, `1.23ms` or `2.10s`.
fn parse_wrk_duration_ms(raw: &str) -> Option<f64> {
    let (number, factor) = if let Some(v) = raw.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = raw.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = raw.strip_suffix('s') {
        (v, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * factor)
}
