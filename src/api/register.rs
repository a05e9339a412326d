//! `POST /api/register`: the classic checks, in the classic order, with the classic texts.

use poem::{Endpoint, EndpointExt};
use poem_openapi::{Object, OpenApi};
use serde::Deserialize;

use super::documented::{Changed, Failure, JsonBody, RegisterErrors};
use super::latest::Latest;
use super::State;
use crate::actions::registration::{register_user, Registration};
use crate::limits::Limiter;
use crate::rate_limit::RateLimit;

/// A missing field is the classic "You have to enter …" error, not a parse error.
#[derive(Deserialize, Object)]
struct RegisterBody {
    username: Option<String>,
    email: Option<String>,
    pwd: Option<String>,
}

/// Registrations count against the client's address, the simulator's excepted (unless
/// the settings say otherwise), before the body is read.
fn rate_limited(ep: impl Endpoint) -> impl Endpoint {
    ep.with(RateLimit::per_ip(Limiter::Register).except_simulator())
}

pub struct RegisterApi;

#[OpenApi]
impl RegisterApi {
    /// Registers a user, with the classic checks in the classic order.
    #[oai(path = "/register", method = "post", transform = "rate_limited")]
    async fn register(
        &self,
        state: State<'_>,
        latest: Latest,
        body: JsonBody<RegisterBody>,
    ) -> Result<Changed, Failure<RegisterErrors>> {
        let body = body.parse()?;
        let registration = Registration {
            username: body.username.as_deref().unwrap_or(""),
            email: body.email.as_deref().unwrap_or(""),
            password: body.pwd.as_deref().unwrap_or(""),
            password_repeat: None,
        };
        let registered = register_user(&state, registration, latest.value()).await;
        latest.committed(registered)?;
        Ok(Changed::Done)
    }
}
