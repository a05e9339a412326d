//! `minitwit seed`: fills a database with generated users, messages and follows, through
//! the store's batched inserts, for benchmarks at scale.
//!
//! Every seeded user shares one Argon2id hash of the password `seed-password`: hashing
//! each of 10,000 passwords would take minutes and prove nothing.

use std::time::Instant;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::domain::Password;
use crate::store::Store;

const WORDS: &[&str] = &[
    "hello",
    "world",
    "from",
    "hour",
    "to",
    "yesterday",
    "white",
    "face",
    "Grüße",
    "🐦",
    "naïve",
    "日本語",
    "minitwit",
    "the",
    "of",
    "and",
    "realtime",
    "simulator",
    "rust",
    "fast",
];
/// Messages per batch: one transaction each, so progress shows and memory stays flat.
const MESSAGES_PER_BATCH: usize = 50_000;

pub struct SeedPlan {
    pub users: usize,
    pub messages: usize,
    pub follows_per_user: usize,
}

/// Seeds `store` and returns a one-line summary. Deterministic for a given plan, apart
/// from the user-name prefix, which is unique per run so seeding twice adds to a database.
pub async fn seed(store: &Store, plan: &SeedPlan) -> Result<String, String> {
    let started = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let users = seed_users(store, plan.users, plan.follows_per_user, &mut rng).await?;
    if users.ids.is_empty() {
        return Ok("nothing to seed".into());
    }
    seed_messages(store, &users.ids, plan.messages, &mut rng).await?;
    Ok(format!(
        "seeded {} users, {} follows, {} messages in {:.1} s",
        users.ids.len(),
        users.follows,
        plan.messages,
        started.elapsed().as_secs_f64()
    ))
}

/// Users made by [`seed_users`].
pub struct SeededUsers {
    pub ids: Vec<i64>,
    /// Names, in the order of `ids`.
    pub names: Vec<String>,
    pub follows: usize,
}

/// Inserts `count` users, each following `follows_per_user` others picked at random.
pub async fn seed_users(
    store: &Store,
    count: usize,
    follows_per_user: usize,
    rng: &mut rand::rngs::StdRng,
) -> Result<SeededUsers, String> {
    let pw_hash = Password::parse("seed-password")
        .map_err(|e| e.to_owned())?
        .hash();
    let run = uuid::Uuid::new_v4().simple().to_string();
    let run = &run[..6];
    let users: Vec<(String, String, String)> = (0..count)
        .map(|i| {
            (
                format!("seed{run} {i}"),
                format!("seed{run}.{i}@example.com"),
                pw_hash.clone(),
            )
        })
        .collect();
    let names: Vec<String> = users.iter().map(|u| u.0.clone()).collect();
    let ids = store
        .insert_users_bulk(users)
        .await
        .map_err(|e| e.to_string())?;
    let mut pairs = Vec::with_capacity(ids.len() * follows_per_user);
    for &who in &ids {
        for &whom in ids.choose_multiple(rng, follows_per_user.min(ids.len())) {
            if whom != who {
                pairs.push((who, whom));
            }
        }
    }
    store
        .insert_follows_bulk(&pairs)
        .await
        .map_err(|e| e.to_string())?;
    Ok(SeededUsers {
        ids,
        names,
        follows: pairs.len(),
    })
}

/// Inserts `count` messages by authors picked at random from `authors`, dated one second
/// apart up to now, so ids and dates agree as for live posts.
pub async fn seed_messages(
    store: &Store,
    authors: &[i64],
    count: usize,
    rng: &mut rand::rngs::StdRng,
) -> Result<(), String> {
    if authors.is_empty() {
        return Ok(());
    }
    let now = crate::clock::unix_now();
    let first_date = now - count as i64;
    let mut written = 0;
    while written < count {
        let batch = MESSAGES_PER_BATCH.min(count - written);
        let rows: Vec<_> = (0..batch)
            .map(|k| {
                let author = authors[rng.gen_range(0..authors.len())];
                let n = rng.gen_range(3..12);
                let text: Vec<&str> = (0..n)
                    .map(|_| WORDS[rng.gen_range(0..WORDS.len())])
                    .collect();
                (author, text.join(" "), first_date + (written + k) as i64)
            })
            .collect();
        store
            .insert_messages_bulk(&rows)
            .await
            .map_err(|e| e.to_string())?;
        written += batch;
        if count > MESSAGES_PER_BATCH {
            eprintln!("seeded {written}/{count} messages");
        }
    }
    Ok(())
}
