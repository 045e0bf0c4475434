//! Webhooks as Partner Center sends them: the registration API, signed deliveries of
//! `referral-created` / `referral-updated` whenever the store creates or updates a referral
//! (through the API or the handle's churn), redelivered up to 10 times on a non-2xx answer,
//! validation events, and the signing certificate served at a loopback URL.
//!
//! | request | behaviour |
//! |---|---|
//! | `GET /webhooks/v1/registration/events` | the event names that can be registered |
//! | `POST /webhooks/v1/registration` | `{"WebhookUrl","WebhookEvents"}` → 200 with `SubscriberId`; 409 when one exists |
//! | `GET /webhooks/v1/registration` | the registration, 404 when none |
//! | `PUT /webhooks/v1/registration` | replaces it (404 when none) |
//! | `POST /webhooks/v1/registration/validationEvents` | sends a `test-created` event; `{"correlationId"}`; 400 unless `test-created` is registered; 429 past 2 a minute |
//! | `GET /webhooks/v1/registration/validationEvents/{id}` | its status (`pending`, `completed`, `failed`) and delivery results |
//! | `GET /webhooks/certs/signing.cer` | the signing certificate (DER), no authentication |

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, StatusCode};
use referrals_hyper::HyperTransport;
use referrals_query::transport::Transport;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::ids::Ids;
use super::locks::lock;
use super::response::Reply;
use super::signing::{Signer, SignerSpec, SigningAuthority, SigningError};
use super::store::{Store, StoreChange};
use super::time;

/// The path of the signing certificate.
pub const CERTIFICATE_PATH: &str = "/webhooks/certs/signing.cer";
/// Where the registration API lives.
pub(crate) const REGISTRATION: &str = "/webhooks/v1/registration";
/// The events that can be registered.
pub const EVENTS: [&str; 5] = [
    "referral-created",
    "referral-updated",
    "related-referral-created",
    "related-referral-updated",
    "test-created",
];
/// How many times a delivery is tried.
pub const MAX_ATTEMPTS: u32 = 10;
/// The host the events name (never the simulator's own).
const EVENT_HOST: &str = "https://api.partnercenter.microsoft.com";
const VALIDATIONS_PER_MINUTE: usize = 2;
/// The pause before the second attempt of a delivery; it doubles, up to 16 times as long.
pub(crate) const RETRY_DELAY: Duration = Duration::from_millis(200);

/// The registration, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Registration {
    subscriber_id: String,
    url: String,
    events: Vec<String>,
    ms_signature_header: bool,
}

/// One delivery's fate, for tests and validation events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// The event name.
    pub event_name: String,
    /// The `ResourceUri` it named.
    pub resource_uri: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// The status of the last answer (`None`: no answer).
    pub last_status: Option<u16>,
    /// Whether an attempt got a 2xx.
    pub delivered: bool,
    /// Whether it is finished (delivered, or the attempts are spent).
    pub finished: bool,
}

/// The webhooks part of a simulator: the registration, the signing keys, the deliveries and the
/// validation events.
pub(crate) struct Webhooks {
    /// `http://127.0.0.1:PORT`, for the certificate URL events name.
    origin: String,
    /// Subscriber and correlation ids.
    ids: Ids,
    /// The CA and signing certificate, made at the first use (rcgen and RSA key checks cost
    /// CPU that a simulator without webhooks should not pay at start-up).
    keys: OnceLock<Result<(SigningAuthority, Signer), SigningError>>,
    registration: Mutex<Option<Registration>>,
    deliveries: Mutex<Vec<DeliveryRecord>>,
    /// correlation id → index in `deliveries`.
    validations: Mutex<HashMap<String, usize>>,
    validation_times: Mutex<VecDeque<Instant>>,
    retry_delay: Duration,
    /// Made at the first delivery, not at start-up: building it reads trust roots, which would
    /// hold up the runtime of every simulator that never delivers.
    transport: OnceLock<Option<HyperTransport>>,
    /// Set once the dispatcher runs: only after a first registration, so that a simulator
    /// without webhooks runs no task and announces nothing.
    dispatching: OnceLock<()>,
}

impl fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhooks")
            .field("registration", &*lock(&self.registration))
            .finish_non_exhaustive()
    }
}

