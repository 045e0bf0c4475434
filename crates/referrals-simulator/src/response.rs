//! Responses as the handlers build them, their bodies, and their raw HTTP/1.1 form for the
//! faults that write to the socket directly.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};
use hyper::body::{Body, Frame, SizeHint};
use serde_json::json;

/// A response before it is handed to hyper.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    /// Boxed to keep `Result<_, Reply>` small.
    pub(crate) headers: Box<HeaderMap>,
    pub(crate) body: SimBody,
}

impl Reply {
    /// `status` with a JSON body.
    pub(crate) fn json(status: StatusCode, body: impl Into<Bytes>) -> Self {
        let mut headers = Box::new(HeaderMap::new());
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Self {
            status,
            headers,
            body: SimBody::bytes(body.into()),
        }
    }

    /// `status` with an HTML page (what a gateway in front of a service sends).
    pub(crate) fn html(status: StatusCode, page: &'static str) -> Self {
        let mut headers = Box::new(HeaderMap::new());
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        Self {
            status,
            headers,
            body: SimBody::bytes(Bytes::from_static(page.as_bytes())),
        }
    }

    /// `status` without a body.
    pub(crate) fn empty(status: StatusCode) -> Self {
        Self {
            status,
            headers: Box::default(),
            body: SimBody::bytes(Bytes::new()),
        }
    }

    /// The documented error body: `{"error":{"code","message","target"}}`.
    pub(crate) fn error(
        status: StatusCode,
        code: &str,
        message: &str,
        target: Option<&str>,
    ) -> Self {
        let mut error = json!({ "code": code, "message": message });
        if let Some(target) = target {
            error["target"] = target.into();
        }
        let body = serde_json::to_vec(&json!({ "error": error })).unwrap_or_default();
        Self::json(status, body)
    }

    /// 400 `invalidRequest` about `target` (a parameter, header or field).
    pub(crate) fn invalid(message: &str, target: &str) -> Self {
        Self::error(
            StatusCode::BAD_REQUEST,
            "invalidRequest",
            message,
            Some(target),
        )
    }

    /// Adds a header; values the simulator builds are always valid, others are dropped.
    pub(crate) fn header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.insert(name, value);
        }
        self
    }

    /// The whole body when it is held in memory.
    pub(crate) fn body_bytes(&self) -> Option<&Bytes> {
        match &self.body.state {
            State::Once(Some(bytes)) => Some(bytes),
            _ => None,
        }
    }

    /// The status line and headers as HTTP/1.1 bytes, with `Content-Length: content_length`.
    pub(crate) fn raw_head(&self, content_length: u64) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\n",
            self.status.as_u16(),
            self.status.canonical_reason().unwrap_or("Unknown")
        )
        .into_bytes();
        for (name, value) in self.headers.iter() {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(format!("content-length: {content_length}\r\n\r\n").as_bytes());
        head
    }
}

/// A response body: bytes in memory, or a JSON prefix, a run of padding and a suffix streamed in
/// chunks (for oversized bodies).
#[derive(Debug)]
pub(crate) struct SimBody {
    state: State,
}

#[derive(Debug)]
enum State {
    Once(Option<Bytes>),
    Padded {
        head: Option<Bytes>,
        padding: u64,
        tail: Option<Bytes>,
    },
}

static PADDING: [u8; 64 * 1024] = [b'x'; 64 * 1024];

impl SimBody {
    pub(crate) fn bytes(bytes: Bytes) -> Self {
        Self {
            state: State::Once(Some(bytes)),
        }
    }

    /// `head`, then `padding` bytes of `x`, then `tail`.
    pub(crate) fn padded(head: Bytes, padding: u64, tail: Bytes) -> Self {
        Self {
            state: State::Padded {
                head: Some(head),
                padding,
                tail: Some(tail),
            },
        }
    }
}

impl Body for SimBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let chunk = match &mut self.get_mut().state {
            State::Once(bytes) => bytes.take().filter(|b| !b.is_empty()),
            State::Padded {
                head,
                padding,
                tail,
            } => {
                if let Some(head) = head.take() {
                    Some(head)
                } else if *padding > 0 {
                    let n = (*padding).min(PADDING.len() as u64) as usize;
                    *padding -= n as u64;
                    Some(Bytes::from_static(&PADDING[..n]))
                } else {
                    tail.take()
                }
            }
        };
        Poll::Ready(chunk.map(|c| Ok(Frame::data(c))))
    }

    fn is_end_stream(&self) -> bool {
        match &self.state {
            State::Once(bytes) => bytes.as_ref().is_none_or(Bytes::is_empty),
            State::Padded {
                head,
                padding,
                tail,
            } => head.is_none() && *padding == 0 && tail.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        let len = |b: &Option<Bytes>| b.as_ref().map_or(0, |b| b.len() as u64);
        match &self.state {
            State::Once(bytes) => SizeHint::with_exact(len(bytes)),
            State::Padded {
                head,
                padding,
                tail,
            } => SizeHint::with_exact(len(head) + padding + len(tail)),
        }
    }
}
