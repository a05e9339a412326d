//! Registering a user: the one code path behind the API's `/api/register` and the web form.

use crate::domain::{Email, Password, Username};
use crate::error::ApiError;
use crate::limits::{HashBusy, HashSlots};
use crate::store::{CreateUserError, Store, StoreError};

/// What a client submitted to register.
pub struct Registration<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    /// The web form's "repeat password"; the API has none.
    pub password_repeat: Option<&'a str>,
}

#[derive(Debug)]
pub enum RegisterError {
    /// A rule the user broke, with the text to show them.
    Invalid(&'static str),
    /// No password-hash slot came free in time: 503, retry shortly.
    Busy(HashBusy),
    Store(StoreError),
}

impl RegisterError {
    pub fn into_api_error(self) -> ApiError {
        match self {
            RegisterError::Invalid(message) => ApiError::bad_request(message),
            // Without `Retry-After`: callers that can set headers answer `HashBusy::api_response`.
            RegisterError::Busy(_) => ApiError::new(
                poem::http::StatusCode::SERVICE_UNAVAILABLE,
                HashBusy::MESSAGE,
            ),
            RegisterError::Store(e) => e.into(),
        }
    }
}

const TAKEN: &str = "The username is already taken";

/// Checks a registration in the classic order (username, email, password, repeated
/// password, name taken), hashes the password with Argon2id in one of the process's hash
/// slots, and stores the user. Returns the new user's id.
pub async fn register_user(
    store: &Store,
    hashing: &HashSlots,
    form: Registration<'_>,
) -> Result<i64, RegisterError> {
    let username = Username::parse(form.username).map_err(RegisterError::Invalid)?;
    let email = Email::parse(form.email).map_err(RegisterError::Invalid)?;
    let password = Password::parse(form.password).map_err(RegisterError::Invalid)?;
    if form
        .password_repeat
        .is_some_and(|repeat| repeat != form.password)
    {
        return Err(RegisterError::Invalid("The two passwords do not match"));
    }
    // Checked before hashing so a taken name costs no Argon2 work; the unique constraint
    // below still decides races.
    if store
        .username_taken(username.as_str())
        .await
        .map_err(RegisterError::Store)?
    {
        return Err(RegisterError::Invalid(TAKEN));
    }
    let pw_hash = hashing
        .run(move |memory| password.hash_in(memory))
        .await
        .map_err(RegisterError::Busy)?;
    store
        .create_user(&username, &email, &pw_hash)
        .await
        .map_err(|e| match e {
            CreateUserError::Taken => RegisterError::Invalid(TAKEN),
            CreateUserError::Store(e) => RegisterError::Store(e),
        })
}
