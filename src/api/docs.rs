//! `/api/openapi.json` (the document, kept beside this file) and `/api/docs` (Swagger UI).

use poem::Response;

const OPENAPI: &str = include_str!("openapi.json");

#[poem::handler]
pub fn openapi_json() -> Response {
    Response::builder()
        .content_type("application/json")
        .body(OPENAPI)
}

/// Swagger UI, loaded from a CDN so the binary stays small; the document itself is local.
#[poem::handler]
pub fn docs_page() -> Response {
    Response::builder()
        .content_type("text/html; charset=utf-8")
        .body(
            r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>MiniTwit simulator API | MiniTwit</title>
  <link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
</head>
<body>
  <noscript>The interactive docs need JavaScript; the document is at <a href="/api/openapi.json">/api/openapi.json</a>.</noscript>
  <div id="swagger-ui"></div>
  <script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger-ui" });
  </script>
</body>
</html>
"##,
        )
}
