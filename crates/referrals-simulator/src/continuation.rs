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
    /// Position of the next page's first item in the query's result set, when no item was
    /// served yet (a first page that was empty, or `$skip`).
    pub(crate) offset: usize,
    /// The last item served: the next page starts after it, wherever it now is.
    pub(crate) after: Option<Cursor>,
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

/// Where an item stands in a listing's order: the order's keys (`createdDateTime` or
/// `updatedDateTime` in nanoseconds, `None` when absent) and its insertion sequence, which
/// breaks ties as the listing's stable sort does. A listing continues after the cursor rather
/// than at an offset, so that items removed (or added) before it do not shift the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) keys: Vec<Option<i128>>,
    pub(crate) seq: u64,
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
/// The `end` of a listing without one.
const NO_END: u64 = u64::MAX;
const MAC: usize = 8;
/// More order keys than `$orderby` can name is not a token of ours.
const MAX_KEYS: usize = 8;

/// Reads a token's payload front to back.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take::<1>().map(|[b]| b)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take::<8>().map(u64::from_le_bytes)
    }
}

impl Continuation {
    /// The token text for this state, signed with `key`.
    pub(crate) fn encode(&self, key: &TokenKey) -> String {
        let mut payload = Vec::with_capacity(64 + self.key.len() + MAC);
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
        match &self.after {
            None => payload.push(0),
            Some(cursor) => {
                payload.push(1);
                payload.extend_from_slice(&cursor.seq.to_le_bytes());
                payload.push(u8::try_from(cursor.keys.len()).unwrap_or(u8::MAX));
                for key in &cursor.keys {
                    match key {
                        None => payload.push(0),
                        Some(nanos) => {
                            payload.push(1);
                            payload.extend_from_slice(&nanos.to_le_bytes());
                        }
                    }
                }
            }
        }
        payload.extend_from_slice(self.key.as_bytes());
        let mac = key.mac(&payload);
        payload.extend_from_slice(&mac);
        STANDARD.encode(&payload)
    }

    /// The state in `token`, or `None` when the simulator (with this `key`) did not issue it.
    pub(crate) fn decode(token: &str, key: &TokenKey) -> Option<Self> {
        let bytes = STANDARD.decode(token.trim()).ok()?;
        let (payload, mac) = bytes.split_at_checked(bytes.len().checked_sub(MAC)?)?;
        if key.mac(payload) != mac {
            return None;
        }
        let mut reader = Reader(payload);
        if reader.byte()? != VERSION {
            return None;
        }
        let form = match reader.byte()? {
            b'c' => Form::Classic,
            b'o' => Form::OData,
            _ => return None,
        };
        let offset = reader.u64()?;
        let page = reader.u64()?;
        let page_size = u16::from_le_bytes(reader.take::<2>()?);
        let end = match reader.u64()? {
            NO_END => None,
            end => Some(usize::try_from(end).ok()?),
        };
        let after = match reader.byte()? {
            0 => None,
            1 => {
                let seq = reader.u64()?;
                let count = usize::from(reader.byte()?);
                if count > MAX_KEYS {
                    return None;
                }
                let mut keys = Vec::with_capacity(count);
                for _ in 0..count {
                    keys.push(match reader.byte()? {
                        0 => None,
                        1 => Some(i128::from_le_bytes(reader.take::<16>()?)),
                        _ => return None,
                    });
                }
                Some(Cursor { keys, seq })
            }
            _ => return None,
        };
        let key = String::from_utf8(reader.0.to_vec()).ok()?;
        Some(Self {
            form,
            offset: usize::try_from(offset).ok()?,
            after,
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
            after: Some(Cursor {
                keys: vec![Some(-5), None, Some(i128::MAX)],
                seq: 77,
            }),
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
                    after: None,
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
