//! Opaque continuation tokens: where the next page starts, for which query, signed so that a
//! token the simulator never issued is refused.
//!
//! Like the real service's, the tokens are long base64 blobs that may contain `+`, `/` and `=`,
//! so clients must carry them verbatim in a header and percent-encode them in a URL.

use super::rng::digest;

/// Which wire form issued a token; a token is only valid in the form that issued it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// The 2018 form: `MS-ContinuationToken` header, `links.next`.
    Classic,
    /// The OData form: `$skiptoken` in `@odata.nextLink`.
    OData,
}

/// The state a continuation token carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Continuation {
    pub(crate) form: Form,
    /// Position of the next page's first item in the query's result set.
    pub(crate) offset: usize,
    /// Zero-based number of the page this token asks for (the first page has none).
    pub(crate) page: usize,
    /// The page size of the listing, for requests that do not repeat it.
    pub(crate) page_size: usize,
    /// The canonical query (filters, order) the token belongs to.
    pub(crate) key: String,
}

const VERSION: u8 = 1;
const HEADER: usize = 1 + 1 + 8 + 8 + 2;
const MAC: usize = 8;

impl Continuation {
    /// The token text for this state, signed with `secret`.
    pub(crate) fn encode(&self, secret: u64) -> String {
        let mut payload = Vec::with_capacity(HEADER + self.key.len() + MAC);
        payload.push(VERSION);
        payload.push(match self.form {
            Form::Classic => b'c',
            Form::OData => b'o',
        });
        payload.extend_from_slice(&(self.offset as u64).to_le_bytes());
        payload.extend_from_slice(&(self.page as u64).to_le_bytes());
        payload.extend_from_slice(
            &u16::try_from(self.page_size)
                .unwrap_or(u16::MAX)
                .to_le_bytes(),
        );
        payload.extend_from_slice(self.key.as_bytes());
        let mac = digest(secret, &payload);
        payload.extend_from_slice(&mac.to_le_bytes());
        base64_encode(&payload)
    }

    /// The state in `token`, or `None` when the simulator (with this `secret`) did not issue it.
    pub(crate) fn decode(token: &str, secret: u64) -> Option<Self> {
        let bytes = base64_decode(token.trim())?;
        if bytes.len() < HEADER + MAC {
            return None;
        }
        let (payload, mac) = bytes.split_at(bytes.len() - MAC);
        if digest(secret, payload).to_le_bytes() != mac {
            return None;
        }
        if payload[0] != VERSION {
            return None;
        }
        let form = match payload[1] {
            b'c' => Form::Classic,
            b'o' => Form::OData,
            _ => return None,
        };
        let offset = u64::from_le_bytes(payload[2..10].try_into().ok()?);
        let page = u64::from_le_bytes(payload[10..18].try_into().ok()?);
        let page_size = u16::from_le_bytes(payload[18..20].try_into().ok()?);
        let key = String::from_utf8(payload[HEADER..].to_vec()).ok()?;
        Some(Self {
            form,
            offset: usize::try_from(offset).ok()?,
            page: usize::try_from(page).ok()?,
            page_size: usize::from(page_size),
            key,
        })
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let last_chunk = bytes.len() / 4 - 1;
    for (index, chunk) in bytes.chunks(4).enumerate() {
        let padding = chunk.iter().rev().take_while(|&&b| b == b'=').count();
        if padding > 2 || (padding > 0 && index != last_chunk) {
            return None;
        }
        let mut n = 0u32;
        for &b in &chunk[..4 - padding] {
            let value = ALPHABET.iter().position(|&a| a == b)? as u32;
            n = (n << 6) | value;
        }
        n <<= 6 * padding as u32;
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&decoded[..3 - padding]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_tampering() {
        let state = Continuation {
            form: Form::OData,
            offset: 300,
            page: 3,
            page_size: 100,
            key: "$filter=status%20eq%20'New'".into(),
        };
        let token = state.encode(7);
        assert_eq!(Continuation::decode(&token, 7), Some(state.clone()));
        assert_eq!(Continuation::decode(&token, 8), None);
        let mut tampered = token.into_bytes();
        tampered[4] = if tampered[4] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            Continuation::decode(&String::from_utf8(tampered).unwrap(), 7),
            None
        );
        assert_eq!(Continuation::decode("not a token", 7), None);
        assert_eq!(Continuation::decode("", 7), None);
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
        assert_eq!(base64_decode("Zm8=").unwrap(), b"fo");
        assert_eq!(base64_decode("Zg=a"), None);
    }
}
