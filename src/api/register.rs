//! `POST /api/register`: the classic checks, in the classic order, with the classic texts.

use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde::Deserialize;

use super::auth::Caller;
use super::documented::{Changed, JsonBody, LenientInt, Reply};
use super::error::ErrorBody;
use super::latest::committing_latest;
use super::{no_content, State};
use crate::error::AppError;
use crate::limits::{client_ip, Limiter};
use crate::registration::{register_user, Registration};

/// A missing field is the classic "You have to enter …" error, not a parse error.
#[derive(Deserialize, Object)]
struct RegisterBody {
    username: Option<String>,
    email: Option<String>,
    pwd: Option<String>,
}

/// What registering answers besides `Changed` (documentation; the handler builds it).
#[derive(ApiResponse)]
#[allow(dead_code)]
enum RegisterLimits {
    /// Too many registrations from this address (the simulator is not limited).
    #[oai(status = 429)]
    TooMany(Json<ErrorBody>),
    /// The database did not answer in time; try again.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

pub struct RegisterApi;

#[OpenApi]
impl RegisterApi {
    /// Registers a user, with the classic checks in the classic order.
    #[oai(path = "/register", method = "post")]
    async fn register(
        &self,
        req: &poem::Request,
        state: State<'_>,
        caller: Caller,
        #[oai(name = "latest")] _latest: Query<LenientInt>,
        body: JsonBody<RegisterBody>,
    ) -> Reply<Changed, RegisterLimits> {
        register(req, state, caller, body).await.into()
    }
}

async fn register(
    req: &poem::Request,
    state: State<'_>,
    caller: Caller,
    body: JsonBody<RegisterBody>,
) -> Result<poem::Response, AppError> {
    if !caller.is_simulator || state.settings.limit_simulator {
        if let Some(ip) = client_ip(req, &state.settings.trusted_proxies) {
            state.limits.check_ip(Limiter::Register, ip)?;
        }
    }
    let body = body.parse()?;
    let registration = Registration {
        username: body.username.as_deref().unwrap_or(""),
        email: body.email.as_deref().unwrap_or(""),
        password: body.pwd.as_deref().unwrap_or(""),
        password_repeat: None,
    };
    committing_latest(req, async |latest| {
        register_user(&state.store, &state.hashing, registration, latest).await
    })
    .await?;
    Ok(no_content())
}
