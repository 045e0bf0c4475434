//! A page whose envelope decodes but some of whose items do not: the good items are kept, and
//! each bad one is kept as received ([`UndecodableItem`]), so that one mistyped referral does
//! not cost its whole page (or, in a mirror, every page after it).

use std::fmt;

use referrals_model::{Continuation, DecodeError, Referral, ReferralCollection, WireForm};
use serde_json::value::RawValue;

use crate::encode;

/// The longest id kept in a message, in characters.
const ID_CHARS: usize = 100;

/// An item of a page that is JSON but not a referral (a field of another type than the API
/// documents, an item that is not an object), kept exactly as received.
///
/// Its [`Display`](fmt::Display) names the page, the item and its id, e.g. `page 2, items[3]
/// (id "61c6…"): unexpected JSON value at items[3].status: invalid type: integer `7`, expected
/// a string (ReferralStatus)`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UndecodableItem {
    /// The page's number in the listing (1 = the first page fetched by the pager).
    pub page: u64,
    /// The item's 0-based position in the page as the server sent it.
    pub index: usize,
    /// The item's `id`, when the item is an object with a string `id`.
    pub id: Option<String>,
    /// The item's JSON text, byte for byte as received.
    pub raw: String,
    /// Why it does not decode; its path, line and column are within the item (see
    /// [`UndecodableItem::path`] for the path in the page).
    pub error: DecodeError,
    /// The key that held the page's items (`items` or `value`).
    form: WireForm,
}

impl UndecodableItem {
    /// The JSON path in the page of the value that failed, like `items[3].status`.
    pub fn path(&self) -> String {
        let item = format!("{}[{}]", self.form.items_key(), self.index);
        match self.error.path() {
            "" => item,
            inner => format!("{item}.{inner}"),
        }
    }
}

impl UndecodableItem {
    /// What is wrong, where in the page, without the page and the id, e.g. "unexpected JSON
    /// value at items\[3\].status: invalid type: integer 7, expected a string".
    pub fn problem(&self) -> String {
        let what = if self.error.is_syntax() {
            "invalid JSON"
        } else {
            "unexpected JSON value"
        };
        format!("{what} at {}: {}", self.path(), self.error.message())
    }
}

impl fmt::Display for UndecodableItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "page {}, {}[{}]",
            self.page,
            self.form.items_key(),
            self.index
        )?;
        if let Some(id) = &self.id {
            write!(f, " (id \"{}\")", encode::snippet(id, ID_CHARS))?;
        }
        write!(f, ": {}", self.problem())
    }
}

