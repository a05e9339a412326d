//! Request bodies over 64 KiB are refused with 413, whether or not they declare a length.
//! [`MAX_BODY_BYTES`] is the app's one body limit: the web forms read up to it too. Each
//! surface's router wraps itself in [`limit_body`], inside its renderer, so the 413 is
//! that surface's answer.

use std::sync::Arc;

use futures_util::StreamExt;
use poem::http::{header, Method};
use poem::{Body, Endpoint, IntoResponse, Request, Response};

use crate::error::AppError;

pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Middleware: refuses a declared or actual body over [`MAX_BODY_BYTES`] before any handler
/// sees it. Bodies are at most 64 KiB, so buffering them here costs nothing extra: every
/// handler reads its whole body anyway.
pub async fn limit_body<E: Endpoint>(ep: Arc<E>, mut req: Request) -> poem::Result<Response> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        drain(&mut req).await;
        return Err(AppError::TooLarge.into());
    }
    let may_have_body = declared.is_some_and(|len| len > 0)
        || req.headers().contains_key(header::TRANSFER_ENCODING)
        || !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if may_have_body {
        let mut stream = req.take_body().into_bytes_stream();
        let mut buffered = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| AppError::invalid(format!("cannot read body: {e}")))?;
            if buffered.len() + chunk.len() > MAX_BODY_BYTES {
                drain_stream(&mut stream, buffered.len() + chunk.len()).await;
                return Err(AppError::TooLarge.into());
            }
            buffered.extend_from_slice(&chunk);
        }
        req.set_body(Body::from(buffered));
    }
    ep.call(req).await.map(IntoResponse::into_response)
}

/// Bodies up to this size are read and dropped before answering 413, so a client still
/// sending gets the answer instead of a reset connection; larger ones are cut off.
const DRAIN_LIMIT: usize = 1024 * 1024;

async fn drain(req: &mut Request) {
    let mut stream = req.take_body().into_bytes_stream();
    drain_stream(&mut stream, 0).await;
}

async fn drain_stream<S, B, E>(stream: &mut S, mut read: usize)
where
    S: futures_util::Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
{
    while read <= DRAIN_LIMIT {
        match stream.next().await {
            Some(Ok(chunk)) => read += chunk.as_ref().len(),
            _ => break,
        }
    }
}
