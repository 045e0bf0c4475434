//! The process-wide registry of the secret values held, and their masking in text.
//!
//! Every [`Secret`](super::Secret) of at least [`MIN_MASKED_CHARS`] characters registers its value
//! when created; the last copy's drop moves it to a short list of released values, which are still
//! masked for a while (an error is often printed after the credential that caused it is gone).
//! The registry's size is the secrets alive plus that list.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::ops::Range;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use percent_encoding::utf8_percent_encode;
use referrals_query::{MASK, mask_url_passwords};

use crate::auth::FORM_VALUE;

/// Secrets shorter than this many characters are not masked in text: a one-letter token would
/// mask that letter everywhere, and no credential is that short (tokens and client secrets are
/// tens to thousands of characters).
pub const MIN_MASKED_CHARS: usize = 8;

/// Released values still masked: enough for the credentials of a few clients.
const RELEASED_KEPT: usize = 32;

/// The shortest header of a JWT masked by its shape (`eyJ` and 7 more).
const MIN_JWT_HEADER: usize = 10;

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Mutex::default);

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Registers a secret value being created; false when it is too short to be masked.
pub(super) fn hold(value: &str) -> bool {
    let long_enough = value.chars().nth(MIN_MASKED_CHARS - 1).is_some();
    if long_enough {
        registry().hold(value);
    }
    long_enough
}

/// The last copy of a registered value was dropped.
pub(super) fn release(value: &str) {
    registry().release(value);
}

/// `text` with every secret this process holds masked (`[redacted]`), however the text came to
/// hold it: a server's error body or `error_description`, a tool's output, a log line.
///
/// Masked:
/// - the value of every [`Secret`](super::Secret) alive, and of the last ones dropped, of at
///   least [`MIN_MASKED_CHARS`] characters: as is, form-encoded (`%2B`, `%2b`) and JSON-escaped
///   (`\"`, `\/`), the ways a server echoes what it was sent;
/// - any JWT (`eyJ….….…`), held or not: access, id and refresh tokens and client assertions
///   have that shape;
/// - the password of any URL (`https://user:pass@host`).
///
/// Text without any of them is returned as it is, without a copy.
///
/// ```
/// use referrals::{Secret, mask_secrets};
///
/// let secret = Secret::new("s3cr3t+value/1");
/// assert_eq!(
///     mask_secrets(r#"invalid_client: 's3cr3t%2Bvalue%2F1', {"s":"s3cr3t+value\/1"}"#),
///     r#"invalid_client: '[redacted]', {"s":"[redacted]"}"#
/// );
/// assert_eq!(mask_secrets("nothing to hide"), "nothing to hide");
/// # drop(secret);
/// ```
pub fn mask_secrets(text: &str) -> Cow<'_, str> {
    let needles = registry().needles();
    let masked = mask_with(&needles, text);
    match masked {
        Cow::Borrowed(text) => mask_url_passwords(text),
        Cow::Owned(text) => {
            if let Cow::Owned(again) = mask_url_passwords(&text) {
                return Cow::Owned(again);
            }
            Cow::Owned(text)
        }
    }
}

/// The values held (with how many [`Held`](super::Held) of each) and the last ones released.
#[derive(Default)]
struct Registry {
    held: HashMap<String, usize>,
    released: VecDeque<String>,
    /// What the values look like in text; `None` after a change, built again when asked.
    needles: Option<Arc<Vec<String>>>,
}

impl Registry {
    fn hold(&mut self, value: &str) {
        if let Some(count) = self.held.get_mut(value) {
            *count += 1;
            return;
        }
        self.held.insert(value.to_owned(), 1);
        match self.released.iter().position(|v| v == value) {
            // Already masked: the set of values does not change.
            Some(at) => drop(self.released.remove(at)),
            None => self.needles = None,
        }
    }

    fn release(&mut self, value: &str) {
        let Some(count) = self.held.get_mut(value) else {
            return;
        };
        *count = count.saturating_sub(1);
        if *count > 0 {
            return;
        }
        let Some((value, _)) = self.held.remove_entry(value) else {
            return;
        };
        if self.released.len() >= RELEASED_KEPT {
            self.released.pop_front();
            self.needles = None;
        }
        self.released.push_back(value);
    }

    fn needles(&mut self) -> Arc<Vec<String>> {
        if let Some(needles) = &self.needles {
            return needles.clone();
        }
        let mut set = BTreeSet::new();
        for value in self.held.keys().chain(&self.released) {
            set.extend(echoed_forms(value));
        }
        let needles = Arc::new(set.into_iter().collect::<Vec<_>>());
        self.needles = Some(needles.clone());
        needles
    }
}

/// `value` as a server may echo it: as is, as sent in a form (percent-encoded, either case of
/// hex digits), inside a JSON string (with `/` escaped or not).
fn echoed_forms(value: &str) -> [String; 5] {
    let form = utf8_percent_encode(value, FORM_VALUE).to_string();
    let form_lower = lower_escapes(&form);
    let quoted = serde_json::Value::from(value).to_string();
    let json = quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or(&quoted)
        .to_owned();
    let json_slashes = json.replace('/', "\\/");
    [value.to_owned(), form, form_lower, json, json_slashes]
}

/// `%2B` → `%2b`.
fn lower_escapes(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut hex_left = 0;
    for ch in encoded.chars() {
        if hex_left > 0 {
            out.push(ch.to_ascii_lowercase());
            hex_left -= 1;
        } else {
            hex_left = if ch == '%' { 2 } else { 0 };
            out.push(ch);
        }
    }
    out
}

