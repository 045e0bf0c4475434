//! The pure verifier: every refusal of the issue, in order, and what passes.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, Method};
use proptest::prelude::*;
use referrals_simulator::signing::{Signer, SignerKey, SignerSpec, SigningAuthority};
use referrals_webhooks::{
    CertUrlPrefix, DEFAULT_CERT_URL_PREFIX, DEFAULT_PATH, Delivery, EventKind, Policy, Refusal,
    SigningCertificate, TrustAnchors, Verifier,
};

const CERT_URL: &str =
    "https://3psostorageacct.blob.core.windows.net/cert/pcnotifications-dispatch.microsoft.com.cer";
const BODY: &[u8] = br#"{"EventName":"referral-updated","ResourceUri":"https://api.partnercenter.microsoft.com/engagements/v1/referrals/8f6ef3d4-0e1c-4b3e-9d5a-1b2c3d4e5f60","ResourceName":"referral","AuditUri":null,"ResourceChangeUtcDate":"2018-02-17T00:05:39.5485487+00:00"}"#;

struct Keys {
    authority: SigningAuthority,
    signer: Signer,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let authority = SigningAuthority::new("verifier test root").unwrap();
        let signer = authority.issue(&SignerSpec::default()).unwrap();
        Keys { authority, signer }
    })
}

fn verifier() -> Verifier {
    let mut policy =
        Policy::new(TrustAnchors::from_pem(keys().authority.ca_pem().as_bytes()).unwrap());
    policy
        .cert_url_prefixes
        .push(CertUrlPrefix::parse("http://127.0.0.1:9/certs/").unwrap());
    Verifier::new(policy)
}

fn headers(signature: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Signature {signature}")).unwrap(),
    );
    headers.insert(
        "x-ms-signature-algorithm",
        HeaderValue::from_static("rsa-sha256"),
    );
    headers.insert("x-ms-certificate-url", HeaderValue::from_static(CERT_URL));
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers
}

fn check(headers: &HeaderMap, body: &[u8], certificate: &[u8]) -> Result<EventKind, Refusal> {
    check_with(
        &verifier(),
        &Method::POST,
        DEFAULT_PATH,
        headers,
        body,
        certificate,
    )
}

fn check_with(
    verifier: &Verifier,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    certificate: &[u8],
) -> Result<EventKind, Refusal> {
    let delivery = Delivery {
        method,
        path,
        headers,
        body,
    };
    verifier
        .verify_delivery(&delivery, certificate, SystemTime::now())
        .map(|verified| verified.event.kind())
}

fn signed(body: &[u8]) -> HeaderMap {
    headers(&keys().signer.sign(body))
}

fn refused(result: Result<EventKind, Refusal>, code: &str, status: u16) {
    let refusal = result.expect_err("must be refused");
    assert_eq!(refusal.code(), code, "{refusal}");
    assert_eq!(refusal.status(), status, "{refusal}");
}

fn issue(spec: SignerSpec) -> Signer {
    keys().authority.issue(&spec).unwrap()
}

#[test]
fn a_signed_event_verifies_with_a_der_or_pem_certificate() {
    let signer = &keys().signer;
    assert_eq!(
        check(&signed(BODY), BODY, signer.certificate_der()),
        Ok(EventKind::Referral)
    );
    assert_eq!(
        check(&signed(BODY), BODY, signer.certificate_pem().as_bytes()),
        Ok(EventKind::Referral)
    );
}

#[test]
fn the_signature_may_come_in_x_ms_signature_and_the_body_in_camel_case() {
    let body = br#"{"eventName":"test-created","resourceUri":"https://api.partnercenter.microsoft.com/webhooks/v1/registration/validationEvents/c1"}"#;
    let mut headers = signed(body);
    let signature = headers.remove("authorization").unwrap();
    let value = signature
        .to_str()
        .unwrap()
        .trim_start_matches("Signature ")
        .to_owned();
    headers.insert("x-ms-signature", HeaderValue::from_str(&value).unwrap());
    assert_eq!(
        check(&headers, body, keys().signer.certificate_der()),
        Ok(EventKind::Test)
    );
}

