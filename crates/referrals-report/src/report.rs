//! The report of a mirror: its pipeline and what is due, read in one pass, rendered as one HTML
//! page and written privately.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use referrals_model::{DecodeError, Referral};
use referrals_sync::{Mirror, MirrorError};

use crate::due::{DueList, DueSelector};
use crate::pipeline::Pipeline;

/// Reading a mirror or writing a report failed. Every message names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The mirror could not be opened or read.
    #[error(transparent)]
    Mirror(#[from] MirrorError),
    /// A referral stored in the mirror is not the JSON of a referral.
    #[error(
        "{}: the stored referral number {position} (in the order first seen) is not a referral: \
         {source}",
        path.display()
    )]
    Stored {
        /// The mirror file.
        path: PathBuf,
        /// Its position among the mirror's current referrals, from 1.
        position: u64,
        /// What was wrong with its JSON.
        #[source]
        source: DecodeError,
    },
    /// The report file could not be written.
    #[error("{}: cannot write the report ({source})", path.display())]
    Write {
        /// The report file.
        path: PathBuf,
        /// The file system's error.
        #[source]
        source: std::io::Error,
    },
}

/// Calls `each` with every current referral of `mirror` (those not marked removed), in the
/// order first seen; with `status`, only those with that status.
pub fn for_each_referral(
    mirror: &Mirror,
    status: Option<&str>,
    mut each: impl FnMut(Referral),
) -> Result<u64, ReportError> {
    let mut position = 0;
    mirror.for_each_referral(status, |raw| {
        position += 1;
        let referral =
            referrals_model::decode_str::<Referral>(raw).map_err(|source| ReportError::Stored {
                path: mirror.path().to_owned(),
                position,
                source,
            })?;
        each(referral);
        Ok(())
    })
}

/// The New referrals of `mirror` that expire before `now + within`, soonest first (see
/// [`DueSelector`]), read without any request.
pub fn due_from_mirror(
    mirror: &Mirror,
    now: SystemTime,
    within: Duration,
) -> Result<DueList, ReportError> {
    let mut selector = DueSelector::new(now, within);
    for_each_referral(mirror, Some("New"), |referral| selector.offer(referral))?;
    Ok(selector.finish())
}

/// Everything the report shows: the pipeline of every current referral of a mirror, what is
/// due, and when and from what it was made.
#[derive(Debug, Clone)]
pub struct Report {
    /// The pipeline's aggregates.
    pub pipeline: Pipeline,
    /// The due referrals.
    pub due: DueList,
    /// The horizon of [`Report::due`].
    pub within: Duration,
    /// When the report was made (the `now` of the due selection).
    pub generated_at: SystemTime,
    /// The mirror's file name, shown on the page.
    pub source: String,
}

impl Report {
    /// The report of `mirror` at `now`, with the referrals due within `within`, read in one
    /// pass over its current referrals.
    pub fn from_mirror(
        mirror: &Mirror,
        now: SystemTime,
        within: Duration,
    ) -> Result<Report, ReportError> {
        let mut pipeline = Pipeline::default();
        let mut selector = DueSelector::new(now, within);
        for_each_referral(mirror, None, |referral| {
            pipeline.add(&referral);
            selector.offer(referral);
        })?;
        let source = mirror
            .path()
            .file_name()
            .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
        Ok(Report {
            pipeline,
            due: selector.finish(),
            within,
            generated_at: now,
            source,
        })
    }

    /// The report as one self-contained HTML page (see [`crate::html`]).
    pub fn to_html(&self) -> String {
        crate::html::render(self)
    }

    /// Writes [`Report::to_html`] to `path`, readable and writable by its owner only (0600 on
    /// Unix) from its first byte: it holds customers' names and deal values. The page is
    /// written to a temporary file beside `path`, then renamed over it, so a reader never sees
    /// half a page and an earlier report with a wider mode is replaced, not reused.
    pub fn write_html(&self, path: &Path) -> Result<(), ReportError> {
        write_private(path, self.to_html().as_bytes())
    }
}

/// Writes `contents` to `path` as a new file of its owner's only (see [`Report::write_html`]).
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), ReportError> {
    let fail = |source| ReportError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    // tempfile creates its files 0600 on Unix, whatever the umask.
    let mut file = tempfile::Builder::new()
        .prefix(".referrals-report-")
        .tempfile_in(dir)
        .map_err(fail)?;
    file.write_all(contents).map_err(fail)?;
    file.as_file().sync_all().map_err(fail)?;
    file.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}
