//! Writing a listing to stdout in each `--format`, one item at a time, so that memory stays
//! bounded by one page however long the listing is.

mod columns;
mod csv;
mod json;
mod table;

use std::io::{self, IsTerminal, Write};

use referrals::Referral;

use crate::cli::Format;

pub use columns::Column;
pub use csv::{is_plain_number, unneutralised};
pub use table::{Heading, Rows, deal_value};

/// Receives a listing's items as they arrive.
pub trait Sink {
    /// Writes one referral.
    fn item(&mut self, referral: &Referral) -> io::Result<()>;

    /// Ends the output (a JSON array's closing bracket) and flushes. Called on success and on a
    /// failure alike, so that what was received is complete and well-formed.
    fn finish(&mut self) -> io::Result<()> {
        self.flush()
    }

    /// Pushes what was written so far to the reader (after every page).
    fn flush(&mut self) -> io::Result<()>;
}

/// The top-level fields a listing asked for (`$select`): table and csv show only their columns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(Vec<String>);

impl Fields {
    /// Every field (no `$select`).
    pub fn all() -> Fields {
        Fields(Vec::new())
    }

    /// Only these top-level JSON fields (empty: every field).
    pub fn only(fields: &[String]) -> Fields {
        Fields(fields.iter().map(|f| f.trim().to_owned()).collect())
    }

    /// True if the column's field was selected.
    pub fn has(&self, column: Column) -> bool {
        self.0.is_empty() || self.0.iter().any(|f| f == column.field())
    }
}

/// `format`, else a table on a terminal and `piped` otherwise.
pub fn format_or(format: Option<Format>, piped: Format) -> Format {
    format.unwrap_or_else(|| {
        if io::stdout().is_terminal() {
            Format::Table
        } else {
            piped
        }
    })
}

/// A sink writing `format` to `out`; `header` says whether csv and table start with a header row,
/// `fields` which columns they have.
pub fn sink<W: Write + 'static>(
    format: Format,
    out: W,
    header: bool,
    fields: &Fields,
) -> io::Result<Box<dyn Sink>> {
    Ok(match format {
        Format::Ndjson => Box::new(json::Ndjson::new(out)),
        Format::Json => Box::new(json::JsonArray::new(out)?),
        Format::Csv => Box::new(csv::Csv::new(out, header, fields)?),
        Format::Table => Box::new(table::Table::new(out, header, fields)?),
    })
}

/// Writes one referral (after a life-cycle command or a deal registration): a one-row table,
/// indented JSON, one NDJSON line or a csv row with its header.
pub fn write_referral<W: Write + 'static>(
    format: Format,
    mut out: W,
    referral: &Referral,
) -> io::Result<()> {
    if format == Format::Json {
        return write_pretty(&mut out, referral);
    }
    let mut sink = sink(format, out, true, &Fields::all())?;
    sink.item(referral)?;
    sink.finish()
}

/// Prints one referral to stdout as indented JSON (get, create, update, replace).
pub fn print_pretty(referral: &Referral) -> Result<(), crate::failure::Failure> {
    write_pretty(&mut io::stdout().lock(), referral)?;
    Ok(())
}

/// Writes one referral as indented JSON, followed by a newline (for get, create and update).
pub fn write_pretty(out: &mut impl Write, referral: &Referral) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, referral)?;
    out.write_all(b"\n")?;
    out.flush()
}
