//! Writing a listing to stdout in each `--format`, one item at a time, so that memory stays
//! bounded by one page however long the listing is.

mod columns;
mod csv;
mod json;
mod table;

use std::io::{self, Write};

use referrals::Referral;

use crate::cli::Format;

pub use columns::Column;

/// Receives a listing's items as they arrive.
pub trait Sink {
    /// Writes one referral.
    fn item(&mut self, referral: &Referral) -> io::Result<()>;

    /// Ends the output (a JSON array's closing bracket) and flushes. Called on success and on a
    /// failure alike, so that what was received is complete and well-formed.
    fn finish(&mut self) -> io::Result<()>;

    /// Pushes what was written so far to the reader (after every page).
    fn flush(&mut self) -> io::Result<()>;
}

/// A sink writing `format` to `out`; `header` says whether csv and table start with a header row.
pub fn sink<W: Write + 'static>(format: Format, out: W, header: bool) -> io::Result<Box<dyn Sink>> {
    Ok(match format {
        Format::Ndjson => Box::new(json::Ndjson::new(out)),
        Format::Json => Box::new(json::JsonArray::new(out)?),
        Format::Csv => Box::new(csv::Csv::new(out, header)?),
        Format::Table => Box::new(table::Table::new(out, header)?),
    })
}

/// Writes one referral as indented JSON, followed by a newline (for get, create and update).
pub fn write_pretty(out: &mut impl Write, referral: &Referral) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, referral)?;
    out.write_all(b"\n")?;
    out.flush()
}
