//! `csv`: RFC 4180 quoting, one row per referral, the stable [`Column::CSV`] columns.

use std::io::{self, Write};

use referrals::Referral;

use super::{Column, Fields, Sink};

/// A csv writer over `out`.
pub struct Csv<W: Write> {
    out: W,
    line: String,
    columns: Vec<Column>,
}

impl<W: Write> Csv<W> {
    pub fn new(out: W, header: bool, fields: &Fields) -> io::Result<Self> {
        let mut columns: Vec<Column> = Column::CSV
            .iter()
            .copied()
            .filter(|c| fields.has(*c))
            .collect();
        if columns.is_empty() {
            // A selection of fields none of the columns shows: the stable columns, mostly empty.
            columns = Column::CSV.to_vec();
        }
        let mut csv = Csv {
            out,
            line: String::new(),
            columns,
        };
        if header {
            let names: Vec<&str> = csv.columns.iter().map(|c| c.csv_name()).collect();
            csv.write_row(names.iter().copied())?;
        }
        Ok(csv)
    }

    fn write_row<'a>(&mut self, fields: impl Iterator<Item = &'a str>) -> io::Result<()> {
        self.line.clear();
        for (i, field) in fields.enumerate() {
            if i > 0 {
                self.line.push(',');
            }
            push_field(&mut self.line, field);
        }
        self.line.push('\n');
        self.out.write_all(self.line.as_bytes())
    }
}

/// Quotes a field when it holds a comma, a quote or a line break; quotes are doubled.
fn push_field(line: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        line.push('"');
        line.push_str(&field.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(field);
    }
}

impl<W: Write> Sink for Csv<W> {
    fn item(&mut self, referral: &Referral) -> io::Result<()> {
        let values: Vec<String> = self.columns.iter().map(|c| c.value(referral)).collect();
        self.write_row(values.iter().map(String::as_str))
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_separators_quotes_or_line_breaks_are_quoted() {
        let mut line = String::new();
        for field in ["plain", "a,b", "say \"hi\"", "two\nlines", "cr\r", ""] {
            push_field(&mut line, field);
            line.push('|');
        }
        assert_eq!(
            line,
            "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"two\nlines\"|\"cr\r\"||"
        );
    }

    #[test]
    fn header_then_one_row_per_referral() {
        let mut csv = Csv::new(Vec::new(), true, &Fields::all()).unwrap();
        let referral: Referral =
            serde_json::from_str(r#"{"id":"r1","name":"Contoso, Ltd"}"#).unwrap();
        csv.item(&referral).unwrap();
        csv.finish().unwrap();
        let text = String::from_utf8(csv.out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("id,name,status,substatus,type,"));
        assert!(lines[1].starts_with("r1,\"Contoso, Ltd\","));
        assert_eq!(lines[1].matches(',').count(), Column::CSV.len());
    }

    #[test]
    fn no_header_when_asked() {
        let mut csv = Csv::new(Vec::new(), false, &Fields::all()).unwrap();
        csv.finish().unwrap();
        assert!(csv.out.is_empty());
    }
}
