//! The fastest decode a parser can offer for our page, as a baseline: `#[derive(Deserialize)]`
//! structs with the model's fields, text as [`Text`] (a `Cow<'a, str>` borrowed from the input
//! unless it has escapes), unknown fields
//! dropped, enums as plain text, the two free-form fields (`ids`, `additionalRequirements`)
//! skipped. Lossy, unlike the model; decoded by serde_json, sonic-rs and simd-json alike.
#![allow(missing_docs, dead_code)]

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<'a> {
    pub total_count: Option<u64>,
    #[serde(alias = "value")]
    #[serde(borrow)]
    pub items: Option<Vec<Referral<'a>>>,
    #[serde(borrow)]
    pub links: Option<Links<'a>>,
    #[serde(rename = "@odata.nextLink")]
    #[serde(borrow)]
    pub next_link: Option<Text<'a>>,
    #[serde(rename = "@odata.count")]
    pub count: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Referral<'a> {
    #[serde(borrow)]
    pub id: Option<Text<'a>>,
    #[serde(borrow)]
    pub engagement_id: Option<Text<'a>>,
    #[serde(borrow)]
    pub name: Option<Text<'a>>,
    #[serde(borrow)]
    pub external_reference_id: Option<Text<'a>>,
    #[serde(borrow)]
    pub organization_id: Option<Text<'a>>,
    #[serde(borrow)]
    pub organization_name: Option<Text<'a>>,
    #[serde(borrow)]
    pub business_profile_id: Option<Text<'a>>,
    #[serde(borrow)]
    pub created_date_time: Option<Text<'a>>,
    #[serde(borrow)]
    pub updated_date_time: Option<Text<'a>>,
    #[serde(borrow)]
    pub expiration_date_time: Option<Text<'a>>,
    #[serde(borrow)]
    pub accepted_date_time: Option<Text<'a>>,
    #[serde(borrow)]
    pub status: Option<Text<'a>>,
    #[serde(borrow)]
    pub substatus: Option<Text<'a>>,
    #[serde(borrow)]
    pub status_reason: Option<Text<'a>>,
    #[serde(rename = "type")]
    #[serde(borrow)]
    pub referral_type: Option<Text<'a>>,
    #[serde(borrow)]
    pub qualification: Option<Text<'a>>,
    #[serde(borrow)]
    pub direction: Option<Text<'a>>,
    #[serde(borrow)]
    pub customer_profile: Option<CustomerProfile<'a>>,
    pub consent: Option<Consent>,
    #[serde(borrow)]
    pub details: Option<Details<'a>>,
    #[serde(borrow)]
    pub team: Option<Vec<Member<'a>>>,
    #[serde(borrow)]
    pub invite_context: Option<InviteContext<'a>>,
    #[serde(borrow)]
    pub target: Option<Vec<Target<'a>>>,
    #[serde(borrow)]
    pub e_tag: Option<Text<'a>>,
    #[serde(borrow)]
    pub links: Option<Links<'a>>,
    #[serde(borrow)]
    pub attributes: Option<Attributes<'a>>,
    #[serde(borrow)]
    pub referral_source: Option<Text<'a>>,
    #[serde(borrow)]
    pub call_to_action: Option<Text<'a>>,
    #[serde(borrow)]
    pub customer_marketplace_intent: Option<Text<'a>>,
    #[serde(borrow)]
    pub campaign_id: Option<Text<'a>>,
    #[serde(borrow)]
    pub last_modified_via: Option<Text<'a>>,
    #[serde(borrow)]
    pub last_run_id: Option<Text<'a>>,
    #[serde(borrow)]
    pub sales_stage: Option<Text<'a>>,
    pub favorite: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerProfile<'a> {
    #[serde(borrow)]
    pub name: Option<Text<'a>>,
    #[serde(borrow)]
    pub address: Option<Address<'a>>,
    #[serde(borrow)]
    pub size: Option<Text<'a>>,
    #[serde(borrow)]
    pub team: Option<Vec<Member<'a>>>,
    pub ids: Option<IgnoredAny>,
    #[serde(borrow)]
    pub id: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address<'a> {
    #[serde(borrow)]
    pub address_line1: Option<Text<'a>>,
    #[serde(borrow)]
    pub address_line2: Option<Text<'a>>,
    #[serde(borrow)]
    pub city: Option<Text<'a>>,
    #[serde(borrow)]
    pub state: Option<Text<'a>>,
    #[serde(borrow)]
    pub postal_code: Option<Text<'a>>,
    #[serde(borrow)]
    pub country: Option<Text<'a>>,
    #[serde(borrow)]
    pub region: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member<'a> {
    #[serde(borrow)]
    pub first_name: Option<Text<'a>>,
    #[serde(borrow)]
    pub last_name: Option<Text<'a>>,
    #[serde(borrow)]
    pub phone_number: Option<Text<'a>>,
    #[serde(borrow)]
    pub email: Option<Text<'a>>,
    #[serde(borrow)]
    pub contact_preference: Option<ContactPreference<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactPreference<'a> {
    #[serde(borrow)]
    pub locale: Option<Text<'a>>,
    pub disable_notifications: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Consent {
    pub consent_to_to_share_info_with_others: Option<bool>,
    pub consent_to_contact: Option<bool>,
    pub consent_to_microsoft_to_contact_specific_partners: Option<bool>,
    pub consent_to_share_referral_with_microsoft_sellers: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Details<'a> {
    #[serde(borrow)]
    pub notes: Option<Text<'a>>,
    pub deal_value: Option<DealValue<'a>>,
    #[serde(borrow)]
    pub currency: Option<Text<'a>>,
    #[serde(borrow)]
    pub closing_date_time: Option<Text<'a>>,
    #[serde(borrow)]
    pub requirements: Option<Requirements<'a>>,
    #[serde(borrow)]
    pub customer_action: Option<Text<'a>>,
    pub customer_requested_contact: Option<bool>,
    pub additional_requirements: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Requirements<'a> {
    #[serde(borrow)]
    pub industries: Option<Vec<Tag<'a>>>,
    #[serde(borrow)]
    pub products: Option<Vec<Tag<'a>>>,
    #[serde(borrow)]
    pub services: Option<Vec<Tag<'a>>>,
    #[serde(borrow)]
    pub solutions: Option<Vec<Solution<'a>>>,
}

