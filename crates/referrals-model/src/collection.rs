//! A page of referrals in either wire form.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::wire::{IndexedVec, Key};
use crate::{Attributes, Links, Map, Referral, Value};

/// The largest page the API serves (`pageSize` is 1–100), and the one the CLI asks for: a page's
/// items are reserved at this length up front. Grown from empty, a list of ~2 KB referrals is
/// reallocated seven times and copies 127 items on the way to 100.
const PAGE_ITEMS: usize = 100;

/// Which wire form a collection came in (and is re-encoded in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WireForm {
    /// The 2018 form: `items`, `totalCount`, `links.next` with a continuation header.
    #[default]
    Classic,
    /// The OData form: `value`, `@odata.count`, `@odata.nextLink`.
    OData,
}

impl WireForm {
    /// The key that holds the items in this form.
    pub fn items_key(self) -> &'static str {
        match self {
            WireForm::Classic => "items",
            WireForm::OData => "value",
        }
    }
}

/// How to ask for the page after this one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Continuation {
    /// 2018 form: send the first request again with these headers added (normally
    /// `MS-ContinuationToken`), as listed by `links.next.headers`.
    Headers(Vec<(String, String)>),
    /// OData form: `GET` this URL, as the server wrote it (relative or absolute).
    NextLink(String),
}

/// One page of a listing, in the 2018 form or the OData form.
///
/// Both forms decode into the same type; [`items`](Self::items), [`count`](Self::count) and
/// [`continuation`](Self::continuation) read them uniformly, and a re-encode writes the form that
/// was received.
///
/// ```
/// use referrals_model::{decode, Continuation, ReferralCollection};
///
/// let classic: ReferralCollection = decode(br#"{"totalCount": 3, "items": [{"id": "a"}],
///     "links": {"next": {"uri": "/referrals", "headers": [{"key": "MS-ContinuationToken", "value": "t1"}]}}}"#)?;
/// let odata: ReferralCollection = decode(br#"{"@odata.count": 3, "value": [{"id": "a"}],
///     "@odata.nextLink": "https://api.partner.microsoft.com/v1.0/engagements/referrals?$skiptoken=2"}"#)?;
///
/// assert_eq!(classic.items()[0].id, odata.items()[0].id);
/// assert_eq!(classic.count(), odata.count());
/// assert_eq!(
///     classic.continuation(),
///     Some(Continuation::Headers(vec![("MS-ContinuationToken".into(), "t1".into())]))
/// );
/// assert!(matches!(odata.continuation(), Some(Continuation::NextLink(_))));
/// # Ok::<(), referrals_model::DecodeError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ReferralCollection<T = Referral> {
    /// The page's items (`items` in the 2018 form, `value` in the OData form).
    pub items: Option<Vec<T>>,
    /// Which key held the items, and so which form is written back.
    pub form: WireForm,
    /// `totalCount` (2018 form). A number that is not a count (`-1`, `2.5`) is kept in `extra`.
    pub total_count: Option<u64>,
    /// `@odata.count` (OData form, when `$count=true` was asked for). A number that is not a
    /// count is kept in `extra`.
    pub odata_count: Option<u64>,
    /// `links` (2018 form), with the next page's link.
    pub links: Option<Links>,
    /// `@odata.nextLink` (OData form).
    pub odata_next_link: Option<String>,
    /// `@odata.context` (OData form).
    pub odata_context: Option<String>,
    /// `attributes` (2018 form; `objectType` is `Collection`).
    pub attributes: Option<Attributes>,
    /// Unknown fields and explicit `null`s of known ones, kept for a lossless re-encode.
    pub extra: Map<String, Value>,
}

impl<T> Default for ReferralCollection<T> {
    fn default() -> Self {
        ReferralCollection {
            items: None,
            form: WireForm::default(),
            total_count: None,
            odata_count: None,
            links: None,
            odata_next_link: None,
            odata_context: None,
            attributes: None,
            extra: Map::new(),
        }
    }
}

impl<T> ReferralCollection<T> {
    /// The page's items (empty if the page had none).
    pub fn items(&self) -> &[T] {
        self.items.as_deref().unwrap_or(&[])
    }

