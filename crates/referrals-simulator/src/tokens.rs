//! The tokens part of the simulator: the credentials its token endpoint accepts, the access
//! tokens it issued, refresh-token rotation, device codes and the ids of accepted client
//! assertions, with what they count. The OAuth2 exchanges themselves are in `oauth`, the bearer
//! check of API requests in `auth`.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use super::assertion::{self, RegisteredCertificate};
use super::device::{DeviceCodes, DeviceGrant, DeviceStep, PollRefusal};
use super::ids::Ids;
use super::locks::lock;

/// The credentials and lifetimes fixed when the simulator starts.
pub(crate) struct TokenSettings {
    /// The static bearer token the API accepts.
    pub(crate) token: String,
    pub(crate) tenant: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    /// Lifetime of issued access tokens.
    pub(crate) expires_in: Duration,
    /// Whether the referral endpoints accept app-only (client credentials) tokens.
    pub(crate) allow_app_only: bool,
    /// The signed-in user's `preferred_username`.
    pub(crate) username: String,
    pub(crate) device_interval: Duration,
    pub(crate) device_expires_in: Duration,
    /// The certificate whose key must sign client assertions.
    pub(crate) certificate: Option<RegisteredCertificate>,
}

/// An access token the token endpoint issued.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub(crate) expiry: Instant,
    pub(crate) app_only: bool,
    pub(crate) audience: String,
}

/// A refresh token: usable once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefreshState {
    Valid,
    Used,
}

/// The refresh tokens handed out, and the newest.
#[derive(Debug, Default)]
struct Rotation {
    states: HashMap<String, RefreshState>,
    latest: Option<String>,
}

/// Why a refresh token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefreshRefusal {
    /// It was exchanged before (rotated).
    Used,
    /// The simulator never issued it.
    Unknown,
}

/// The tokens part.
pub(crate) struct Tokens {
    settings: TokenSettings,
    /// `http://127.0.0.1:PORT`: the authority is `{origin}/auth`.
    origin: String,
    ids: Ids,
    issued: Mutex<HashMap<String, Issued>>,
    rotation: Mutex<Rotation>,
    device_codes: DeviceCodes,
    /// `jti`s of accepted client assertions (a replay is refused).
    assertion_ids: Mutex<HashSet<String>>,
    refresh_grants: AtomicU64,
    refresh_reuses: AtomicU64,
    device_polls: AtomicU64,
    assertions_refused: AtomicU64,
}

impl Tokens {
    /// Nothing issued yet; device code polls follow `device_script`.
    pub(crate) fn new(
        settings: TokenSettings,
        device_script: Vec<DeviceStep>,
        origin: String,
        ids: Ids,
    ) -> Self {
        Self {
            settings,
            origin,
            ids,
            issued: Mutex::default(),
            rotation: Mutex::default(),
            device_codes: DeviceCodes::new(device_script),
            assertion_ids: Mutex::default(),
            refresh_grants: AtomicU64::new(0),
            refresh_reuses: AtomicU64::new(0),
            device_polls: AtomicU64::new(0),
            assertions_refused: AtomicU64::new(0),
        }
    }

    pub(crate) fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// `{origin}/auth`.
    pub(crate) fn authority_url(&self) -> String {
        format!("{}/auth", self.origin)
    }

    /// `{authority}/{tenant}/oauth2/v2.0/{leaf}` (`token` or `devicecode`).
    pub(crate) fn endpoint_url(&self, leaf: &str) -> String {
        format!(
            "{}/{}/oauth2/v2.0/{leaf}",
            self.authority_url(),
            self.settings.tenant
        )
    }

    /// The access token `token`, if the token endpoint issued it (expired or not).
    pub(crate) fn issued(&self, token: &str) -> Option<Issued> {
        lock(&self.issued).get(token).cloned()
    }

