//! The authorization-code flow with PKCE in headless Chromium, as a web client (Elk,
//! Phanpy) sends its user through it: the consent page's form, signed in on the page, and
//! the redirect back to the app on another origin (which the page's `form-action` must
//! allow), then the code exchanged with the verifier.

use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::browser::Chromium;
use crate::common::{Backend, TestApp, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_client_gets_a_token_through_the_consent_page_in_chromium() {
    let Some(mut chromium) =
        Chromium::launch_or_skip("a_web_client_gets_a_token_through_the_consent_page_in_chromium")
            .await
    else {
        return;
    };
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::start(&db.url).await;
    assert_eq!(app.register("ann").await.status(), 204);
    // The "app" lives on another origin: the same server under the name localhost.
    let redirect = format!("http://localhost:{}/public", app.addr.port());
    let registered: Value = app
        .http
        .post(app.url("/api/v1/apps"))
        .form(&[
            ("client_name", "Web client"),
            ("redirect_uris", redirect.as_str()),
            ("scopes", "read write follow"),
        ])
        .send()
        .await
        .expect("apps")
        .json()
        .await
        .expect("json");
    let client_id = registered["client_id"].as_str().expect("client_id");
    let verifier = "a-verifier-of-enough-length-for-rfc-7636-0123456789";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", &redirect)
        .append_pair("scope", "read write")
        .append_pair("state", "s-42")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();

    let mut tab = chromium.new_tab().await;
    tab.goto(&app.url(&format!("/oauth/authorize?{query}")))
        .await;
    assert!(tab
        .text()
        .await
        .contains("Web client asks to use your MiniTwit account"));
    tab.fill("input[name=username]", "ann").await;
    tab.fill("input[name=password]", "secret").await;
    tab.click_and_wait("input[value=Authorize]").await;
    let landed = url::Url::parse(&tab.location().await).expect("url");
    assert!(landed.as_str().starts_with(&redirect), "{landed}");
    let param = |name: &str| {
        landed
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some("s-42"));
    let code = param("code").expect("a code");

    let token: Value = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("redirect_uri", redirect.as_str()),
            ("code", code.as_str()),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let me = super::account_of(&app, &token).await;
    assert_eq!(me["username"], "ann");

    // Signed in now: the page asks only for consent.
    tab.goto(&app.url(&format!("/oauth/authorize?{query}")))
        .await;
    let text = tab.text().await;
    assert!(text.contains("Signed in as ann"), "{text}");
    chromium.close().await;
    app.stop().await;
}
