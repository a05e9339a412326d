//! Paging statuses as Mastodon clients do (docs/mastodon.md, "Conventions"): `max_id`,
//! `since_id`, `min_id` and `limit` in, an absolute `Link` header out that keeps `limit`,
//! so a client's `fetch_next` or async iterator walks the whole timeline.

use bytes::Bytes;
use poem::{IntoResponse, Response};

use super::params::Params;
use crate::error::AppResult;
use crate::store::{IdRange, TimelineMessage};

/// Statuses a page holds unless `limit` says otherwise.
pub const DEFAULT_LIMIT: u64 = 20;
/// The most statuses a page holds.
pub const MAX_LIMIT: u64 = 40;

/// The page `params` ask for: a missing or unreadable `limit` is the default, and it is
/// kept within 1..=[`MAX_LIMIT`]; an id that is not a number is a 400.
pub fn requested_range(params: &Params) -> AppResult<IdRange> {
    let limit = params
        .get("limit")
        .and_then(|raw| raw.trim().parse::<i64>().ok())
        .map_or(DEFAULT_LIMIT, |n| n.clamp(1, MAX_LIMIT as i64) as u64);
    Ok(IdRange {
        max_id: params.id("max_id")?,
        since_id: params.id("since_id")?,
        min_id: params.id("min_id")?,
        limit,
    })
}

/// `page` (newest first) as `items`, its JSON array, with the `Link` header of the pages
/// before and after it at `base` + `path`; an empty page has none.
pub fn paged_response(
    items: Bytes,
    page: &[TimelineMessage],
    range: &IdRange,
    base: &str,
    path: &str,
) -> Response {
    let mut res = Response::builder()
        .content_type("application/json; charset=utf-8")
        .body(items)
        .into_response();
    if let (Some(newest), Some(oldest)) = (page.first(), page.last()) {
        let limit = range.limit;
        let link = format!(
            "<{base}{path}?limit={limit}&max_id={}>; rel=\"next\", \
             <{base}{path}?limit={limit}&min_id={}>; rel=\"prev\"",
            oldest.message_id, newest.message_id
        );
        if let Ok(value) = link.parse() {
            res.headers_mut().insert("link", value);
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> Params {
        let req = poem::Request::builder()
            .uri(format!("/x?{query}").parse().expect("uri"))
            .finish();
        Params::query(&req)
    }

    #[test]
    fn limit_defaults_and_clamps_and_ids_must_be_numbers() {
        assert_eq!(requested_range(&params("")).expect("ok").limit, 20);
        assert_eq!(requested_range(&params("limit=abc")).expect("ok").limit, 20);
        assert_eq!(requested_range(&params("limit=0")).expect("ok").limit, 1);
        assert_eq!(requested_range(&params("limit=400")).expect("ok").limit, 40);
        let range = requested_range(&params("max_id=9&min_id=3&since_id=2")).expect("ok");
        assert_eq!(
            (range.max_id, range.min_id, range.since_id),
            (Some(9), Some(3), Some(2))
        );
        assert!(requested_range(&params("max_id=x")).is_err());
    }
}
