//! `/static/*path`: the files the pages load, embedded in the binary (the stylesheet from
//! `web`, the live-update script from `streams`). One route serves them all, so they share
//! the route label `/static/*path` and an unknown name is that route's 404.

use poem::error::NotFoundError;
use poem::{Endpoint, Request, Response};

/// Serves `/static/{path}` by name.
pub struct StaticFiles;

impl Endpoint for StaticFiles {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let name = req.raw_path_param("path").map(str::to_owned);
        match name.as_deref() {
            Some("style.css") => crate::web::style_css.call(req).await,
            Some("live.js") => crate::streams::live_js.call(req).await,
            _ => Err(NotFoundError.into()),
        }
    }
}
