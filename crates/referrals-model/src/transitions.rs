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

/// A partner's daily move of a referral through its life, each one status change: accept a new
/// lead, decline one, close it won or lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifecycleAction {
    /// `New` → `Active` / `Accepted`.
    Accept,
    /// `New` or `Active` → `Closed` / `Declined`.
    Decline,
    /// `Active` → `Closed` / `Won`.
    Win,
    /// `Active` → `Closed` / `Lost`.
    Lose,
}

impl LifecycleAction {
    /// Every action, in the order a referral meets them.
    pub const ALL: [LifecycleAction; 4] = [
        LifecycleAction::Accept,
        LifecycleAction::Decline,
        LifecycleAction::Win,
        LifecycleAction::Lose,
    ];

    /// The command's name: `accept`, `decline`, `won`, `lost`.
    pub fn name(self) -> &'static str {
        match self {
            LifecycleAction::Accept => "accept",
            LifecycleAction::Decline => "decline",
            LifecycleAction::Win => "won",
            LifecycleAction::Lose => "lost",
        }
    }

    /// The status the referral moves to.
    pub fn status(self) -> ReferralStatus {
        match self {
            LifecycleAction::Accept => ReferralStatus::Active,
            _ => ReferralStatus::Closed,
        }
    }

    /// The substatus the referral moves to.
    pub fn substatus(self) -> ReferralSubstatus {
        match self {
            LifecycleAction::Accept => ReferralSubstatus::Accepted,
            LifecycleAction::Decline => ReferralSubstatus::Declined,
            LifecycleAction::Win => ReferralSubstatus::Won,
            LifecycleAction::Lose => ReferralSubstatus::Lost,
        }
    }

    /// The statuses this action starts from (each a move the transition table allows).
    pub fn from_statuses(self) -> &'static [ReferralStatus] {
        match self {
            LifecycleAction::Accept => &[ReferralStatus::New],
            LifecycleAction::Decline => &[ReferralStatus::New, ReferralStatus::Active],
            LifecycleAction::Win | LifecycleAction::Lose => &[ReferralStatus::Active],
        }
    }

    /// The actions allowed on a referral with this status.
    pub fn allowed_from(status: &ReferralStatus) -> Vec<LifecycleAction> {
        LifecycleAction::ALL
            .into_iter()
            .filter(|action| action.from_statuses().contains(status))
            .collect()
    }

    /// Checks the action against the referral's current status (and the transition table);
    /// the error names the current status and substatus and what is allowed from there.
    ///
    /// ```
    /// use referrals_model::{LifecycleAction, ReferralStatus as S, ReferralSubstatus as Sub};
    ///
    /// assert!(LifecycleAction::Accept.check(Some(&S::New), Some(&Sub::Pending)).is_ok());
    /// let refused = LifecycleAction::Win.check(Some(&S::New), Some(&Sub::Pending)).unwrap_err();
    /// assert_eq!(
    ///     refused.to_string(),
    ///     "cannot mark the referral won: it is New (substatus Pending), and won needs Active; \
    ///      allowed from New: accept, decline"
    /// );
    /// ```
    pub fn check(
        self,
        status: Option<&ReferralStatus>,
        substatus: Option<&ReferralSubstatus>,
    ) -> Result<(), LifecycleRefused> {
        let refused = || LifecycleRefused {
            action: self,
            status: status.cloned(),
            substatus: substatus.cloned(),
        };
        let current = status.ok_or_else(refused)?;
        if !self.from_statuses().contains(current) {
            return Err(refused());
        }
        check_transition(current, &self.status(), Some(&self.substatus())).map_err(|_| refused())
    }

    /// True when a referral with this status and substatus is already where the action leads,
    /// so the action has nothing to do (a retried script, another user's move): `accept` of an
    /// `Active` referral (`Accepted` is the only substatus `Active` allows, so a missing one
    /// counts too), `decline`, `won` and `lost` of a `Closed` referral with their substatus.
    /// A `Closed` referral with another substatus is not done: `lost` after `Won` is refused
    /// by [`check`](Self::check).
    ///
    /// ```
    /// use referrals_model::{LifecycleAction, ReferralStatus as S, ReferralSubstatus as Sub};
    ///
    /// assert!(LifecycleAction::Accept.is_done(Some(&S::Active), Some(&Sub::Accepted)));
    /// assert!(LifecycleAction::Win.is_done(Some(&S::Closed), Some(&Sub::Won)));
    /// assert!(!LifecycleAction::Lose.is_done(Some(&S::Closed), Some(&Sub::Won)));
    /// assert!(!LifecycleAction::Accept.is_done(Some(&S::New), Some(&Sub::Pending)));
    /// ```
    pub fn is_done(
        self,
        status: Option<&ReferralStatus>,
        substatus: Option<&ReferralSubstatus>,
    ) -> bool {
        let target = self.status();
        if status != Some(&target) {
            return false;
        }
        match substatus {
            Some(substatus) => *substatus == self.substatus(),
            None => target.allowed_substatuses() == [self.substatus()],
        }
    }

    fn verb(self) -> &'static str {
        match self {
            LifecycleAction::Accept => "accept the referral",
            LifecycleAction::Decline => "decline the referral",
            LifecycleAction::Win => "mark the referral won",
            LifecycleAction::Lose => "mark the referral lost",
        }
    }
}