#[test]
fn another_method_or_path_is_refused_first() {
    let der = keys().signer.certificate_der();
    refused(
        check_with(
            &verifier(),
            &Method::GET,
            DEFAULT_PATH,
            &HeaderMap::new(),
            BODY,
            der,
        ),
        "method-not-allowed",
        405,
    );
    refused(
        check_with(
            &verifier(),
            &Method::POST,
            "/other",
            &HeaderMap::new(),
            BODY,
            der,
        ),
        "wrong-path",
        404,
    );
}

#[test]
fn an_oversized_body_is_413_before_any_header_is_read() {
    let body = vec![b' '; 1024 * 1024 + 1];
    refused(check(&HeaderMap::new(), &body, b""), "body-too-large", 413);
    assert!(verifier().check_length(1024 * 1024).is_ok());
}

#[test]
fn missing_headers_are_400_and_another_algorithm_401() {
    let der = keys().signer.certificate_der();
    for (header, code) in [
        ("authorization", "missing-signature"),
        ("x-ms-signature-algorithm", "missing-algorithm"),
        ("x-ms-certificate-url", "missing-certificate-url"),
    ] {
        let mut headers = signed(BODY);
        headers.remove(header);
        refused(check(&headers, BODY, der), code, 400);
    }
    let mut bearer = signed(BODY);
    bearer.insert("authorization", HeaderValue::from_static("Bearer abc"));
    refused(check(&bearer, BODY, der), "missing-signature", 400);

    for algorithm in ["rsa-sha1", "hmac-sha256", ""] {
        let mut headers = signed(BODY);
        headers.insert(
            "x-ms-signature-algorithm",
            HeaderValue::from_str(algorithm).unwrap(),
        );
        refused(check(&headers, BODY, der), "unsupported-algorithm", 401);
    }
    let mut twice = signed(BODY);
    twice.append("x-ms-certificate-url", HeaderValue::from_static(CERT_URL));
    refused(check(&twice, BODY, der), "malformed-header", 400);
}

#[test]
fn certificate_urls_off_the_allow_list_are_refused_before_any_fetch() {
    for url in [
        "http://3psostorageacct.blob.core.windows.net/cert/pcnotifications-dispatch.microsoft.com.cer",
        "https://evil.example/cert/pcnotifications-dispatch.microsoft.com.cer",
        "http://169.254.169.254/latest/meta-data/",
        "https://3psostorageacct.blob.core.windows.net/cert/../x.cer",
    ] {
        let mut headers = signed(BODY);
        headers.insert("x-ms-certificate-url", HeaderValue::from_str(url).unwrap());
        // Empty certificate bytes: had the URL been allowed, reading them would fail instead.
        refused(
            check(&headers, BODY, b""),
            "certificate-url-not-allowed",
            401,
        );
    }
    assert!(DEFAULT_CERT_URL_PREFIX.starts_with("https://"));
}

#[test]
fn a_forged_signature_or_tampered_body_is_401() {
    let der = keys().signer.certificate_der();
    let forger = issue(SignerSpec {
        key: SignerKey::Other,
        ..SignerSpec::default()
    });
    refused(
        check(&headers(&forger.sign(BODY)), BODY, der),
        "bad-signature",
        401,
    );

    let tampered = String::from_utf8(BODY.to_vec())
        .unwrap()
        .replace("updated", "created");
    refused(
        check(&signed(BODY), tampered.as_bytes(), der),
        "bad-signature",
        401,
    );

    refused(
        check(&headers("not base64!"), BODY, der),
        "malformed-signature",
        401,
    );
    refused(check(&headers("AAAA"), BODY, der), "bad-signature", 401);
}

