//! Chains already verified. Chaining a certificate to a trust anchor (signatures up the chain,
//! validity, key usage) costs several times the RSA check of the body, and Partner Center signs
//! every event with the same certificate; a verifier remembers which certificate lists it has
//! chained, and for when every certificate in them is valid.
//!
//! The verdict of a chain depends on its certificates, the trust anchors, and the time (each
//! certificate's validity); only the time changes between events of one verifier. A remembered
//! chain is accepted again only at a time when every certificate received is valid, and the
//! chain that passed is made of such certificates, so the full check would pass too. Outside
//! that span the full check runs and gives its own refusal (expired, not yet valid).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use rustls_pki_types::TrustAnchor;

use crate::certificate::SigningCertificate;
use crate::refusal::Refusal;

/// Chains remembered at most; beyond, the memory starts over (a real sender uses one or two).
const MAX_CHAINS: usize = 64;

/// The chains a verifier has verified, by [`SigningCertificate::chain_key`], with the span in
/// which all their certificates are valid.
#[derive(Default)]
pub(crate) struct ChainCache {
    verified: Mutex<HashMap<[u8; 32], (i64, i64)>>,
}

impl fmt::Debug for ChainCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chains = self
            .verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("ChainCache")
            .field("chains", &chains)
            .finish()
    }
}

impl ChainCache {
    /// [`SigningCertificate::check_chain`], skipped for a chain verified before against the
    /// same anchors when `now` is inside its certificates' validity.
    pub(crate) fn check(
        &self,
        certificate: &SigningCertificate,
        anchors: &[TrustAnchor<'_>],
        now: SystemTime,
    ) -> Result<(), Refusal> {
        let seconds = now
            .duration_since(UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok());
        let key = certificate.chain_key();
        if let Some(seconds) = seconds {
            let verified = self.lock().get(key).copied();
            if let Some((from, until)) = verified {
                if from <= seconds && seconds <= until {
                    return Ok(());
                }
            }
        }
        certificate.check_chain(anchors, now)?;
        if let Some(span) = certificate.validity() {
            let mut verified = self.lock();
            if verified.len() >= MAX_CHAINS && !verified.contains_key(key) {
                verified.clear();
            }
            verified.insert(*key, span);
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], (i64, i64)>> {
        self.verified.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