    /// The same page with each item converted by `convert`; everything else is kept.
    ///
    /// A borrowed page becomes an owned one with `page.map_items(ReferralRef::into_owned)`.
    pub fn map_items<U>(self, convert: impl FnMut(T) -> U) -> ReferralCollection<U> {
        ReferralCollection {
            items: self
                .items
                .map(|items| items.into_iter().map(convert).collect()),
            form: self.form,
            total_count: self.total_count,
            odata_count: self.odata_count,
            links: self.links,
            odata_next_link: self.odata_next_link,
            odata_context: self.odata_context,
            attributes: self.attributes,
            extra: self.extra,
        }
    }

    /// Takes the page's items.
    pub fn into_items(self) -> Vec<T> {
        self.items.unwrap_or_default()
    }

    /// The total count the server reported (`totalCount` or `@odata.count`), if any.
    pub fn count(&self) -> Option<u64> {
        self.total_count.or(self.odata_count)
    }

    /// How to ask for the next page, or `None` when this is the last page: no next link, an
    /// empty `@odata.nextLink`, or a `links.next` without a non-empty header.
    pub fn continuation(&self) -> Option<Continuation> {
        if let Some(link) = self
            .odata_next_link
            .as_deref()
            .filter(|l| !l.trim().is_empty())
        {
            return Some(Continuation::NextLink(link.to_owned()));
        }
        let next = self.links.as_ref()?.next.as_ref()?;
        let headers: Vec<(String, String)> = next
            .headers
            .iter()
            .flatten()
            .filter_map(|header| {
                let key = header.key.as_deref()?.trim();
                let value = header.value.as_deref()?;
                (!key.is_empty() && !value.is_empty()).then(|| (key.to_owned(), value.to_owned()))
            })
            .collect();
        (!headers.is_empty()).then_some(Continuation::Headers(headers))
    }

    fn is_shadowed(&self, key: &str) -> bool {
        match key {
            "items" => self.items.is_some() && self.form == WireForm::Classic,
            "value" => self.items.is_some() && self.form == WireForm::OData,
            "totalCount" => self.total_count.is_some(),
            "@odata.count" => self.odata_count.is_some(),
            "links" => self.links.is_some(),
            "@odata.nextLink" => self.odata_next_link.is_some(),
            "@odata.context" => self.odata_context.is_some(),
            "attributes" => self.attributes.is_some(),
            _ => false,
        }
    }
}

