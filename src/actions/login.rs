//! Checking a user's password: the one code path behind the web login, the OAuth consent
//! page and the Mastodon API's password grant.

use crate::domain::Password;
use crate::error::AppResult;
use crate::state::AppState;
use crate::store::User;

/// Why a login failed, for the page that says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginRefused {
    UnknownUser,
    WrongPassword,
}

/// The user called `username` if `password` is theirs.
pub async fn check_password(
    state: &AppState,
    username: &str,
    password: &str,
) -> AppResult<Result<User, LoginRefused>> {
    let Some(user) = state.store.user_by_name(username).await? else {
        return Ok(Err(LoginRefused::UnknownUser));
    };
    Ok(match password_is_theirs(state, &user, password).await? {
        true => Ok(user),
        false => Err(LoginRefused::WrongPassword),
    })
}

/// Whether `password` is `user`'s. Argon2id takes milliseconds of CPU and 19 MiB, so it
/// runs in one of the bounded hash slots.
pub async fn password_is_theirs(state: &AppState, user: &User, password: &str) -> AppResult<bool> {
    let Ok(password) = Password::parse(password) else {
        return Ok(false);
    };
    let pw_hash = user.pw_hash.clone();
    Ok(state
        .hashing
        .run(move |memory| password.verify_in(&pw_hash, memory))
        .await?)
}
