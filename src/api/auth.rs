//! Who is calling the simulator API, as extractors: a handler that takes [`Simulator`]
//! answers 403 without the simulator's credential, one that takes [`Path<User>`] answers
//! 404 for an unknown `{username}`, both before its body runs, so no handler can forget
//! either.
//!
//! They run inside `latest::record_latest`, so `latest` is recorded first even on 403 and
//! 404 (README.md, "The simulator API"); and in the order the handler lists them
//! (credential, then user, then the body the handler parses), which is the simulator's
//! order. A refusal is an [`AppError`], rendered by the API's renderer (`api::error`); the
//! OpenAPI document still shows the `simulator` security scheme ([`Secured`]) and the
//! `username` path parameter.

use poem::{FromRequest, Request, RequestBody};
use poem_openapi::registry::{MetaParamIn, MetaSchemaRef, MetaSecurityScheme, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use crate::error::{AppError, Forbidden};
use crate::state::AppState;
use crate::store::User;

fn state(req: &Request) -> Result<&AppState, AppError> {
    req.data::<AppState>().ok_or_else(|| {
        tracing::error!("AppState is missing from the request");
        AppError::Internal
    })
}

/// The simulator's credential (`SIMULATOR_USER` / `SIMULATOR_PASSWORD` as Basic auth):
/// 403 with the simulator's body without it. A poem extractor (`/api/stream` takes it);
/// the documented operations take it as [`Secured<Simulator>`], which adds it to the
/// document as the `simulator` security scheme.
pub struct Simulator(());

impl<'a> FromRequest<'a> for Simulator {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Simulator::check(req)?)
    }
}

/// A credential checked from the request's headers, shown in the OpenAPI document as a
/// security scheme.
pub trait Credential: Sized {
    /// The scheme's name in the document.
    const SCHEME: &'static str;
    fn scheme() -> MetaSecurityScheme;
    /// The credential, or the refusal.
    fn check(req: &Request) -> Result<Self, AppError>;
}

impl Credential for Simulator {
    const SCHEME: &'static str = "simulator";

    fn scheme() -> MetaSecurityScheme {
        MetaSecurityScheme {
            ty: "http",
            description: Some("The simulator's credential (SIMULATOR_USER / SIMULATOR_PASSWORD)"),
            name: None,
            key_in: None,
            scheme: Some("basic"),
            bearer_format: None,
            flows: None,
            openid_connect_url: None,
        }
    }

    /// Compared in constant time (`state::SimulatorCredential`).
    fn check(req: &Request) -> Result<Self, AppError> {
        let header = req
            .headers()
            .get(poem::http::header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        let accepted = req
            .data::<AppState>()
            .is_some_and(|state| state.simulator.accepts(header));
        match accepted {
            true => Ok(Simulator(())),
            false => Err(AppError::Forbidden(Forbidden::NotSimulator)),
        }
    }
}

/// A [`Credential`] as a documented operation takes it: checked before the handler runs,
/// and listed in the document as the operation's security scheme.
pub struct Secured<T>(pub T);

impl<'a, T: Credential + Send> ApiExtractor<'a> for Secured<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(T::SCHEME, T::scheme());
    }

    fn security_schemes() -> Vec<&'static str> {
        vec![T::SCHEME]
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(Secured(T::check(request)?))
    }
}

/// The user named by the path parameter (`{username}`), documented as that parameter:
/// 404 "Unknown user" (`crate::error::UNKNOWN_USER`) when there is none.
///
/// Named `Path` because poem-openapi recognises path parameters by that type name: it
/// routes them as `param0`, `param1`, … and passes that name to the extractor.
pub struct Path<T>(pub T);

impl<'a> ApiExtractor<'a> for Path<User> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::Parameter];
    const PARAM_IS_REQUIRED: bool = true;
    type ParamType = String;
    type ParamRawType = String;

    fn register(registry: &mut Registry) {
        <String as Type>::register(registry);
    }

    fn param_in() -> Option<MetaParamIn> {
        Some(MetaParamIn::Path)
    }

    fn param_schema_ref() -> Option<MetaSchemaRef> {
        Some(String::schema_ref())
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let name = request.raw_path_param(param_opts.name).unwrap_or_default();
        let store = state(request)?.store.clone();
        let user = store
            .user_by_name(name)
            .await
            .map_err(AppError::from)?
            .ok_or_else(AppError::unknown_user)?;
        Ok(Path(user))
    }
}
