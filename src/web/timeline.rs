//! The three timelines (`/`, `/public`, `/{username}`), 30 messages a page, newest first,
//! with an "older messages" link that pages by id (`?before=ID`, keyset, no OFFSET).
//!
//! The first page of `/public` and `/{username}` comes from the store's cached rows; for a
//! reader without a login or flashes it is rendered once per change of those rows.

use bytes::Bytes;
use poem::session::Session;
use poem::web::Data;
use poem::{handler, Request, Response};
use serde::Serialize;
use tera::Context;

use super::extract::{MaybeSessionUser, PathUser};
use super::session::{redirect, take_flashes};
use super::view::{user_path, MessageView};
use super::{html_body, layout_context, templates};
use crate::error::AppError;
use crate::error::AppResult;
use crate::realtime::protocol::Position;
use crate::state::AppState;
use crate::store::{NewestPage, Page, Rendering, TimelineMessage, TimelineScope, User};

/// Messages per page, as the classic app shows them.
const PER_PAGE: u64 = 30;

/// The follow box on a user's page, for a logged-in reader.
#[derive(Serialize)]
struct Profile {
    is_self: bool,
    followed: bool,
    /// `/{username}`, encoded, for the follow and unfollow forms.
    path: String,
}

/// `GET /`: the reader's own and followed users' messages with the post box; anonymous
/// readers go to the public timeline.
#[handler]
pub async fn home(
    req: &Request,
    state: Data<&AppState>,
    session: &Session,
    MaybeSessionUser(user): MaybeSessionUser,
) -> AppResult<Response> {
    let Some(user) = user else {
        return Ok(redirect("/public"));
    };
    let timeline = Timeline {
        scope: TimelineScope::Home(user.id),
        stream: "home".to_owned(),
        title: "My Timeline".to_owned(),
        path: "/".to_owned(),
        profile: None,
    };
    timeline.render(req, &state, session, Some(&user)).await
}

/// `GET /public`: everyone's messages.
#[handler]
pub async fn public(
    req: &Request,
    state: Data<&AppState>,
    session: &Session,
    MaybeSessionUser(user): MaybeSessionUser,
) -> AppResult<Response> {
    let timeline = Timeline {
        scope: TimelineScope::Public,
        stream: "public".to_owned(),
        title: "Public Timeline".to_owned(),
        path: "/public".to_owned(),
        profile: None,
    };
    timeline.render(req, &state, session, user.as_ref()).await
}

/// `GET /{username}`: one user's messages; 404 for an unknown name.
#[handler]
pub async fn user_page(
    req: &Request,
    state: Data<&AppState>,
    session: &Session,
    PathUser {
        user: profile_user, ..
    }: PathUser,
    MaybeSessionUser(reader): MaybeSessionUser,
) -> AppResult<Response> {
    let profile = match &reader {
        Some(reader) => Some(Profile {
            is_self: reader.id == profile_user.id,
            followed: reader.id != profile_user.id
                && state.store.is_following(reader.id, profile_user.id).await?,
            path: user_path(&profile_user.username),
        }),
        None => None,
    };
    let timeline = Timeline {
        scope: TimelineScope::User(profile_user.id),
        stream: format!("user:{}", profile_user.username),
        title: format!("{}'s Timeline", profile_user.username),
        path: user_path(&profile_user.username),
        profile,
    };
    timeline.render(req, &state, session, reader.as_ref()).await
}

/// One timeline page to render.
struct Timeline {
    scope: TimelineScope,
    /// The live stream this page mirrors (`home`, `public`, `user:NAME`).
    stream: String,
    title: String,
    /// Where this timeline lives, for the "older messages" link.
    path: String,
    profile: Option<Profile>,
}

impl Timeline {
    async fn render(
        self,
        req: &Request,
        state: &AppState,
        session: &Session,
        reader: Option<&User>,
    ) -> AppResult<Response> {
        let before = before_param(req)?;
        // One more than a page tells whether an older page exists, so the link never
        // leads to an empty page.
        let limit = PER_PAGE + 1;
        // Taken before the page is read: every message and hide up to it is on the page
        // as it stands, so the live script resumes from it and misses nothing.
        let position = state.hub.position();
        let page = match before {
            None => state.store.newest_page(self.scope, limit).await?,
            Some(_) => NewestPage::uncached(
                state
                    .store
                    .timeline(self.scope, Page::Newest { limit, before })
                    .await?,
            ),
        };
        let flashes = take_flashes(session);
        if reader.is_none() && flashes.is_empty() {
            // Nothing on the page is about the reader, so one rendering serves every such
            // reader until the store's page changes (the rendering is kept with its rows).
            let body = page.rendered(Rendering::AnonymousPage, |rows| {
                self.body(rows, None, &[], false, position).map(Bytes::from)
            })?;
            return Ok(html_body(body));
        }
        let moderator = match reader {
            Some(reader) => state.store.is_moderator(reader.id).await?,
            None => false,
        };
        Ok(html_body(
            self.body(&page, reader, &flashes, moderator, position)?,
        ))
    }

    /// The page showing `messages` (one more than a page when an older page exists).
    fn body(
        &self,
        messages: &[TimelineMessage],
        reader: Option<&User>,
        flashes: &[String],
        moderator: bool,
        position: Position,
    ) -> AppResult<String> {
        let has_older = messages.len() as u64 > PER_PAGE;
        let messages = &messages[..messages.len().min(PER_PAGE as usize)];
        let older = messages
            .last()
            .filter(|_| has_older)
            .map(|m| format!("{}?before={}", self.path, m.message_id));
        let views: Vec<MessageView> = messages.iter().map(MessageView::from).collect();
        let mut ctx: Context = layout_context(reader, flashes);
        ctx.insert("title", &self.title);
        ctx.insert("stream", &self.stream);
        ctx.insert("newest_id", &messages.first().map_or(0, |m| m.message_id));
        ctx.insert("position", &position.to_string());
        ctx.insert("messages", &views);
        ctx.insert("older", &older);
        ctx.insert("profile", &self.profile);
        ctx.insert("moderator", &moderator);
        templates::render("timeline.html", &ctx)
    }
}

/// `?before=ID`: absent for the newest page; anything but a positive integer is a 400.
fn before_param(req: &Request) -> AppResult<Option<i64>> {
    let Some(query) = req.uri().query() else {
        return Ok(None);
    };
    match url::form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == "before") {
        None => Ok(None),
        Some((_, value)) => match value.trim().parse::<i64>() {
            Ok(id) if id > 0 => Ok(Some(id)),
            _ => Err(AppError::invalid("`before` must be the id of a message.")),
        },
    }
}
