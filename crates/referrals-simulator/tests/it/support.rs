//! A deliberately tiny HTTP/1.1 client over a raw `TcpStream`, so the simulator's tests see the
//! exact bytes it sends (including broken answers) without depending on the SDK under test; and
//! what the tests say of every simulator.

use std::io;
use std::net::SocketAddr;

use referrals_simulator::SimulatorHandle;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The referral collection's path.
pub const COLLECTION: &str = "/v1.0/engagements/referrals";

/// The `Authorization` value with the simulator's static token.
pub fn bearer(sim: &SimulatorHandle) -> String {
    format!("Bearer {}", sim.token())
}

/// A synthetic referral as the simulator serves it: in the connector contract's types, i.e. its
/// `customerProfile.ids` object as an array of `{type, id}` and a `details.dealValue` string as
/// the number it holds; everything else exactly as generated.
pub fn served(mut referral: Value) -> Value {
    if let Some(ids) = referral.pointer_mut("/customerProfile/ids") {
        if let Some(by_type) = ids.as_object() {
            let list = by_type
                .iter()
                .map(|(kind, id)| serde_json::json!({ "type": kind, "id": id }))
                .collect();
            *ids = Value::Array(list);
        }
    }
    if let Some(deal_value) = referral.pointer_mut("/details/dealValue") {
        if let Some(text) = deal_value.as_str() {
            *deal_value = serde_json::from_str(text).expect("a numeric deal value");
        }
    }
    referral
}

/// The continuation token of a 2018-form page's `links.next`.
pub fn next_token(page: &Value) -> &str {
    page["links"]["next"]["headers"][0]["value"]
        .as_str()
        .expect("a links.next continuation token")
}

/// Status, headers (names in lower case) and the length of the head in bytes.
pub type Head = (u16, Vec<(String, String)>, usize);

/// A parsed, complete response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Fails, showing the body, unless the answer has `status`.
    #[track_caller]
    pub fn assert_status(&self, status: u16) {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// How reading an answer ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// The head and `Content-Length` bytes of body arrived.
    Complete,
    /// The peer closed the connection first.
    Eof,
    /// Reading failed (e.g. connection reset).
    Error(io::ErrorKind),
}

/// The raw bytes of an answer and how it ended.
#[derive(Debug)]
pub struct Exchange {
    pub bytes: Vec<u8>,
    pub ending: Ending,
}

impl Exchange {
    /// The status line and headers, if they arrived.
    pub fn head(&self) -> Option<Head> {
        parse_head(&self.bytes)
    }

    /// Body bytes received after the head.
    pub fn body(&self) -> &[u8] {
        match self.head() {
            Some((_, _, len)) => &self.bytes[len..],
            None => &[],
        }
    }

    pub fn content_length(&self) -> Option<usize> {
        let (_, headers, _) = self.head()?;
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse().ok())
    }
}

/// One keep-alive connection.
pub struct Conn {
    stream: TcpStream,
}

impl Conn {
    pub async fn open(address: SocketAddr) -> Conn {
        Conn {
            stream: TcpStream::connect(address)
                .await
                .expect("connect to the simulator"),
        }
    }

    /// Sends a request and reads its answer, whatever shape it has.
    pub async fn exchange(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Exchange {
        let mut request = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body.unwrap_or_default());
        if let Err(e) = self.stream.write_all(&bytes).await {
            return Exchange {
                bytes: Vec::new(),
                ending: Ending::Error(e.kind()),
            };
        }
        let mut received = Vec::new();
        let mut buffer = [0u8; 16 * 1024];
        loop {
            if let Some((_, headers, head_len)) = parse_head(&received) {
                let length = headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if received.len() >= head_len + length {
                    return Exchange {
                        bytes: received,
                        ending: Ending::Complete,
                    };
                }
            }
            match self.stream.read(&mut buffer).await {
                Ok(0) => {
                    return Exchange {
                        bytes: received,
                        ending: Ending::Eof,
                    };
                }
                Ok(n) => received.extend_from_slice(&buffer[..n]),
                Err(e) => {
                    return Exchange {
                        bytes: received,
                        ending: Ending::Error(e.kind()),
                    };
                }
            }
        }
    }

    /// Sends a request and expects a complete answer.
    pub async fn send(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        let exchange = self.exchange(method, target, headers, body).await;
        assert_eq!(
            exchange.ending,
            Ending::Complete,
            "incomplete answer to {method} {target}: {}",
            String::from_utf8_lossy(&exchange.bytes)
        );
        let (status, headers, head_len) = exchange.head().expect("a response head");
        Response {
            status,
            headers,
            body: exchange.bytes[head_len..].to_vec(),
        }
    }
}

/// Sends one request on a new connection.
pub async fn send(
    address: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    Conn::open(address)
        .await
        .send(method, target, headers, body)
        .await
}

/// `GET target` with the bearer token.
pub async fn get(address: SocketAddr, target: &str, token: &str) -> Response {
    let auth = format!("Bearer {token}");
    send(address, "GET", target, &[("Authorization", &auth)], None).await
}

/// `GET target` with the bearer token, asking for pages of at most `size` referrals as OData
/// does (`Prefer: odata.maxpagesize={size}`).
pub async fn get_paged(address: SocketAddr, target: &str, token: &str, size: usize) -> Response {
    let auth = format!("Bearer {token}");
    let prefer = format!("odata.maxpagesize={size}");
    send(
        address,
        "GET",
        target,
        &[("Authorization", &auth), ("Prefer", &prefer)],
        None,
    )
    .await
}

fn parse_head(bytes: &[u8]) -> Option<Head> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let text = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut lines = text.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some((status, headers, end + 4))
}

/// The path and query of an absolute URL on `origin`.
pub fn target_of<'a>(url: &'a str, origin: &str) -> &'a str {
    url.strip_prefix(origin)
        .unwrap_or_else(|| panic!("{url} is not on {origin}"))
}
