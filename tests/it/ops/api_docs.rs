//! The simulator API's OpenAPI document: generated from the handlers, every operation it
//! lists is routed, the docs page works with no network beyond the server, and schemathesis
//! finds no 5xx and no response that contradicts the document.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::common::browser::Chromium;
use crate::common::{Backend, TestApp, TestDb, SIM_AUTH};
use crate::ops::schemathesis;

async fn document(app: &TestApp) -> Value {
    let res = app
        .http
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    res.json().await.expect("the document is JSON")
}

/// `(method, path)` of every operation in the document, paths as written there.
fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            out.push((method.to_uppercase(), path.clone()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_routed_and_every_spec_endpoint_documented() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    assert_eq!(app.register("someone").await.status(), 204);
    let doc = document(&app).await;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    assert_eq!(doc["servers"][0]["url"], "/api", "{}", doc["servers"]);

    let ops = operations(&doc);
    // The document is the router of these operations: each one answers at its path with
    // its method (neither "no such route" nor "method not allowed").
    for (method, path) in &ops {
        let concrete = path.replace("{username}", "someone");
        let url = app.url(&format!("/api{concrete}"));
        let req = app
            .http
            .request(method.parse().expect("method"), &url)
            .header("Authorization", SIM_AUTH);
        let req = if method == "POST" {
            req.json(&json!({}))
        } else {
            req
        };
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let body = res.text().await.unwrap_or_default();
        assert!(
            ![404, 405].contains(&status),
            "{method} {path} is documented but not routed: {status} {body}"
        );
        // Documented operations take the simulator's `latest`.
        let params = &doc["paths"][path][method.to_lowercase()]["parameters"];
        assert!(
            params
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["name"] == "latest")),
            "{method} {path} does not document `latest`"
        );
    }
    // Every endpoint of README.md's "The simulator API" is in the document, with its statuses.
    let documented: BTreeSet<(String, String)> = ops.into_iter().collect();
    for (method, path, statuses) in [
        ("GET", "/latest", &["200"][..]),
        ("POST", "/register", &["204", "400"]),
        ("GET", "/msgs", &["200", "403"]),
        ("GET", "/msgs/{username}", &["200", "403", "404"]),
        ("POST", "/msgs/{username}", &["204", "400", "403", "404"]),
        ("GET", "/fllws/{username}", &["200", "403", "404"]),
        ("POST", "/fllws/{username}", &["204", "400", "403", "404"]),
    ] {
        assert!(
            documented.contains(&(method.to_owned(), path.to_owned())),
            "{method} {path} is missing from the document"
        );
        let responses = &doc["paths"][path][method.to_lowercase()]["responses"];
        for status in statuses {
            assert!(
                responses.get(*status).is_some(),
                "{method} {path} does not document {status}: {responses}"
            );
        }
    }
    // The operations that need the simulator's credential say so.
    assert_eq!(
        doc["components"]["securitySchemes"]["simulator"]["scheme"],
        "basic"
    );
    assert!(doc["paths"]["/msgs"]["get"]["security"]
        .to_string()
        .contains("simulator"));
    // The error body's schema is the simulator's (README.md, "The simulator API").
    let error = doc["components"]["schemas"]["ErrorBody"]["properties"]
        .as_object()
        .expect("ErrorBody schema");
    assert!(error.contains_key("status") && error.contains_key("error_msg"));
    app.stop().await;
}

/// The docs page in headless Chromium, with every request that would leave 127.0.0.1 sent
/// to a proxy that does not exist: it still shows every operation, the browser asked
/// for nothing but the server, and the page works under its Content-Security-Policy
/// without a violation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_shows_the_operations_without_any_other_host() {
    let Some(binary) = Chromium::binary() else {
        crate::common::skip_notice("skipped the docs page test: no Chromium");
        return;
    };
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    let dead_proxy = format!(
        "--proxy-server=http://127.0.0.1:{}",
        crate::common::free_port()
    );
    let mut chromium =
        Chromium::launch_with_args(&binary, &[&dead_proxy, "--proxy-bypass-list=127.0.0.1"]).await;
    let mut tab = chromium.new_tab().await;
    tab.before_each_document(
        "window.__violations = [];\
         document.addEventListener('securitypolicyviolation', (e) => \
           window.__violations.push(e.violatedDirective + ' ' + e.blockedURI), true);",
    )
    .await;
    tab.call("Network.enable", json!({})).await;
    tab.goto(&app.url("/api/docs")).await;
    // Swagger UI renders one block per operation.
    tab.wait_for("document.querySelectorAll('.opblock').length >= 7")
        .await;
    // Opening an operation renders more of the UI (its own styles and icons) under the policy.
    tab.click(".opblock-summary-control").await;
    tab.wait_for("document.querySelector('.opblock.is-open .opblock-body') !== null")
        .await;
    assert_eq!(tab.eval("window.__violations").await, json!([]));
    let text = tab.text().await;
    for path in [
        "/latest",
        "/register",
        "/msgs/{username}",
        "/fllws/{username}",
    ] {
        assert!(text.contains(path), "{path} is not on the page:\n{text}");
    }
    let events = tab.take_events();
    let policy = events
        .iter()
        .filter(|e| e["method"] == "Network.responseReceived")
        .find(|e| e["params"]["response"]["url"].as_str() == Some(&app.url("/api/docs")))
        .and_then(|e| {
            let headers = e["params"]["response"]["headers"].as_object()?;
            headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("content-security-policy"))
                .and_then(|(_, value)| value.as_str().map(str::to_owned))
        });
    let policy = policy.expect("the docs page has a Content-Security-Policy");
    assert!(!policy.contains("unsafe"), "{policy}");
    let requested: Vec<String> = events
        .into_iter()
        .filter(|e| e["method"] == "Network.requestWillBeSent")
        .filter_map(|e| e["params"]["request"]["url"].as_str().map(str::to_owned))
        .collect();
    assert!(
        requested.iter().any(|u| u.ends_with("/api/docs")),
        "the page load was not recorded: {requested:?}"
    );
    let elsewhere: Vec<&String> = requested
        .iter()
        .filter(|u| !u.starts_with(&app.base) && !u.starts_with("data:"))
        .collect();
    assert!(
        elsewhere.is_empty(),
        "the docs page asked another host: {elsewhere:?}"
    );
    chromium.close().await;
    app.stop().await;
}

/// schemathesis generates requests from the document and checks the answers against it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_undocumented_response() {
    let Some(schemathesis) = schemathesis::binary("the schemathesis run") else {
        return;
    };
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    // Users to find, so generated requests reach past the 404s too.
    for name in ["alice", "bob"] {
        assert_eq!(app.register(name).await.status(), 204);
    }
    let text = schemathesis::Run {
        document_url: app.url("/api/openapi.json"),
        headers: vec![format!("Authorization: {SIM_AUTH}")],
        // Requests name a user who exists, so generated bodies reach the handlers' own
        // checks instead of stopping at "Unknown user" (the router test covers 404s).
        config: "[parameters]\n\"path.username\" = \"alice\"\n",
        what: "the simulator API",
    }
    .passes(&schemathesis)
    .await;
    // It did test the operations (not an empty run that passes).
    assert!(text.contains("/msgs/{username}"), "{text}");
    app.stop().await;
}
