//! A generated scenario shaped like the simulator's (registers, Unicode tweets, follows,
//! unfollows of pairs never followed), replayed through the API, then the state read back
//! and compared with what the scenario implies.

use std::collections::{BTreeSet, HashMap};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::common::{self, encode, TestApp};
use crate::on_both_backends;

const ACTIONS: usize = 2500;
const USERS: usize = 50;

enum Action {
    Register(String),
    Tweet(String, String),
    Follow(String, String),
    Unfollow(String, String),
}

/// What the state must be after the scenario.
#[derive(Default)]
struct Expected {
    /// Each user's messages, oldest first.
    messages: HashMap<String, Vec<String>>,
    /// Everyone's messages, oldest first.
    all: Vec<(String, String)>,
    follows: HashMap<String, BTreeSet<String>>,
}

fn generate(seed: u64) -> (Vec<Action>, Expected) {
    let mut rng = StdRng::seed_from_u64(seed);
    let names: Vec<String> = (0..USERS)
        .map(|i| match i % 4 {
            0 => format!("User {i} Name"),
            1 => format!("Jürgen Ødegård {i}"),
            2 => format!("用户{i}"),
            _ => format!("plain{i}"),
        })
        .collect();
    let words = [
        "hello",
        "Grüße",
        "🐦",
        "<script>",
        "\"quoted\"",
        "naïve",
        "日本語",
        "&amp;",
        "double  space",
    ];
    let mut registered: Vec<String> = Vec::new();
    let mut actions = Vec::new();
    let mut expected = Expected::default();
    while actions.len() < ACTIONS {
        let roll: f64 = rng.gen();
        if registered.len() < 2 || (registered.len() < USERS && roll < 0.05) {
            let name = names[registered.len()].clone();
            registered.push(name.clone());
            expected.messages.entry(name.clone()).or_default();
            expected.follows.entry(name.clone()).or_default();
            actions.push(Action::Register(name));
            continue;
        }
        let who = registered[rng.gen_range(0..registered.len())].clone();
        let whom = registered[rng.gen_range(0..registered.len())].clone();
        if roll < 0.5 {
            let n = rng.gen_range(1..8);
            let text: Vec<&str> = (0..n)
                .map(|_| words[rng.gen_range(0..words.len())])
                .collect();
            let text = format!("{} #{}", text.join(" "), actions.len());
            expected
                .messages
                .entry(who.clone())
                .or_default()
                .push(text.clone());
            expected.all.push((who.clone(), text.clone()));
            actions.push(Action::Tweet(who, text));
        } else if roll < 0.8 {
            expected
                .follows
                .entry(who.clone())
                .or_default()
                .insert(whom.clone());
            actions.push(Action::Follow(who, whom));
        } else {
            // Often a pair never followed: must still be a 204.
            expected
                .follows
                .entry(who.clone())
                .or_default()
                .remove(&whom);
            actions.push(Action::Unfollow(who, whom));
        }
    }
    (actions, expected)
}

async fn generated_scenario_replays_to_the_expected_state(app: TestApp) {
    let (actions, expected) = generate(2026);
    for (id, action) in actions.iter().enumerate() {
        let res = match action {
            Action::Register(name) => {
                app.post_api(
                    &format!("/register?latest={id}"),
                    json!({"username": name, "email": format!("{id}@example.com"), "pwd": "pw"}),
                )
                .await
            }
            Action::Tweet(who, text) => {
                app.post_api(
                    &format!("/msgs/{}?latest={id}", encode(who)),
                    json!({"content": text}),
                )
                .await
            }
            Action::Follow(who, whom) => {
                app.post_api(
                    &format!("/fllws/{}?latest={id}", encode(who)),
                    json!({"follow": whom}),
                )
                .await
            }
            Action::Unfollow(who, whom) => {
                app.post_api(
                    &format!("/fllws/{}?latest={id}", encode(who)),
                    json!({"unfollow": whom}),
                )
                .await
            }
        };
        assert_eq!(res.status(), 204, "action {id}");
    }
    assert_eq!(app.latest().await, ACTIONS as i64 - 1);

    let all: Vec<Value> = app
        .get_api("/msgs?no=10000")
        .await
        .json()
        .await
        .expect("JSON");
    let got: Vec<(String, String)> = all
        .iter()
        .map(|m| {
            (
                m["user"].as_str().expect("user").to_owned(),
                m["content"].as_str().expect("content").to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = expected.all.iter().rev().cloned().collect();
    assert_eq!(got, want);

    for (name, messages) in &expected.messages {
        let theirs: Vec<Value> = app
            .get_api(&format!("/msgs/{}?no=10000", encode(name)))
            .await
            .json()
            .await
            .expect("JSON");
        let got: Vec<&str> = theirs
            .iter()
            .map(|m| m["content"].as_str().expect("content"))
            .collect();
        let want: Vec<&str> = messages.iter().rev().map(String::as_str).collect();
        assert_eq!(got, want, "messages of {name}");

        let follows: Value = app
            .get_api(&format!("/fllws/{}?no=10000", encode(name)))
            .await
            .json()
            .await
            .expect("JSON");
        let got: BTreeSet<String> = follows["follows"]
            .as_array()
            .expect("array")
            .iter()
            .map(|v| v.as_str().expect("name").to_owned())
            .collect();
        assert_eq!(&got, &expected.follows[name], "follows of {name}");
    }
}

on_both_backends!(generated_scenario_replays_to_the_expected_state);
