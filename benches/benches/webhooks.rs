//! Webhook verification throughput with a cached certificate (events/s), against its floor:
//! the RSA signature check alone (ring) on the same body, in the same run:
//!
//! - `verify_cached_certificate`: one verifier for every event, as the listener has: its chain
//!   is checked at the first event and remembered;
//! - `verify_first_event`: a new verifier for each event, so the chain is checked every time
//!   (what every event cost before chains were remembered);
//! - `baseline_signature_only`: the RSA PKCS#1 SHA-256 check alone.

use std::time::SystemTime;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Method};
use referrals_simulator::signing::{SignerSpec, SigningAuthority};
use referrals_webhooks::{
    CertUrlPrefix, DEFAULT_PATH, Delivery, Policy, SigningCertificate, TrustAnchors, Verifier,
};

const BODY: &[u8] = br#"{"EventName":"referral-updated","ResourceUri":"https://api.partnercenter.microsoft.com/engagements/v1/referrals/8f6ef3d4-0e1c-4b3e-9d5a-1b2c3d4e5f60","ResourceName":"referral","AuditUri":null,"ResourceChangeUtcDate":"2018-02-17T00:05:39.5485487+00:00"}"#;
const CERT_URL: &str =
    "https://3psostorageacct.blob.core.windows.net/cert/pcnotifications-dispatch.microsoft.com.cer";

fn verification(c: &mut Criterion) {
    let authority = SigningAuthority::new("bench root").expect("a CA");
    let signer = authority.issue(&SignerSpec::default()).expect("a signer");
    let mut policy = Policy::new(
        TrustAnchors::from_pem(authority.ca_pem().as_bytes()).expect("the CA as an anchor"),
    );
    policy
        .cert_url_prefixes
        .push(CertUrlPrefix::parse("http://127.0.0.1/certs/").expect("a prefix"));
    let verifier = Verifier::new(policy.clone());
    let certificate = SigningCertificate::parse(signer.certificate_der()).expect("parses");
    let mut headers = HeaderMap::new();
    let signature = signer.sign(BODY);
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Signature {signature}")).expect("ascii"),
    );
    headers.insert(
        "x-ms-signature-algorithm",
        HeaderValue::from_static("rsa-sha256"),
    );
    headers.insert("x-ms-certificate-url", HeaderValue::from_static(CERT_URL));
    let raw_signature = signer.sign_raw(BODY);
    let now = SystemTime::now();

    // The delivery every event arrives as.
    let delivery = Delivery {
        method: &Method::POST,
        path: DEFAULT_PATH,
        headers: &headers,
        body: BODY,
    };

    let mut group = c.benchmark_group("webhook_verify");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify_cached_certificate", |b| {
        b.iter(|| {
            let preflight = verifier.preflight(&delivery).expect("headers pass");
            verifier
                .verify(&preflight, &certificate, now)
                .expect("verifies")
        })
    });
    group.bench_function("verify_first_event", |b| {
        b.iter_batched(
            || Verifier::new(policy.clone()),
            |fresh| {
                let preflight = fresh.preflight(&delivery).expect("headers pass");
                fresh
                    .verify(&preflight, &certificate, now)
                    .expect("verifies")
                    .event
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.bench_function("baseline_signature_only", |b| {
        b.iter(|| {
            certificate
                .check_signature(BODY, &raw_signature)
                .expect("verifies")
        })
    });
    group.bench_function("parse_certificate", |b| {
        b.iter(|| SigningCertificate::parse(signer.certificate_der()).expect("parses"))
    });
    group.finish();
}

criterion_group!(benches, verification);
criterion_main!(benches);
