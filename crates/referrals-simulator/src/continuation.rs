//! Opaque continuation tokens: where the next page starts, for which query, signed so that a
//! token the simulator never issued is refused.
//!
//! Like the real service's, the tokens are long base64 blobs that may contain `+`, `/` and `=`,
//! so clients must carry them verbatim in a header and percent-encode them in a URL.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use referrals_fixtures::rng::SeededRng;
use ring::hmac;

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
    /// Where the listing ends in the result set (`$skip` + `$top` of its first request), when
    /// it asked for a total.
    pub(crate) end: Option<usize>,
    /// The canonical query (filters, order) the token belongs to.
    pub(crate) key: String,
}

/// The key that signs continuation tokens: HMAC-SHA256 cut to [`MAC`] bytes (the integrity of
/// the simulator's own tokens, not security).
pub(crate) struct TokenKey(hmac::Key);

impl TokenKey {
    /// A key drawn from `rng`, so that a seeded simulator issues the same tokens.
    pub(crate) fn new(rng: &mut SeededRng) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, &rng.bytes()))
    }

    fn mac(&self, payload: &[u8]) -> [u8; MAC] {
        let mut mac = [0; MAC];
        mac.copy_from_slice(&hmac::sign(&self.0, payload).as_ref()[..MAC]);
        mac
    }
}

const VERSION: u8 = 2;
const HEADER: usize = 1 + 1 + 8 + 8 + 2 + 8;
/// The `end` of a listing without one.
const NO_END: u64 = u64::MAX;
const MAC: usize = 8;

impl Continuation {
    /// The token text for this state, signed with `key`.
    pub(crate) fn encode(&self, key: &TokenKey) -> String {
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
        let end = self.end.map_or(NO_END, |end| end as u64);
        payload.extend_from_slice(&end.to_le_bytes());
        payload.extend_from_slice(self.key.as_bytes());
        let mac = key.mac(&payload);
        payload.extend_from_slice(&mac);
        STANDARD.encode(&payload)
    }

    /// The state in `token`, or `None` when the simulator (with this `key`) did not issue it.
    pub(crate) fn decode(token: &str, key: &TokenKey) -> Option<Self> {
        let bytes = STANDARD.decode(token.trim()).ok()?;
        if bytes.len() < HEADER + MAC {
            return None;
        }
        let (payload, mac) = bytes.split_at(bytes.len() - MAC);
        if key.mac(payload) != mac {
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
        let end = match u64::from_le_bytes(payload[20..28].try_into().ok()?) {
            NO_END => None,
            end => Some(usize::try_from(end).ok()?),
        };
        let key = String::from_utf8(payload[HEADER..].to_vec()).ok()?;
        Some(Self {
            form,
            offset: usize::try_from(offset).ok()?,
            page: usize::try_from(page).ok()?,
            page_size: usize::from(page_size),
            end,
            key,
        })
    }
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
            end: Some(350),
            key: "$filter=status%20eq%20'New'".into(),
        };
        let key = TokenKey::new(&mut SeededRng::new(7));
        let other = TokenKey::new(&mut SeededRng::new(8));
        let token = state.encode(&key);
        assert_eq!(Continuation::decode(&token, &key), Some(state.clone()));
        assert_eq!(Continuation::decode(&token, &other), None);
        let mut tampered = token.into_bytes();
        tampered[4] = if tampered[4] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            Continuation::decode(&String::from_utf8(tampered).unwrap(), &key),
            None
        );
        assert_eq!(Continuation::decode("not a token", &key), None);
        assert_eq!(Continuation::decode("", &key), None);
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        let key = TokenKey::new(&mut SeededRng::new(1));
        // A token with the characters of the standard alphabet that URLs must escape.
        let token = (0..)
            .map(|offset| {
                Continuation {
                    form: Form::Classic,
                    offset,
                    page: 1,
                    page_size: 20,
                    end: None,
                    key: String::new(),
                }
                .encode(&key)
            })
            .find(|token| token.contains(['+', '/']))
            .unwrap();
        assert_eq!(STANDARD.encode(STANDARD.decode(&token).unwrap()), token);
        assert!(Continuation::decode(&token, &key).is_some());
        let url_safe = token.replace('+', "-").replace('/', "_");
        assert_eq!(Continuation::decode(&url_safe, &key), None);
        assert_eq!(Continuation::decode("Zg=a", &key), None);
    }
}