#[derive(Debug, Deserialize)]
pub struct Tag<'a> {
    #[serde(borrow)]
    pub id: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Solution<'a> {
    #[serde(borrow)]
    pub id: Option<Text<'a>>,
    #[serde(borrow)]
    pub name: Option<Text<'a>>,
    #[serde(rename = "type")]
    #[serde(borrow)]
    pub kind: Option<Text<'a>>,
    #[serde(borrow)]
    pub publisher_name: Option<Text<'a>>,
    #[serde(borrow)]
    pub solution_type: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InviteContext<'a> {
    #[serde(borrow)]
    pub notes: Option<Text<'a>>,
    #[serde(borrow)]
    pub invited_by: Option<Organization<'a>>,
    #[serde(borrow)]
    pub assistance_request_code: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization<'a> {
    #[serde(borrow)]
    pub organization_id: Option<Text<'a>>,
    #[serde(borrow)]
    pub organization_name: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct Target<'a> {
    #[serde(borrow)]
    pub id: Option<Text<'a>>,
    #[serde(rename = "type")]
    #[serde(borrow)]
    pub kind: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Links<'a> {
    #[serde(rename = "self")]
    #[serde(borrow)]
    pub self_link: Option<Link<'a>>,
    #[serde(borrow)]
    pub related_referrals: Option<Link<'a>>,
    #[serde(borrow)]
    pub next: Option<Link<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct Link<'a> {
    #[serde(borrow)]
    pub uri: Option<Text<'a>>,
    #[serde(borrow)]
    pub method: Option<Text<'a>>,
    #[serde(borrow)]
    pub headers: Option<Vec<Header<'a>>>,
}

#[derive(Debug, Deserialize)]
pub struct Header<'a> {
    #[serde(borrow)]
    pub key: Option<Text<'a>>,
    #[serde(borrow)]
    pub value: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attributes<'a> {
    #[serde(borrow)]
    pub object_type: Option<Text<'a>>,
}

/// `dealValue`: a number or a string, read without buffering (an untagged enum would buffer).
#[derive(Debug)]
pub enum DealValue<'a> {
    Number(f64),
    Text(Cow<'a, str>),
}

impl<'de: 'a, 'a> Deserialize<'de> for DealValue<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DealVisitor;

        impl<'de> serde::de::Visitor<'de> for DealVisitor {
            type Value = DealValue<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number or a string")
            }

            fn visit_u64<E>(self, value: u64) -> Result<DealValue<'de>, E> {
                Ok(DealValue::Number(value as f64))
            }

            fn visit_i64<E>(self, value: i64) -> Result<DealValue<'de>, E> {
                Ok(DealValue::Number(value as f64))
            }

            fn visit_f64<E>(self, value: f64) -> Result<DealValue<'de>, E> {
                Ok(DealValue::Number(value))
            }

            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<DealValue<'de>, E> {
                Ok(DealValue::Text(Cow::Borrowed(text)))
            }

            fn visit_str<E>(self, text: &str) -> Result<DealValue<'de>, E> {
                Ok(DealValue::Text(Cow::Owned(text.to_owned())))
            }
        }

        deserializer.deserialize_any(DealVisitor)
    }
}

/// Text borrowed from the input when the parser can (no escapes, or a parser that unescapes in
/// place), copied otherwise. serde's `#[serde(borrow)]` does not reach a `Cow` inside an
/// `Option`, hence this wrapper.
#[derive(Debug)]
pub struct Text<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl<'de> serde::de::Visitor<'de> for TextVisitor {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }

            fn visit_str<E>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
        }

        deserializer.deserialize_str(TextVisitor)
    }
}
