//! `table`: fixed-width aligned columns of the useful fields, so rows can be written as they
//! arrive (no pass over the whole listing to size the columns). Long values are cut with `…`;
//! control characters are replaced so a value cannot move the cursor or recolour the terminal.
//! Widths count terminal cells: CJK and emoji take two, combining marks none.

use std::io::{self, Write};

use referrals::Referral;

use super::{Column, Fields, Sink};

struct TableColumn {
    header: &'static str,
    /// The column the cell comes from (for `$select`).
    source: Column,
    width: usize,
    right: bool,
    value: fn(&Referral) -> String,
}

const COLUMNS: &[TableColumn] = &[
    TableColumn {
        header: "ID",
        source: Column::Id,
        width: 36,
        right: false,
        value: |r| Column::Id.value(r),
    },
    TableColumn {
        header: "NAME",
        source: Column::Name,
        width: 28,
        right: false,
        value: |r| Column::Name.value(r),
    },
    TableColumn {
        header: "STATUS",
        source: Column::Status,
        width: 6,
        right: false,
        value: |r| Column::Status.value(r),
    },
    TableColumn {
        header: "SUBSTATUS",
        source: Column::Substatus,
        width: 9,
        right: false,
        value: |r| Column::Substatus.value(r),
    },
    TableColumn {
        header: "CUSTOMER",
        source: Column::CustomerName,
        width: 24,
        right: false,
        value: |r| Column::CustomerName.value(r),
    },
    TableColumn {
        header: "CTRY",
        source: Column::CustomerCountry,
        width: 4,
        right: false,
        value: |r| Column::CustomerCountry.value(r),
    },
    TableColumn {
        header: "DEAL VALUE",
        source: Column::DealValue,
        width: 14,
        right: true,
        value: deal_value,
    },
    TableColumn {
        header: "UPDATED",
        source: Column::Updated,
        width: 16,
        right: false,
        value: updated,
    },
];

/// `5000 EUR`: the deal value with its currency.
pub fn deal_value(r: &Referral) -> String {
    let value = Column::DealValue.value(r);
    let currency = Column::Currency.value(r);
    match (value.is_empty(), currency.is_empty()) {
        (false, false) => format!("{value} {currency}"),
        _ => value,
    }
}

/// `2024-03-05T10:11:12.1234567Z` shown to the minute: `2024-03-05 10:11`.
fn updated(r: &Referral) -> String {
    Column::Updated
        .value(r)
        .chars()
        .take(16)
        .map(|c| if c == 'T' { ' ' } else { c })
        .collect()
}

/// A table writer over `out`.
pub struct Table<W: Write> {
    rows: Rows<W>,
    columns: Vec<&'static TableColumn>,
}

impl<W: Write> Table<W> {
    pub fn new(out: W, header: bool, fields: &Fields) -> io::Result<Self> {
        let mut columns: Vec<&'static TableColumn> =
            COLUMNS.iter().filter(|c| fields.has(c.source)).collect();
        if columns.is_empty() {
            columns = COLUMNS.iter().collect();
        }
        let headings = columns
            .iter()
            .map(|c| Heading {
                header: c.header,
                width: c.width,
                right: c.right,
            })
            .collect();
        Ok(Table {
            rows: Rows::new(out, header, headings)?,
            columns,
        })
    }
}

/// A column of [`Rows`]: its header, its width in terminal cells, and its alignment.
pub struct Heading {
    pub header: &'static str,
    pub width: usize,
    pub right: bool,
}

/// Rows of fixed-width cells under a header row, for tables whose cells the caller computes
/// (`referrals due`'s time left); [`Table`] writes its rows with it.
pub struct Rows<W: Write> {
    out: W,
    line: String,
    headings: Vec<Heading>,
}

impl<W: Write> Rows<W> {
    /// Rows of `headings` over `out`, starting with the header row when `header`.
    pub fn new(out: W, header: bool, headings: Vec<Heading>) -> io::Result<Self> {
        let mut rows = Rows {
            out,
            line: String::new(),
            headings,
        };
        if header {
            let headers: Vec<String> = rows.headings.iter().map(|h| h.header.to_owned()).collect();
            rows.write(&headers)?;
        }
        Ok(rows)
    }

