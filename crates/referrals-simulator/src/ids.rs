//! The ids, eTags and tokens the simulator makes. Each part of the simulator (the store, the token
//! endpoint, the webhooks, the request ids) draws from its own generator, forked from the
//! builder's seed, so that what one part makes never shifts the values of another.

use std::sync::Mutex;

use referrals_fixtures::rng::SeededRng;

use super::locks::lock;

/// A seeded source of ids, shared by the connections of one part.
#[derive(Debug)]
pub(crate) struct Ids(Mutex<SeededRng>);

impl Ids {
    pub(crate) fn new(rng: SeededRng) -> Self {
        Self(Mutex::new(rng))
    }

    /// A fresh version-4 UUID.
    pub(crate) fn uuid(&self) -> String {
        lock(&self.0).uuid()
    }

    /// A fresh quoted entity tag.
    pub(crate) fn etag(&self) -> String {
        format!("\"{}\"", self.uuid())
    }

    /// A fresh opaque token: `prefix` and 32 hex digits.
    pub(crate) fn token(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.uuid().replace('-', ""))
    }

    /// Uniform in `0..n`, then any `u64`, drawn together.
    pub(crate) fn roll(&self, n: u64) -> (u64, u64) {
        let mut rng = lock(&self.0);
        (rng.below(n), rng.u64())
    }
}
