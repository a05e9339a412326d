//! The page templates, embedded in the binary and escaped the way the classic pages are.
//!
//! Embedding (rather than reading `templates/` at start) lets the binary run from any
//! directory; every name ends in `.html`, which is what turns Tera's autoescaping on.

use std::sync::LazyLock;

use tera::{Context, Tera};

use crate::error::{AppError, AppResult};

static TEMPLATES: LazyLock<Tera> = LazyLock::new(|| {
    let mut tera = Tera::default();
    tera.add_raw_templates([
        ("layout.html", include_str!("../../templates/layout.html")),
        (
            "timeline.html",
            include_str!("../../templates/timeline.html"),
        ),
        ("login.html", include_str!("../../templates/login.html")),
        (
            "register.html",
            include_str!("../../templates/register.html"),
        ),
        ("error.html", include_str!("../../templates/error.html")),
        (
            "authorize.html",
            include_str!("../../templates/authorize.html"),
        ),
        (
            "authorized.html",
            include_str!("../../templates/authorized.html"),
        ),
    ])
    // The templates are part of the binary: a syntax error is caught by the first test.
    .expect("embedded templates parse");
    tera.autoescape_on(vec![".html"]);
    tera.set_escape_fn(escape_html);
    tera
});

/// Renders `name`; an error here is a bug in a template, logged and shown as a 500.
pub fn render(name: &str, context: &Context) -> AppResult<String> {
    TEMPLATES.render(name, context).map_err(|e| {
        tracing::error!(error = ?e, template = name, "template rendering failed");
        AppError::Internal
    })
}

/// MarkupSafe's mapping, as the classic Jinja pages write it: `"` is `&#34;` (the classic
/// tests look for it) and `/` stays as it is, unlike Tera's default escaping.
pub fn escape_html(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + input.len() / 8);
    for c in input.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_markupsafe() {
        assert_eq!(
            escape_html(r#"<a href="/x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&#34;/x&#34;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn every_template_parses_and_escapes_user_text() {
        let mut ctx = Context::new();
        ctx.insert("status", "404 Not Found");
        ctx.insert("message", "<script>alert(1)</script>");
        let page = render("error.html", &ctx).expect("renders");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!page.contains("<script>alert"));
        assert!(page.contains("404 Not Found | MiniTwit"));
    }
}