#[test]
fn a_certificate_from_an_untrusted_root_is_401() {
    let stranger = SigningAuthority::new("another root").unwrap();
    let signer = stranger.issue(&SignerSpec::default()).unwrap();
    refused(
        check(&headers(&signer.sign(BODY)), BODY, signer.certificate_der()),
        "untrusted-certificate",
        401,
    );
    // The trusted root itself is not a signing certificate.
    refused(
        check(&signed(BODY), BODY, keys().authority.ca_pem().as_bytes()),
        "untrusted-certificate",
        401,
    );
}

#[test]
fn an_expired_or_not_yet_valid_certificate_is_401() {
    let now = SystemTime::now();
    let day = Duration::from_secs(86_400);
    let expired = issue(SignerSpec {
        not_before: now - 30 * day,
        not_after: now - day,
        ..SignerSpec::default()
    });
    refused(
        check(
            &headers(&expired.sign(BODY)),
            BODY,
            expired.certificate_der(),
        ),
        "expired-certificate",
        401,
    );
    let early = issue(SignerSpec {
        not_before: now + day,
        not_after: now + 30 * day,
        ..SignerSpec::default()
    });
    refused(
        check(&headers(&early.sign(BODY)), BODY, early.certificate_der()),
        "certificate-not-yet-valid",
        401,
    );
}

#[test]
fn another_organisation_or_none_is_401() {
    for organisation in [
        Some("Contoso Ltd"),
        Some("Microsoft Corporation Evil"),
        None,
    ] {
        let signer = issue(SignerSpec {
            organisation: organisation.map(str::to_owned),
            ..SignerSpec::default()
        });
        refused(
            check(&headers(&signer.sign(BODY)), BODY, signer.certificate_der()),
            "wrong-organisation",
            401,
        );
    }
}

#[test]
fn unreadable_certificates_are_401() {
    for bytes in [
        &b""[..],
        b"garbage",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ] {
        refused(
            check(&signed(BODY), BODY, bytes),
            "certificate-unreadable",
            401,
        );
    }
}

#[test]
fn a_signed_body_that_is_not_an_event_is_400() {
    for body in [
        &b"[1,2]"[..],
        br#"{"EventName":"referral-created"}"#,
        b"\xff\xfe",
    ] {
        refused(
            check(&signed(body), body, keys().signer.certificate_der()),
            "not-an-event",
            400,
        );
    }
}

#[test]
fn checks_run_in_the_documented_order() {
    let der = keys().signer.certificate_der();
    // A wrong algorithm is reported before a disallowed certificate URL.
    let mut headers = signed(BODY);
    headers.insert(
        "x-ms-signature-algorithm",
        HeaderValue::from_static("rsa-sha1"),
    );
    headers.insert(
        "x-ms-certificate-url",
        HeaderValue::from_static("https://evil.example/x.cer"),
    );
    refused(check(&headers, BODY, der), "unsupported-algorithm", 401);
    // A disallowed URL before a bad signature.
    let mut headers = signed(b"other");
    headers.insert(
        "x-ms-certificate-url",
        HeaderValue::from_static("https://evil.example/x.cer"),
    );
    refused(
        check(&headers, BODY, der),
        "certificate-url-not-allowed",
        401,
    );
    // An untrusted chain before the organisation and the signature.
    let stranger = SigningAuthority::new("another root").unwrap();
    let wrong = stranger
        .issue(&SignerSpec {
            organisation: Some("Contoso".to_owned()),
            ..SignerSpec::default()
        })
        .unwrap();
    refused(
        check(&signed(b"x"), BODY, wrong.certificate_der()),
        "untrusted-certificate",
        401,
    );
    // The signature before the body's shape.
    refused(check(&signed(b"x"), b"not json", der), "bad-signature", 401);
    // The size comes before the headers.
    refused(
        check(&HeaderMap::new(), &vec![0; 2 * 1024 * 1024], der),
        "body-too-large",
        413,
    );
}

