//! Values that must never be printed, and the masking of every one the process holds in any
//! text it shows, whatever the text's origin (a server's error body, a tool's output).

use std::fmt;
use std::sync::Arc;

use referrals_query::MASK;

mod registry;
mod writer;

pub use registry::{MIN_MASKED_CHARS, mask_secrets};
pub use writer::MaskingWriter;

/// A secret string (a bearer token, a client secret): `Debug` and `Display` print
/// `[redacted]`, never the value.
///
/// While a secret of at least [`MIN_MASKED_CHARS`] characters is held (and for a while after
/// the last copy is dropped), [`mask_secrets`] masks its value in any text.
///
/// ```
/// use referrals::Secret;
///
/// let token = Secret::new("eyJ0eXAi...");
/// assert_eq!(format!("{token:?} {token}"), "Secret([redacted]) [redacted]");
/// assert_eq!(token.expose(), "eyJ0eXAi...");
/// assert_eq!(referrals::mask_secrets("echoed: eyJ0eXAi..."), "echoed: [redacted]");
/// ```
#[derive(Clone)]
pub struct Secret(Arc<Held>);

/// One secret value, known to the registry while it lives (clones share it).
struct Held {
    value: String,
    registered: bool,
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.registered {
            registry::release(&self.value);
        }
    }
}

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        let registered = registry::hold(&value);
        Secret(Arc::new(Held { value, registered }))
    }

    /// The value itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0.value
    }

    /// True when the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.value.is_empty()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({MASK})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}
