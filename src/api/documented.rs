//! The types the API's handlers take and answer, which tell the OpenAPI document what they
//! are while keeping every byte the simulator sees (README.md, "The simulator API").
//!
//! poem-openapi's own `Json<T>` and `Query<i64>` would answer bad input with their own 400
//! texts and write JSON keys in alphabetical order; the simulator's contract fixes those
//! bytes (the error JSON for any malformed body, `no=abc` meaning 100, `status` before
//! `error_msg`). So:
//! - [`LenientInt`] is an integer query parameter that never fails: a value that is not an
//!   integer reads as absent;
//! - [`JsonBody`] carries the raw body to the handler, which parses it after its auth and
//!   user checks, in the order the simulator expects;
//! - [`Json`] is a JSON answer written with serde, in the declared field order;
//! - [`Failure`] is an [`AppError`] as an operation's error, documented with the statuses
//!   its marker lists; the API's renderer (`api::error`) turns it into the simulator's JSON.

use std::borrow::Cow;
use std::marker::PhantomData;

use bytes::Bytes;

use poem::http::StatusCode;
use poem::{FromRequest, IntoResponse, Request, RequestBody, Response};
use poem_openapi::payload::Payload;
use poem_openapi::registry::{
    MetaMediaType, MetaRequest, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::types::{ParseFromParameter, ParseResult, Type};
use poem_openapi::{ApiExtractor, ApiExtractorType, ApiResponse, ExtractParamOptions};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::ErrorBody;
use crate::error::AppError;

/// An integer query parameter (`no`, `latest`) documented as one: a value that is not an
/// integer (or none at all) is `LenientInt(None)`, never a failed request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LenientInt(pub Option<i64>);

impl LenientInt {
    /// `raw`, trimmed, as an integer, if it is one.
    pub fn parse(raw: &str) -> LenientInt {
        LenientInt(raw.trim().parse().ok())
    }
}

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
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(LenientInt::parse(value))
    }

    /// The first value counts, as for every query parameter of the app (`crate::query`).
    fn parse_from_parameters<I: IntoIterator<Item = A>, A: AsRef<str>>(
        iter: I,
    ) -> ParseResult<Self> {
        Ok(iter
            .into_iter()
            .next()
            .map_or(LenientInt(None), |v| LenientInt::parse(v.as_ref())))
    }
}

/// A JSON request body with the schema of `T`, read as bytes and parsed by the handler
/// after its auth and user checks (a bad body is a 400 with the error JSON, whatever the
/// Content-Type says).
pub struct JsonBody<T> {
    bytes: Vec<u8>,
    schema: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> JsonBody<T> {
    /// Malformed JSON, a missing key or a wrong type is a 400, never a 500.
    pub fn parse(&self) -> Result<T, AppError> {
        serde_json::from_slice(&self.bytes).map_err(|e| {
            AppError::invalid(format!(
                "The request body is not valid JSON for this endpoint: {e}"
            ))
        })
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

/// A 200 with `T` as JSON, written with serde in `T`'s field order, documented with `T`'s
/// schema.
pub struct Json<T>(pub T);

/// What a [`Json`] answer holds: serde writes it, poem-openapi documents it. For a type
/// whose shape on the wire is another type's (a borrowed view of rows), `Doc` is that type.
pub trait JsonAnswer: Serialize + Send {
    /// The documented type with the same JSON.
    type Doc: Type;
    /// What the answer is, for the document.
    const DESCRIPTION: &'static str = "";

    /// A guess at the size of the JSON, so the buffer is not grown (and copied) while
    /// writing: that shows on the hot reads.
    fn size_hint(&self) -> usize {
        128
    }

    /// The JSON itself. An answer that keeps what it rendered for the next reader (a
    /// cached timeline page) hands that out instead of writing it again.
    fn to_json(&self) -> serde_json::Result<Bytes> {
        let mut body = Vec::with_capacity(self.size_hint());
        serde_json::to_writer(&mut body, self)?;
        Ok(Bytes::from(body))
    }
}

impl<T: JsonAnswer> Payload for Json<T> {
    const CONTENT_TYPE: &'static str = "application/json";

    fn schema_ref() -> MetaSchemaRef {
        T::Doc::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::Doc::register(registry);
    }
}

impl<T: JsonAnswer> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match self.0.to_json() {
            Ok(body) => Response::builder()
                .content_type(Self::CONTENT_TYPE)
                .body(body),
            Err(e) => {
                tracing::error!(error = %e, "cannot serialise response");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

impl<T: JsonAnswer> ApiResponse for Json<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: T::DESCRIPTION,
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: Self::CONTENT_TYPE,
                    schema: Self::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        <Self as Payload>::register(registry);
    }
}

/// The answer of an operation that changes something and has no body to return.
#[derive(ApiResponse)]
pub enum Changed {
    /// Done.
    #[oai(status = 204)]
    Done,
}

/// The error statuses an operation may answer, with what each means, for the document.
pub trait Statuses {
    const LISTED: &'static [(u16, &'static str)];
}

const BAD_BODY: (u16, &str) = (
    400,
    "A body that is not this operation's JSON, or a value it refuses (the message says which).",
);
const NOT_SIMULATOR: (u16, &str) = (403, "Without the simulator's credential.");
const UNKNOWN_USER: (u16, &str) = (404, "Unknown user.");
const UNAVAILABLE: (u16, &str) = (503, "The database did not answer in time; try again.");

/// A read that needs the simulator's credential and may name a user.
pub enum ReadErrors {}

impl Statuses for ReadErrors {
    const LISTED: &'static [(u16, &'static str)] = &[NOT_SIMULATOR, UNKNOWN_USER, UNAVAILABLE];
}

/// A write that needs the simulator's credential and names a user.
pub enum WriteErrors {}

impl Statuses for WriteErrors {
    const LISTED: &'static [(u16, &'static str)] =
        &[BAD_BODY, NOT_SIMULATOR, UNKNOWN_USER, UNAVAILABLE];
}

/// Registering, which anyone may call.
pub enum RegisterErrors {}

impl Statuses for RegisterErrors {
    const LISTED: &'static [(u16, &'static str)] = &[
        BAD_BODY,
        (
            429,
            "Too many registrations from this address (the simulator is not limited).",
        ),
        UNAVAILABLE,
    ];
}

/// A read anyone may call.
pub enum OpenErrors {}

impl Statuses for OpenErrors {
    const LISTED: &'static [(u16, &'static str)] = &[UNAVAILABLE];
}

/// An [`AppError`] as the error of an operation documented with the statuses of `S`. It
/// reaches the API's renderer as the `AppError` it holds.
pub struct Failure<S> {
    error: AppError,
    statuses: PhantomData<fn() -> S>,
}

impl<S, E: Into<AppError>> From<E> for Failure<S> {
    fn from(error: E) -> Self {
        Failure {
            error: error.into(),
            statuses: PhantomData,
        }
    }
}

impl<S> From<Failure<S>> for poem::Error {
    fn from(failure: Failure<S>) -> Self {
        failure.error.into()
    }
}

impl<S: Statuses> ApiResponse for Failure<S> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: S::LISTED
                .iter()
                .map(|&(status, description)| MetaResponse {
                    description,
                    status: Some(status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: "application/json",
                        schema: ErrorBody::schema_ref(),
                    }],
                    headers: vec![],
                })
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        ErrorBody::register(registry);
    }
}
