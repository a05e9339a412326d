//! Timeline queries at scale: public, personal (home, following 100) and one user's, at 10k
//! users with 10k and then 1M messages; p50/p99 through the store, and the query plans.

use std::time::{Duration, Instant};

use clap::Args;
use minitwit::store::{Page, Store, TimelineScope};
use rand::{Rng, SeedableRng};

use crate::target::{Backend, BenchDb};

#[derive(Args)]
pub struct ScaleArgs {
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: Backend,
    /// Admin URL used to create a fresh PostgreSQL database.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg_admin_url: String,
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    #[arg(long, default_value_t = 100)]
    follows_per_user: usize,
    /// Message counts to measure at, in increasing order.
    #[arg(long, value_delimiter = ',', default_value = "10000,1000000")]
    messages: Vec<usize>,
    /// Queries timed per timeline and size.
    #[arg(long, default_value_t = 2000)]
    iterations: usize,
}

pub async fn run(args: ScaleArgs) -> Result<(), String> {
    let db = BenchDb::create(args.backend, &args.pg_admin_url).await?;
    let store = db.store().await?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let users =
        minitwit::seed::seed_users(&store, args.users, args.follows_per_user, &mut rng).await?;
    println!(
        "backend {:?}: {} users, {} follows",
        args.backend,
        users.ids.len(),
        users.follows
    );
    println!("| messages | timeline | p50 ms | p99 ms |");
    println!("|---:|---|---:|---:|");
    let mut seeded = 0;
    let mut results = Vec::new();
    for &target in &args.messages {
        minitwit::seed::seed_messages(&store, &users.ids, target.saturating_sub(seeded), &mut rng)
            .await?;
        seeded = target.max(seeded);
        analyze(&store, args.backend).await?;
        for (name, scope_of, before) in timelines() {
            let (p50, p99) = measure(
                &store,
                &users.ids,
                scope_of,
                before,
                args.iterations,
                &mut rng,
            )
            .await?;
            println!("| {seeded} | {name} | {:.3} | {:.3} |", ms(p50), ms(p99));
            results.push((seeded, name, p50, p99));
        }
    }
    println!("\nquery plans at {seeded} messages:");
    let someone = users.ids[0];
    for (name, scope_of, before) in timelines().into_iter().skip(1) {
        let plan = store
            .explain_timeline(scope_of(someone), Page::Newest { limit: 30, before })
            .await
            .map_err(|e| e.to_string())?;
        println!("{name}:");
        for line in plan {
            println!("    {line}");
        }
    }
    if let (Some(first), Some(last)) = (args.messages.first(), args.messages.last()) {
        println!("\np99 growth from {first} to {last} messages:");
        for (name, _, _) in timelines() {
            let at = |n: usize| {
                results
                    .iter()
                    .find(|r| r.0 == n && r.1 == name)
                    .map(|r| r.3)
            };
            if let (Some(small), Some(large)) = (at(*first), at(*last)) {
                println!(
                    "  {name}: {:.2}x",
                    large.as_secs_f64() / small.as_secs_f64().max(1e-9)
                );
            }
        }
    }
    store.close().await;
    Ok(())
}

type ScopeOf = fn(i64) -> TimelineScope;

/// "public (cached)" is what `GET /api/msgs` and `/public` get between posts; "public" and
/// "user" ask for the page before `i64::MAX`, the same rows, which the caches do not serve,
/// so they measure the query itself.
fn timelines() -> [(&'static str, ScopeOf, Option<i64>); 4] {
    [
        ("public (cached)", |_| TimelineScope::Public, None),
        ("public", |_| TimelineScope::Public, Some(i64::MAX)),
        ("home", TimelineScope::Home, None),
        ("user", TimelineScope::User, Some(i64::MAX)),
    ]
}

/// Refreshes planner statistics, as autovacuum/ANALYZE would on a live database.
async fn analyze(store: &Store, backend: Backend) -> Result<(), String> {
    let sql = match backend {
        Backend::Sqlite | Backend::Postgres => "ANALYZE",
    };
    store.execute_raw(sql).await.map_err(|e| e.to_string())
}

async fn measure(
    store: &Store,
    users: &[i64],
    scope_of: ScopeOf,
    before: Option<i64>,
    iterations: usize,
    rng: &mut rand::rngs::StdRng,
) -> Result<(Duration, Duration), String> {
    let mut times = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let user = users[rng.gen_range(0..users.len())];
        let started = Instant::now();
        let page = store
            .timeline(scope_of(user), Page::Newest { limit: 30, before })
            .await
            .map_err(|e| e.to_string())?;
        times.push(started.elapsed());
        std::hint::black_box(page);
    }
    times.sort_unstable();
    let at = |q: f64| times[((q * times.len() as f64).ceil() as usize).clamp(1, times.len()) - 1];
    Ok((at(0.50), at(0.99)))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
