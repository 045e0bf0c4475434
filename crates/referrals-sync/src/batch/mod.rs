//! Creating a batch of referrals exactly once (`referrals create --from`).
//!
//! - [`Plan`]: pure: every line read and checked before anything is sent (JSON, the model,
//!   [`check_new_referral`](referrals_model::check_new_referral), a unique
//!   `externalReferenceId` per line), every problem named with its line and field path.
//! - [`create_batch`]: the mirror brought up to date, what exists skipped, each creation
//!   recorded in the mirror's outbox (`create_intents`, see `docs/sync.md`) before its request
//!   and resolved after it, so that no run, however it ends, makes a referral twice.

mod intents;
mod plan;
mod run;

pub use plan::{LineProblem, Plan, PlanError, PlannedLine};
pub use run::{
    BatchCounts, BatchError, BatchOptions, BatchReport, DEFAULT_CONCURRENCY, LineOutcome,
    MAX_CONCURRENCY, Outcome, create_batch,
};
