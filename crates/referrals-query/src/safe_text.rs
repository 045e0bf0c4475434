//! Text made safe to show: control characters escaped, the passwords of URLs masked. Whole
//! texts, unlike [`snippet`], for messages that must be shown in full (a sign-in instruction).

use std::borrow::Cow;

use crate::encode::snippet;

/// What a masked value is replaced with, wherever one is masked.
pub const MASK: &str = "[redacted]";

/// `text` whole, with control characters escaped as [`snippet`] escapes them, so that text
/// chosen by a server (a sign-in message, a tool's output) cannot reach a terminal as escape
/// sequences or forge lines of a log.
///
/// ```
/// use referrals_query::printable;
///
/// assert_eq!(printable("Open https://x\x1b]8;;evil\x07 now"), "Open https://x\\u{1b}]8;;evil\\u{7} now");
/// assert!(matches!(printable("plain"), std::borrow::Cow::Borrowed("plain")));
/// ```
pub fn printable(text: &str) -> Cow<'_, str> {
    if text.chars().any(char::is_control) {
        Cow::Owned(snippet(text, usize::MAX))
    } else {
        Cow::Borrowed(text)
    }
}

/// The separators after a URL's scheme: as written, and as a JSON string escapes it.
const SCHEME_ENDS: [&str; 2] = ["://", ":\\/\\/"];

/// `text` with the password of every URL in it masked: `https://user:pass@host/` becomes
/// `https://user:[redacted]@host/`. Also in JSON-escaped text (`https:\/\/user:pass@host`).
///
/// ```
/// use referrals_query::mask_url_passwords;
///
/// assert_eq!(
///     mask_url_passwords("cannot use https://ada:hunter2@api.example/v1 (user info)"),
///     "cannot use https://ada:[redacted]@api.example/v1 (user info)"
/// );
/// assert_eq!(mask_url_passwords("https://ada@api.example"), "https://ada@api.example");
/// ```
pub fn mask_url_passwords(text: &str) -> Cow<'_, str> {
    let mut masked = String::new();
    let mut copied = 0;
    let mut from = 0;
    while let Some((at, separator)) = next_scheme_end(text, from) {
        let start = at + separator.len();
        let rest = text.get(start..).unwrap_or_default();
        let end = start
            + rest
                .find(|c: char| {
                    c.is_whitespace()
                        || matches!(c, '/' | '?' | '#' | '"' | '\'' | '<' | '>' | '\\')
                })
                .unwrap_or(rest.len());
        let authority = text.get(start..end).unwrap_or_default();
        // The last `@` ends the user info (a lenient reading: a password may hold an `@`).
        if let Some(user_end) = authority.rfind('@') {
            if let Some(colon) = authority.get(..user_end).and_then(|u| u.find(':')) {
                let password = start + colon + 1..start + user_end;
                if !password.is_empty() {
                    masked.push_str(text.get(copied..password.start).unwrap_or_default());
                    masked.push_str(MASK);
                    copied = password.end;
                }
            }
        }
        from = end;
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    masked.push_str(text.get(copied..).unwrap_or_default());
    Cow::Owned(masked)
}

/// The first scheme separator at or after `from`: where, and which.
fn next_scheme_end(text: &str, from: usize) -> Option<(usize, &'static str)> {
    let rest = text.get(from..)?;
    SCHEME_ENDS
        .iter()
        .filter_map(|separator| rest.find(separator).map(|at| (from + at, *separator)))
        .min_by_key(|(at, _)| *at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_every_control_character_and_keeps_the_length() {
        let long = "a".repeat(5000);
        assert_eq!(printable(&long), long, "never shortened");
        assert_eq!(printable("a\r\nb\u{9b}31m\x08"), "a\\r\\nb\\u{9b}31m\\u{8}");
        assert_eq!(printable("été ✓"), "été ✓");
    }

    #[test]
    fn url_passwords_are_masked_wherever_the_url_is() {
        for (text, shown) in [
            (
                "https://u:p@h.example:8443/x?y#z",
                "https://u:[redacted]@h.example:8443/x?y#z",
            ),
            ("http://:pw@127.0.0.1", "http://:[redacted]@127.0.0.1"),
            (
                "a https://u:p@ss@h b http://v:q@i",
                "a https://u:[redacted]@h b http://v:[redacted]@i",
            ),
            (
                r#"{"url":"https:\/\/u:secret@h\/v1"}"#,
                r#"{"url":"https:\/\/u:[redacted]@h\/v1"}"#,
            ),
            ("'https://u:p@h'", "'https://u:[redacted]@h'"),
        ] {
            assert_eq!(mask_url_passwords(text), shown, "{text}");
        }
        for unchanged in [
            "https://u@h/x",
            "https://u:@h",
            "https://h/path:with@colon",
            "no url: at all @ here",
            "https://",
            "",
        ] {
            assert!(
                matches!(mask_url_passwords(unchanged), Cow::Borrowed(_)),
                "{unchanged}"
            );
        }
    }
}
