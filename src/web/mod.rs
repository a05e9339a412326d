//! The classic MiniTwit pages of SPEC §3: timelines, login, registration and the actions,
//! rendered with the embedded tera templates.
//!
//! - [`timeline`]: `/`, `/public`, `/{username}`, paged by id.
//! - [`auth`]: `/login`, `/register`, `/logout`.
//! - [`actions`]: `/add_message`, `/{username}/follow`, `/{username}/unfollow`.
//! - [`moderation`]: `/messages/{id}/hide` and `/unhide`, for moderators.
//! - [`session`]: the logged-in user and flashes; [`extract`]: who is visiting, as
//!   extractors (`SessionUser`, `MaybeSessionUser`, `Moderator`, `PathUser`);
//!   [`guard`]: the cross-origin refusal;
//!   [`secure_cookie`]: `Secure` on the session cookie behind an HTTPS proxy;
//!   [`error`]: `AppError` rendered as an HTML page;
//!   [`form`], [`view`], [`templates`]: the plumbing of the pages.

mod actions;
mod auth;
pub mod error;
pub mod extract;
mod form;
pub mod guard;
mod moderation;
pub mod secure_cookie;
pub mod session;
pub mod templates;
mod timeline;
pub mod view;

use poem::session::Session;
use poem::{get, handler, EndpointExt, Response, Route};
use serde::Serialize;
use tera::Context;

use crate::store::User;
use error::WebResult;

/// Adds the pages to `route`. `/{username}` matches any single segment that no other route
/// claims, so this can be mounted beside the API and the streams in any order.
pub fn mount(route: Route) -> Route {
    route
        .at("/", get(timeline::home))
        .at("/public", get(timeline::public))
        .at(
            "/login",
            get(auth::login_form)
                .post(auth::login)
                .around(guard::refuse_cross_origin_writes),
        )
        .at(
            "/register",
            get(auth::register_form)
                .post(auth::register)
                .around(guard::refuse_cross_origin_writes),
        )
        // Logout changes state on GET: another site's link or image must not log a user out.
        .at(
            "/logout",
            get(auth::logout).around(guard::refuse_cross_origin),
        )
        .at(
            "/add_message",
            poem::post(actions::add_message).around(guard::refuse_cross_origin),
        )
        .at(
            "/messages/:id/hide",
            poem::post(moderation::hide).around(guard::refuse_cross_origin),
        )
        .at(
            "/messages/:id/unhide",
            poem::post(moderation::unhide).around(guard::refuse_cross_origin),
        )
        .at("/:username", get(timeline::user_page))
        .at(
            "/:username/follow",
            get(actions::follow)
                .post(actions::follow)
                .around(guard::refuse_cross_origin),
        )
        .at(
            "/:username/unfollow",
            get(actions::unfollow)
                .post(actions::unfollow)
                .around(guard::refuse_cross_origin),
        )
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

fn html(template: &str, ctx: &Context) -> WebResult<Response> {
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
