//! `minitwit sim`: replays a simulator scenario against any MiniTwit API and reports
//! status counts, latency and throughput, as the course simulator would count them.
//!
//! With `--concurrency N > 1`, each user's actions still run in scenario order, and an
//! action never starts before the registrations it depends on (its user's and, for
//! follows, its target's) have been answered.

pub mod report;
pub mod scenario;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, FutureExt, Shared};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use tokio::sync::{oneshot, Semaphore};

use report::{Outcome, Report};
use scenario::{Action, Command};

/// The simulator's own credential (`simulator:super_safe!`).
pub const SIMULATOR_AUTH: &str = "Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh";
/// The simulator gives each request this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Options of one replay.
pub struct SimOptions {
    /// Base URL of the API, e.g. `http://127.0.0.1:8080/api`.
    pub base_url: String,
    pub concurrency: usize,
    pub authorization: String,
}

/// Replays `actions`; the report holds one outcome per action, in completion order.
pub async fn replay(actions: Vec<Action>, options: &SimOptions) -> Result<Report, String> {
    let base = options.base_url.trim_end_matches('/').to_owned();
    let host = url::Url::parse(&base)
        .map_err(|e| format!("bad URL {base}: {e}"))?
        .host_str()
        .unwrap_or_default()
        .to_owned();
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .tcp_nodelay(true)
        .pool_max_idle_per_host(options.concurrency.max(1))
        .build()
        .map_err(|e| format!("cannot build HTTP client: {e}"))?;
    let sender = Arc::new(Sender {
        client,
        base,
        authorization: options.authorization.clone(),
    });
    let progress = ProgressBar::new(actions.len() as u64).with_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let outcomes = if options.concurrency <= 1 {
        let mut outcomes = Vec::with_capacity(actions.len());
        for action in &actions {
            outcomes.push(sender.send(action).await);
            progress.inc(1);
        }
        outcomes
    } else {
        replay_concurrently(actions, sender, options.concurrency, &progress).await
    };
    progress.finish_and_clear();
    Ok(Report {
        outcomes,
        elapsed: started.elapsed(),
        host,
    })
}

type Done = Shared<BoxFuture<'static, ()>>;

async fn replay_concurrently(
    actions: Vec<Action>,
    sender: Arc<Sender>,
    concurrency: usize,
    progress: &ProgressBar,
) -> Vec<Outcome> {
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut last_action_of: HashMap<String, Done> = HashMap::new();
    let mut registration_of: HashMap<String, Done> = HashMap::new();
    let mut tasks = Vec::with_capacity(actions.len());
    for action in actions {
        let mut deps: Vec<Done> = Vec::new();
        deps.extend(last_action_of.get(&action.user).cloned());
        if let Some(target) = action.command.target() {
            deps.extend(registration_of.get(target).cloned());
        }
        let (finished, done) = oneshot::channel::<()>();
        let done: Done = done.map(|_| ()).boxed().shared();
        last_action_of.insert(action.user.clone(), done.clone());
        if matches!(action.command, Command::Register { .. }) {
            registration_of.insert(action.user.clone(), done);
        }
        let permits = permits.clone();
        let sender = sender.clone();
        let progress = progress.clone();
        tasks.push(tokio::spawn(async move {
            futures_util::future::join_all(deps).await;
            // Deps are awaited before taking a permit, so a waiting task never blocks others.
            let permit = permits.acquire_owned().await;
            let outcome = sender.send(&action).await;
            drop(permit);
            let _ = finished.send(());
            progress.inc(1);
            outcome
        }));
    }
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        if let Ok(outcome) = task.await {
            outcomes.push(outcome);
        }
    }
    outcomes
}

struct Sender {
    client: reqwest::Client,
    base: String,
    authorization: String,
}

impl Sender {
    async fn send(&self, action: &Action) -> Outcome {
        let user = encode_segment(&action.user);
        let (path, body) = match &action.command {
            Command::Register { email, password } => (
                "/register".to_owned(),
                json!({"username": action.user, "email": email, "pwd": password}),
            ),
            Command::Tweet { content } => (format!("/msgs/{user}"), json!({ "content": content })),
            Command::Follow { target } => (format!("/fllws/{user}"), json!({ "follow": target })),
            Command::Unfollow { target } => {
                (format!("/fllws/{user}"), json!({ "unfollow": target }))
            }
        };
        let url = format!("{}{path}?latest={}", self.base, action.id);
        let started = Instant::now();
        let status = match self
            .client
            .post(url)
            .header("Authorization", &self.authorization)
            .json(&body)
            .send()
            .await
        {
            // The body is read to its end, as the course's simulator (Python `requests`)
            // does: a response dropped unread closes its connection, and the next action
            // would pay for a new one.
            Ok(res) => {
                let status = res.status().as_u16();
                res.bytes().await.ok().map(|_| status)
            }
            Err(_) => None,
        };
        Outcome {
            id: action.id,
            command: action.command.name(),
            status,
            latency: started.elapsed(),
        }
    }
}

/// Percent-encodes a path segment the way the simulator does (spaces as `%20`).
fn encode_segment(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// The `sim` subcommand: load, replay, print the report; fails if any action failed.
pub async fn run(
    url: &str,
    scenario_path: &std::path::Path,
    concurrency: usize,
    limit: Option<usize>,
) -> Result<(), String> {
    let mut actions = scenario::load(scenario_path)?;
    if let Some(limit) = limit {
        actions.truncate(limit);
    }
    let options = SimOptions {
        base_url: url.to_owned(),
        concurrency,
        authorization: SIMULATOR_AUTH.to_owned(),
    };
    let report = replay(actions, &options).await?;
    print!("{}", report.render());
    let errors = report.error_lines();
    if errors.is_empty() {
        Ok(())
    } else {
        println!("errors (timestamp,host,latest,status,command):");
        for line in &errors {
            println!("{line}");
        }
        Err(format!(
            "{} of {} actions failed",
            errors.len(),
            report.outcomes.len()
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    /// Answers every request on `stream` with a 400 and a JSON body, as MiniTwit answers a
    /// failed action, keeping the connection open.
    async fn answer_all(mut stream: TcpStream) {
        let mut buffer = Vec::new();
        loop {
            if let Some(request) = whole_request(&buffer) {
                buffer.drain(..request);
                let body = br#"{"status":400,"error_msg":"already followed"}"#;
                let head = format!(
                    "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\n\r\n",
                    body.len()
                );
                if stream.write_all(head.as_bytes()).await.is_err()
                    || stream.write_all(body).await.is_err()
                {
                    return;
                }
                continue;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// The length of the first request in `buffer` (head and `Content-Length` body), once
    /// all of it has arrived.
    fn whole_request(buffer: &[u8]) -> Option<usize> {
        let end = buffer.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0);
        let whole = end + 4 + length;
        (buffer.len() >= whole).then_some(whole)
    }

    #[tokio::test]
    async fn a_sequential_replay_keeps_one_connection_even_when_actions_fail() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(answer_all(stream));
            }
        });
        let actions: Vec<Action> = (1..=20)
            .map(|id| Action {
                id,
                user: "alice".into(),
                command: Command::Follow {
                    target: "bob".into(),
                },
            })
            .collect();
        let options = SimOptions {
            base_url: format!("http://{address}/api"),
            concurrency: 1,
            authorization: SIMULATOR_AUTH.to_owned(),
        };
        let report = replay(actions, &options).await.expect("replay");
        assert!(
            report.outcomes.iter().all(|o| o.status == Some(400)),
            "every action is answered 400"
        );
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "a failed action's answer must not cost the next action a new connection"
        );
    }
}
