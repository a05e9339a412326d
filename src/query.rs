//! Query-string parameters, read the same way by every surface (the API's `no` and
//! `latest`, the streams' `stream`, `since` and `user`).

use poem::Request;

/// The first value of query parameter `name`, percent-decoded; `None` when absent.
pub fn query_param(req: &Request, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.uri().query()?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}
