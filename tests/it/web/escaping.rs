//! User text is HTML-escaped on every timeline, so a posted `<script>` is text, not code.

use crate::common::web::WebClient;
use crate::common::{self, TestApp};
use crate::on_both_backends;

const ATTACK: &str = r#"<script>alert("x")</script>"#;
const ESCAPED: &str = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;";

async fn script_is_escaped_on_all_three_timelines(app: TestApp) {
    let web = WebClient::new(&app);
    web.register_and_login("mallory", "pw").await;
    web.add_message(ATTACK).await;
    for path in ["/", "/public", "/mallory"] {
        let page = web.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(page.contains(ESCAPED), "{path} lacks the escaped text");
        assert!(!page.contains("<script>alert"), "{path} runs the script");
    }
}

async fn names_with_markup_are_escaped_in_links_titles_and_flashes(app: TestApp) {
    let name = r#"<em>"Bo" & 'Jo'"#;
    let escaped = "&lt;em&gt;&#34;Bo&#34; &amp; &#39;Jo&#39;";
    let res = app
        .post_api(
            "/register",
            serde_json::json!({"username": name, "email": "b@example.com", "pwd": "pw"}),
        )
        .await;
    assert_eq!(res.status(), 204);
    app.tweet(name, "hi").await;
    let web = WebClient::new(&app);
    web.register_and_login("reader", "pw").await;
    let path = "/%3Cem%3E%22Bo%22%20%26%20'Jo'";
    let page = web.get_follow(&format!("{path}/follow")).await;
    assert_eq!(page.status, 200);
    assert!(page.contains(&format!("You are now following &#34;{escaped}&#34;")));
    assert!(page.contains(&format!(
        "<title>{escaped}&#39;s Timeline | MiniTwit</title>"
    )));
    let href = path.replace('\'', "&#39;");
    assert!(page.contains(&format!(r#"<a href="{href}">{escaped}</a>"#)));
    assert!(page.contains(&format!(r#"data-stream="user:{escaped}""#)));
    assert!(!page.contains("<em>"));
}

on_both_backends!(
    script_is_escaped_on_all_three_timelines,
    names_with_markup_are_escaped_in_links_titles_and_flashes,
);
