//! The simulator's scenario replayed by `minitwit sim`'s engine against a fresh release
//! server, sequentially and concurrently.

use clap::Args;
use minitwit::sim::{replay, scenario, SimOptions, SIMULATOR_AUTH};

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
}

pub async fn run(args: ScenarioArgs) -> Result<(), String> {
    let actions = scenario::load(&args.scenario)?;
    for concurrency in args.concurrency {
        let db = BenchDb::create(args.backend, &args.pg_admin_url).await?;
        db.store().await?.close().await;
        let server = Server::start(&db.url, &[])?;
        let options = SimOptions {
            base_url: format!("{}/api", server.base),
            concurrency,
            authorization: SIMULATOR_AUTH.to_owned(),
        };
        let report = replay(actions.clone(), &options).await?;
        println!(
            "\nbackend {:?}, concurrency {concurrency}, {} actions:",
            args.backend,
            actions.len()
        );
        print!("{}", report.render());
    }
    Ok(())
}
