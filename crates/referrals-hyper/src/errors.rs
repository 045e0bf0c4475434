//! Turning hyper-util's errors into the [`TransportErrorKind`]s the retry policy needs.

use std::error::Error as StdError;
use std::time::Duration;

use referrals_query::transport::{TransportError, TransportErrorKind};

use crate::connector::ConnectTimedOut;
use crate::target::Target;

/// Classifies a failure of the legacy client before a response head arrived.
pub(crate) fn from_client_error(
    error: hyper_util::client::legacy::Error,
    target: &Target,
    connect_timeout: Duration,
) -> TransportError {
    let causes = cause_chain(&error);
    let (kind, message) = if error.is_connect() {
        if has_cause::<ConnectTimedOut>(&error) {
            (
                TransportErrorKind::ConnectTimeout,
                format!(
                    "{target}: could not connect to {} within {connect_timeout:?} (DNS, TCP, \
                     proxy and TLS handshake); the request was not sent",
                    target.authority()
                ),
            )
        } else {
            (
                TransportErrorKind::Connect,
                format!(
                    "{target}: could not connect to {}: {causes}; the request was not sent",
                    target.authority()
                ),
            )
        }
    } else if find_cause::<hyper::Error>(&error).is_some_and(hyper::Error::is_user) {
        (
            TransportErrorKind::InvalidRequest,
            format!("{target}: the request could not be sent as given: {causes}"),
        )
    } else {
        (
            TransportErrorKind::Io,
            format!(
                "{target}: the connection failed after the request may have been sent: {causes}"
            ),
        )
    };
    TransportError::new(kind, message).with_source(error)
}

/// The descriptions of `error`'s causes (not `error` itself), joined with `: `, skipping any
/// that repeat what is already said.
///
/// Causes here are I/O, TLS, proxy and protocol errors; none of them carries header values.
pub(crate) fn cause_chain(error: &(dyn StdError + 'static)) -> String {
    let mut joined = String::new();
    let mut next = error.source();
    if next.is_none() {
        joined = error.to_string();
    }
    while let Some(cause) = next {
        let text = cause.to_string();
        if !text.is_empty() && !joined.contains(&text) {
            if !joined.is_empty() {
                joined.push_str(": ");
            }
            joined.push_str(&text);
        }
        next = cause.source();
    }
    joined
}

fn find_cause<'a, T: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut next: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(cause) = next {
        if let Some(found) = cause.downcast_ref::<T>() {
            return Some(found);
        }
        next = cause.source();
    }
    None
}

fn has_cause<T: StdError + 'static>(error: &(dyn StdError + 'static)) -> bool {
    find_cause::<T>(error).is_some()
}
