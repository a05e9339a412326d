//! The Mastodon-compatible API's OpenAPI document (`/api/v1/openapi.json`, written by hand
//! in src/mastodon/openapi.json): schemathesis finds no 5xx and no answer that contradicts
//! it, with a token that may do everything, on SQLite and PostgreSQL (they differ on NUL
//! bytes, which a fuzzer sends).

use crate::common::{self, TestApp};
use crate::mastodon::Client;
use crate::on_both_backends;
use crate::ops::schemathesis;

on_both_backends!(schemathesis_finds_no_server_error_and_no_undocumented_answer);

async fn schemathesis_finds_no_server_error_and_no_undocumented_answer(app: TestApp) {
    let Some(binary) = schemathesis::binary("the Mastodon API's schemathesis run") else {
        return;
    };
    // Someone to read and follow, and statuses to read, so that generated requests on
    // `{id}` reach the handlers instead of stopping at 404 (the router tests cover those).
    // The status is alice's own, so that her delete reaches past the 403 too.
    let bob = Client::for_new_user(&app, "bob", "read write follow").await;
    let bobs_id = bob.my_id().await;
    bob.post_status("hello from bob").await;
    let alice = Client::for_new_user(&app, "alice", "read write follow push").await;
    let status = alice.post_status("hello from alice").await;
    let status_id = status["id"].as_str().expect("id").to_owned();

    let config = format!(
        "[[operations]]\n\
         include-path-regex = \"^/api/v1/accounts/\"\n\
         parameters = {{ \"path.id\" = \"{bobs_id}\" }}\n\
         \n\
         [[operations]]\n\
         include-path-regex = \"^/api/v1/statuses/\"\n\
         parameters = {{ \"path.id\" = \"{status_id}\" }}\n"
    );
    let text = schemathesis::Run {
        document_url: app.url("/api/v1/openapi.json"),
        headers: vec![format!("Authorization: Bearer {}", alice.token)],
        config: &config,
        what: "the Mastodon API",
    }
    .passes(&binary)
    .await;
    // It did test every operation it found in the document (not an empty run that passes;
    // the router test in src/mastodon/openapi.rs checks that the document has them all).
    let count_after = |label: &str| -> usize {
        let at = text
            .find(label)
            .unwrap_or_else(|| panic!("no {label:?}:\n{text}"));
        text[at + label.len()..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count after {label:?}:\n{text}"))
    };
    let total = count_after("selected / ");
    assert!(
        total >= 30,
        "schemathesis found {total} operations:\n{text}"
    );
    assert_eq!(count_after("Tested: "), total, "{text}");
    // The token still works: the run did not revoke it or break the account.
    assert_eq!(
        alice
            .get("/api/v1/accounts/verify_credentials")
            .await
            .status(),
        200
    );
}
