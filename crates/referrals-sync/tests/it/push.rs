//! `referrals_sync::push` through a scripted transport: order and bodies, the key and the
//! signature, retries with `Retry-After`, a refusal that stops without skipping, `follow`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use referrals::RetryPolicy;
use referrals::Secret;
use referrals_query::transport::{BoxFuture, Transport, TransportError, TransportErrorKind};
use referrals_sync::Mirror;
use referrals_sync::push::{PushError, PushEvent, PushOptions, idempotency_key, push, signature};

use crate::support::{shared, temp_dir};

/// One scripted answer.
#[derive(Debug)]
enum Scripted {
    Status(u16, &'static [(&'static str, &'static str)], &'static str),
    Fail(TransportErrorKind),
}

/// A request as received.
#[derive(Debug, Clone)]
struct Received {
    key: String,
    signature: Option<String>,
    content_type: String,
    body: Bytes,
}

/// Answers from a script, then 204 to everything; records every request.
#[derive(Debug, Default)]
struct Endpoint {
    script: Mutex<VecDeque<Scripted>>,
    received: Mutex<Vec<Received>>,
}

impl Endpoint {
    fn scripted(answers: Vec<Scripted>) -> Arc<Endpoint> {
        Arc::new(Endpoint {
            script: Mutex::new(answers.into()),
            received: Mutex::default(),
        })
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Transport for Endpoint {
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, TransportError>> {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(request.uri(), "http://127.0.0.1:9/hook?code=k");
        self.received.lock().unwrap().push(Received {
            key: header("idempotency-key").unwrap(),
            signature: header("x-referrals-signature"),
            content_type: header("content-type").unwrap(),
            body: request.body().clone(),
        });
        let next = self.script.lock().unwrap().pop_front();
        Box::pin(async move {
            match next {
                None => Ok(http::Response::builder()
                    .status(204)
                    .body(Bytes::new())
                    .unwrap()),
                Some(Scripted::Status(code, headers, body)) => {
                    let mut response = http::Response::builder().status(code);
                    for (name, value) in headers {
                        response = response.header(*name, *value);
                    }
                    Ok(response.body(Bytes::from_static(body.as_bytes())).unwrap())
                }
                Some(Scripted::Fail(kind)) => Err(TransportError::new(kind, "scripted")),
            }
        })
    }
}

fn referral(id: &str, etag: u32) -> referrals::Referral {
    serde_json::from_str(&format!(
        r#"{{"id":"{id}","eTag":"\"{etag}\"","name":"n {etag}","x-extra":[1.5,null]}}"#
    ))
    .unwrap()
}

/// A mirror of `n` referrals with `n` journal rows, shared.
fn mirror_of(dir: &tempfile::TempDir, n: usize) -> Arc<Mutex<Mirror>> {
    let mirror = shared(&dir.path().join("m.db"));
    {
        let mut m = mirror.lock().unwrap();
        for i in 0..n {
            m.apply_referral(&referral(&format!("r{i}"), 1), SystemTime::now())
                .unwrap();
        }
    }
    mirror
}

fn options() -> PushOptions {
    let mut options = PushOptions::new("crm", "http://127.0.0.1:9/hook?code=k").unwrap();
    options.retry = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_secs(5),
        max_total: Duration::from_secs(30),
    };
    options
}

fn never() -> std::future::Pending<()> {
    std::future::pending()
}

#[tokio::test]
async fn every_change_is_posted_in_order_as_changes_prints_it_with_its_key_and_signature() {
    let dir = temp_dir("push-order");
    let mirror = mirror_of(&dir, 4);
    {
        let mut m = mirror.lock().unwrap();
        m.apply_referral(&referral("r1", 2), SystemTime::now())
            .unwrap();
        m.mark_removed("r2", SystemTime::now()).unwrap();
    }
    let (identity, changes) = {
        let m = mirror.lock().unwrap();
        (m.identity().unwrap(), m.changes_after(0, 100).unwrap())
    };
    assert_eq!(changes.len(), 6);
    let endpoint = Endpoint::scripted(Vec::new());
    let mut options = options();
    options.secret = Some(Secret::new("s3cret"));
    let mut events = Vec::new();
    let report = push(&endpoint, &mirror, &options, never(), |e| {
        events.push(e.clone())
    })
    .await
    .unwrap();
    assert_eq!((report.delivered, report.retried, report.offset), (6, 0, 6));
    let received = endpoint.received();
    assert_eq!(received.len(), 6);
    for (change, got) in changes.iter().zip(&received) {
        assert_eq!(got.body, change.to_json().unwrap(), "seq {}", change.seq);
        assert_eq!(got.key, idempotency_key(&identity, change.seq));
        assert_eq!(got.content_type, "application/json");
        let expected = signature(&Secret::new("s3cret"), &got.body);
        assert_eq!(got.signature.as_deref(), Some(expected.as_str()));
    }
    // The body is the journal row: the referral's own JSON, unknown fields kept.
    let first: serde_json::Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(first["seq"], 1);
    assert_eq!(first["kind"], "created");
    assert_eq!(first["referral"]["x-extra"], serde_json::json!([1.5, null]));
    let removed: serde_json::Value = serde_json::from_slice(&received[5].body).unwrap();
    assert_eq!(removed["kind"], "removed");
    assert_eq!(
        events.first(),
        Some(&PushEvent::Started { offset: 0, last: 6 })
    );
    assert_eq!(mirror.lock().unwrap().consumer_offset("crm").unwrap(), 6);

    // Nothing new: the next run sends nothing; another consumer starts from the beginning.
    let again = push(&endpoint, &mirror, &options, never(), |_| {})
        .await
        .unwrap();
    assert_eq!((again.delivered, again.offset), (0, 6));
    assert_eq!(endpoint.received().len(), 6);
    let other = PushOptions::new("other", "http://127.0.0.1:9/hook?code=k").unwrap();
    let fresh = push(&endpoint, &mirror, &other, never(), |_| {})
        .await
        .unwrap();
    assert_eq!(fresh.delivered, 6);
    // Without a secret, no signature.
    assert!(endpoint.received()[6].signature.is_none());
}

#[tokio::test]
async fn transient_answers_are_retried_with_the_same_key_and_body_and_retry_after_honoured() {
    let dir = temp_dir("push-retry");
    let mirror = mirror_of(&dir, 2);
    let endpoint = Endpoint::scripted(vec![
        Scripted::Status(503, &[("retry-after", "1")], "busy"),
        Scripted::Fail(TransportErrorKind::Io),
        Scripted::Status(429, &[], ""),
        Scripted::Status(200, &[], "ok"),
        Scripted::Fail(TransportErrorKind::Timeout),
    ]);
    let mut delays = Vec::new();
    let report = push(&endpoint, &mirror, &options(), never(), |e| {
        if let PushEvent::Retrying { seq, delay, .. } = e {
            delays.push((*seq, *delay));
        }
    })
    .await
    .unwrap();
    assert_eq!((report.delivered, report.retried, report.offset), (2, 4, 2));
    let keys: Vec<String> = endpoint.received().iter().map(|r| r.key.clone()).collect();
    assert_eq!(keys.len(), 6);
    assert!(keys[..4].iter().all(|k| *k == keys[0]), "{keys:?}");
    assert!(keys[0].ends_with(":1") && keys[4].ends_with(":2") && keys[4] == keys[5]);
    let bodies: Vec<Bytes> = endpoint.received().iter().map(|r| r.body.clone()).collect();
    assert!(bodies[..4].iter().all(|b| *b == bodies[0]));
    // The first wait is the server's second, at least; the others the (short) backoff.
    assert_eq!(delays.len(), 4);
    assert!(delays[0].1 >= Duration::from_secs(1), "{delays:?}");
    assert_eq!(delays.iter().map(|d| d.0).collect::<Vec<_>>(), [1, 1, 1, 2]);
}

#[tokio::test]
async fn a_refusal_stops_the_run_just_before_the_change_and_the_next_run_sends_it_again() {
    let dir = temp_dir("push-refused");
    let mirror = mirror_of(&dir, 3);
    let endpoint = Endpoint::scripted(vec![
        Scripted::Status(201, &[], ""),
        Scripted::Status(422, &[], "{\"error\":\"no such\u{7}field\"}"),
    ]);
    let error = push(&endpoint, &mirror, &options(), never(), |_| {})
        .await
        .unwrap_err();
    let PushError::Refused { at, status, body } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(
        (at.seq, at.referral_id.as_str(), status.as_u16()),
        (2, "r1", 422)
    );
    assert_eq!(at.report.offset, 1);
    assert!(!body.contains('\u{7}'), "{body}");
    let message = error.to_string();
    assert!(
        message.contains("change 2") && message.contains("r1") && message.contains("422"),
        "{message}"
    );
    assert!(
        !message.contains("code=k"),
        "the query stays out: {message}"
    );
    assert_eq!(mirror.lock().unwrap().consumer_offset("crm").unwrap(), 1);

    let report = push(&endpoint, &mirror, &options(), never(), |_| {})
        .await
        .unwrap();
    assert_eq!((report.delivered, report.offset), (2, 3));
    let keys: Vec<String> = endpoint.received().iter().map(|r| r.key.clone()).collect();
    assert_eq!(keys.len(), 4);
    assert_eq!(
        keys[1], keys[2],
        "the refused change is the next run's first"
    );
}

#[tokio::test]
async fn retries_that_run_out_stop_the_run_with_the_offset_unmoved() {
    let dir = temp_dir("push-gave-up");
    let mirror = mirror_of(&dir, 1);
    let endpoint = Endpoint::scripted(vec![
        Scripted::Status(503, &[], ""),
        Scripted::Status(503, &[], ""),
        Scripted::Fail(TransportErrorKind::Connect),
        Scripted::Status(503, &[], ""),
    ]);
    let error = push(&endpoint, &mirror, &options(), never(), |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(&error, PushError::GaveUp { at, .. } if at.seq == 1 && at.report.offset == 0),
        "{error:?}"
    );
    assert_eq!(endpoint.received().len(), 4);
    assert_eq!(mirror.lock().unwrap().consumer_offset("crm").unwrap(), 0);
}

#[tokio::test]
async fn stop_during_a_retry_wait_ends_the_run_with_the_change_unacknowledged() {
    let dir = temp_dir("push-stop-wait");
    let mirror = mirror_of(&dir, 2);
    let endpoint = Endpoint::scripted(vec![
        Scripted::Status(204, &[], ""),
        Scripted::Status(503, &[("retry-after", "4")], ""),
    ]);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let stop = async move {
        let _ = rx.await;
    };
    let mut tx = Some(tx);
    let report = push(&endpoint, &mirror, &options(), stop, |e| {
        if matches!(e, PushEvent::Retrying { .. }) {
            if let Some(tx) = tx.take() {
                let _ = tx.send(());
            }
        }
    })
    .await
    .unwrap();
    assert_eq!((report.delivered, report.offset), (1, 1));
    assert_eq!(endpoint.received().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_delivers_rows_another_connection_writes_then_stops_cleanly() {
    let dir = temp_dir("push-follow");
    let mirror = mirror_of(&dir, 2);
    let endpoint = Endpoint::scripted(Vec::new());
    let mut options = options();
    options.follow = true;
    options.poll_interval = Duration::from_millis(10);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = {
        let (endpoint, mirror) = (endpoint.clone(), mirror.clone());
        tokio::spawn(async move {
            let stop = async move {
                let _ = rx.await;
            };
            push(&endpoint, &mirror, &options, stop, |_| {}).await
        })
    };
    let wait_for = |n: usize| {
        let endpoint = endpoint.clone();
        async move {
            for _ in 0..3000 {
                if endpoint.received().len() >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("{n} deliveries never came: {:?}", endpoint.received().len());
        }
    };
    wait_for(2).await;
    // Another process's writer: its own connection to the file.
    let mut writer = Mirror::open(dir.path().join("m.db")).unwrap();
    writer
        .apply_referral(&referral("late", 1), SystemTime::now())
        .unwrap();
    writer
        .apply_referral(&referral("r0", 2), SystemTime::now())
        .unwrap();
    wait_for(4).await;
    tx.send(()).unwrap();
    let report = task.await.unwrap().unwrap();
    assert_eq!((report.delivered, report.offset), (4, 4));
    let last: serde_json::Value = serde_json::from_slice(&endpoint.received()[3].body).unwrap();
    assert_eq!(
        (last["seq"].as_i64(), last["id"].as_str()),
        (Some(4), Some("r0"))
    );
    assert_eq!(writer.consumer_offset("crm").unwrap(), 4);
}

#[test]
fn the_url_follows_the_base_url_rule_and_secrets_stay_out_of_debug() {
    for url in [
        "http://crm.example/hook",
        "ftp://crm.example/hook",
        "https://user:pw@crm.example/hook",
        "hook",
    ] {
        let error = PushOptions::new("crm", url).unwrap_err();
        assert!(matches!(error, PushError::Url(_)), "{url}: {error:?}");
    }
    let error = PushOptions::new("crm", "http://crm.example/hook?sig=abc").unwrap_err();
    assert!(!error.to_string().contains("abc"), "{error}");
    assert!(matches!(
        PushOptions::new(" ", "https://crm.example/"),
        Err(PushError::EmptyConsumer)
    ));
    for url in [
        "https://crm.example/hook?sig=abc",
        "http://localhost:8080/",
        "http://[::1]/x",
    ] {
        assert!(PushOptions::new("crm", url).is_ok(), "{url}");
    }
    let mut options = PushOptions::new("crm", "https://crm.example/hook?sig=abc").unwrap();
    options.secret = Some(Secret::new("hunter2-hunter2"));
    let shown = format!("{options:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("abc"),
        "{shown}"
    );
    assert!(shown.contains("crm.example"), "{shown}");
}
