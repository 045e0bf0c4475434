//! Raw items ([`Pager::with_raw_items`](crate::Pager::with_raw_items)): a page's items kept as
//! received, each with the SHA-256 of its bytes, and decoded only as far as a listing reads
//! them (`id`, `createdDateTime`, `updatedDateTime`). A mirror that already holds a referral
//! tells it unchanged from the digest alone, and decodes in full only the referrals that
//! changed: the typed decode of every referral is most of what a listing costs on a fast link.

use referrals_model::{DecodeError, Referral, ReferralCollection, Timestamp, WireForm};
use serde_json::value::RawValue;

use crate::undecodable::{ReceivedPage, UndecodableItem, decode_item};

/// How much of each item a listing with raw items ([`Page::raw`](crate::Page::raw)) decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RawItems {
    /// Only what a listing reads: [`Page::items`](crate::Page::items) are *light* referrals,
    /// with only `id`, `createdDateTime` and `updatedDateTime` set; decode one in full with
    /// [`RawItem::decode`]. For a caller that needs only some items whole (a mirror that
    /// skips the referrals whose digest it holds).
    Light,
    /// The whole referral, as without raw items (and undecodable items in
    /// [`Page::undecodable`](crate::Page::undecodable) alike): for a caller that needs every
    /// item whole and also its bytes or digest as received. Costs a pass over each item more
    /// than a listing without raw items.
    Whole,
}

/// An item of a page as the server sent it ([`Page::raw`](crate::Page::raw)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RawItem {
    /// The item's JSON text, byte for byte as received.
    pub json: Box<str>,
    /// The SHA-256 digest of [`json`](Self::json)'s bytes.
    pub digest: [u8; 32],
    /// The item's 0-based position in its page as the server sent it (undecodable items
    /// included), as [`UndecodableItem::index`].
    pub index: usize,
    /// The wire form of the page it came in (which names the items' key in an error).
    pub form: WireForm,
}

impl RawItem {
    /// The item `json`, at `index` in its page of the form `form`.
    pub(crate) fn new(json: &str, index: usize, form: WireForm) -> RawItem {
        let mut digest = [0; 32];
        digest
            .copy_from_slice(ring::digest::digest(&ring::digest::SHA256, json.as_bytes()).as_ref());
        RawItem {
            json: json.into(),
            digest,
            index,
            form,
        }
    }

    /// The whole referral, or, when the item is not one (a field of another type than the API
    /// documents), the item as an [`UndecodableItem`] of page `page` (as numbered where it is
    /// reported): exactly what a listing without raw items would have put in
    /// [`Page::undecodable`](crate::Page::undecodable).
    pub fn decode(&self, page: u64) -> Result<Referral, Box<UndecodableItem>> {
        decode_item(&self.json, page, self.index, self.form)
    }
}

/// What a listing reads of a raw item. Unknown fields are skipped without being decoded.
#[derive(serde::Deserialize)]
struct Light {
    id: Option<String>,
    #[serde(rename = "createdDateTime")]
    created_date_time: Option<Timestamp>,
    #[serde(rename = "updatedDateTime")]
    updated_date_time: Option<Timestamp>,
}

/// The referral of `json` with only `id`, `createdDateTime` and `updatedDateTime` set, or
/// `None` when those do not decode (the whole item is then decoded, for its error).
fn light(json: &str) -> Option<Referral> {
    let Light {
        id,
        created_date_time,
        updated_date_time,
    } = serde_json::from_str(json).ok()?;
    Some(Referral {
        id,
        created_date_time,
        updated_date_time,
        ..Referral::default()
    })
}

