//! `bench`: MiniTwit's benchmarks. Each prints its figures and the machine it ran on;
//! BENCHMARKS.md records the results and the commands that reproduce them.
//!
//! Build in release first: `cargo build --release -p minitwit -p bench`.

mod child;
mod fanout;
mod floor;
mod http;
mod machine;
mod scale;
mod scenario;
mod target;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "bench", about = "MiniTwit benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// wrk at 64 connections against each endpoint, as req/s, p99 and ratio to /healthz.
    Http(http::HttpArgs),
    /// Timeline queries at 10k users and up to 1M messages, with their query plans.
    Scale(scale::ScaleArgs),
    /// The simulator scenario replayed sequentially and at concurrency 8.
    Scenario(scenario::ScenarioArgs),
    /// N websockets on `public`, posts at a set rate: deliveries/s, post→frame latency
    /// and server RSS per socket.
    Fanout(fanout::Args),
    /// The bare poem broadcast server `fanout --floor` measures (started by it).
    #[command(hide = true)]
    FloorServer(floor::Args),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    println!("{}", machine::describe());
    let result = match cli.command {
        Command::Http(args) => http::run(args).await,
        Command::Scale(args) => scale::run(args).await,
        Command::Scenario(args) => scenario::run(args).await,
        Command::Fanout(args) => fanout::run(args).await,
        Command::FloorServer(args) => floor::run(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
