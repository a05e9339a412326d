//! The one way a route declares a per-address rate limit (a policy above `limits`, which
//! only counts; it needs the app's state): [`RateLimit`], a route
//! middleware, for login, registration (pages and API) and stream connects. It counts the
//! request against its limiter by the client's address (`client_ip`) before the handler
//! runs, and refuses with [`AppError::RateLimited`], which the surface's renderer answers
//! (429 with `Retry-After`).

use poem::http::header::AUTHORIZATION;
use poem::{Endpoint, Middleware, Request};

use crate::error::{AppError, AppResult};
use crate::limits::{client_ip, Limiter};
use crate::state::AppState;

/// Counts each request by the client's address against one [`Limiter`].
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    limiter: Limiter,
    /// Whether the simulator's credential passes (unless `limit_simulator` is set).
    simulator_passes: bool,
}

impl RateLimit {
    /// Every request counts, whoever sends it.
    pub fn per_ip(limiter: Limiter) -> RateLimit {
        RateLimit {
            limiter,
            simulator_passes: false,
        }
    }

    /// Requests with the simulator's credential are not counted unless the settings say
    /// to (`limit_simulator`): the simulator replays a scenario from one address.
    pub fn except_simulator(self) -> RateLimit {
        RateLimit {
            simulator_passes: true,
            ..self
        }
    }

    /// Counts `req`, or refuses it. For a handler that must count before anything else
    /// without being wrapped; routes use the middleware.
    pub fn check(&self, req: &Request) -> AppResult<()> {
        let Some(state) = req.data::<AppState>() else {
            tracing::error!("AppState is missing from the request");
            return Err(AppError::Internal);
        };
        let authorization = req.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
        if self.simulator_passes
            && !state.settings.limit_simulator
            && state.simulator.accepts(authorization)
        {
            return Ok(());
        }
        if let Some(ip) = client_ip(req, &state.settings.trusted_proxies) {
            state.limits.check_ip(self.limiter, ip)?;
        }
        Ok(())
    }
}

impl<E: Endpoint> Middleware<E> for RateLimit {
    type Output = RateLimited<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RateLimited {
            inner,
            limit: *self,
        }
    }
}

/// An endpoint behind a [`RateLimit`].
pub struct RateLimited<E> {
    inner: E,
    limit: RateLimit,
}

impl<E: Endpoint> Endpoint for RateLimited<E> {
    type Output = E::Output;

    async fn call(&self, req: Request) -> poem::Result<Self::Output> {
        self.limit.check(&req)?;
        self.inner.call(req).await
    }
}
