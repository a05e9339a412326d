//! The home timeline (`/`) through the store, checked against the timelines of the people in
//! it merged by id: every page size, `before` paging from the top and from anywhere,
//! `After` replays, hidden messages, authors with none, readers following nobody. On
//! PostgreSQL the page is read up to an edge computed from each author's first id (see
//! `postgres_home_statement`); these cases are the ones a wrong edge would get wrong.

use minitwit::store::{Page, Store, TimelineMessage, TimelineScope};

use crate::common::{self, Backend, TestDb};
use crate::on_both_backends;

const ALL: u64 = 100_000;

/// The visible messages of `authors`, newest first: what the home timeline must page
/// through, from each author's own timeline (a plain query on one author).
async fn merged(store: &Store, authors: &[i64]) -> Vec<i64> {
    let mut ids = Vec::new();
    for &author in authors {
        let rows = store
            .timeline(
                TimelineScope::User(author),
                Page::Newest {
                    limit: ALL,
                    before: None,
                },
            )
            .await
            .expect("user timeline");
        ids.extend(rows.iter().map(|m| m.message_id));
    }
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids
}

async fn home(store: &Store, reader: i64, page: Page) -> Vec<i64> {
    let rows: Vec<TimelineMessage> = store
        .timeline(TimelineScope::Home(reader), page)
        .await
        .expect("home timeline");
    rows.iter().map(|m| m.message_id).collect()
}

/// Checks every way of reading `reader`'s home timeline against `expected` (newest first).
async fn check_home(store: &Store, reader: i64, expected: &[i64]) {
    // The first page at sizes around the 30 of a page, and larger than everything.
    for limit in [1, 2, 7, 29, 30, 31, 64, ALL] {
        let want: Vec<i64> = expected.iter().copied().take(limit as usize).collect();
        let got = home(
            store,
            reader,
            Page::Newest {
                limit,
                before: None,
            },
        )
        .await;
        assert_eq!(got, want, "reader {reader}, newest {limit}");
    }
    // Paging by `before` from the top, as the "older messages" links do: the same
    // sequence, nothing twice, nothing skipped.
    for limit in [5, 30] {
        let mut walked: Vec<i64> = Vec::new();
        let mut before = None;
        loop {
            let page = home(store, reader, Page::Newest { limit, before }).await;
            walked.extend(page.iter().copied());
            if page.len() < limit as usize {
                break;
            }
            before = page.last().copied();
        }
        assert_eq!(walked, expected, "reader {reader}, paging by {limit}");
    }
    // A page starting anywhere: below a visible id, and below ids no one here wrote.
    let mut befores: Vec<i64> = expected.iter().copied().step_by(7).collect();
    befores.extend(befores.clone().iter().map(|id| id + 1));
    befores.push(1);
    for before in befores {
        let want: Vec<i64> = expected
            .iter()
            .copied()
            .filter(|&id| id < before)
            .take(30)
            .collect();
        let got = home(
            store,
            reader,
            Page::Newest {
                limit: 30,
                before: Some(before),
            },
        )
        .await;
        assert_eq!(got, want, "reader {reader}, 30 before {before}");
    }
    // Replays oldest first from anywhere, and walked from the start.
    let oldest_first: Vec<i64> = expected.iter().rev().copied().collect();
    let mut sinces: Vec<i64> = oldest_first.iter().copied().step_by(5).collect();
    sinces.extend(sinces.clone().iter().map(|id| id - 1));
    sinces.push(0);
    for since in sinces {
        for limit in [1, 30] {
            let want: Vec<i64> = oldest_first
                .iter()
                .copied()
                .filter(|&id| id > since)
                .take(limit as usize)
                .collect();
            let got = home(store, reader, Page::After { since, limit }).await;
            assert_eq!(got, want, "reader {reader}, {limit} after {since}");
        }
    }
    let mut walked: Vec<i64> = Vec::new();
    let mut since = 0;
    loop {
        let page = home(store, reader, Page::After { since, limit: 30 }).await;
        walked.extend(page.iter().copied());
        match page.last() {
            Some(&last) if page.len() == 30 => since = last,
            _ => break,
        }
    }
    assert_eq!(walked, oldest_first, "reader {reader}, replay walk");
}

