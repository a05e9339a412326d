//! Who is calling the simulator API, as extractors: a handler that takes [`SimulatorAuth`]
//! answers 403 without the simulator's credential, one that takes [`Path<User>`] answers
//! 404 for an unknown `{username}`, both before its body runs, so no handler can forget
//! either.
//!
//! They run inside `latest::record_latest`, so `latest` is recorded first even on 403 and
//! 404 (SPEC §2); and in the order the handler lists them (credential, then user, then the
//! body the handler parses), which is the simulator's order. A refusal is rendered by
//! `api::error` and handed to the operation's `Reply` (its bad-request handler), so the
//! bytes are the simulator's and the OpenAPI document still shows the `simulator` security
//! scheme and the `username` path parameter.

use poem::{FromRequest, Request, RequestBody};
use poem_openapi::registry::{MetaParamIn, MetaSchemaRef, MetaSecurityScheme, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use super::error;
use crate::error::{AppError, Forbidden, UNKNOWN_USER};
use crate::state::AppState;
use crate::store::User;

/// A refusal as the error a poem extractor returns, with the API's bytes.
fn refuse(err: AppError) -> poem::Error {
    poem::Error::from_response(error::response(&err))
}

fn state(req: &Request) -> Result<&AppState, AppError> {
    req.data::<AppState>().ok_or_else(|| {
        tracing::error!("AppState is missing from the request");
        AppError::Internal
    })
}

/// Whether the request carries the simulator's Basic-auth credential.
fn is_simulator(req: &Request) -> bool {
    let header = req
        .headers()
        .get(poem::http::header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    req.data::<AppState>()
        .is_some_and(|state| state.simulator.accepts(header))
}

/// Who called, for an operation anyone may call but the simulator is treated differently
/// in (`/api/register`: the simulator is not rate limited unless configured).
pub struct Caller {
    pub is_simulator: bool,
}

impl<'a> FromRequest<'a> for Caller {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Caller {
            is_simulator: is_simulator(req),
        })
    }
}

/// The simulator's credential, for poem handlers outside the documented operations
/// (`/api/stream`): 403 with the simulator's body without it.
pub struct Simulator(());

impl<'a> FromRequest<'a> for Simulator {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        if is_simulator(req) {
            Ok(Simulator(()))
        } else {
            Err(refuse(AppError::Forbidden(Forbidden::NotSimulator)))
        }
    }
}

/// The simulator's credential for the documented operations, shown in the document as the
/// `simulator` security scheme.
pub struct SimulatorAuth(());

const SECURITY_SCHEME: &str = "simulator";

impl<'a> ApiExtractor<'a> for SimulatorAuth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            SECURITY_SCHEME,
            MetaSecurityScheme {
                ty: "http",
                description: Some(
                    "The simulator's credential (SIMULATOR_USER / SIMULATOR_PASSWORD)",
                ),
                name: None,
                key_in: None,
                scheme: Some("basic"),
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec![SECURITY_SCHEME]
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        <Simulator as FromRequest>::from_request(request, body)
            .await
            .map(|_| SimulatorAuth(()))
    }
}

/// The user named by the path parameter (`{username}`), documented as that parameter:
/// 404 "Unknown user" when there is none.
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
        let found = match state(request) {
            Ok(state) => state.store.user_by_name(name).await.map_err(AppError::from),
            Err(e) => Err(e),
        };
        match found {
            Ok(Some(user)) => Ok(Path(user)),
            Ok(None) => Err(refuse(AppError::NotFound(UNKNOWN_USER))),
            Err(e) => Err(refuse(e)),
        }
    }
}
