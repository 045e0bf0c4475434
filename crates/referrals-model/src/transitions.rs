//! The status transitions the API allows on update.

use std::fmt;

use crate::{ReferralStatus, ReferralSubstatus};

/// Why a status change is not allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionError {
    /// The target status cannot be reached from the current one.
    Status {
        /// The current status.
        from: ReferralStatus,
        /// The requested status.
        to: ReferralStatus,
    },
    /// The substatus does not belong to the target status.
    Substatus {
        /// The requested status.
        status: ReferralStatus,
        /// The requested substatus.
        substatus: ReferralSubstatus,
    },
}

impl fmt::Display for TransitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransitionError::Status { from, to } => {
                let allowed = names(from.allowed_next().iter().map(ReferralStatus::as_str));
                write!(
                    f,
                    "a referral cannot move from status `{from}` to `{to}` (allowed: {allowed})"
                )
            }
            TransitionError::Substatus { status, substatus } => {
                let allowed = names(
                    status
                        .allowed_substatuses()
                        .iter()
                        .map(ReferralSubstatus::as_str),
                );
                write!(
                    f,
                    "substatus `{substatus}` is not allowed with status `{status}` (allowed: {allowed})"
                )
            }
        }
    }
}

fn names<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let list: Vec<&str> = values.collect();
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(", ")
    }
}

impl std::error::Error for TransitionError {}

impl ReferralStatus {
    /// The statuses an update may move a referral with this status to.
    ///
    /// ```
    /// use referrals_model::ReferralStatus;
    /// assert!(ReferralStatus::New.can_move_to(&ReferralStatus::Active));
    /// assert!(!ReferralStatus::Closed.can_move_to(&ReferralStatus::Active));
    /// ```
    pub fn allowed_next(&self) -> &'static [ReferralStatus] {
        match self {
            ReferralStatus::New => &[
                ReferralStatus::New,
                ReferralStatus::Active,
                ReferralStatus::Closed,
            ],
            ReferralStatus::Active => &[ReferralStatus::Active, ReferralStatus::Closed],
            ReferralStatus::Closed => &[ReferralStatus::Closed],
            ReferralStatus::None | ReferralStatus::Unknown(_) => &[],
        }
    }

    /// True if an update may move a referral from this status to `next`.
    pub fn can_move_to(&self, next: &ReferralStatus) -> bool {
        self.allowed_next().contains(next)
    }

    /// The substatuses allowed together with this status.
    pub fn allowed_substatuses(&self) -> &'static [ReferralSubstatus] {
        match self {
            ReferralStatus::New => &[ReferralSubstatus::Pending, ReferralSubstatus::Received],
            ReferralStatus::Active => &[ReferralSubstatus::Accepted],
            ReferralStatus::Closed => &[
                ReferralSubstatus::Won,
                ReferralSubstatus::Lost,
                ReferralSubstatus::Declined,
                ReferralSubstatus::Expired,
            ],
            ReferralStatus::None | ReferralStatus::Unknown(_) => &[],
        }
    }
}

/// Checks an update from status `from` to `to` with an optional new `substatus`, per the API's
/// transition table.
///
/// ```
/// use referrals_model::{check_transition, ReferralStatus as S, ReferralSubstatus as Sub};
///
/// assert!(check_transition(&S::New, &S::Active, Some(&Sub::Accepted)).is_ok());
/// let error = check_transition(&S::Active, &S::Closed, Some(&Sub::Pending)).unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "substatus `Pending` is not allowed with status `Closed` (allowed: Won, Lost, Declined, Expired)"
/// );
/// ```
pub fn check_transition(
    from: &ReferralStatus,
    to: &ReferralStatus,
    substatus: Option<&ReferralSubstatus>,
) -> Result<(), TransitionError> {
    if !from.can_move_to(to) {
        return Err(TransitionError::Status {
            from: from.clone(),
            to: to.clone(),
        });
    }
    match substatus {
        Some(sub) if !to.allowed_substatuses().contains(sub) => Err(TransitionError::Substatus {
            status: to.clone(),
            substatus: sub.clone(),
        }),
        _ => Ok(()),
    }
}
