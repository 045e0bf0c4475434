//! `application/x-www-form-urlencoded` text, as query strings and token request bodies carry it.

use percent_encoding::percent_decode_str;

/// One decoded `name=value` pair and its text as sent.
#[derive(Debug, Clone)]
pub(crate) struct Pair<'a> {
    pub(crate) name: String,
    pub(crate) value: String,
    pub(crate) raw: &'a str,
}

/// The pairs of `text` in order (`+` is a space, `%XX` escapes must form UTF-8); else the first
/// piece that does not decode.
pub(crate) fn pairs(text: &str) -> Result<Vec<Pair<'_>>, &str> {
    let decode = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|v| v.into_owned())
    };
    text.split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            match (decode(name), decode(value)) {
                (Ok(name), Ok(value)) => Ok(Pair {
                    name,
                    value,
                    raw: piece,
                }),
                _ => Err(piece),
            }
        })
        .collect()
}