#[test]
fn refusals_and_certificates_never_print_secrets() {
    let signature = keys().signer.sign(BODY);
    let refusal = check(
        &headers(&signature),
        b"tampered",
        keys().signer.certificate_der(),
    )
    .unwrap_err();
    assert!(!refusal.to_string().contains(&signature));
    assert!(!format!("{refusal:?}").contains(&signature));
    let certificate = SigningCertificate::parse(keys().signer.certificate_der()).unwrap();
    assert_eq!(certificate.organisations(), ["Microsoft Corporation"]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_single_byte_change_to_body_or_signature_is_refused(
        in_body in any::<bool>(),
        index in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let signer = &keys().signer;
        let mut body = BODY.to_vec();
        let mut signature = signer.sign_raw(BODY);
        if in_body {
            let i = index.index(body.len());
            body[i] ^= xor;
        } else {
            let i = index.index(signature.len());
            signature[i] ^= xor;
        }
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(&signature);
        let result = check(&headers(&encoded), &body, signer.certificate_der());
        let refusal = result.expect_err("a changed byte must be refused");
        prop_assert_eq!(refusal.code(), "bad-signature");
        prop_assert_eq!(refusal.status(), 401);
    }
}

/// A verifier remembers the chains it verified, but only for the time their certificates are
/// valid, and only for its own trust anchors: the same certificate is refused once it expired
/// (or before it is valid), and by a verifier that does not trust its root.
#[test]
fn a_remembered_chain_is_still_refused_outside_its_validity_or_by_other_anchors() {
    let now = SystemTime::now();
    let day = Duration::from_secs(86_400);
    let signer = issue(SignerSpec {
        not_before: now - day,
        not_after: now + day,
        ..SignerSpec::default()
    });
    let headers = headers(&signer.sign(BODY));
    let verifier = verifier();
    let delivery = Delivery {
        method: &Method::POST,
        path: DEFAULT_PATH,
        headers: &headers,
        body: BODY,
    };
    let preflight = verifier.preflight(&delivery).unwrap();
    let certificate = SigningCertificate::parse(signer.certificate_der()).unwrap();
    let at = |time| {
        verifier
            .verify(&preflight, &certificate, time)
            .map(|v| v.event.kind())
    };
    assert_eq!(at(now), Ok(EventKind::Referral));
    assert_eq!(at(now + day / 2), Ok(EventKind::Referral), "remembered");
    refused(at(now + 2 * day), "expired-certificate", 401);
    refused(at(now - 2 * day), "certificate-not-yet-valid", 401);
    // Clones share what was verified; the chain is still good inside its span.
    assert_eq!(
        verifier
            .clone()
            .verify(&preflight, &certificate, now)
            .map(|v| v.event.kind()),
        Ok(EventKind::Referral)
    );

    // A verifier with other anchors checks the chain itself, and refuses it.
    let other_root = SigningAuthority::new("another root").unwrap();
    let mut policy = Policy::new(TrustAnchors::from_pem(other_root.ca_pem().as_bytes()).unwrap());
    policy
        .cert_url_prefixes
        .push(CertUrlPrefix::parse("http://127.0.0.1:9/certs/").unwrap());
    let other = Verifier::new(policy);
    refused(
        other
            .verify(&preflight, &certificate, now)
            .map(|v| v.event.kind()),
        "untrusted-certificate",
        401,
    );

    // A different certificate list (an intermediate added) is a chain of its own.
    let mut with_root = signer.certificate_pem().to_owned();
    with_root.push_str(keys().authority.ca_pem());
    let listed = SigningCertificate::parse(with_root.as_bytes()).unwrap();
    let far = now + 3 * day;
    refused(
        verifier
            .verify(&preflight, &listed, far)
            .map(|v| v.event.kind()),
        "expired-certificate",
        401,
    );
}
