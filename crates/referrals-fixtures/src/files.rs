//! The JSON fixtures of the crate's own `fixtures/` directory
//! (`crates/referrals-fixtures/fixtures/`), embedded in the crate.
//!
//! Each [`Fixture`] is one file: real examples from the documentation (the seed's list response,
//! corrected and verbatim), pages in both wire forms, an error body, a single referral, a create
//! request, and edge cases the client must survive (unknown enum values, unknown fields at every
//! depth, `ids` as `[]`, a string `dealValue`, an empty page that is not the last, explicit
//! `null`s). The bytes are compiled in, so users get them without a checkout of the repository.
//!
//! ```
//! use referrals_fixtures::files::{Content, Fixture};
//!
//! let seed = Fixture::SeedResponse;
//! assert_eq!(seed.name(), "seed-response.json");
//! assert_eq!(seed.content(), Content::Collection);
//! assert!(seed.expect_valid());
//! let value = seed.value().unwrap();
//! assert_eq!(value["totalCount"], 2);
//!
//! for fixture in Fixture::ALL {
//!     assert_eq!(fixture.value().is_ok(), fixture.expect_valid(), "{fixture}");
//! }
//! ```

use std::fmt;

use referrals_model::WireForm;

/// What a fixture holds, which says what type to decode it into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Content {
    /// A page of referrals: decode into `referrals_model::ReferralCollection`.
    Collection,
    /// One referral (a get response or a create body): decode into `referrals_model::Referral`.
    Referral,
    /// An error body: decode into `referrals_model::ErrorResponse`.
    Error,
}

/// One JSON file of the `fixtures/` directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fixture {
    /// The seed page's list response, with its missing comma added: a 2018-form page of two
    /// referrals and a continuation token.
    SeedResponse,
    /// The seed page's list response byte for byte: invalid JSON, a comma is missing at line 66,
    /// column 13.
    SeedResponseVerbatim,
    /// An OData-form page with `@odata.context`, `@odata.count` and an `http://` `@odata.nextLink`
    /// on the API host, as in the documented example.
    ODataPage,
    /// The last OData-form page: no `@odata.nextLink`.
    ODataLastPage,
    /// An error body with `code`, `message`, `target` and `innerError`.
    ErrorBody,
    /// A 2018-form page whose enums hold values no documentation lists (and known values in
    /// another case).
    UnknownEnums,
    /// A 2018-form page with unknown fields at many depths, holding arbitrary JSON: nested
    /// objects and arrays, `null`, numbers, unicode, every escape, odd keys.
    UnknownFields,
    /// A 2018-form page whose `customerProfile.ids` is `[]` rather than `{}`.
    IdsArray,
    /// A referral whose `details.dealValue` is the string `"10000"`.
    DealValueString,
    /// A 2018-form page with no items that still carries a `links.next` continuation: not the end.
    EmptyPageWithNext,
    /// An OData-form page whose known fields are explicitly `null` at every depth, including
    /// `@odata.nextLink`.
    ExplicitNulls,
    /// A single referral as returned by a get, with an `eTag`.
    Referral,
    /// A body for `POST …/referrals`: type, customerProfile, consent and details.
    CreateRequest,
    /// A won referral with an approved deal registration read back (`registrations`,
    /// `registrationStatus`), in the connector contract's shape, with an unknown field and an
    /// explicit `null` inside the registration.
    RegisteredDeal,
}

macro_rules! fixture_bytes {
    ($file:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/", $file))
    };
}

impl Fixture {
    /// Every fixture, in a stable order.
    pub const ALL: [Fixture; 14] = [
        Fixture::SeedResponse,
        Fixture::SeedResponseVerbatim,
        Fixture::ODataPage,
        Fixture::ODataLastPage,
        Fixture::ErrorBody,
        Fixture::UnknownEnums,
        Fixture::UnknownFields,
        Fixture::IdsArray,
        Fixture::DealValueString,
        Fixture::EmptyPageWithNext,
        Fixture::ExplicitNulls,
        Fixture::Referral,
        Fixture::CreateRequest,
        Fixture::RegisteredDeal,
    ];

