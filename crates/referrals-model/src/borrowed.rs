//! The borrowed model: the same types, decoded without copying their text.
//!
//! Each type of the owned model that a referral is made of has a borrowed twin named with a
//! `Ref` suffix ([`ReferralRef`] for [`Referral`](crate::Referral)), generated from the same field
//! list. Text fields are [`Cow<'a, str>`](std::borrow::Cow): borrowed from the input, copied only
//! when the JSON string has escapes. Unknown fields are kept as [`RawValue`] slices of the input,
//! so a borrowed value re-encodes to what was received, like the owned one. Enums, numbers and
//! booleans are the owned model's types.
//!
//! Use it to read a page where it lies, for example to filter or forward referrals without
//! keeping them: decoding allocates only for escaped text, lists and unknown enum values.
//! `into_owned` (or [`ReferralCollection::map_items`]) gives the owned model when a value must
//! outlive the input.
//!
//! ```
//! use referrals_model::borrowed::{ReferralCollectionRef, ReferralRef};
//! use referrals_model::{decode, Referral, ReferralStatus};
//! use std::borrow::Cow;
//!
//! let body = br#"{"items": [{"id": "c5fb", "name": "Contoso \u00e9", "status": "New",
//!     "newField": {"x": 1}}], "totalCount": 1}"#;
//! let page: ReferralCollectionRef<'_> = decode(body)?;
//! let referral: &ReferralRef<'_> = &page.items()[0];
//!
//! assert!(matches!(referral.id, Some(Cow::Borrowed("c5fb")))); // points into `body`
//! assert_eq!(referral.name.as_deref(), Some("Contoso é")); // had an escape: copied
//! assert_eq!(referral.status, Some(ReferralStatus::New));
//! assert_eq!(referral.extra[0].0, "newField");
//! assert_eq!(referral.extra[0].1.get(), r#"{"x": 1}"#);
//!
//! // Lossless, and convertible to the owned model.
//! let owned: Referral = referral.clone().into_owned();
//! assert_eq!(owned.extra["newField"]["x"], 1);
//! assert_eq!(serde_json::to_value(referral)?, serde_json::to_value(&owned)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use crate::referral::{
    AddressRef, AttributesRef, ConsentRef, ContactPreferenceRef, CustomerProfileRef,
    InviteContextRef, LinkHeaderRef, LinkRef, LinksRef, MemberRef, OrganizationRef,
    ReferralDetailsRef, ReferralRef, RequirementsRef, SolutionRef, TagRef, TargetRef,
};
pub use crate::registration::{
    ContractRef, DealRegistrationRef, MarketplaceTransactionDetailsRef,
    RegistrationStatusHistoryRef, SolutionDetailRef,
};
pub use crate::timestamp::TimestampRef;
pub use serde_json::value::RawValue;

use crate::ReferralCollection;

/// A page of borrowed referrals, in either wire form: the page's own fields (links, counts) are
/// owned and small; its items borrow from the input.
pub type ReferralCollectionRef<'a> = ReferralCollection<ReferralRef<'a>>;