impl fmt::Display for LifecycleAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A life-cycle action the referral's current status does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleRefused {
    /// What was asked.
    pub action: LifecycleAction,
    /// The referral's status when checked (`None`: the referral has none).
    pub status: Option<ReferralStatus>,
    /// The referral's substatus when checked.
    pub substatus: Option<ReferralSubstatus>,
}

impl fmt::Display for LifecycleRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let needs = names(
            self.action
                .from_statuses()
                .iter()
                .map(ReferralStatus::as_str),
        )
        .replace(", ", " or ");
        let substatus = self
            .substatus
            .as_ref()
            .map(|s| format!(" (substatus {s})"))
            .unwrap_or_default();
        let Some(status) = &self.status else {
            return write!(
                f,
                "cannot {}: it has no status{substatus}, and {} needs {needs}",
                self.action.verb(),
                self.action
            );
        };
        let allowed: Vec<&str> = LifecycleAction::allowed_from(status)
            .into_iter()
            .map(LifecycleAction::name)
            .collect();
        let allowed = if allowed.is_empty() {
            "nothing (it is final)".to_owned()
        } else {
            allowed.join(", ")
        };
        write!(
            f,
            "cannot {}: it is {status}{substatus}, and {} needs {needs}; allowed from {status}: {allowed}",
            self.action.verb(),
            self.action
        )
    }
}

impl std::error::Error for LifecycleRefused {}

#[cfg(test)]
mod lifecycle_tests {
    use super::*;
    use ReferralStatus as S;

    #[test]
    fn each_action_starts_only_where_the_table_allows() {
        for action in LifecycleAction::ALL {
            for status in S::KNOWN {
                let allowed = action.check(Some(status), None).is_ok();
                let expected = action.from_statuses().contains(status);
                assert_eq!(allowed, expected, "{action} from {status}");
                if allowed {
                    assert!(
                        check_transition(status, &action.status(), Some(&action.substatus()))
                            .is_ok()
                    );
                }
            }
            assert!(action.check(None, None).is_err());
            assert!(action.check(Some(&S::from("Odd")), None).is_err());
        }
    }

    #[test]
    fn an_action_is_done_only_in_its_own_target_state() {
        use ReferralSubstatus as Sub;
        let every_substatus: Vec<Option<Sub>> = std::iter::once(None)
            .chain(Sub::KNOWN.iter().cloned().map(Some))
            .collect();
        for action in LifecycleAction::ALL {
            for status in S::KNOWN {
                for substatus in &every_substatus {
                    let done = action.is_done(Some(status), substatus.as_ref());
                    let target = *status == action.status()
                        && (substatus.as_ref() == Some(&action.substatus())
                            || (substatus.is_none() && action == LifecycleAction::Accept));
                    assert_eq!(done, target, "{action} from {status} {substatus:?}");
                    if done {
                        assert!(
                            action.check(Some(status), substatus.as_ref()).is_err(),
                            "done is never also a move the table allows"
                        );
                    }
                }
            }
            assert!(!action.is_done(None, None));
        }
    }

    #[test]
    fn a_refusal_names_the_state_and_what_is_allowed() {
        let refused = LifecycleAction::Accept
            .check(Some(&S::Closed), Some(&ReferralSubstatus::Won))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            refused.as_deref(),
            Some(
                "cannot accept the referral: it is Closed (substatus Won), and accept needs New; \
                 allowed from Closed: nothing (it is final)"
            )
        );
        let no_status = LifecycleAction::Lose
            .check(None, None)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            no_status.as_deref(),
            Some("cannot mark the referral lost: it has no status, and lost needs Active")
        );
    }
}