    /// The file name in `fixtures/`, e.g. `"seed-response.json"`.
    pub fn name(self) -> &'static str {
        match self {
            Fixture::SeedResponse => "seed-response.json",
            Fixture::SeedResponseVerbatim => "seed-response-verbatim.json",
            Fixture::ODataPage => "odata-page.json",
            Fixture::ODataLastPage => "odata-last-page.json",
            Fixture::ErrorBody => "error-body.json",
            Fixture::UnknownEnums => "unknown-enums.json",
            Fixture::UnknownFields => "unknown-fields.json",
            Fixture::IdsArray => "ids-array.json",
            Fixture::DealValueString => "deal-value-string.json",
            Fixture::EmptyPageWithNext => "empty-page-with-next.json",
            Fixture::ExplicitNulls => "explicit-nulls.json",
            Fixture::Referral => "referral.json",
            Fixture::CreateRequest => "create-request.json",
            Fixture::RegisteredDeal => "registered-deal.json",
        }
    }

    /// The fixture whose file name is `name`, if any.
    pub fn from_name(name: &str) -> Option<Fixture> {
        Fixture::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The file's exact bytes.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Fixture::SeedResponse => fixture_bytes!("seed-response.json"),
            Fixture::SeedResponseVerbatim => fixture_bytes!("seed-response-verbatim.json"),
            Fixture::ODataPage => fixture_bytes!("odata-page.json"),
            Fixture::ODataLastPage => fixture_bytes!("odata-last-page.json"),
            Fixture::ErrorBody => fixture_bytes!("error-body.json"),
            Fixture::UnknownEnums => fixture_bytes!("unknown-enums.json"),
            Fixture::UnknownFields => fixture_bytes!("unknown-fields.json"),
            Fixture::IdsArray => fixture_bytes!("ids-array.json"),
            Fixture::DealValueString => fixture_bytes!("deal-value-string.json"),
            Fixture::EmptyPageWithNext => fixture_bytes!("empty-page-with-next.json"),
            Fixture::ExplicitNulls => fixture_bytes!("explicit-nulls.json"),
            Fixture::Referral => fixture_bytes!("referral.json"),
            Fixture::CreateRequest => fixture_bytes!("create-request.json"),
            Fixture::RegisteredDeal => fixture_bytes!("registered-deal.json"),
        }
    }

    /// The file parsed as a generic JSON value; an error for the invalid fixtures.
    pub fn value(self) -> serde_json::Result<serde_json::Value> {
        serde_json::from_slice(self.bytes())
    }

    /// True when the file is valid JSON that the model must decode; false for the fixtures that
    /// exist to be rejected (the seed's verbatim example).
    pub fn expect_valid(self) -> bool {
        !matches!(self, Fixture::SeedResponseVerbatim)
    }

    /// What the file holds.
    pub fn content(self) -> Content {
        match self {
            Fixture::ErrorBody => Content::Error,
            Fixture::DealValueString
            | Fixture::Referral
            | Fixture::CreateRequest
            | Fixture::RegisteredDeal => Content::Referral,
            Fixture::SeedResponse
            | Fixture::SeedResponseVerbatim
            | Fixture::ODataPage
            | Fixture::ODataLastPage
            | Fixture::UnknownEnums
            | Fixture::UnknownFields
            | Fixture::IdsArray
            | Fixture::EmptyPageWithNext
            | Fixture::ExplicitNulls => Content::Collection,
        }
    }

    /// True for a page of referrals.
    pub fn is_collection(self) -> bool {
        self.content() == Content::Collection
    }

    /// True for a single referral.
    pub fn is_referral(self) -> bool {
        self.content() == Content::Referral
    }

    /// True for an error body.
    pub fn is_error(self) -> bool {
        self.content() == Content::Error
    }

    /// The collection's wire form (2018 `items` or OData `value`); `None` for other content.
    pub fn wire_form(self) -> Option<WireForm> {
        match self {
            Fixture::ODataPage | Fixture::ODataLastPage | Fixture::ExplicitNulls => {
                Some(WireForm::OData)
            }
            _ if self.is_collection() => Some(WireForm::Classic),
            _ => None,
        }
    }

    /// Whether a client must ask for another page after this one; `None` for other content.
    pub fn has_next_page(self) -> Option<bool> {
        match self {
            Fixture::SeedResponse
            | Fixture::SeedResponseVerbatim
            | Fixture::ODataPage
            | Fixture::EmptyPageWithNext => Some(true),
            _ if self.is_collection() => Some(false),
            _ => None,
        }
    }
}

impl fmt::Display for Fixture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
