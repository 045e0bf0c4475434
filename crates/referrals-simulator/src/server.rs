//! Accepting connections, routing requests, applying faults, recording what was asked.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use percent_encoding::percent_decode_str;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::auth;
use super::conn_io::{ConnIo, Ending, TakeoverSlot};
use super::fault::{Fault, Operation, RequestInfo, RetryAfter};
use super::items;
use super::list::{self, ListFaults};
use super::oauth;
use super::pacing;
use super::query;
use super::response::{Reply, SimBody};
use super::state::State;
use super::webhooks;

/// Request bodies above this size are refused with 413.
const MAX_REQUEST_BODY: usize = 1024 * 1024;

const COLLECTION: &str = "/v1.0/engagements/referrals";

/// Accepts connections until the task is aborted; aborting it also ends every connection.
pub(crate) async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    state.log.count_connection();
                    connections.spawn(serve(stream, state.clone()));
                }
                // Out of file descriptors and the like: wait a little instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve(stream: TcpStream, state: Arc<State>) {
    let _ = stream.set_nodelay(true);
    let slot = TakeoverSlot::default();
    let io = TokioIo::new(ConnIo::new(stream, slot.clone()));
    let service = service_fn(move |request| {
        let state = state.clone();
        let slot = slot.clone();
        async move { Ok::<_, Infallible>(handle(&state, &slot, request).await) }
    });
    // Connection errors (a client going away, a simulated reset) end only this connection.
    let _ = http1::Builder::new().serve_connection(io, service).await;
}

