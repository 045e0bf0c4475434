//! Percent-encoding sets, chosen so that no value can change the structure of a URL.

use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC};

/// One path segment: everything but the RFC 3986 unreserved characters is encoded, so a `/`,
/// `?` or `#` in an id stays inside its segment.
pub(crate) const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One query parameter value. `&`, `=`, `+`, `#` and `%` are encoded; the characters OData
/// expressions are usually written with (`'`, `(`, `)`, `,`, `:`, `/`, `$`) stay readable.
pub(crate) const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b',')
    .remove(b':')
    .remove(b'@')
    .remove(b'/');

/// Characters that may not appear in a URI at all. Server-written links are re-encoded with this
/// set (existing `%XX` escapes and reserved characters are kept as written).
pub(crate) const NOT_IN_URI: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}')
    .add(b'#');

/// Checkpoint token fields: only ASCII letters, digits, `-` and `_` stay literal, so `.` can
/// separate fields and the token is safe to paste into a shell.
pub(crate) const TOKEN_FIELD: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_');

/// Encodes one path segment.
pub(crate) fn path_segment(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, PATH_SEGMENT).to_string()
}

/// Encodes one query value.
pub(crate) fn query_value(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, QUERY_VALUE).to_string()
}

/// Shortens untrusted text for a message or a log: at most `max` characters, control characters
/// shown escaped, so text chosen by a server or a sender cannot forge log lines or reach a
/// terminal as escape sequences.
///
/// ```
/// assert_eq!(referrals_query::snippet("ab\x1b[2Jcd", 10), "ab\\u{1b}[2Jcd");
/// assert_eq!(referrals_query::snippet("abcdef", 3), "abc…");
/// ```
pub fn snippet(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (count, ch) in text.chars().enumerate() {
        if count == max {
            out.push('…');
            break;
        }
        if ch.is_control() {
            out.extend(ch.escape_default());
        } else {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segment_keeps_separators_inside() {
        assert_eq!(path_segment("a/b?c#d e\r\n"), "a%2Fb%3Fc%23d%20e%0D%0A");
        assert_eq!(path_segment("c5fbb3b6-be74_x.y~z"), "c5fbb3b6-be74_x.y~z");
    }

    #[test]
    fn query_value_encodes_delimiters() {
        assert_eq!(
            query_value("status eq 'New' & x=1+2#%"),
            "status%20eq%20'New'%20%26%20x%3D1%2B2%23%25"
        );
    }

    #[test]
    fn snippet_truncates_and_escapes() {
        assert_eq!(snippet("ab\ncd", 10), "ab\\ncd");
        assert_eq!(snippet("abcdef", 3), "abc…");
    }
}
