//! The event a verified body carries.

use serde::{Deserialize, Serialize};

use crate::refusal::Refusal;
use referrals_query::snippet;

/// A Partner Center webhook event, as sent (`PascalCase`) or in the registration API's
/// `camelCase`; unknown fields are ignored (the raw body is what the inbox keeps).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// `referral-created`, `referral-updated`, `test-created`, …
    #[serde(rename = "EventName", alias = "eventName")]
    pub event_name: String,
    /// The changed resource; the referral id is its last path segment.
    #[serde(rename = "ResourceUri", alias = "resourceUri")]
    pub resource_uri: String,
    /// `referral`, … (informational).
    #[serde(
        rename = "ResourceName",
        alias = "resourceName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_name: Option<String>,
    /// When the resource changed, exact text as sent; part of the delivery's identity.
    #[serde(
        rename = "ResourceChangeUtcDate",
        alias = "resourceChangeUtcDate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_change_utc_date: Option<String>,
}

/// What the listener does with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// `referral-created` or `referral-updated`.
    Referral,
    /// `related-referral-created` or `related-referral-updated` (same engagement).
    RelatedReferral,
    /// `test-created`: a validation event, recorded only.
    Test,
    /// Any other event (subscriptions, relationships, future kinds): recorded only.
    Other,
}

impl EventKind {
    /// Whether the referral named by the event should be fetched and applied.
    pub fn fetches_referral(self) -> bool {
        matches!(self, EventKind::Referral | EventKind::RelatedReferral)
    }
}

impl Event {
    /// Reads an event from a (verified) body.
    pub fn parse(body: &[u8]) -> Result<Event, Refusal> {
        let event: Event = serde_json::from_slice(body)
            .map_err(|error| Refusal::NotAnEvent(snippet(&error.to_string(), 200)))?;
        if event.event_name.trim().is_empty() {
            return Err(Refusal::NotAnEvent("EventName is empty".to_owned()));
        }
        Ok(event)
    }

    /// The kind of event, by name (case-insensitive).
    pub fn kind(&self) -> EventKind {
        match self.event_name.to_ascii_lowercase().as_str() {
            "referral-created" | "referral-updated" => EventKind::Referral,
            "related-referral-created" | "related-referral-updated" => EventKind::RelatedReferral,
            "test-created" => EventKind::Test,
            _ => EventKind::Other,
        }
    }

    /// The referral id: the last path segment of `ResourceUri` (query and fragment dropped; a
    /// trailing slash leaves it empty), when it is a plain id (letters, digits, `-`, `_`, `.`, `~`).
    pub fn referral_id(&self) -> Option<&str> {
        let uri = self.resource_uri.trim();
        let path = uri.split(['?', '#']).next().unwrap_or_default();
        let segment = path.rsplit('/').next()?;
        let plain = !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.~".contains(c));
        (plain && segment.len() < path.len()).then_some(segment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_case_styles_are_read() {
        let pascal = Event::parse(
            br#"{"EventName":"referral-updated","ResourceUri":"https://api.partnercenter.microsoft.com/engagements/v1/referrals/abc-1","ResourceName":"referral","AuditUri":null,"ResourceChangeUtcDate":"2018-02-17T00:05:39.5485487+00:00","Future":1}"#,
        )
        .unwrap();
        let camel = Event::parse(
            br#"{"eventName":"referral-updated","resourceUri":"https://api.partnercenter.microsoft.com/engagements/v1/referrals/abc-1","resourceName":"referral","resourceChangeUtcDate":"2018-02-17T00:05:39.5485487+00:00"}"#,
        )
        .unwrap();
        assert_eq!(pascal, camel);
        assert_eq!(pascal.referral_id(), Some("abc-1"));
        assert_eq!(pascal.kind(), EventKind::Referral);
    }

    #[test]
    fn bodies_that_are_not_events_are_refused() {
        for body in [
            &b"not json"[..],
            br#"{"EventName":"referral-updated"}"#,
            br#"{"ResourceUri":"x"}"#,
            br#"{"EventName":" ","ResourceUri":"x"}"#,
            br#"{"EventName":"a","eventName":"b","ResourceUri":"x"}"#,
            br#"[]"#,
        ] {
            let refusal = Event::parse(body).unwrap_err();
            assert_eq!(refusal.status(), 400, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn referral_ids_are_plain_last_segments() {
        let id = |uri: &str| {
            Event {
                event_name: "referral-created".into(),
                resource_uri: uri.into(),
                resource_name: None,
                resource_change_utc_date: None,
            }
            .referral_id()
            .map(str::to_owned)
        };
        assert_eq!(
            id("https://h/engagements/v1/referrals/r1").as_deref(),
            Some("r1")
        );
        assert_eq!(id("https://h/engagements/v1/referrals/r1/"), None);
        assert_eq!(id("https://h/referrals/r1?x=1#y").as_deref(), Some("r1"));
        assert_eq!(id("r1"), None);
        assert_eq!(id("https://h/referrals/"), None);
        assert_eq!(id("https://h/referrals/.."), None);
        assert_eq!(id("https://h/referrals/a%2Fb"), None);
    }
}
