//! What is about to expire, and a picture of the whole pipeline, from a referrals mirror.
//!
//! A referral that stays New past its `expirationDateTime` is lost (Expired is terminal), and
//! the mirror written by `referrals-sync` holds everything needed to see the pipeline at a
//! glance. This crate reads it; it makes no request and reads no clock (`now` is an argument).
//!
//! - [`DueSelector`] / [`select_due`]: the New referrals expiring before `now + within`, those
//!   already past it included, soonest first, with the [`TimeLeft`] in words (`in 5 h`,
//!   `expired 20 h ago`). Fed one referral at a time, so a listing from the API goes through
//!   it as well as the mirror ([`due_from_mirror`]).
//! - [`Pipeline`]: counts by status and substatus, the open deal value by currency, new
//!   against accepted and won per [`IsoWeek`], and the creation-to-acceptance distribution.
//! - [`Report`]: both, read from a mirror in one pass ([`Report::from_mirror`]), rendered as
//!   one self-contained HTML page with inline SVG charts ([`Report::to_html`]), and written
//!   readable by its owner only ([`Report::write_html`]).
//!
//! ```no_run
//! use std::time::{Duration, SystemTime};
//! use referrals_report::Report;
//! use referrals_sync::Mirror;
//!
//! let mirror = Mirror::open_to_read("referrals.db")?;
//! let now = SystemTime::now();
//! let report = Report::from_mirror(&mirror, now, referrals_report::DEFAULT_WITHIN)?;
//! println!("{} referrals, {} due", report.pipeline.total, report.due.due.len());
//! report.write_html(std::path::Path::new("pipeline.html"))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![warn(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod due;
pub mod html;
mod instant;
mod pipeline;
mod report;
mod svg;
mod text;

pub use due::{DEFAULT_WITHIN, Due, DueList, DueSelector, TimeLeft, in_words, select_due};
pub use instant::IsoWeek;
pub use pipeline::{Bucket, CurrencyValue, Pipeline, StatusCount, WeekCounts};
pub use report::{Report, ReportError, due_from_mirror, for_each_referral, write_private};

/// The code blocks of `docs/report.md`, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/report.md")]
pub struct ReportDocDoctests;
