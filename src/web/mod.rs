//! The classic MiniTwit pages (README.md, "The web pages"): timelines, login,
//! registration and the actions, rendered with the embedded tera templates. One router
//! ([`routes`]) with its policy and its error rendering declared once.
//!
//! - [`timeline`]: `/`, `/public`, `/{username}`, paged by id.
//! - [`auth`]: `/login`, `/register`, `/logout`; [`authorize`]: the OAuth consent page of
//!   the Mastodon-compatible API.
//! - [`actions`]: `/add_message`, `/{username}/follow`, `/{username}/unfollow`.
//! - [`moderation`]: `/messages/{id}/hide` and `/unhide`, for moderators.
//! - [`session`]: the logged-in user and flashes; [`extract`]: who is visiting, as
//!   extractors (`SessionUser`, `MaybeSessionUser`, `Moderator`, `PathUser`);
//!   [`guard`]: the cross-origin refusal, on the router;
//!   [`secure_cookie`]: `Secure` on the session cookie behind an HTTPS proxy;
//!   [`error`]: `AppError` rendered as an HTML page, wrapping the router;
//!   [`form`], [`view`], [`templates`]: the plumbing of the pages.

mod actions;
mod auth;
mod authorize;
pub mod error;
pub mod extract;
mod form;
pub mod guard;
mod moderation;
pub mod secure_cookie;
pub mod session;
#[cfg(test)]
mod surface_tests;
pub mod templates;
mod timeline;
pub mod view;

use poem::session::Session;
use poem::{get, handler, post, Endpoint, EndpointExt, Response, Route};
use serde::Serialize;
use tera::Context;

use crate::error::AppResult;
use crate::limits::{limit_body, Limiter};
use crate::rate_limit::RateLimit;
use crate::store::User;

/// The pages, wrapped once by what applies to all of them: the body limit, the
/// cross-origin refusal of writes, and the rendering of every [`AppError`] as a page.
/// Mounted at `/` beside the API and the streams: `/{username}` matches any single segment
/// that no other route of the app claims.
///
/// [`AppError`]: crate::error::AppError
pub fn routes() -> impl Endpoint<Output = Response> {
    Route::new()
        .at("/", get(timeline::home))
        .at("/public", get(timeline::public))
        .at(
            "/login",
            get(auth::login_form).post(auth::login.with(RateLimit::per_ip(Limiter::Login))),
        )
        .at(
            "/register",
            get(auth::register_form)
                .post(auth::register.with(RateLimit::per_ip(Limiter::Register))),
        )
        .at(
            "/oauth/authorize",
            get(authorize::authorize_page)
                .post(authorize::authorize.with(RateLimit::per_ip(Limiter::Login))),
        )
        .at("/add_message", post(actions::add_message))
        .at("/messages/:id/hide", post(moderation::hide))
        .at("/messages/:id/unhide", post(moderation::unhide))
        .at("/:username", get(timeline::user_page))
        // These change state even on GET (another site's link or image must not log a
        // user out or make them follow someone), so they are refused from anywhere but our
        // own pages whatever the method. Not a router nested at `/`: poem would then send
        // `/` itself to that router, not to the home page.
        .at("/logout", changes_on_get(get(auth::logout)))
        .at(
            "/:username/follow",
            changes_on_get(get(actions::follow).post(actions::follow)),
        )
        .at(
            "/:username/unfollow",
            changes_on_get(get(actions::unfollow).post(actions::unfollow)),
        )
        .around(guard::refuse_cross_origin_writes)
        .around(limit_body)
        .around(error::render_errors)
}

/// A route that changes state on GET too: only our own pages may call it, by any method.
fn changes_on_get(ep: impl Endpoint + 'static) -> impl Endpoint {
    ep.around(guard::refuse_cross_origin)
}

/// The logged-in user as the layout shows it.
#[derive(Serialize)]
struct NavUser<'a> {
    username: &'a str,
}

/// What every page's layout needs: the user for the navigation, and the pending flashes
/// (taken now, so they show exactly once).
fn page_context(user: Option<&User>, session: &Session) -> Context {
    layout_context(user, &session::take_flashes(session))
}

/// The layout's part of a page: the user for the navigation and the flashes to show.
fn layout_context(user: Option<&User>, flashes: &[String]) -> Context {
    let mut ctx = Context::new();
    ctx.insert(
        "user",
        &user.map(|u| NavUser {
            username: &u.username,
        }),
    );
    ctx.insert("flashes", flashes);
    ctx
}

fn html(template: &str, ctx: &Context) -> AppResult<Response> {
    let body = templates::render(template, ctx)?;
    Ok(html_body(body))
}

/// A rendered page as a response.
fn html_body(body: impl Into<poem::Body>) -> Response {
    Response::builder()
        .content_type("text/html; charset=utf-8")
        .body(body)
}

/// The stylesheet, embedded so the binary serves it from any directory; served at
/// `/static/style.css` by `assets`.
#[handler]
pub fn style_css() -> Response {
    Response::builder()
        .content_type("text/css; charset=utf-8")
        .header("cache-control", "public, max-age=3600")
        .body(include_str!("../../static/style.css"))
}
