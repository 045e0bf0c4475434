//! The integration tests of `referrals-report`, in one binary: the report and the due
//! selection over mirrors with known data, and the page in a real (headless) browser.

mod browser;
mod mirror;
mod support;