/// Decodes `body`, the page numbered `page`, with raw items: each item kept as received
/// ([`Page::raw`](crate::Page::raw)) and decoded as `decode` says. An item decoded light whose
/// light fields do not decode is decoded whole; undecodable, it is an [`UndecodableItem`] as
/// without raw items (and, if it decodes after all, a whole referral). A page whose envelope
/// does not decode fails with the error of decoding it whole, as without raw items.
pub(crate) fn raw_page(
    body: &[u8],
    page: u64,
    decode: RawItems,
) -> Result<ReceivedPage, DecodeError> {
    let envelope = match referrals_model::decode::<ReferralCollection<&RawValue>>(body) {
        Ok(envelope) => envelope,
        Err(error) => {
            return Err(match referrals_model::decode::<ReferralCollection>(body) {
                Err(whole) => whole,
                Ok(_) => error,
            });
        }
    };
    let form = envelope.form;
    let count = envelope.count();
    let continuation = envelope.continuation();
    let received = envelope.into_items();
    let len = received.len();
    let mut items = Vec::with_capacity(len);
    let mut raw = Vec::with_capacity(len);
    let mut undecodable = Vec::new();
    for (index, item) in received.into_iter().enumerate() {
        let json = item.get();
        let light = match decode {
            RawItems::Light => light(json),
            RawItems::Whole => None,
        };
        let referral = match light {
            Some(referral) => referral,
            None => match decode_item(json, page, index, form) {
                Ok(referral) => referral,
                Err(item) => {
                    undecodable.push(*item);
                    continue;
                }
            },
        };
        items.push(referral);
        raw.push(RawItem::new(json, index, form));
    }
    Ok(ReceivedPage {
        count,
        continuation,
        items,
        undecodable,
        raw,
        len,
        form,
    })
}

/// Keeps the `items` for which `keep` (given each one's rank among `items`) is true, and the
/// same of `raw`, their texts in raw mode (empty otherwise): the one way a page's items are
/// cut, so that the two never disagree.
pub(crate) fn retain(
    items: &mut Vec<Referral>,
    raw: &mut Vec<RawItem>,
    mut keep: impl FnMut(usize, &Referral) -> bool,
) {
    let mut kept = Vec::with_capacity(items.len());
    let mut rank = 0;
    items.retain(|item| {
        let yes = keep(rank, item);
        rank += 1;
        kept.push(yes);
        yes
    });
    let mut kept = kept.into_iter();
    raw.retain(|_| kept.next().unwrap_or(false));
}

/// Keeps the first `len` of `items` and of `raw` ([`retain`]).
pub(crate) fn truncate(items: &mut Vec<Referral>, raw: &mut Vec<RawItem>, len: usize) {
    items.truncate(len);
    raw.truncate(len);
}

