//! `POST /api/register`: the classic checks, in the classic order, with the classic texts.

use serde::Deserialize;

use super::{no_content, parse_json, require_simulator, State};
use crate::error::ApiError;
use crate::limits::{client_ip, Limiter};
use crate::registration::{register_user, RegisterError, Registration};

#[derive(Deserialize)]
struct RegisterBody {
    username: Option<String>,
    email: Option<String>,
    pwd: Option<String>,
}

#[poem::handler]
pub async fn register(
    req: &poem::Request,
    state: State<'_>,
    body: Vec<u8>,
) -> Result<poem::Response, ApiError> {
    let is_simulator = require_simulator(req, &state).is_ok();
    if !is_simulator || state.settings.limit_simulator {
        if let Some(ip) = client_ip(req, &state.settings.trusted_proxies) {
            if let Err(limited) = state.limits.check_ip(Limiter::Register, ip) {
                return Ok(limited.api_response());
            }
        }
    }
    let body: RegisterBody = parse_json(&body)?;
    let registration = Registration {
        username: body.username.as_deref().unwrap_or(""),
        email: body.email.as_deref().unwrap_or(""),
        password: body.pwd.as_deref().unwrap_or(""),
        password_repeat: None,
    };
    match register_user(&state.store, &state.hashing, registration).await {
        Ok(_) => Ok(no_content()),
        Err(RegisterError::Busy(busy)) => Ok(busy.api_response()),
        Err(e) => Err(e.into_api_error()),
    }
}