/// What a path and method address.
enum Route {
    List,
    Create,
    Item(Operation, String),
    Token(String, &'static str),
    MethodNotAllowed(&'static str),
    NotFound,
}

impl Route {
    fn of(method: &Method, path: &str) -> Self {
        if path == COLLECTION {
            return match *method {
                Method::GET => Self::List,
                Method::POST => Self::Create,
                _ => Self::MethodNotAllowed("GET, POST"),
            };
        }
        // The connector contract names its deal registration operations `/referrals/{id}/` and
        // `/referrals/{id}//` (to tell them from the referral's own PATCH), so a referral's path
        // may end in slashes.
        if let Some(raw_id) = path
            .strip_prefix(COLLECTION)
            .and_then(|p| p.strip_prefix('/'))
            .map(|p| p.trim_end_matches('/'))
        {
            let id = percent_decode_str(raw_id).decode_utf8_lossy();
            if id.is_empty() || id.contains('/') {
                return Self::NotFound;
            }
            return match *method {
                Method::GET => Self::Item(Operation::Get, id.into_owned()),
                Method::PATCH => Self::Item(Operation::Patch, id.into_owned()),
                Method::PUT => Self::Item(Operation::Put, id.into_owned()),
                _ => Self::MethodNotAllowed("GET, PATCH, PUT"),
            };
        }
        for leaf in ["token", "devicecode"] {
            if let Some(tenant) = path
                .strip_prefix("/auth/")
                .and_then(|p| p.strip_suffix(leaf))
                .and_then(|p| p.strip_suffix("/oauth2/v2.0/"))
                .filter(|t| !t.is_empty() && !t.contains('/'))
            {
                let tenant = percent_decode_str(tenant).decode_utf8_lossy().into_owned();
                return Self::Token(tenant, leaf);
            }
        }
        Self::NotFound
    }

    fn operation(&self) -> Operation {
        match self {
            Self::List => Operation::List,
            Self::Create => Operation::Create,
            Self::Item(operation, _) => *operation,
            _ => Operation::Other,
        }
    }
}

async fn handle(
    state: &Arc<State>,
    slot: &TakeoverSlot,
    request: Request<Incoming>,
) -> Response<SimBody> {
    let (parts, body) = request.into_parts();
    let route = Route::of(&parts.method, parts.uri.path());
    let raw_query = parts.uri.query().unwrap_or("");

    if webhooks::route(parts.uri.path()) {
        let reply = match (
            webhooks::is_public(parts.uri.path()),
            auth::check_for(&state.tokens, &parts.headers, auth::PARTNER_CENTER_AUDIENCE),
        ) {
            (false, Err(reply)) => reply,
            _ => match read_body(body).await {
                Ok(bytes) => webhooks::handle(
                    &state.webhooks,
                    &state.store,
                    &parts.method,
                    parts.uri.path(),
                    &bytes,
                ),
                Err(reply) => reply,
            },
        };
        return finish(state, slot, &parts, reply, None);
    }

    if let Route::Token(tenant, leaf) = &route {
        state.log.count_token_request();
        let reply = match read_body(body).await {
            Ok(bytes) => oauth::endpoint(&state.tokens, tenant, leaf, &parts.method, &bytes),
            Err(reply) => reply,
        };
        return finish(state, slot, &parts, reply, None);
    }

    let operation = route.operation();
    let info = RequestInfo {
        number: state.log.count_api_request(),
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        query: raw_query.to_owned(),
        operation,
        list_page: (operation == Operation::List).then(|| {
            let key = &state.store.listing().token_key;
            query::requested_page(raw_query, &parts.headers, key)
        }),
    };
    // The round trip, then the cap: a request above it is refused and not counted in flight.
    let admitted = state.pacing.admit();
    state.pacing.wait().await;
    let Some(_in_flight) = admitted else {
        let fault = Fault::too_many_requests(pacing::RETRY_AFTER_SECONDS);
        let reply = status_reply(429, Some(RetryAfter::Seconds(pacing::RETRY_AFTER_SECONDS)));
        return finish(state, slot, &parts, reply, Some(fault));
    };
    let fault = state.faults.pick(&info);

    let reply = match &fault {
        Some(Fault::Status {
            status,
            retry_after,
        }) => status_reply(*status, *retry_after),
        Some(Fault::GatewayHtml) => gateway_html(),
        Some(Fault::HtmlPage { status }) => html_page(*status),
        Some(Fault::EchoAuthorization { status }) => echo_authorization(*status, &parts),
        Some(Fault::EmptyBody { status }) => {
            Reply::empty(StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY))
        }
        Some(Fault::Unauthorized) => auth::unauthenticated("The bearer token is not valid."),
        other => {
            if let (Some(Fault::ConcurrentUpdate { patch }), Route::Item(_, id)) = (other, &route) {
                items::update_concurrently(&state.store, id, patch);
            }
            if let Some(Fault::SlowHeaders(delay)) = other {
                tokio::time::sleep(*delay).await;
            }
            let list_faults = list_faults(state.address.port(), other.as_ref());
            let reply = process(state, &route, &parts, raw_query, body, &list_faults).await;
            if let Some(Fault::SlowAnswer(delay)) = other {
                tokio::time::sleep(*delay).await;
            }
            reply
        }
    };
    finish(state, slot, &parts, reply, fault)
}

/// Answers an API request normally (the request's effects happen even when a fault later
/// breaks the answer, as when a connection drops after the server acted).
async fn process(
    state: &State,
    route: &Route,
    parts: &Parts,
    raw_query: &str,
    body: Incoming,
    list_faults: &ListFaults,
) -> Reply {
    match route {
        Route::NotFound => {
            return Reply::error(
                StatusCode::NOT_FOUND,
                "itemNotFound",
                &format!("No resource at {}.", parts.uri.path()),
                None,
            );
        }
        Route::MethodNotAllowed(allow) => {
            return Reply::error(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalidRequest",
                &format!("{} is not allowed here; allowed: {allow}.", parts.method),
                None,
            )
            .header(http::header::ALLOW, allow);
        }
        _ => {}
    }
    if let Err(reply) = auth::check(&state.tokens, &parts.headers) {
        return reply;
    }
    match route {
        Route::List => list::list(&state.store, raw_query, &parts.headers, list_faults),
        Route::Create => match read_body(body).await {
            Ok(bytes) => items::create(&state.store, &bytes),
            Err(reply) => reply,
        },
        Route::Item(Operation::Get, id) => {
            let mut reply = items::get(&state.store, id);
            let mistyped = match (&list_faults.mistyped, reply.body_bytes()) {
                (Some((mistyped, field)), Some(bytes)) if mistyped == id => {
                    Some(list::mistype(bytes, field))
                }
                _ => None,
            };
            if let Some(bytes) = mistyped.filter(|_| reply.status == StatusCode::OK) {
                reply.body = SimBody::bytes(Bytes::from(bytes));
            }
            reply
        }
        Route::Item(operation, id) => match read_body(body).await {
            Ok(bytes) if *operation == Operation::Patch => {
                items::patch(&state.store, id, &parts.headers, &bytes)
            }
            Ok(bytes) => items::put(&state.store, id, &parts.headers, &bytes),
            Err(reply) => reply,
        },
        Route::Token(..) | Route::MethodNotAllowed(_) | Route::NotFound => Reply::error(
            StatusCode::NOT_FOUND,
            "itemNotFound",
            "No such resource.",
            None,
        ),
    }
}

/// The changes `fault` makes to a list page of the simulator on `port`.
fn list_faults(port: u16, fault: Option<&Fault>) -> ListFaults {
    let mut faults = ListFaults::default();
    match fault {
        Some(Fault::EmptyPage) => faults.empty_page = true,
        Some(Fault::RepeatToken) => faults.repeat_token = true,
        Some(Fault::InvalidJson) => faults.invalid_json = true,
        Some(Fault::MistypedField { id, field }) => {
            faults.mistyped = Some((id.clone(), field.clone()));
        }
        Some(Fault::ForeignNextLink { host }) => {
            faults.next_origin = Some(format!("http://{host}:{port}"));
        }
        Some(Fault::DowngradedNextLink { host }) => {
            faults.next_origin = Some(format!("http://{host}"))
        }
        Some(Fault::IgnoreFilter) => faults.ignore_filter = true,
        Some(Fault::ClassicOnly) => faults.classic_only = true,
        _ => {}
    }
    faults
}

async fn read_body(body: Incoming) -> Result<Bytes, Reply> {
    match Limited::new(body, MAX_REQUEST_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(Reply::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalidRequest",
            &format!("The request body exceeds {MAX_REQUEST_BODY} bytes."),
            Some("body"),
        )),
        Err(_) => Err(Reply::invalid(
            "The request body could not be read.",
            "body",
        )),
    }
}

