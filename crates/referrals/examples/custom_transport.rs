//! Plugging in a transport of your own: here, one that records every request and answers from
//! memory, so code built on the client can be exercised with no network at all.
//!
//! `cargo run -p referrals --example custom_transport`

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::TryStreamExt;
use referrals::transport::{BoxFuture, Transport, TransportError, TransportErrorKind};
use referrals::{Client, ListQuery};

/// Serves two pages of the 2018 wire form and remembers what it was asked.
#[derive(Debug, Default)]
struct TwoPages {
    seen: Mutex<Vec<String>>,
}

impl Transport for TwoPages {
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, TransportError>> {
        let continued = request.headers().contains_key("ms-continuationtoken");
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!("{} {}", request.method(), request.uri()));
        Box::pin(async move {
            let body: &'static str = if continued {
                r#"{"totalCount": 3, "items": [{"id": "c", "status": "Closed"}]}"#
            } else {
                r#"{"totalCount": 3, "items": [{"id": "a", "status": "New"}, {"id": "b", "status": "Active"}],
                    "links": {"next": {"uri": "/referrals", "method": "GET",
                              "headers": [{"key": "MS-ContinuationToken", "value": "page-2"}]}}}"#
            };
            http::Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Bytes::from_static(body.as_bytes()))
                .map_err(|e| TransportError::new(TransportErrorKind::InvalidRequest, e.to_string()))
        })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), referrals::Error> {
    let transport = Arc::new(TwoPages::default());
    let client = Client::builder()
        .bearer_token("not-a-real-token")
        .transport(transport.clone())
        .build()?;

    let referrals: Vec<_> = client
        .list(ListQuery::new().page_size(2)?)
        .try_collect()
        .await?;
    for referral in &referrals {
        println!(
            "{} {}",
            referral.id.as_deref().unwrap_or("-"),
            referral.status.as_ref().map_or("-", |s| s.as_str())
        );
    }
    for request in transport
        .seen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
    {
        println!("sent: {request}");
    }
    assert_eq!(referrals.len(), 3);
    Ok(())
}