impl Webhooks {
    /// No registration yet; the keys, the transport and the dispatcher are made when first
    /// needed.
    pub(crate) fn new(origin: String, ids: Ids, retry_delay: Duration) -> Webhooks {
        Webhooks {
            origin,
            ids,
            keys: OnceLock::new(),
            registration: Mutex::new(None),
            deliveries: Mutex::new(Vec::new()),
            validations: Mutex::new(HashMap::new()),
            validation_times: Mutex::new(VecDeque::new()),
            retry_delay,
            transport: OnceLock::new(),
            dispatching: OnceLock::new(),
        }
    }

    fn keys(&self) -> Option<&(SigningAuthority, Signer)> {
        self.keys
            .get_or_init(|| {
                let authority = SigningAuthority::new("referrals simulator webhook root")?;
                let signer = authority.issue(&SignerSpec::default())?;
                Ok((authority, signer))
            })
            .as_ref()
            .ok()
    }

    fn signer(&self) -> Option<&Signer> {
        self.keys().map(|(_, signer)| signer)
    }

    /// The CA's PEM (empty if it could not be made).
    pub(crate) fn ca_pem(&self) -> &str {
        self.keys()
            .map(|(authority, _)| authority.ca_pem())
            .unwrap_or("")
    }

    fn transport(&self) -> Option<HyperTransport> {
        self.transport
            .get_or_init(|| {
                HyperTransport::builder()
                    .roots(referrals_hyper::TrustRoots::Webpki)
                    .attempt_timeout(Duration::from_secs(5))
                    .no_proxy()
                    .build()
                    .ok()
            })
            .clone()
    }

    pub(crate) fn deliveries(&self) -> Vec<DeliveryRecord> {
        lock(&self.deliveries).clone()
    }

    /// Registers (or replaces) the webhook directly, as the handle does, and starts delivering
    /// the changes of `store`.
    pub(crate) fn register(self: &Arc<Self>, store: &Store, url: &str, events: &[&str]) {
        *lock(&self.registration) = Some(Registration {
            subscriber_id: self.ids.uuid(),
            url: url.to_owned(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            ms_signature_header: false,
        });
        self.start_dispatching(store);
    }

    /// Starts announcing the changes of `store` to a dispatcher task, once.
    fn start_dispatching(self: &Arc<Self>, store: &Store) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        self.dispatching.get_or_init(|| {
            let (sink, changes) = mpsc::unbounded_channel();
            store.write().announce_changes(sink);
            runtime.spawn(dispatch(Arc::downgrade(self), changes));
        });
    }
}

/// Delivers the store's changes until the simulator is gone.
async fn dispatch(webhooks: Weak<Webhooks>, mut changes: mpsc::UnboundedReceiver<StoreChange>) {
    while let Some(change) = changes.recv().await {
        let Some(webhooks) = webhooks.upgrade() else {
            return;
        };
        let (name, id) = match change {
            StoreChange::Created(id) => ("referral-created", id),
            StoreChange::Updated(id) => ("referral-updated", id),
        };
        let uri = format!("{EVENT_HOST}/engagements/v1/referrals/{id}");
        send_event(&webhooks, name, &uri);
    }
}

/// Queues one signed event to the registered URL, if it is registered for it; the index of its
/// delivery record.
fn send_event(webhooks: &Arc<Webhooks>, name: &str, uri: &str) -> Option<usize> {
    let registration = lock(&webhooks.registration).clone()?;
    let transport = webhooks.transport()?;
    if !registration
        .events
        .iter()
        .any(|e| e.eq_ignore_ascii_case(name))
    {
        return None;
    }
    let body = json!({
        "EventName": name,
        "ResourceUri": uri,
        "ResourceName": if name == "test-created" { "test" } else { "referral" },
        "AuditUri": null,
        "ResourceChangeUtcDate": time::now_text(),
    })
    .to_string();
    let index = {
        let mut deliveries = lock(&webhooks.deliveries);
        deliveries.push(DeliveryRecord {
            event_name: name.to_owned(),
            resource_uri: uri.to_owned(),
            attempts: 0,
            last_status: None,
            delivered: false,
            finished: false,
        });
        deliveries.len() - 1
    };
    let signature = webhooks.signer()?.sign(body.as_bytes());
    let certificate_url = format!("{}{CERTIFICATE_PATH}", webhooks.origin);
    let weak = Arc::downgrade(webhooks);
    tokio::spawn(async move {
        for attempt in 1..=MAX_ATTEMPTS {
            let header = if registration.ms_signature_header {
                "x-ms-signature"
            } else {
                "authorization"
            };
            let request = http::Request::post(&registration.url)
                .header("content-type", "application/json")
                .header(header, format!("Signature {signature}"))
                .header("x-ms-signature-algorithm", "rsa-sha256")
                .header("x-ms-certificate-url", &certificate_url)
                .body(Bytes::from(body.clone()));
            let status = match request {
                Ok(request) => transport.send(request).await.ok().map(|r| r.status()),
                Err(_) => None,
            };
            let delivered = status.is_some_and(|s| s.is_success());
            let Some(webhooks) = weak.upgrade() else {
                return;
            };
            let delay = {
                let mut deliveries = lock(&webhooks.deliveries);
                let record = &mut deliveries[index];
                record.attempts = attempt;
                record.last_status = status.map(|s| s.as_u16());
                record.delivered = delivered;
                record.finished = delivered || attempt == MAX_ATTEMPTS;
                webhooks.retry_delay * 2u32.saturating_pow(attempt - 1).min(16)
            };
            if delivered {
                return;
            }
            drop(webhooks);
            if attempt < MAX_ATTEMPTS {
                tokio::time::sleep(delay).await;
            }
        }
    });
    Some(index)
}

