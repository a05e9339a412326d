//! The simulator's scenario replayed by `minitwit sim`'s engine against a fresh release
//! server, sequentially and concurrently.
//!
//! With `--floor`, the same replay first runs against [`crate::floor`], a bare poem server
//! that answers every action with no database, in the same run; the ratio of the two
//! elapsed times is MiniTwit's cost over what any HTTP server must spend. Both servers are
//! child processes, so their CPU time is read the same way.

use clap::Args;
use minitwit::sim::report::Report;
use minitwit::sim::scenario::Action;
use minitwit::sim::{replay, scenario, SimOptions, SIMULATOR_AUTH};

use crate::child::{context_switches, cpu_secs, start_floor};
use crate::target::{Backend, BenchDb, Server};

#[derive(Args)]
pub struct ScenarioArgs {
    /// The scenario file (e.g. ../shared/data/minitwit_scenario.csv).
    scenario: std::path::PathBuf,
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: Backend,
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg_admin_url: String,
    /// Concurrency levels, each on a fresh database.
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    concurrency: Vec<usize>,
    /// Replay against the bare floor server first, at each level, and print the ratio.
    #[arg(long)]
    floor: bool,
}

/// One replay's figures.
struct Run {
    report: Report,
    /// The server process's user + system CPU seconds during the replay.
    server_cpu: f64,
    /// The server's threads' context switches during the replay.
    switches: u64,
}

pub async fn run(args: ScenarioArgs) -> Result<(), String> {
    let actions = scenario::load(&args.scenario)?;
    for &concurrency in &args.concurrency {
        let floor = match args.floor {
            true => Some(replay_floor(&actions, concurrency).await?),
            false => None,
        };
        let ours = replay_minitwit(&args, &actions, concurrency).await?;
        if let Some(floor) = &floor {
            println!("\nfloor (bare poem server), concurrency {concurrency}:");
            print!("{}", floor.report.render());
        }
        println!(
            "\nbackend {:?}, concurrency {concurrency}, {} actions:",
            args.backend,
            actions.len()
        );
        print!("{}", ours.report.render());
        if let Some(floor) = &floor {
            print!("{}", compare(&ours, floor));
        }
    }
    Ok(())
}

async fn replay_minitwit(
    args: &ScenarioArgs,
    actions: &[Action],
    concurrency: usize,
) -> Result<Run, String> {
    let db = BenchDb::create(args.backend, &args.pg_admin_url).await?;
    db.store().await?.close().await;
    let server = Server::start(&db.url, &[])?;
    timed_replay(actions, &server.base, server.pid(), concurrency).await
}

async fn replay_floor(actions: &[Action], concurrency: usize) -> Result<Run, String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|e| format!("no free port for the floor: {e}"))?
        .port();
    let floor = start_floor(([127, 0, 0, 1], port).into()).await?;
    let pid = floor.child.id().ok_or("the floor server exited")?;
    timed_replay(actions, &format!("http://{}", floor.addr), pid, concurrency).await
}

async fn timed_replay(
    actions: &[Action],
    base: &str,
    pid: u32,
    concurrency: usize,
) -> Result<Run, String> {
    let options = SimOptions {
        base_url: format!("{base}/api"),
        concurrency,
        authorization: SIMULATOR_AUTH.to_owned(),
    };
    let (cpu_before, switches_before) = (cpu_secs(pid), context_switches(pid));
    let report = replay(actions.to_vec(), &options).await?;
    Ok(Run {
        report,
        server_cpu: cpu_secs(pid) - cpu_before,
        switches: context_switches(pid).saturating_sub(switches_before),
    })
}

/// MiniTwit beside the floor: elapsed, p50, server CPU and context switches per action,
/// each with its ratio; then the same without the registrations, whose Argon2 hash is
/// deliberately slow (SPEC §3) and which the floor does not hash.
fn compare(ours: &Run, floor: &Run) -> String {
    let ratio = |ours: f64, floor: f64| ours / floor.max(f64::EPSILON);
    let (ours_s, floor_s) = (
        ours.report.elapsed.as_secs_f64(),
        floor.report.elapsed.as_secs_f64(),
    );
    let p50 = |run: &Run| run.report.latency_quantile(0.5).as_secs_f64() * 1e3;
    let per_action = |run: &Run| run.switches as f64 / run.report.outcomes.len().max(1) as f64;
    let (ours_reg, floor_reg) = (
        registering_secs(&ours.report),
        registering_secs(&floor.report),
    );
    format!(
        "against the floor: elapsed {ours_s:.2} s vs {floor_s:.2} s = {:.2}×; \
         p50 {:.3} ms vs {:.3} ms; server CPU {:.2} s vs {:.2} s = {:.2}×; \
         context switches per action {:.1} vs {:.1}\n\
         registrations took {ours_reg:.2} s vs {floor_reg:.2} s; \
         the other actions {:.2} s vs {:.2} s = {:.2}×\n",
        ratio(ours_s, floor_s),
        p50(ours),
        p50(floor),
        ours.server_cpu,
        floor.server_cpu,
        ratio(ours.server_cpu, floor.server_cpu),
        per_action(ours),
        per_action(floor),
        ours_s - ours_reg,
        floor_s - floor_reg,
        ratio(ours_s - ours_reg, floor_s - floor_reg),
    )
}

/// Seconds the replay spent waiting for registrations' answers.
fn registering_secs(report: &Report) -> f64 {
    report
        .outcomes
        .iter()
        .filter(|outcome| outcome.command == "register")
        .map(|outcome| outcome.latency.as_secs_f64())
        .sum()
}
