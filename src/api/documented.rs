//! Extractors and a response wrapper that tell the OpenAPI document what a handler takes
//! and answers, while the handler keeps building every byte itself.
//!
//! poem-openapi's own `Json<T>`, `Query<i64>` and security schemes would answer bad input
//! with their own 400 texts, 401s and JSON key order; SPEC §2 fixes those bytes (the exact
//! 403 body, the error JSON for any malformed body, `no=abc` meaning 100, `latest` recorded
//! before auth). So these extractors never fail: they carry the raw input to the handler,
//! which checks it in the order the simulator expects, and only the schemas reach the
//! document. The extractors that do refuse (`auth`) render their refusal with
//! `api::error`, and [`Reply`] passes it through as the operation's answer.

use std::borrow::Cow;
use std::marker::PhantomData;

use poem::{FromRequest, IntoResponse, Request, RequestBody, Response};
use poem_openapi::payload::Json;
use poem_openapi::registry::{
    MetaMediaType, MetaRequest, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::types::{ParseFromParameter, ParseResult, Type};
use poem_openapi::{ApiExtractor, ApiExtractorType, ApiResponse, ExtractParamOptions};
use serde::de::DeserializeOwned;

use super::error::{self, ErrorBody};
use super::parse_json;
use crate::error::AppError;

/// A handler's response, documented as the [`ApiResponse`] enums `R` (its own answers)
/// and `E` (errors it shares with other operations) list them, statuses and body schemas,
/// but built by the handler as before.
pub struct Reply<R, E> {
    response: Response,
    doc: PhantomData<fn() -> (R, E)>,
}

impl<R, E> From<Result<Response, AppError>> for Reply<R, E> {
    fn from(result: Result<Response, AppError>) -> Self {
        let response = match result {
            Ok(response) => response,
            Err(err) => error::response(&err),
        };
        Reply {
            response,
            doc: PhantomData,
        }
    }
}

impl<R: ApiResponse, E: ApiResponse> ApiResponse for Reply<R, E> {
    /// An extractor's refusal (`auth`: 403, 404) is already the response to send.
    const BAD_REQUEST_HANDLER: bool = true;

    fn from_parse_request_error(err: poem::Error) -> Self {
        Reply {
            response: err.into_response(),
            doc: PhantomData,
        }
    }

    fn meta() -> MetaResponses {
        let mut meta = R::meta();
        meta.responses.extend(E::meta().responses);
        meta
    }

    fn register(registry: &mut Registry) {
        R::register(registry);
        E::register(registry);
    }
}

impl<R, E> IntoResponse for Reply<R, E> {
    fn into_response(self) -> Response {
        self.response
    }
}

// The enums below describe answers for the document; handlers never build them (hence
// dead_code), they build the bytes and wrap them in a `Reply`.

/// Errors of an operation that needs the simulator's credential and may name a user.
#[derive(ApiResponse)]
#[allow(dead_code)]
pub enum SimulatorErrors {
    /// Without the simulator's credential.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// Unknown user.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The database did not answer in time; try again.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

/// Errors of an operation anyone may call.
#[derive(ApiResponse)]
#[allow(dead_code)]
pub enum OpenErrors {
    /// The database did not answer in time; try again.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

/// The answers of an operation that changes something and has no body to return.
#[derive(ApiResponse)]
#[allow(dead_code)]
pub enum Changed {
    /// Done.
    #[oai(status = 204)]
    Done,
    /// A body that is not this operation's JSON, or a value it refuses (the message says
    /// which).
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
}

/// A JSON request body with the schema of `T`, read as bytes and parsed by the handler
/// after its auth and user checks (a bad body is a 400 with the error JSON, whatever the
/// Content-Type says).
pub struct JsonBody<T> {
    bytes: Vec<u8>,
    schema: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> JsonBody<T> {
    pub fn parse(&self) -> Result<T, AppError> {
        parse_json(&self.bytes)
    }
}

impl<'a, T: Type> ApiExtractor<'a> for JsonBody<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: "application/json",
                schema: T::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(JsonBody {
            bytes: <Vec<u8> as FromRequest>::from_request(request, body).await?,
            schema: PhantomData,
        })
    }
}

/// An integer query parameter (`no`, `latest`) documented as one, whose value the handler
/// reads itself: anything else falls back to the default instead of failing the request.
pub struct LenientInt;

impl Type for LenientInt {
    const IS_REQUIRED: bool = false;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "integer_int64".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("integer", "int64")))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ParseFromParameter for LenientInt {
    fn parse_from_parameter(_value: &str) -> ParseResult<Self> {
        Ok(LenientInt)
    }

    fn parse_from_parameters<I: IntoIterator<Item = A>, A: AsRef<str>>(
        _iter: I,
    ) -> ParseResult<Self> {
        Ok(LenientInt)
    }
}