/// `text` with every occurrence of a needle, and every JWT, masked. Overlapping occurrences
/// are masked as one, so no part of either shows.
fn mask_with<'t>(needles: &[String], text: &'t str) -> Cow<'t, str> {
    let mut ranges: Vec<Range<usize>> = Vec::new();
    for needle in needles {
        ranges.extend(
            text.match_indices(needle.as_str())
                .map(|(at, found)| at..at + found.len()),
        );
    }
    jwt_ranges(text, &mut ranges);
    if ranges.is_empty() {
        return Cow::Borrowed(text);
    }
    ranges.sort_by_key(|range| range.start);
    let mut masked = String::with_capacity(text.len());
    let mut shown = 0;
    let mut started = false;
    for range in ranges {
        if started && range.start <= shown {
            // Overlapping or touching the mask before: one mask.
            shown = shown.max(range.end);
            continue;
        }
        masked.push_str(text.get(shown..range.start).unwrap_or_default());
        masked.push_str(MASK);
        shown = range.end;
        started = true;
    }
    masked.push_str(text.get(shown..).unwrap_or_default());
    Cow::Owned(masked)
}

/// Where JWTs are in `text`: `eyJ` (a base64url `{"`) starting a header, a payload, a signature
/// (possibly empty), separated by dots, not inside a longer word.
fn jwt_ranges(text: &str, ranges: &mut Vec<Range<usize>>) {
    let bytes = text.as_bytes();
    let is_base64url = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_';
    let run = |at: usize| {
        bytes.get(at..).map_or(0, |rest| {
            rest.iter().take_while(|b| is_base64url(b)).count()
        })
    };
    let mut from = 0;
    while let Some(found) = text.get(from..).and_then(|rest| rest.find("eyJ")) {
        let start = from + found;
        from = start + 3;
        if start > 0 && bytes.get(start - 1).is_some_and(is_base64url) {
            continue;
        }
        let header_end = start + run(start);
        if header_end - start < MIN_JWT_HEADER || bytes.get(header_end) != Some(&b'.') {
            continue;
        }
        let payload_end = header_end + 1 + run(header_end + 1);
        if payload_end == header_end + 1 || bytes.get(payload_end) != Some(&b'.') {
            continue;
        }
        let end = payload_end + 1 + run(payload_end + 1);
        ranges.push(start..end);
        from = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needles(values: &[&str]) -> Vec<String> {
        let mut registry = Registry::default();
        for value in values {
            registry.hold(value);
        }
        registry.needles().to_vec()
    }

    #[test]
    fn every_echoed_form_of_a_value_is_masked() {
        let needles = needles(&["Ab+/=~x.y_z-9", "s3cretvalue"]);
        for (text, shown) in [
            ("raw Ab+/=~x.y_z-9 end", "raw [redacted] end"),
            ("form Ab%2B%2F%3D~x.y_z-9&x", "form [redacted]&x"),
            ("lower Ab%2b%2f%3d~x.y_z-9", "lower [redacted]"),
            (r#"{"e":"Ab+\/=~x.y_z-9"}"#, r#"{"e":"[redacted]"}"#),
            ("s3cretvalues3cretvalue", "[redacted]"),
            ("s3cretvalue", "[redacted]"),
        ] {
            assert_eq!(mask_with(&needles, text), shown, "{text}");
        }
        assert!(matches!(
            mask_with(&needles, "s3cretvalu and Ab+/=~x"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn overlapping_secrets_are_masked_as_one() {
        let needles = needles(&["abcdefgh12", "gh12345678"]);
        assert_eq!(mask_with(&needles, "<abcdefgh12345678>"), "<[redacted]>");
    }

    #[test]
    fn jwts_are_masked_by_their_shape() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl";
        let unsigned = "eyJhbGciOiJub25lIn0.e30.";
        let text = format!("Bearer {jwt}, id {unsigned} ok");
        assert_eq!(mask_with(&[], &text), "Bearer [redacted], id [redacted] ok");
        for not_a_jwt in [
            "keyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln",
            "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0",
            "eyJhbG.eyJzdWIiOiJhIn0.sig",
            "eyJ",
        ] {
            assert!(
                matches!(mask_with(&[], not_a_jwt), Cow::Borrowed(_)),
                "{not_a_jwt}"
            );
        }
    }

    #[test]
    fn values_are_counted_and_the_last_released_kept_a_while() {
        let mut registry = Registry::default();
        registry.hold("first-secret");
        registry.hold("first-secret");
        registry.release("first-secret");
        assert!(registry.held.contains_key("first-secret"), "one copy left");
        registry.release("first-secret");
        assert!(registry.held.is_empty());
        assert!(
            registry.needles().contains(&"first-secret".to_owned()),
            "a released value is still masked"
        );
        for i in 0..RELEASED_KEPT {
            registry.hold(&format!("other-secret-{i}"));
            registry.release(&format!("other-secret-{i}"));
        }
        assert_eq!(registry.released.len(), RELEASED_KEPT, "bounded");
        assert!(
            !registry.needles().contains(&"first-secret".to_owned()),
            "the oldest released value is forgotten"
        );
        registry.hold("other-secret-5");
        assert_eq!(registry.released.len(), RELEASED_KEPT - 1);
        assert_eq!(registry.held.len(), 1);
    }

    #[test]
    fn short_values_are_not_registered() {
        assert!(!hold("1234567"));
        assert!(hold("12345678-a-long-enough-one"));
        release("12345678-a-long-enough-one");
    }
}