impl std::error::Error for UndecodableItem {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// A page as received, before the pager's window (resume, item limit) is applied.
#[derive(Debug)]
pub(crate) struct ReceivedPage {
    /// The server's total count, if it sent one.
    pub(crate) count: Option<u64>,
    /// How to ask for the next page.
    pub(crate) continuation: Option<Continuation>,
    /// The items that decode, in order.
    pub(crate) items: Vec<Referral>,
    /// The items that do not, by increasing index.
    pub(crate) undecodable: Vec<UndecodableItem>,
    /// In raw mode, `items` as received (the same length and order); empty otherwise.
    pub(crate) raw: Vec<crate::RawItem>,
    /// How many items the page has, both kinds.
    pub(crate) len: usize,
    /// The wire form the page came in.
    pub(crate) form: WireForm,
}

impl ReceivedPage {
    /// A page that decoded whole.
    pub(crate) fn whole(collection: ReferralCollection) -> ReceivedPage {
        ReceivedPage {
            count: collection.count(),
            continuation: collection.continuation(),
            len: collection.items().len(),
            form: collection.form,
            items: collection.into_items(),
            undecodable: Vec::new(),
            raw: Vec::new(),
        }
    }
}

/// Decodes `body`, the page numbered `page`, item by item, after decoding it whole failed with
/// `whole`: the page, with at least one undecodable item. `Err(whole)` when the envelope itself does not decode (not JSON, not an object, a
/// count or link of the wrong type) or when every item decodes on its own (the failure is the
/// page's, not an item's).
pub(crate) fn split_page(
    body: &[u8],
    page: u64,
    whole: DecodeError,
) -> Result<ReceivedPage, DecodeError> {
    let Ok(envelope) = referrals_model::decode::<ReferralCollection<&RawValue>>(body) else {
        return Err(whole);
    };
    let form = envelope.form;
    let count = envelope.count();
    let continuation = envelope.continuation();
    let raw_items = envelope.into_items();
    let len = raw_items.len();
    let mut items = Vec::with_capacity(len);
    let mut undecodable = Vec::new();
    for (index, raw) in raw_items.into_iter().enumerate() {
        match decode_item(raw.get(), page, index, form) {
            Ok(referral) => items.push(referral),
            Err(item) => undecodable.push(*item),
        }
    }
    if undecodable.is_empty() {
        return Err(whole);
    }
    Ok(ReceivedPage {
        count,
        continuation,
        items,
        undecodable,
        raw: Vec::new(),
        len,
        form,
    })
}

/// The item `raw`, at `index` in page `page` of the form `form`, decoded whole: the referral,
/// or the item kept as received with why it is not one. The one rule of what an undecodable item
/// is, for a page split item by item and for an item kept raw ([`crate::RawItem::decode`]).
pub(crate) fn decode_item(
    raw: &str,
    page: u64,
    index: usize,
    form: WireForm,
) -> Result<Referral, Box<UndecodableItem>> {
    referrals_model::decode_str::<Referral>(raw).map_err(|error| {
        Box::new(UndecodableItem {
            page,
            index,
            id: id_of(raw),
            raw: raw.to_owned(),
            error,
            form,
        })
    })
}

/// The `id` of an item that is an object with a string `id`.
fn id_of(raw: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Id {
        id: Option<serde_json::Value>,
    }
    match serde_json::from_str::<Id>(raw).ok()?.id? {
        serde_json::Value::String(id) => Some(id),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(body: &str) -> DecodeError {
        referrals_model::decode::<ReferralCollection>(body.as_bytes()).unwrap_err()
    }

    fn split(body: &str) -> Result<ReceivedPage, DecodeError> {
        split_page(body.as_bytes(), 2, whole(body))
    }

    #[test]
    fn the_good_items_are_kept_and_the_bad_one_is_kept_as_received() {
        let bad = r#"{"id": "r2",  "status": 7, "x-new": [1, 2.50]}"#;
        let body = format!(
            r#"{{"totalCount": 3, "items": [{{"id": "r1"}}, {bad}, {{"id": "r3", "status": "New"}}],
               "links": {{"next": {{"headers": [{{"key": "MS-ContinuationToken", "value": "t"}}]}}}}}}"#
        );
        let page = split(&body).unwrap();
        let ids: Vec<_> = page.items.iter().map(|r| r.id.as_deref()).collect();
        assert_eq!(ids, [Some("r1"), Some("r3")]);
        assert_eq!((page.len, page.count), (3, Some(3)));
        assert!(matches!(page.continuation, Some(Continuation::Headers(_))));
        let [item] = &page.undecodable[..] else {
            panic!("{:?}", page.undecodable)
        };
        assert_eq!(
            (item.page, item.index, item.id.as_deref()),
            (2, 1, Some("r2"))
        );
        assert_eq!(
            item.raw, bad,
            "byte for byte, spacing and number text included"
        );
        assert_eq!(item.error.path(), "status");
        assert_eq!(item.path(), "items[1].status");
        assert_eq!(
            item.to_string(),
            "page 2, items[1] (id \"r2\"): unexpected JSON value at items[1].status: \
             invalid type: integer `7`, expected a string (ReferralStatus)"
        );
    }

    #[test]
    fn items_without_a_string_id_and_odata_pages_are_named_by_position() {
        let body = r#"{"value": [7, {"id": 12, "status": "New"}, {"id": "ok"}, {"name": []}]}"#;
        let page = split(body).unwrap();
        assert_eq!(page.items.len(), 1);
        let found: Vec<_> = page
            .undecodable
            .iter()
            .map(|item| (item.index, item.id.clone(), item.path()))
            .collect();
        assert_eq!(
            found,
            [
                (0, None, "value[0]".to_owned()),
                (1, None, "value[1].id".to_owned()),
                (3, None, "value[3].name".to_owned()),
            ]
        );
        // An id is untrusted text: escaped in the message.
        let page = split(r#"{"items": [{"id": "a\u001b[2Jb", "status": 7}]}"#).unwrap();
        let message = page.undecodable[0].to_string();
        assert!(message.contains(r#"(id "a\u{1b}[2Jb")"#), "{message}");
        assert_eq!(page.undecodable[0].id.as_deref(), Some("a\u{1b}[2Jb"));
    }

    #[test]
    fn a_page_whose_envelope_fails_stays_a_page_error() {
        for body in [
            // Not JSON: the seed's missing comma.
            "{\"items\": [{\"id\": \"a\"}\n {\"id\": \"b\"}]}",
            // A link of the wrong type.
            r#"{"items": [{"id": "a", "status": 7}], "@odata.nextLink": 5}"#,
            // Not an object.
            r#"[{"id": "a"}]"#,
            // Truncated.
            r#"{"items": [{"id": "a"}, {"id": "b", "status": 7"#,
        ] {
            let error = whole(body);
            assert_eq!(split(body).unwrap_err(), error, "{body}");
        }
    }
}
