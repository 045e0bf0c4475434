//! Device codes (RFC 8628) handed out by `/devicecode` and the scripted answers to their polls
//! (pending, pending for ever, slow_down, approve, decline, expire).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use super::locks::lock;

/// The device code grant type.
pub(crate) const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// How the simulated user answers each successive poll of one device code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceStep {
    /// `authorization_pending`: not signed in yet.
    Pending,
    /// `authorization_pending` for this poll and every later one, even after the code expired:
    /// an authority that never ends the sign-in (a broken or hostile one), which the client
    /// must stop polling by itself.
    PendingForever,
    /// `slow_down`: the client must add 5 s to its interval.
    SlowDown,
    /// The user signed in: tokens (with a refresh token when `offline_access` was asked).
    Approve,
    /// `authorization_declined`: the user refused.
    Decline,
    /// `expired_token`: the code expired.
    Expire,
    /// No OAuth answer: a gateway's HTML page with HTTP 503, as when the authority is briefly
    /// unreachable behind its front door.
    Unavailable,
}

/// What a device code was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeviceGrant {
    /// The audience of the tokens it yields.
    pub(crate) audience: &'static str,
    /// Whether `offline_access` was asked (a refresh token comes with the tokens).
    pub(crate) offline: bool,
}

/// Why a poll gets no step of the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PollRefusal {
    Unknown,
    Redeemed,
    Expired,
}

#[derive(Debug)]
struct DeviceCode {
    grant: DeviceGrant,
    polls: usize,
    redeemed: bool,
    /// A [`DeviceStep::PendingForever`] was reached: every later poll is pending.
    stalled: bool,
    expires_at: Instant,
}

/// The device codes handed out, and the script their polls follow.
#[derive(Debug)]
pub(crate) struct DeviceCodes {
    script: Vec<DeviceStep>,
    codes: Mutex<HashMap<String, DeviceCode>>,
}

impl DeviceCodes {
    /// Codes whose successive polls follow `script` (its last step repeats).
    pub(crate) fn new(script: Vec<DeviceStep>) -> Self {
        Self {
            script,
            codes: Mutex::default(),
        }
    }

    pub(crate) fn insert(&self, code: String, grant: DeviceGrant, expires_at: Instant) {
        lock(&self.codes).insert(
            code,
            DeviceCode {
                grant,
                polls: 0,
                redeemed: false,
                stalled: false,
                expires_at,
            },
        );
    }

    /// The script's answer to this poll of `code`; an approval redeems the code.
    pub(crate) fn poll(&self, code: &str) -> Result<(DeviceStep, DeviceGrant), PollRefusal> {
        let mut codes = lock(&self.codes);
        let entry = codes.get_mut(code).ok_or(PollRefusal::Unknown)?;
        if entry.redeemed {
            return Err(PollRefusal::Redeemed);
        }
        let step = if entry.stalled {
            DeviceStep::PendingForever
        } else {
            self.script
                .get(entry.polls)
                .or(self.script.last())
                .copied()
                .unwrap_or(DeviceStep::Approve)
        };
        if step != DeviceStep::PendingForever && Instant::now() >= entry.expires_at {
            return Err(PollRefusal::Expired);
        }
        entry.stalled = step == DeviceStep::PendingForever;
        entry.polls += 1;
        if step == DeviceStep::Approve {
            entry.redeemed = true;
        }
        Ok((step, entry.grant))
    }
}