/// True for the webhook routes (registration, validation events, certificate).
pub(crate) fn route(path: &str) -> bool {
    path == CERTIFICATE_PATH
        || path == REGISTRATION
        || path.starts_with("/webhooks/v1/registration/")
}

/// The certificate needs no token; everything else does (checked by the caller).
pub(crate) fn is_public(path: &str) -> bool {
    path == CERTIFICATE_PATH
}

/// Answers a webhook route; a registration starts delivering the changes of `store`.
pub(crate) fn handle(
    webhooks: &Arc<Webhooks>,
    store: &Store,
    method: &Method,
    path: &str,
    body: &[u8],
) -> Reply {
    if path == CERTIFICATE_PATH {
        return match *method {
            Method::GET => {
                let mut reply = Reply::json(
                    StatusCode::OK,
                    Bytes::copy_from_slice(
                        webhooks
                            .signer()
                            .map(Signer::certificate_der)
                            .unwrap_or_default(),
                    ),
                );
                reply.headers.insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/pkix-cert"),
                );
                reply
            }
            _ => not_allowed(method, "GET"),
        };
    }
    let rest = &path[REGISTRATION.len()..];
    match (method.clone(), rest) {
        (Method::GET, "/events") => Reply::json(StatusCode::OK, json!(EVENTS).to_string()),
        (Method::GET, "") => match &*lock(&webhooks.registration) {
            Some(registration) => Reply::json(
                StatusCode::OK,
                json!({
                    "SubscriberId": registration.subscriber_id,
                    "WebhookUrl": registration.url,
                    "WebhookEvents": registration.events,
                    "SignatureTokenToMsSignatureHeader": registration.ms_signature_header,
                })
                .to_string(),
            ),
            None => Reply::error(
                StatusCode::NOT_FOUND,
                "itemNotFound",
                "No webhook is registered.",
                None,
            ),
        },
        (Method::POST | Method::PUT, "") => register(webhooks, store, method, body),
        (Method::POST, "/validationEvents") => validation_event(webhooks),
        (Method::GET, rest) if rest.starts_with("/validationEvents/") => {
            let id = percent_encoding::percent_decode_str(&rest["/validationEvents/".len()..])
                .decode_utf8_lossy()
                .into_owned();
            validation_status(webhooks, &id)
        }
        (_, "") => not_allowed(method, "GET, POST, PUT"),
        _ => Reply::error(
            StatusCode::NOT_FOUND,
            "itemNotFound",
            "No such resource.",
            None,
        ),
    }
}

fn not_allowed(method: &Method, allow: &'static str) -> Reply {
    Reply::error(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalidRequest",
        &format!("{method} is not allowed here; allowed: {allow}."),
        None,
    )
    .header(http::header::ALLOW, allow)
}

/// Reads a field in either case style.
fn field<'a>(value: &'a Value, pascal: &str) -> Option<&'a Value> {
    let mut camel = pascal.to_owned();
    if let Some(first) = camel.get_mut(0..1) {
        first.make_ascii_lowercase();
    }
    value.get(pascal).or_else(|| value.get(&camel))
}

