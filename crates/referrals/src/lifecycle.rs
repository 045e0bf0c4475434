//! The partner's daily moves of a referral (accept, decline, won, lost) and deal registrations,
//! as `Client` methods: each a read, a check against the transition table, then one update.

use http::StatusCode;
use referrals_model::{DealRegistration, LifecycleAction, Referral, check_registration_update};
use referrals_query::{PatchOp, PatchOptions};

use crate::{Client, Error, ErrorKind, InvalidRequest};

/// What a life-cycle move did ([`Client::transition`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Transition {
    /// The referral was updated; this is it, as the service answered.
    Moved(Referral),
    /// The referral already was where the action leads (a retried script, another user's
    /// move: [`LifecycleAction::is_done`]); nothing was sent. This is it, as read.
    AlreadyThere(Referral),
}

impl Transition {
    /// The referral, moved or as it already was.
    pub fn referral(&self) -> &Referral {
        match self {
            Transition::Moved(referral) | Transition::AlreadyThere(referral) => referral,
        }
    }

    /// [`referral`](Self::referral), by value.
    pub fn into_referral(self) -> Referral {
        match self {
            Transition::Moved(referral) | Transition::AlreadyThere(referral) => referral,
        }
    }

    /// True when nothing was sent: the referral already was there.
    pub fn was_already_there(&self) -> bool {
        matches!(self, Transition::AlreadyThere(_))
    }
}

impl Client {
    /// `New` → `Active` / `Accepted`. See [`Client::transition`]; a referral that is already
    /// accepted is returned as it is.
    pub async fn accept(&self, id: &str) -> Result<Referral, Error> {
        self.transition(id, LifecycleAction::Accept, None)
            .await
            .map(Transition::into_referral)
    }

    /// `New` or `Active` → `Closed` / `Declined`, with an optional `statusReason`.
    pub async fn decline(&self, id: &str, reason: Option<&str>) -> Result<Referral, Error> {
        self.transition(id, LifecycleAction::Decline, reason)
            .await
            .map(Transition::into_referral)
    }

    /// `Active` → `Closed` / `Won`.
    pub async fn win(&self, id: &str) -> Result<Referral, Error> {
        self.transition(id, LifecycleAction::Win, None)
            .await
            .map(Transition::into_referral)
    }

    /// `Active` → `Closed` / `Lost`, with an optional `statusReason`.
    pub async fn lose(&self, id: &str, reason: Option<&str>) -> Result<Referral, Error> {
        self.transition(id, LifecycleAction::Lose, reason)
            .await
            .map(Transition::into_referral)
    }

    /// Moves a referral through its life: GET it, check `action` against its status (the
    /// transition table), then PATCH `status`, `substatus` (and `statusReason` when given) with
    /// `If-Match` set to the eTag just read (the body's, else the `ETag` header) and `Prefer: return=representation`.
    ///
    /// A referral already where the action leads ([`LifecycleAction::is_done`]) is not updated:
    /// [`Transition::AlreadyThere`], so that a retried script succeeds (a `reason` is then not
    /// applied). A move the table forbids fails with [`ErrorKind::Refused`] before any update
    /// is sent. When the referral changed in between (412), it is read once more: the update is
    /// retried with the new eTag if the move is still allowed, else refused with
    /// `changed_meanwhile`. Returns the updated referral ([`Transition::Moved`]).
    pub async fn transition(
        &self,
        id: &str,
        action: LifecycleAction,
        reason: Option<&str>,
    ) -> Result<Transition, Error> {
        let mut operations = vec![
            PatchOp::replace("/status", action.status().as_str()),
            PatchOp::replace("/substatus", action.substatus().as_str()),
        ];
        if let Some(reason) = reason {
            // `add` sets a member whether or not the referral has one yet (RFC 6902).
            operations.push(PatchOp::add("/statusReason", reason));
        }
        let mut changed_meanwhile = false;
        loop {
            let (current, header_etag) = self.get_with_etag(id).await?;
            if action.is_done(current.status.as_ref(), current.substatus.as_ref()) {
                return Ok(Transition::AlreadyThere(current));
            }
            action
                .check(current.status.as_ref(), current.substatus.as_ref())
                .map_err(|refused| {
                    Error::new(ErrorKind::Refused {
                        refused,
                        changed_meanwhile,
                    })
                })?;
            // The body's eTag is what the API documents; the header carries it too.
            let etag = current
                .e_tag
                .as_deref()
                .or(header_etag.as_deref())
                .ok_or_else(|| Error::invalid(InvalidRequest::NoETag { id: id.to_owned() }))?;
            let options = PatchOptions::new().if_match(etag).return_representation();
            match self.patch(id, &operations, options).await {
                Ok(Some(updated)) => return Ok(Transition::Moved(updated)),
                // The service applied it without sending the referral back: read it.
                Ok(None) => return self.get(id).await.map(Transition::Moved),
                Err(error)
                    if !changed_meanwhile
                        && error.status() == Some(StatusCode::PRECONDITION_FAILED) =>
                {
                    tracing::debug!(id, "412 on a life-cycle update: reading the referral again");
                    changed_meanwhile = true;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Registers a won co-sell deal on referral `id`: checks `deal`
    /// ([`DealRegistration::validate`], failing with [`ErrorKind::Registration`] before anything
    /// is sent), then `PATCH` with `[{"op": "add", "path": "/registrations/-", "value": deal}]`.
    /// The service answers 204; [`Client::get`] shows the registration.
    pub async fn register_deal(&self, id: &str, deal: &DealRegistration) -> Result<(), Error> {
        deal.validate()
            .map_err(|e| Error::new(ErrorKind::Registration(e)))?;
        let value =
            serde_json::to_value(deal).map_err(|e| Error::invalid(InvalidRequest::Encode(e)))?;
        let operations = [PatchOp::add("/registrations/-", value)];
        self.patch(id, &operations, PatchOptions::new()).await?;
        Ok(())
    }

    /// Updates the deal registration of referral `id` with JSON Patch `operations` under
    /// `/registrations/{n}/…` (e.g. `/registrations/0/contract/endDateTime`); each path and
    /// value is checked ([`check_registration_update`]) before anything is sent. The service
    /// answers 204.
    pub async fn update_deal_registration(
        &self,
        id: &str,
        operations: &[PatchOp],
    ) -> Result<(), Error> {
        if operations.is_empty() {
            return Err(Error::invalid(InvalidRequest::EmptyUpdate));
        }
        for operation in operations {
            let (PatchOp::Replace { path, value } | PatchOp::Add { path, value }) = operation;
            check_registration_update(path, value)
                .map_err(|e| Error::new(ErrorKind::Registration(e)))?;
        }
        self.patch(id, operations, PatchOptions::new()).await?;
        Ok(())
    }
}
