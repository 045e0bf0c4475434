//! Trust roots and the rustls client configuration (ring provider, ALPN h2 + http/1.1).

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::config::{BuildError, TrustRoots};

/// Collects the trust anchors for `roots` plus every certificate in `extra_pem`.
pub(crate) fn root_store(
    roots: TrustRoots,
    extra_pem: &[Vec<u8>],
) -> Result<RootCertStore, BuildError> {
    let mut store = RootCertStore::empty();
    if matches!(roots, TrustRoots::Webpki | TrustRoots::WebpkiAndNative) {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if matches!(roots, TrustRoots::Native | TrustRoots::WebpkiAndNative) {
        let loaded = rustls_native_certs::load_native_certs();
        for error in &loaded.errors {
            tracing::debug!(%error, "skipping part of the system certificate store");
        }
        let (added, ignored) = store.add_parsable_certificates(loaded.certs);
        tracing::debug!(added, ignored, "loaded system trust roots");
        if roots == TrustRoots::Native && added == 0 {
            return Err(BuildError::new(format!(
                "roots: the system certificate store has no usable certificate ({} load \
                 errors, {ignored} unusable); use TrustRoots::Webpki or add roots with \
                 add_root_certificates_pem",
                loaded.errors.len()
            )));
        }
    }
    for (index, pem) in extra_pem.iter().enumerate() {
        let mut found = 0usize;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| {
                BuildError::new(format!(
                    "add_root_certificates_pem (input #{}): not valid PEM: {e}",
                    index + 1
                ))
            })?;
            store.add(cert).map_err(|e| {
                BuildError::new(format!(
                    "add_root_certificates_pem (input #{}), certificate #{}: {e}",
                    index + 1,
                    found + 1
                ))
            })?;
            found += 1;
        }
        if found == 0 {
            return Err(BuildError::new(format!(
                "add_root_certificates_pem (input #{}): no `BEGIN CERTIFICATE` block found",
                index + 1
            )));
        }
    }
    Ok(store)
}

/// The compiled-in roots plus whatever the system store yields; cannot fail.
pub(crate) fn default_root_store() -> RootCertStore {
    match root_store(TrustRoots::WebpkiAndNative, &[]) {
        Ok(store) => store,
        // Unreachable in practice (the combined set tolerates a missing system store), but
        // the compiled-in set alone is a correct answer either way.
        Err(_) => {
            let mut store = RootCertStore::empty();
            store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            store
        }
    }
}

/// A client configuration on the `ring` provider. ALPN (`h2`, `http/1.1`) is added by
/// hyper-rustls's `enable_all_versions`, which insists on setting it itself.
///
/// The provider is named explicitly so that another crate enabling a second rustls provider
/// in the same build cannot make the choice ambiguous.
pub(crate) fn client_config(roots: RootCertStore) -> Result<rustls::ClientConfig, BuildError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| BuildError::new(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}
