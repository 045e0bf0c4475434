//! The baseline "what a user would write": `#[derive(Deserialize)]` structs with owned strings,
//! no unknown-field handling (serde skips unknown keys), enums as plain strings.
#![allow(missing_docs, dead_code)]

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    pub total_count: Option<u64>,
    #[serde(alias = "value")]
    pub items: Option<Vec<Referral>>,
    pub links: Option<Links>,
    #[serde(rename = "@odata.nextLink")]
    pub next_link: Option<String>,
    #[serde(rename = "@odata.count")]
    pub count: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Referral {
    pub id: Option<String>,
    pub engagement_id: Option<String>,
    pub name: Option<String>,
    pub external_reference_id: Option<String>,
    pub organization_id: Option<String>,
    pub organization_name: Option<String>,
    pub business_profile_id: Option<String>,
    pub created_date_time: Option<String>,
    pub updated_date_time: Option<String>,
    pub expiration_date_time: Option<String>,
    pub accepted_date_time: Option<String>,
    pub status: Option<String>,
    pub substatus: Option<String>,
    pub status_reason: Option<String>,
    #[serde(rename = "type")]
    pub referral_type: Option<String>,
    pub qualification: Option<String>,
    pub direction: Option<String>,
    pub customer_profile: Option<CustomerProfile>,
    pub consent: Option<Consent>,
    pub details: Option<Details>,
    pub team: Option<Vec<Member>>,
    pub invite_context: Option<InviteContext>,
    pub target: Option<Vec<Target>>,
    pub e_tag: Option<String>,
    pub links: Option<Links>,
    pub attributes: Option<Attributes>,
    pub referral_source: Option<String>,
    pub call_to_action: Option<String>,
    pub customer_marketplace_intent: Option<String>,
    pub campaign_id: Option<String>,
    pub last_modified_via: Option<String>,
    pub last_run_id: Option<String>,
    pub sales_stage: Option<String>,
    pub favorite: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerProfile {
    pub name: Option<String>,
    pub address: Option<Address>,
    pub size: Option<String>,
    pub team: Option<Vec<Member>>,
    pub ids: Option<serde_json::Value>,
    pub id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub region: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone_number: Option<String>,
    pub email: Option<String>,
    pub contact_preference: Option<ContactPreference>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactPreference {
    pub locale: Option<String>,
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
pub struct Details {
    pub notes: Option<String>,
    pub deal_value: Option<serde_json::Value>,
    pub currency: Option<String>,
    pub closing_date_time: Option<String>,
    pub requirements: Option<Requirements>,
    pub customer_action: Option<String>,
    pub customer_requested_contact: Option<bool>,
    pub additional_requirements: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Requirements {
    pub industries: Option<Vec<Tag>>,
    pub products: Option<Vec<Tag>>,
    pub services: Option<Vec<Tag>>,
    pub solutions: Option<Vec<Solution>>,
}

#[derive(Debug, Deserialize)]
pub struct Tag {
    pub id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Solution {
    pub id: Option<String>,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub publisher_name: Option<String>,
    pub solution_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InviteContext {
    pub notes: Option<String>,
    pub invited_by: Option<Organization>,
    pub assistance_request_code: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub organization_id: Option<String>,
    pub organization_name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Target {
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Links {
    #[serde(rename = "self")]
    pub self_link: Option<Link>,
    pub related_referrals: Option<Link>,
    pub next: Option<Link>,
}

#[derive(Debug, Deserialize)]
pub struct Link {
    pub uri: Option<String>,
    pub method: Option<String>,
    pub headers: Option<Vec<Header>>,
}

#[derive(Debug, Deserialize)]
pub struct Header {
    pub key: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attributes {
    pub object_type: Option<String>,
}
