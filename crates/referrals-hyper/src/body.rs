//! Reading a response body under a size cap and an idle-read timeout.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use referrals_query::transport::{TransportError, TransportErrorKind};

use crate::errors::cause_chain;
use crate::target::Target;

/// Limits applied while reading one body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimits {
    pub(crate) max_bytes: usize,
    pub(crate) idle_timeout: Duration,
}

/// Refuses a body whose declared length is over the cap, before reading any of it.
/// Returns the declared length when there is a usable one.
pub(crate) fn check_declared_length(
    status: StatusCode,
    headers: &HeaderMap,
    limits: BodyLimits,
    target: &Target,
) -> Result<Option<u64>, TransportError> {
    // These responses have no body whatever `Content-Length` says (it describes the
    // representation a GET would return).
    if target.is_head()
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(None);
    }
    // hyper has already rejected malformed or conflicting `Content-Length` headers on HTTP/1;
    // anything unparsable here is left to the streamed count.
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(length) = declared {
        if length > limits.max_bytes as u64 {
            return Err(too_large(
                limits,
                format!(
                    "{target}: the response declares Content-Length {length}, over the {}-byte \
                     body limit; the body was not read",
                    limits.max_bytes
                ),
            ));
        }
    }
    Ok(declared)
}

/// Reads the whole body, failing as soon as it passes the cap or stalls.
///
/// At most the cap plus one received chunk is held in memory.
pub(crate) async fn read_capped(
    mut body: Incoming,
    declared: Option<u64>,
    limits: BodyLimits,
    target: &Target,
) -> Result<Bytes, TransportError> {
    let initial = declared.map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let mut buf = BytesMut::with_capacity(initial.min(limits.max_bytes));
    loop {
        let frame = match tokio::time::timeout(limits.idle_timeout, body.frame()).await {
            Err(_) => {
                return Err(TransportError::new(
                    TransportErrorKind::Timeout,
                    format!(
                        "{target}: the response body stalled: no data for {:?} after {} bytes",
                        limits.idle_timeout,
                        buf.len()
                    ),
                ));
            }
            Ok(None) => break,
            Ok(Some(Err(error))) => {
                return Err(TransportError::new(
                    TransportErrorKind::Io,
                    format!(
                        "{target}: the connection failed while reading the response body after \
                         {} bytes: {}",
                        buf.len(),
                        cause_chain(&error)
                    ),
                )
                .with_source(error));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        // Trailers carry nothing this API uses.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if buf.len().saturating_add(data.len()) > limits.max_bytes {
            return Err(too_large(
                limits,
                format!(
                    "{target}: the response body passed the {}-byte limit; the rest was not read",
                    limits.max_bytes
                ),
            ));
        }
        buf.extend_from_slice(&data);
    }
    Ok(buf.freeze())
}

fn too_large(limits: BodyLimits, message: String) -> TransportError {
    TransportError::new(
        TransportErrorKind::BodyTooLarge {
            limit: limits.max_bytes as u64,
        },
        message,
    )
}