impl<T: Serialize> Serialize for ReferralCollection<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let known = usize::from(self.items.is_some())
            + usize::from(self.total_count.is_some())
            + usize::from(self.odata_count.is_some())
            + usize::from(self.links.is_some())
            + usize::from(self.odata_next_link.is_some())
            + usize::from(self.odata_context.is_some())
            + usize::from(self.attributes.is_some());
        let kept = self.extra.keys().filter(|k| !self.is_shadowed(k)).count();
        let mut map = serializer.serialize_map(Some(known + kept))?;
        if let Some(context) = &self.odata_context {
            map.serialize_entry("@odata.context", context)?;
        }
        if let Some(count) = &self.total_count {
            map.serialize_entry("totalCount", count)?;
        }
        if let Some(count) = &self.odata_count {
            map.serialize_entry("@odata.count", count)?;
        }
        if let Some(items) = &self.items {
            map.serialize_entry(self.form.items_key(), items)?;
        }
        if let Some(links) = &self.links {
            map.serialize_entry("links", links)?;
        }
        if let Some(link) = &self.odata_next_link {
            map.serialize_entry("@odata.nextLink", link)?;
        }
        if let Some(attributes) = &self.attributes {
            map.serialize_entry("attributes", attributes)?;
        }
        for (key, value) in &self.extra {
            if !self.is_shadowed(key) {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

fn field<'de, A, V>(
    map: &mut A,
    key: &str,
    extra: &mut Map<String, Value>,
) -> Result<Option<V>, A::Error>
where
    A: MapAccess<'de>,
    V: Deserialize<'de>,
{
    match map.next_value::<Option<V>>() {
        Ok(Some(value)) => Ok(Some(value)),
        Ok(None) => {
            extra.insert(key.to_owned(), Value::Null);
            Ok(None)
        }
        Err(error) => Err(crate::path::at_key(key, error)),
    }
}

/// A count (`totalCount`, `@odata.count`): any JSON number is accepted; one that is not a
/// non-negative integer within `u64` (`-1`, `2.5`, `1e3`) is kept verbatim in `extra`, so that a
/// re-encode gives it back and the page still decodes, and the typed count stays `None`.
fn count_field<'de, A: MapAccess<'de>>(
    map: &mut A,
    key: &str,
    extra: &mut Map<String, Value>,
) -> Result<Option<u64>, A::Error> {
    Ok(
        field::<A, serde_json::Number>(map, key, extra)?.and_then(|number| {
            let count = number.as_u64();
            if count.is_none() {
                extra.insert(key.to_owned(), Value::Number(number));
            }
            count
        }),
    )
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ReferralCollection<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PageVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for PageVisitor<T> {
            type Value = ReferralCollection<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object (a collection of referrals)")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = ReferralCollection::<T>::default();
                let mut items_seen = false;
                let mut odata_hint = false;
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    let extra = &mut out.extra;
                    match key.as_bytes() {
                        // The first of `items`/`value` holds the items; a second one is kept verbatim.
                        name @ (b"items" | b"value") if !items_seen => {
                            items_seen = true;
                            let (form, name) = if name == b"items" {
                                (WireForm::Classic, "items")
                            } else {
                                (WireForm::OData, "value")
                            };
                            out.form = form;
                            out.items =
                                field::<A, IndexedVec<T, PAGE_ITEMS>>(&mut map, name, extra)?
                                    .map(Vec::from);
                        }
                        b"totalCount" => {
                            out.total_count = count_field(&mut map, "totalCount", extra)?;
                        }
                        b"@odata.count" => {
                            odata_hint = true;
                            out.odata_count = count_field(&mut map, "@odata.count", extra)?;
                        }
                        b"links" => out.links = field(&mut map, "links", extra)?,
                        b"@odata.nextLink" => {
                            odata_hint = true;
                            out.odata_next_link = field(&mut map, "@odata.nextLink", extra)?;
                        }
                        b"@odata.context" => {
                            odata_hint = true;
                            out.odata_context = field(&mut map, "@odata.context", extra)?;
                        }
                        b"attributes" => out.attributes = field(&mut map, "attributes", extra)?,
                        _ => {
                            let name = key.to_text()?;
                            match map.next_value::<Value>() {
                                Ok(value) => {
                                    out.extra.insert(name, value);
                                }
                                Err(error) => return Err(crate::path::at_key(&name, error)),
                            }
                        }
                    }
                }
                if !items_seen && odata_hint {
                    out.form = WireForm::OData;
                }
                Ok(out)
            }
        }

        deserializer.deserialize_map(PageVisitor(PhantomData))
    }
}

#[cfg(feature = "schema")]
impl<T: schemars::JsonSchema> schemars::JsonSchema for ReferralCollection<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ReferralCollection".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        use crate::schema::property;
        let mut properties = Map::new();
        let items = ["The page's items (2018 form)."];
        properties.insert("items".into(), property::<Vec<T>>(generator, &items));
        let value = ["The page's items (OData form)."];
        properties.insert("value".into(), property::<Vec<T>>(generator, &value));
        let total = ["The total number of items (2018 form)."];
        properties.insert("totalCount".into(), property::<u64>(generator, &total));
        let count = ["The total number of items (OData form, with $count=true)."];
        properties.insert("@odata.count".into(), property::<u64>(generator, &count));
        let links = ["Links; `next` carries the continuation header of the next page (2018 form)."];
        properties.insert("links".into(), property::<Links>(generator, &links));
        let next = ["The URL of the next page (OData form)."];
        properties.insert(
            "@odata.nextLink".into(),
            property::<String>(generator, &next),
        );
        let context = ["The OData context."];
        properties.insert(
            "@odata.context".into(),
            property::<String>(generator, &context),
        );
        let attributes = ["The object type (`Collection`)."];
        properties.insert(
            "attributes".into(),
            property::<Attributes>(generator, &attributes),
        );
        crate::schema::object(
            &[
                "A page of referrals, in the 2018 form (items, totalCount, links.next) or the OData form (value, @odata.count, @odata.nextLink).",
            ],
            properties,
        )
    }
}