/// Keeps the decoded `items` (and their `raw` texts) whose positions in the page, where the
/// `undecodable` ones (sorted by index) take theirs, fall in `window`.
pub(crate) fn keep_positions(
    items: &mut Vec<Referral>,
    raw: &mut Vec<RawItem>,
    undecodable: &[UndecodableItem],
    window: std::ops::Range<usize>,
) {
    let mut bad = undecodable.iter().map(|item| item.index).peekable();
    let mut position = 0;
    retain(items, raw, |_, _| {
        while bad.next_if_eq(&position).is_some() {
            position += 1;
        }
        let keep = window.contains(&position);
        position += 1;
        keep
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha256(text: &str) -> [u8; 32] {
        let mut digest = [0; 32];
        digest
            .copy_from_slice(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref());
        digest
    }

    #[test]
    fn items_are_light_and_kept_byte_for_byte_with_their_digests() {
        let first = r#"{"id": "r1", "status": "New", "createdDateTime": "2026-01-01T00:00:00Z",
            "updatedDateTime": "2026-01-02T00:00:00.1234567Z", "x-new": [1, 2.50]}"#;
        let bad = r#"{"id": "r2", "createdDateTime": 7}"#;
        let third = r#"{"id":"r3","createdDateTime":"2026-01-03T00:00:00Z"}"#;
        let body = format!(r#"{{"value": [{first}, {bad},{third}], "@odata.count": 3}}"#);
        let page = raw_page(body.as_bytes(), 4, RawItems::Light).unwrap();
        let whole_items = raw_page(body.as_bytes(), 4, RawItems::Whole).unwrap();
        assert_eq!(whole_items.raw, page.raw);
        assert_eq!(whole_items.undecodable, page.undecodable);
        assert_eq!(
            (page.len, page.count, page.form),
            (3, Some(3), WireForm::OData)
        );
        let ids: Vec<_> = page.items.iter().map(|r| r.id.as_deref()).collect();
        assert_eq!(ids, [Some("r1"), Some("r3")]);
        // Light: only the three fields a listing reads.
        assert_eq!(page.items[0].status, None);
        assert!(page.items[0].extra.is_empty());
        assert_eq!(
            page.items[0]
                .updated_date_time
                .as_ref()
                .map(Timestamp::as_str),
            Some("2026-01-02T00:00:00.1234567Z")
        );
        let raw: Vec<_> = page
            .raw
            .iter()
            .map(|item| (&*item.json, item.digest, item.index))
            .collect();
        assert_eq!(raw, [(first, sha256(first), 0), (third, sha256(third), 2)]);
        // The mistyped item is undecodable exactly as without raw items.
        let whole = referrals_model::decode::<ReferralCollection>(body.as_bytes()).unwrap_err();
        let split = crate::undecodable::split_page(body.as_bytes(), 4, whole).unwrap();
        assert_eq!(page.undecodable, split.undecodable);
        // Decoded in full, a raw item is the referral a page decoded whole holds.
        assert_eq!(page.raw[0].decode(4).unwrap(), split.items[0]);
        assert_eq!(whole_items.items, split.items);
        let bad_item = RawItem::new(bad, 1, page.form).decode(4).unwrap_err();
        assert_eq!(*bad_item, split.undecodable[0]);
    }

    #[test]
    fn an_item_whose_light_fields_are_mistyped_is_undecodable_with_the_whole_decode_error() {
        // The whole decode meets `status` first; the light one would have complained of `id`.
        let body = r#"{"items": [{"status": 7, "id": 12}, 5, {"id": "ok"}]}"#;
        let page = raw_page(body.as_bytes(), 1, RawItems::Light).unwrap();
        let whole = referrals_model::decode::<ReferralCollection>(body.as_bytes()).unwrap_err();
        let split = crate::undecodable::split_page(body.as_bytes(), 1, whole).unwrap();
        assert_eq!(page.undecodable, split.undecodable);
        assert_eq!(page.raw.len(), 1);
        assert_eq!(page.raw[0].index, 2);
    }

    #[test]
    fn a_page_whose_envelope_fails_fails_as_without_raw_items() {
        for body in [
            r#"[{"id": "a"}]"#,
            r#"{"items": [{"id": "a"}], "@odata.nextLink": 5}"#,
        ] {
            let whole = referrals_model::decode::<ReferralCollection>(body.as_bytes()).unwrap_err();
            assert_eq!(
                raw_page(body.as_bytes(), 1, RawItems::Light).unwrap_err(),
                whole,
                "{body}"
            );
        }
    }

    #[test]
    fn items_and_raw_are_cut_alike() {
        let mut items: Vec<Referral> = (0..5)
            .map(|i| Referral {
                id: Some(format!("r{i}")),
                ..Referral::default()
            })
            .collect();
        let mut raw: Vec<RawItem> = (0..5)
            .map(|i| RawItem::new(&format!("{i}"), i, WireForm::OData))
            .collect();
        retain(&mut items, &mut raw, |rank, item| {
            rank != 1 && item.id.as_deref() != Some("r3")
        });
        truncate(&mut items, &mut raw, 2);
        let ids: Vec<_> = items.iter().map(|r| r.id.clone().unwrap()).collect();
        let texts: Vec<_> = raw.iter().map(|r| r.json.to_string()).collect();
        assert_eq!(
            (ids, texts),
            (
                vec!["r0".to_owned(), "r2".to_owned()],
                vec!["0".to_owned(), "2".to_owned()]
            )
        );
        // Outside raw mode, `raw` stays empty.
        let mut none = Vec::new();
        retain(&mut items, &mut none, |_, _| true);
        assert!(none.is_empty());
    }
}