async fn home_pages_equal_the_merged_timelines_of_the_people_followed(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = Store::connect(&db.url).await.expect("connects");
    store.migrate().await.expect("migrates");

    // reader follows: `old` (hundreds of old messages, a few recent), 40 `fresh` authors
    // (one to three recent messages each), 5 `hidden` authors (only hidden messages, the
    // newest of all), `silent` (none). `few` follows only `old`, `hidden0` and `silent`:
    // fewer authors with messages than a page holds. `stranger` posts throughout but is
    // followed by no one; `loner` and `nobody` follow no one.
    let mut names = vec![
        "reader".to_owned(),
        "old".to_owned(),
        "silent".to_owned(),
        "few".to_owned(),
        "stranger".to_owned(),
        "loner".to_owned(),
        "nobody".to_owned(),
    ];
    names.extend((0..40).map(|i| format!("fresh{i}")));
    names.extend((0..5).map(|i| format!("hidden{i}")));
    let ids = store
        .insert_users_bulk(
            names
                .iter()
                .map(|n| (n.clone(), format!("{n}@example.com"), "x".to_owned()))
                .collect(),
        )
        .await
        .expect("users");
    let id = |name: &str| ids[names.iter().position(|n| n == name).expect("a user")];
    let fresh: Vec<i64> = (0..40).map(|i| id(&format!("fresh{i}"))).collect();
    let hidden: Vec<i64> = (0..5).map(|i| id(&format!("hidden{i}"))).collect();
    let (reader, old, silent, few) = (id("reader"), id("old"), id("silent"), id("few"));
    let (stranger, loner, nobody) = (id("stranger"), id("loner"), id("nobody"));

    let mut follows: Vec<(i64, i64)> = [old, silent]
        .iter()
        .chain(&fresh)
        .chain(&hidden)
        .map(|&whom| (reader, whom))
        .collect();
    follows.extend([(few, old), (few, hidden[0]), (few, silent)]);
    store.insert_follows_bulk(&follows).await.expect("follows");

    let mut messages = Vec::new();
    let mut post = |author: i64| messages.push((author, format!("by {author}"), 0));
    for _ in 0..300 {
        post(old);
    }
    post(reader);
    post(loner);
    for round in 0..3 {
        for (i, &author) in fresh.iter().enumerate() {
            if i % (round + 1) == 0 {
                post(author);
            }
            if i % 9 == 0 {
                post(stranger);
            }
        }
        post(old);
        post(reader);
        post(loner);
    }
    for _ in 0..3 {
        for &author in &hidden {
            post(author);
        }
    }
    post(stranger);
    store
        .insert_messages_bulk(&messages)
        .await
        .expect("messages");
    let hidden_list: Vec<String> = hidden.iter().map(i64::to_string).collect();
    common::exec_sql(
        &db.url,
        &format!(
            "UPDATE messages SET flagged = true WHERE author_id IN ({})",
            hidden_list.join(", ")
        ),
    )
    .await;
    // And one of the reader's own, in the middle.
    let own = merged(&store, &[reader]).await;
    store
        .set_hidden(own[1], true)
        .await
        .expect("hides")
        .expect("exists");

    let mut authors = vec![reader, old, silent];
    authors.extend(&fresh);
    authors.extend(&hidden);
    let expected = merged(&store, &authors).await;
    // 300 + 3 from old, 40 + 20 + 14 fresh, 3 of the reader's own but one hidden.
    assert_eq!(expected.len(), 303 + 74 + 3);
    check_home(&store, reader, &expected).await;

    let expected = merged(&store, &[few, old, hidden[0], silent]).await;
    assert_eq!(expected.len(), 303);
    check_home(&store, few, &expected).await;

    let expected = merged(&store, &[loner]).await;
    assert_eq!(expected.len(), 4);
    check_home(&store, loner, &expected).await;

    check_home(&store, nobody, &[]).await;
    check_home(&store, silent, &[]).await;

    store.close().await;
    db.drop_db().await;
}

on_both_backends!(backend: home_pages_equal_the_merged_timelines_of_the_people_followed);
