//! A request's parameters as Mastodon reads them: the query string, then a form or JSON
//! body (clients send either), flattened to (name, value) pairs. JSON arrays become
//! repeated `name[]` pairs and numbers or booleans their text, so every handler reads one
//! shape whatever the client sent. A NUL anywhere in them is refused here, where they are
//! parsed: PostgreSQL refuses U+0000 in text, so one that reached a query (an app's name,
//! a client id) would be a 500 there and a stored NUL on SQLite.

use poem::http::header;
use poem::Request;
use serde_json::Value;

use crate::error::{AppError, AppResult};

#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// The query string's parameters.
    pub fn query(req: &Request) -> Params {
        let pairs = req
            .uri()
            .query()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        Params(pairs)
    }

    /// The query string's parameters, then the body's (`application/json`, or a form);
    /// a NUL in any name or value is a 400. The body was already bounded by the router's
    /// body limit.
    pub async fn read(req: &Request, body: poem::Body) -> AppResult<Params> {
        let params = Params::query(req).with_body(req, body).await?;
        let has_nul = params
            .0
            .iter()
            .any(|(name, value)| name.contains('\0') || value.contains('\0'));
        if has_nul {
            return Err(AppError::invalid(
                "parameters cannot contain NUL characters",
            ));
        }
        Ok(params)
    }

    /// These parameters followed by the body's.
    async fn with_body(mut self, req: &Request, body: poem::Body) -> AppResult<Params> {
        let bytes = body
            .into_vec()
            .await
            .map_err(|_| AppError::invalid("the request body could not be read"))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(self);
        }
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("application/json"));
        if is_json {
            let value: Value = serde_json::from_slice(&bytes)
                .map_err(|e| AppError::invalid(format!("the JSON body is not valid: {e}")))?;
            let Value::Object(fields) = value else {
                return Err(AppError::invalid("the JSON body must be an object"));
            };
            for (name, value) in fields {
                self.push_json(name, value);
            }
        } else {
            self.0
                .extend(url::form_urlencoded::parse(&bytes).into_owned());
        }
        Ok(self)
    }

    fn push_json(&mut self, name: String, value: Value) {
        match value {
            Value::Null => {}
            Value::String(text) => self.0.push((name, text)),
            Value::Array(items) => {
                let name = format!("{}[]", name.trim_end_matches("[]"));
                for item in items {
                    self.push_json(name.clone(), item);
                }
            }
            Value::Object(_) => {}
            other => self.0.push((name, other.to_string())),
        }
    }

    /// The last value of `name` (a body value wins over the query's), if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every value of `name[]` (or of a bare `name`), in order.
    pub fn list(&self, name: &str) -> Vec<&str> {
        let array = format!("{name}[]");
        self.0
            .iter()
            .filter(|(key, _)| *key == array || key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// `name` as an id (a decimal string or number); absent is `None`, anything else a 400.
    pub fn id(&self, name: &str) -> AppResult<Option<i64>> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(raw) => raw
                .parse::<i64>()
                .map(Some)
                .map_err(|_| AppError::invalid(format!("{name} must be an id"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn json_form_and_query_read_alike() {
        let req = Request::builder()
            .uri("/x?limit=5".parse().expect("uri"))
            .header(header::CONTENT_TYPE, "application/json")
            .finish();
        let body = poem::Body::from(r#"{"status":"hi","id":[1,2],"sensitive":false,"x":null}"#);
        let params = Params::read(&req, body).await.expect("reads");
        assert_eq!(params.get("limit"), Some("5"));
        assert_eq!(params.get("status"), Some("hi"));
        assert_eq!(params.list("id"), ["1", "2"]);
        assert_eq!(params.get("sensitive"), Some("false"));
        assert_eq!(params.get("x"), None);

        let req = Request::builder().uri("/x".parse().expect("uri")).finish();
        let body = poem::Body::from("status=a%20b&id[]=3&id[]=4");
        let params = Params::read(&req, body).await.expect("reads");
        assert_eq!(params.get("status"), Some("a b"));
        assert_eq!(params.list("id"), ["3", "4"]);
        assert!(params.id("status").is_err());
    }

    #[tokio::test]
    async fn a_nul_anywhere_is_refused() {
        let form = Request::builder().uri("/x".parse().expect("uri")).finish();
        for body in ["client_name=a%00b", "a%00=b"] {
            assert!(Params::read(&form, poem::Body::from(body)).await.is_err());
        }
        let json = Request::builder()
            .uri("/x".parse().expect("uri"))
            .header(header::CONTENT_TYPE, "application/json")
            .finish();
        let body = poem::Body::from(r#"{"redirect_uris":["ok","a\u0000"]}"#);
        assert!(Params::read(&json, body).await.is_err());
        let query = Request::builder()
            .uri("/x?token=a%00".parse().expect("uri"))
            .finish();
        assert!(Params::read(&query, poem::Body::empty()).await.is_err());
    }
}