    /// Writes one row: each cell cut or padded to its column's width.
    pub fn write(&mut self, cells: &[String]) -> io::Result<()> {
        self.line.clear();
        let count = self.headings.len();
        for (i, (column, cell)) in self.headings.iter().zip(cells).enumerate() {
            if i > 0 {
                self.line.push_str("  ");
            }
            let cell = fit(cell, column.width);
            let pad = column.width.saturating_sub(text_width(&cell));
            let last = i + 1 == count;
            if column.right {
                self.line.extend(std::iter::repeat_n(' ', pad));
                self.line.push_str(&cell);
            } else {
                self.line.push_str(&cell);
                if !last {
                    self.line.extend(std::iter::repeat_n(' ', pad));
                }
            }
        }
        self.line.push('\n');
        self.out.write_all(self.line.as_bytes())
    }

    /// Pushes the rows written so far to the reader.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The cell cut to `width` terminal cells (the last one `…` when cut), control characters
/// replaced.
fn fit(text: &str, width: usize) -> String {
    let clean = text.chars().map(|c| if c.is_control() { ' ' } else { c });
    if text_width(text) <= width {
        return clean.collect();
    }
    let mut cut = String::new();
    let mut used = 0;
    for c in clean {
        let w = char_width(c);
        if used + w + 1 > width {
            break;
        }
        used += w;
        cut.push(c);
    }
    cut.push('…');
    cut
}

fn text_width(text: &str) -> usize {
    text.chars().map(char_width).sum()
}

/// Terminal cells of `c`: an approximation of East Asian Width good for names and addresses
/// (the exact tables would need the `unicode-width` crate).
fn char_width(c: char) -> usize {
    match u32::from(c) {
        // Combining marks, zero-width joiners and spaces, variation selectors.
        0x0300..=0x036F | 0x200B..=0x200F | 0x20D0..=0x20FF | 0xFE00..=0xFE0F => 0,
        // Hangul Jamo, CJK, Hiragana/Katakana, Hangul syllables, compatibility ideographs,
        // full-width forms, emoji and the supplementary ideographic planes.
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

impl<W: Write> Sink for Table<W> {
    fn item(&mut self, referral: &Referral) -> io::Result<()> {
        let cells: Vec<String> = self.columns.iter().map(|c| (c.value)(referral)).collect();
        self.rows.write(&cells)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.rows.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_and_control_characters_replaced() {
        assert_eq!(fit("short", 8), "short");
        assert_eq!(fit("exactly8", 8), "exactly8");
        assert_eq!(fit("much too long", 8), "much to…");
        assert_eq!(fit("bell\u{7}\u{1b}[31m", 20), "bell  [31m");
        // Wide characters count two cells.
        assert_eq!(text_width("株式会社"), 8);
        assert_eq!(fit("株式会社ノース", 8), "株式会…");
        assert_eq!(text_width(&fit("Rocket 🚀 Labs", 9)), 9);
        assert_eq!(text_width("e\u{301}"), 1);
    }

    #[test]
    fn columns_line_up_under_the_header() {
        let mut table = Table::new(Vec::new(), true, &Fields::all()).unwrap();
        let referral: Referral = serde_json::from_str(
            r#"{"id":"r1","name":"A very long referral name that will not fit","status":"New",
               "details":{"dealValue":5000,"currency":"EUR"},
               "updatedDateTime":"2024-03-05T10:11:12.1234567Z"}"#,
        )
        .unwrap();
        table.item(&referral).unwrap();
        table.finish().unwrap();
        let text = String::from_utf8(table.rows.out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let status_at = lines[0].find("STATUS").unwrap();
        let char_index = |line: &str, byte: usize| line[..byte].chars().count();
        assert_eq!(
            lines[1]
                .chars()
                .skip(char_index(lines[0], status_at))
                .take(3)
                .collect::<String>(),
            "New"
        );
        assert!(lines[1].contains("5000 EUR"));
        assert!(lines[1].ends_with("2024-03-05 10:11"));
        assert!(lines[1].contains('…'));
    }

    #[test]
    fn a_selection_shows_only_its_columns() {
        let fields = Fields::only(&["id".to_owned(), "status".to_owned()]);
        let mut table = Table::new(Vec::new(), true, &fields).unwrap();
        let referral: Referral = serde_json::from_str(r#"{"id":"r1","status":"New"}"#).unwrap();
        table.item(&referral).unwrap();
        let text = String::from_utf8(table.rows.out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["ID", "STATUS"]
        );
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            ["r1", "New"]
        );
    }
}