fn status_reply(status: u16, retry_after: Option<RetryAfter>) -> Reply {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let code = match status.as_u16() {
        401 => "unauthenticated",
        403 => "accessDenied",
        404 => "itemNotFound",
        412 => "preconditionFailed",
        429 => "tooManyRequests",
        503 => "serviceNotAvailable",
        s if s >= 500 => "generalException",
        _ => "invalidRequest",
    };
    let message = format!(
        "Simulated failure: {} {}.",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let reply = Reply::error(status, code, &message, None);
    match retry_after {
        None => reply,
        Some(RetryAfter::Seconds(seconds)) => reply.header(RETRY_AFTER, &seconds.to_string()),
        Some(RetryAfter::Date(after)) => {
            let now = SystemTime::now();
            let when = now.checked_add(after).unwrap_or(now);
            reply.header(RETRY_AFTER, &httpdate::fmt_http_date(when))
        }
    }
}

fn gateway_html() -> Reply {
    let body = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
                <center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>gateway</center>\r\n\
                </body>\r\n</html>\r\n";
    let mut reply = Reply::empty(StatusCode::BAD_GATEWAY);
    reply.body = SimBody::bytes(Bytes::from_static(body.as_bytes()));
    reply.header(CONTENT_TYPE, "text/html")
}

/// An HTML page with `status`, from something in front of the API.
fn html_page(status: u16) -> Reply {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let body = "<!DOCTYPE html>\r\n<html><head><title>Sign in to continue</title></head>\r\n\
                <body><form action=\"/portal\"><p>Please sign in to the network.</p></form>\
                </body></html>\r\n";
    let mut reply = Reply::empty(status);
    reply.body = SimBody::bytes(Bytes::from_static(body.as_bytes()));
    reply.header(CONTENT_TYPE, "text/html; charset=utf-8")
}

/// The API's error body with `status`, quoting the request's `Authorization` header.
fn echo_authorization(status: u16, parts: &Parts) -> Reply {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED);
    let sent = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .unwrap_or_default();
    Reply::error(
        status,
        "invalidRequest",
        &format!("The request was refused. Authorization: {sent}"),
        None,
    )
}

/// Adds the service's standard headers, applies the faults that break the answer itself,
/// records the exchange and hands the response to hyper.
fn finish(
    state: &State,
    slot: &TakeoverSlot,
    parts: &Parts,
    mut reply: Reply,
    fault: Option<Fault>,
) -> Response<SimBody> {
    let request_id = parts
        .headers
        .get("ms-requestid")
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| state.request_ids.uuid(), str::to_owned);
    reply = reply
        .header(HeaderName::from_static("ms-requestid"), &request_id)
        .header(HeaderName::from_static("request-id"), &request_id);
    if let Some(correlation) = parts.headers.get("ms-correlationid") {
        reply.headers.insert(
            HeaderName::from_static("ms-correlationid"),
            correlation.clone(),
        );
    }

    let mut status = Some(reply.status.as_u16());
    let body = reply.body_bytes().cloned().unwrap_or_default();
    match &fault {
        Some(Fault::ResetBeforeHeaders) => {
            slot.arm(Bytes::new(), Ending::Reset);
            status = None;
        }
        Some(Fault::ResetMidBody) => {
            let mut raw = reply.raw_head(body.len() as u64);
            raw.extend_from_slice(&body[..body.len() / 2]);
            slot.arm(Bytes::from(raw), Ending::Reset);
        }
        Some(Fault::TruncatedBody) => {
            // An empty body cannot be cut short, so it announces one byte it never sends.
            let announced = body.len().max(1);
            let sent = announced - (announced / 10).max(1);
            let mut raw = reply.raw_head(announced as u64);
            raw.extend_from_slice(&body[..sent.min(body.len())]);
            slot.arm(Bytes::from(raw), Ending::Close);
        }
        Some(Fault::OversizedBody(size)) => {
            let trimmed = body.strip_suffix(b"}").filter(|b| b.len() > 1);
            let head = match trimmed {
                Some(prefix) => [prefix, b",\"padding\":\""].concat(),
                None => b"{\"padding\":\"".to_vec(),
            };
            let tail = Bytes::from_static(b"\"}");
            let padding = size.saturating_sub(head.len() + tail.len()) as u64;
            reply.body = SimBody::padded(Bytes::from(head), padding, tail);
            reply
                .headers
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        Some(Fault::InvalidJson) if !is_list(parts) && !body.is_empty() => {
            reply.body = SimBody::bytes(body.slice(..body.len() - 1));
        }
        _ => {}
    }

    state.log.record(parts, status, fault);
    let mut response = Response::new(reply.body);
    *response.status_mut() = reply.status;
    *response.headers_mut() = *reply.headers;
    response
}

fn is_list(parts: &Parts) -> bool {
    parts.method == Method::GET && parts.uri.path() == COLLECTION
}