fn register(webhooks: &Arc<Webhooks>, store: &Store, method: &Method, body: &[u8]) -> Reply {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Reply::invalid("The body is not JSON.", "body");
    };
    let Some(url) = field(&value, "WebhookUrl").and_then(Value::as_str) else {
        return Reply::invalid("WebhookUrl is required.", "WebhookUrl");
    };
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Reply::invalid("WebhookUrl must be an absolute http(s) URL.", "WebhookUrl");
    }
    let events: Vec<String> = match field(&value, "WebhookEvents").and_then(Value::as_array) {
        Some(events) => events
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        None => return Reply::invalid("WebhookEvents is required.", "WebhookEvents"),
    };
    if let Some(unknown) = events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
        return Reply::invalid(&format!("Unknown event {unknown}."), "WebhookEvents");
    }
    let ms_header = field(&value, "SignatureTokenToMsSignatureHeader")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let registration = lock(&webhooks.registration);
    let subscriber_id = match (&*registration, method) {
        (Some(_), &Method::POST) => {
            return Reply::error(
                StatusCode::CONFLICT,
                "conflict",
                "A webhook is already registered; use PUT.",
                None,
            );
        }
        (None, &Method::PUT) => {
            return Reply::error(
                StatusCode::NOT_FOUND,
                "itemNotFound",
                "No webhook is registered.",
                None,
            );
        }
        (Some(existing), _) => existing.subscriber_id.clone(),
        (None, _) => webhooks.ids.uuid(),
    };
    drop(registration);
    webhooks.start_dispatching(store);
    *lock(&webhooks.registration) = Some(Registration {
        subscriber_id: subscriber_id.clone(),
        url: url.to_owned(),
        events: events.clone(),
        ms_signature_header: ms_header,
    });
    Reply::json(
        StatusCode::OK,
        json!({"SubscriberId": subscriber_id, "WebhookUrl": url, "WebhookEvents": events})
            .to_string(),
    )
}

fn validation_event(webhooks: &Arc<Webhooks>) -> Reply {
    let registered = lock(&webhooks.registration)
        .as_ref()
        .is_some_and(|r| r.events.iter().any(|e| e == "test-created"));
    if !registered {
        return Reply::invalid(
            "Register the test-created event before asking for a validation event.",
            "WebhookEvents",
        );
    }
    {
        let mut times = lock(&webhooks.validation_times);
        let minute_ago = Instant::now().checked_sub(Duration::from_secs(60));
        while times.front().is_some_and(|t| Some(*t) < minute_ago) {
            times.pop_front();
        }
        if times.len() >= VALIDATIONS_PER_MINUTE {
            return Reply::error(
                StatusCode::TOO_MANY_REQUESTS,
                "tooManyRequests",
                "At most 2 validation events a minute.",
                None,
            )
            .header(http::header::RETRY_AFTER, "60");
        }
        times.push_back(Instant::now());
    }
    let correlation_id = webhooks.ids.uuid();
    let uri = format!("{EVENT_HOST}{REGISTRATION}/validationEvents/{correlation_id}");
    if let Some(index) = send_event(webhooks, "test-created", &uri) {
        lock(&webhooks.validations).insert(correlation_id.clone(), index);
    }
    Reply::json(
        StatusCode::OK,
        json!({"correlationId": correlation_id}).to_string(),
    )
}

fn validation_status(webhooks: &Webhooks, correlation_id: &str) -> Reply {
    let Some(index) = lock(&webhooks.validations).get(correlation_id).copied() else {
        return Reply::error(
            StatusCode::NOT_FOUND,
            "itemNotFound",
            "No such validation event.",
            None,
        );
    };
    let record = lock(&webhooks.deliveries)[index].clone();
    let url = lock(&webhooks.registration).as_ref().map(|r| r.url.clone());
    let status = match (record.finished, record.delivered) {
        (false, _) => "pending",
        (true, true) => "completed",
        (true, false) => "failed",
    };
    let results: Vec<Value> = (record.attempts > 0)
        .then(|| {
            json!({
                "responseCode": record.last_status.map(|s| s.to_string()).unwrap_or_else(|| "none".into()),
                "responseMessage": if record.delivered { "OK" } else { "not delivered" },
                "systemError": record.last_status.is_none(),
                "dateTimeUtc": time::now_text(),
            })
        })
        .into_iter()
        .collect();
    Reply::json(
        StatusCode::OK,
        json!({
            "correlationId": correlation_id,
            "partnerId": "simulator-partner",
            "status": status,
            "callbackUrl": url,
            "results": results,
        })
        .to_string(),
    )
}
