//! A cookie-keeping HTTP client for the web pages, behaving like the classic test suite's
//! Flask client: it posts forms, keeps the session cookie, and can follow redirects.

use std::sync::Mutex;

use minitwit::session_cookie::SESSION_COOKIE;

use super::TestApp;

/// One visitor of the pages, with its own session.
pub struct WebClient {
    base: String,
    http: reqwest::Client,
    /// `minitwit_session=…` as last set by the server.
    cookie: Mutex<Option<String>>,
}

/// A response, after any redirects followed.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    /// The path (and query) that answered, after redirects.
    pub path: String,
    /// `Location` of an unfollowed redirect.
    pub location: Option<String>,
    /// The raw `Set-Cookie` headers of the last response.
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Page {
    pub fn contains(&self, needle: &str) -> bool {
        self.body.contains(needle)
    }

    /// The `Set-Cookie` of the session cookie; panics when the response set none.
    pub fn session_cookie(&self) -> &str {
        let prefix = format!("{SESSION_COOKIE}=");
        self.set_cookies
            .iter()
            .find(|c| c.starts_with(&prefix))
            .expect("a session cookie")
    }
}

impl WebClient {
    pub fn new(app: &TestApp) -> WebClient {
        WebClient::at(&app.base)
    }

    /// A visitor of the pages at `base` (`http://host:port`), e.g. through a proxy.
    pub fn at(base: &str) -> WebClient {
        WebClient::at_with(
            base,
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        )
    }

    /// A visitor at `base` with its own client (one that trusts a test certificate, say);
    /// `http` should not follow redirects, as [`WebClient::at`]'s does not.
    pub fn at_with(base: &str, http: reqwest::Client) -> WebClient {
        WebClient {
            base: base.to_owned(),
            http,
            cookie: Mutex::new(None),
        }
    }

    /// The session cookie as a `Cookie` header value (for websocket handshakes).
    pub fn cookie_header(&self) -> Option<String> {
        self.cookie.lock().expect("cookie lock").clone()
    }

    /// GET without following a redirect.
    pub async fn get(&self, path: &str) -> Page {
        self.send(self.http.get(self.url(path)), path).await
    }

    /// GET, following redirects as a browser would.
    pub async fn get_follow(&self, path: &str) -> Page {
        let page = self.get(path).await;
        self.follow(page).await
    }

    /// POST a form without following a redirect.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(self.http.post(self.url(path)).form(form), path)
            .await
    }

    /// POST a form, following redirects (the classic tests' `follow_redirects=True`).
    pub async fn post_follow(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let page = self.post(path, form).await;
        self.follow(page).await
    }

    /// POST a form with extra headers (as another site's page would send it).
    pub async fn post_with_headers(
        &self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut request = self.http.post(self.url(path)).form(form);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request, path).await
    }

    /// GET with extra headers.
    pub async fn get_with_headers(&self, path: &str, headers: &[(&str, &str)]) -> Page {
        let mut request = self.http.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request, path).await
    }

    // --- the classic suite's helpers ---

    pub async fn register(&self, username: &str, password: &str) -> Page {
        self.register_with(
            username,
            password,
            password,
            &format!("{username}@example.com"),
        )
        .await
    }

    pub async fn register_with(
        &self,
        username: &str,
        password: &str,
        password2: &str,
        email: &str,
    ) -> Page {
        self.post_follow(
            "/register",
            &[
                ("username", username),
                ("password", password),
                ("password2", password2),
                ("email", email),
            ],
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Page {
        self.post_follow("/login", &[("username", username), ("password", password)])
            .await
    }

    pub async fn register_and_login(&self, username: &str, password: &str) -> Page {
        self.register(username, password).await;
        self.login(username, password).await
    }

    pub async fn logout(&self) -> Page {
        self.get_follow("/logout").await
    }

    pub async fn add_message(&self, text: &str) -> Page {
        let page = self.post_follow("/add_message", &[("text", text)]).await;
        if !text.is_empty() {
            assert!(
                page.contains("Your message was recorded"),
                "posting {text:?} was not recorded: {page:?}"
            );
        }
        page
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn follow(&self, mut page: Page) -> Page {
        for _ in 0..10 {
            match page.location.take() {
                Some(location) => page = self.get(&location).await,
                None => return page,
            }
        }
        panic!("too many redirects ending at {}", page.path);
    }

    async fn send(&self, mut request: reqwest::RequestBuilder, path: &str) -> Page {
        if let Some(cookie) = self.cookie_header() {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let set_cookies: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        for set in &set_cookies {
            let pair = set.split(';').next().unwrap_or_default().trim();
            if let Some(value) = pair.strip_prefix(&format!("{SESSION_COOKIE}=")) {
                *self.cookie.lock().expect("cookie lock") =
                    (!value.is_empty()).then(|| pair.to_owned());
            }
        }
        let location = (300..400)
            .contains(&status)
            .then(|| {
                response
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            })
            .flatten();
        let body = response.text().await.expect("body");
        Page {
            status,
            path: path.to_owned(),
            location,
            set_cookies,
            body,
        }
    }
}
