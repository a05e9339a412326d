//! Registering a user: the one code path behind the API's `/api/register` and the web form.

use crate::domain::{Email, Password, Username};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::CreateUserError;

/// What a client submitted to register.
pub struct Registration<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    /// The web form's "repeat password"; the API has none.
    pub password_repeat: Option<&'a str>,
}

const TAKEN: &str = "The username is already taken";

/// Checks a registration in the classic order (username, email, password, repeated
/// password, name taken), hashes the password with Argon2id in one of the process's hash
/// slots, and stores the user. Returns the new user's id; a broken rule is
/// [`AppError::Invalid`] with the text to show, no free hash slot [`AppError::Busy`].
/// `latest` (the simulator's, if any) is committed with the new user.
pub async fn register_user(
    state: &AppState,
    form: Registration<'_>,
    latest: Option<i64>,
) -> AppResult<i64> {
    let username = Username::parse(form.username).map_err(AppError::invalid)?;
    let email = Email::parse(form.email).map_err(AppError::invalid)?;
    let password = Password::parse(form.password).map_err(AppError::invalid)?;
    if form
        .password_repeat
        .is_some_and(|repeat| repeat != form.password)
    {
        return Err(AppError::invalid("The two passwords do not match"));
    }
    // Checked before hashing so a taken name costs no Argon2 work; the unique constraint
    // below still decides races.
    if state.store.username_taken(username.as_str()).await? {
        return Err(AppError::invalid(TAKEN));
    }
    let pw_hash = state
        .hashing
        .run(move |memory| password.hash_in(memory))
        .await?;
    state
        .store
        .create_user(&username, &email, &pw_hash, latest)
        .await
        .map_err(|e| match e {
            CreateUserError::Taken => AppError::invalid(TAKEN),
            CreateUserError::Store(e) => e.into(),
        })
}
