//! Who is visiting, as extractors: a handler states what it needs in its signature and
//! cannot forget the check. [`SessionUser`] answers the 401 page without a live login,
//! [`Moderator`] the 403 page unless the login is a moderator's, [`PathUser`] the 404 page
//! for an unknown `{username}`; [`MaybeSessionUser`] is the reader, if any.
//!
//! The login is read through `session::current_user`, which checks the server-side
//! session (logged out or expired logins do not count). Extractors run in the order the
//! handler lists them, so the order of the checks is the order of the arguments.

use poem::session::Session;
use poem::{FromRequest, Request, RequestBody};

use super::session::current_user;
use crate::error::{AppError, AppResult, Forbidden};
use crate::state::AppState;
use crate::store::User;

fn state(req: &Request) -> AppResult<&AppState> {
    req.data::<AppState>().ok_or_else(|| {
        tracing::error!("AppState is missing from the request");
        AppError::Internal
    })
}

async fn reader(req: &Request) -> AppResult<Option<User>> {
    let Some(session) = req.extensions().get::<Session>() else {
        tracing::error!("the session middleware is missing");
        return Err(AppError::Internal);
    };
    current_user(state(req)?, session).await
}

/// The logged-in user, if any.
pub struct MaybeSessionUser(pub Option<User>);

impl<'a> FromRequest<'a> for MaybeSessionUser {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(MaybeSessionUser(reader(req).await?))
    }
}

/// The logged-in user; 401, as the classic app answers actions that need one.
pub struct SessionUser(pub User);

impl<'a> FromRequest<'a> for SessionUser {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        match reader(req).await? {
            Some(user) => Ok(SessionUser(user)),
            None => Err(AppError::Unauthorized.into()),
        }
    }
}

/// A logged-in moderator; 403 for anyone else, logged in or not.
pub struct Moderator(pub User);

impl<'a> FromRequest<'a> for Moderator {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let refused = || AppError::Forbidden(Forbidden::NotModerator);
        let user = reader(req).await?.ok_or_else(refused)?;
        if state(req)?
            .store
            .is_moderator(user.id)
            .await
            .map_err(AppError::from)?
        {
            Ok(Moderator(user))
        } else {
            Err(refused().into())
        }
    }
}

/// The user the path names (`{username}`), as typed and as stored; 404 when there is none.
pub struct PathUser {
    /// The name as it appears in the path, for flashes and redirects.
    pub name: String,
    pub user: User,
}

impl<'a> FromRequest<'a> for PathUser {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let name = req
            .raw_path_param("username")
            .unwrap_or_default()
            .to_owned();
        let user = state(req)?
            .store
            .user_by_name(&name)
            .await
            .map_err(AppError::from)?
            .ok_or_else(AppError::unknown_user)?;
        Ok(PathUser { name, user })
    }
}
