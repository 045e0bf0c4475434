//! Where in the document a decode failed.
//!
//! serde errors carry a line and column but no path. Rather than wrapping the deserializer (which
//! costs on every value), each object and list visitor records its key or index only when an
//! error passes through it, so the success path pays nothing. The trail lives in a thread-local
//! because serde's error type cannot carry it; [`crate::decode`] resets it before and reads it
//! after each decode.

use std::cell::RefCell;
use std::fmt::Write as _;

enum Segment {
    Key(String),
    Index(usize),
}

/// Bounds the trail when types are decoded directly with serde_json, outside [`crate::decode`],
/// so repeated failures there cannot grow it without limit.
const MAX_SEGMENTS: usize = 256;

thread_local! {
    static TRAIL: RefCell<Vec<Segment>> = const { RefCell::new(Vec::new()) };
}

fn push(segment: Segment) {
    TRAIL.with(|trail| {
        if let Ok(mut trail) = trail.try_borrow_mut() {
            if trail.len() < MAX_SEGMENTS {
                trail.push(segment);
            }
        }
    });
}

/// Records that `error` happened under object key `key`, and passes it on.
pub(crate) fn at_key<E>(key: &str, error: E) -> E {
    push(Segment::Key(key.to_owned()));
    error
}

/// Records that `error` happened at list index `index`, and passes it on.
pub(crate) fn at_index<E>(index: usize, error: E) -> E {
    push(Segment::Index(index));
    error
}

/// Forgets any trail left by an earlier decode on this thread.
pub(crate) fn reset() {
    TRAIL.with(|trail| {
        if let Ok(mut trail) = trail.try_borrow_mut() {
            trail.clear();
        }
    });
}

/// Takes the trail recorded since the last [`reset`], as a path like
/// `items[0].customerProfile.size` (empty for the document root).
pub(crate) fn take() -> String {
    let segments = TRAIL.with(|trail| {
        trail
            .try_borrow_mut()
            .map(|mut trail| std::mem::take(&mut *trail))
            .unwrap_or_default()
    });
    let mut path = String::new();
    // Segments were recorded innermost first, as the error unwound.
    for segment in segments.iter().rev() {
        match segment {
            Segment::Index(index) => {
                let _ = write!(path, "[{index}]");
            }
            Segment::Key(key) if is_plain(key) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Segment::Key(key) => {
                path.push('[');
                // A JSON string literal is an unambiguous way to write any key.
                path.push_str(&serde_json::Value::from(key.as_str()).to_string());
                path.push(']');
            }
        }
    }
    path
}

fn is_plain(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