    /// A new access token for `audience`, valid for the configured lifetime.
    pub(crate) fn issue(&self, audience: &str, app_only: bool) -> String {
        let token = self.ids.token("sim-");
        let now = Instant::now();
        // An absurdly long lifetime means "never expires" rather than an overflow.
        let expiry = now
            .checked_add(self.settings.expires_in)
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400));
        lock(&self.issued).insert(
            token.clone(),
            Issued {
                expiry,
                app_only,
                audience: audience.to_owned(),
            },
        );
        token
    }

    /// Forgets every issued access token.
    pub(crate) fn revoke_issued(&self) {
        lock(&self.issued).clear();
    }

    /// Makes every issued access token expire now.
    pub(crate) fn expire_issued(&self) {
        let now = Instant::now();
        for issued in lock(&self.issued).values_mut() {
            issued.expiry = now;
        }
    }

    /// A new, unused refresh token (as if a user had signed in).
    pub(crate) fn new_refresh_token(&self) -> String {
        let token = self.ids.token("simrt-");
        let mut rotation = lock(&self.rotation);
        rotation.states.insert(token.clone(), RefreshState::Valid);
        rotation.latest = Some(token.clone());
        token
    }

    /// The refresh token issued last.
    pub(crate) fn latest_refresh_token(&self) -> Option<String> {
        lock(&self.rotation).latest.clone()
    }

    /// Uses up `presented`, counting the grant, or says why it cannot be used (counting a reuse).
    pub(crate) fn redeem_refresh_token(&self, presented: &str) -> Result<(), RefreshRefusal> {
        let mut rotation = lock(&self.rotation);
        match rotation.states.get_mut(presented) {
            Some(state @ RefreshState::Valid) => {
                *state = RefreshState::Used;
                self.refresh_grants.fetch_add(1, Relaxed);
                Ok(())
            }
            Some(RefreshState::Used) => {
                self.refresh_reuses.fetch_add(1, Relaxed);
                Err(RefreshRefusal::Used)
            }
            None => Err(RefreshRefusal::Unknown),
        }
    }

    /// A new device code for `grant` and its user code.
    pub(crate) fn new_device_code(&self, grant: DeviceGrant) -> (String, String) {
        let device_code = self.ids.token("simdc-");
        let user_code = self.ids.token("")[..8].to_uppercase();
        let expires_at = Instant::now() + self.settings.device_expires_in;
        self.device_codes
            .insert(device_code.clone(), grant, expires_at);
        (device_code, user_code)
    }

    /// Counts a poll of `code` and answers it from the script.
    pub(crate) fn poll_device_code(
        &self,
        code: &str,
    ) -> Result<(DeviceStep, DeviceGrant), PollRefusal> {
        self.device_polls.fetch_add(1, Relaxed);
        self.device_codes.poll(code)
    }

    /// `Ok` when `jwt` is a fresh assertion signed by the registered certificate that was not
    /// presented before; else why not (counted).
    pub(crate) fn accept_assertion(&self, jwt: &str) -> Result<(), String> {
        let verified = assertion::verify(
            self.settings.certificate.as_ref(),
            jwt,
            &self.endpoint_url("token"),
            &self.settings.client_id,
        )
        .and_then(|jti| {
            if lock(&self.assertion_ids).insert(jti) {
                Ok(())
            } else {
                Err("the assertion's jti was already used".to_owned())
            }
        });
        if verified.is_err() {
            self.assertions_refused.fetch_add(1, Relaxed);
        }
        verified
    }

    pub(crate) fn refresh_grants(&self) -> u64 {
        self.refresh_grants.load(Relaxed)
    }

    pub(crate) fn refresh_reuses(&self) -> u64 {
        self.refresh_reuses.load(Relaxed)
    }

    pub(crate) fn device_polls(&self) -> u64 {
        self.device_polls.load(Relaxed)
    }

    pub(crate) fn assertions_refused(&self) -> u64 {
        self.assertions_refused.load(Relaxed)
    }
}
