//! `csv`: RFC 4180 quoting (the `csv` crate), one row per referral, the stable [`Column::CSV`]
//! columns, and cells that a spreadsheet would run as a formula neutralised.

use std::io::{self, Write};

use referrals::Referral;

use super::{Column, Fields, Sink};

/// A csv writer over `out`.
pub struct Csv<W: Write> {
    out: csv::Writer<W>,
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
        let out = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(out);
        let mut csv = Csv { out, columns };
        if header {
            let names: Vec<&str> = csv.columns.iter().map(|c| c.csv_name()).collect();
            csv.out.write_record(names)?;
        }
        Ok(csv)
    }
}

/// What a spreadsheet starts a formula (or a DDE command) with, and the tab and carriage
/// return that some strip first: OWASP's list for CSV injection.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The cell as written: text that starts like a formula gets a leading `'`, so a spreadsheet
/// shows it as text and never runs it. A plain number in a numeric column is kept as it is: a
/// spreadsheet reads `-5` as a number, never as a formula, and `'-5` would be text it cannot
/// add up.
fn neutralised(column: Column, value: String) -> String {
    let numeric = column.is_numeric() && is_plain_number(&value);
    if value.starts_with(FORMULA_START) && !numeric {
        format!("'{value}")
    } else {
        value
    }
}

/// A cell as [`neutralised`] wrote it, read back: the `'` it put before text that starts
/// like a formula is removed (`create --from` reads what `list --format csv` writes).
pub fn unneutralised(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_START) => rest,
        _ => cell,
    }
}

/// `-5`, `+1.5`, `2e3`: a finite decimal number and nothing else.
pub fn is_plain_number(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
        && text.parse::<f64>().is_ok_and(f64::is_finite)
}

impl<W: Write> Sink for Csv<W> {
    fn item(&mut self, referral: &Referral) -> io::Result<()> {
        let cells = self
            .columns
            .iter()
            .map(|c| neutralised(*c, c.value(referral)));
        Ok(self.out.write_record(cells)?)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text a `Csv` over a buffer wrote.
    fn written(csv: Csv<Vec<u8>>) -> String {
        let bytes = csv.out.into_inner().map_err(|e| e.into_error()).unwrap();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn fields_with_separators_quotes_or_line_breaks_are_quoted() {
        let fields = Fields::only(&["name".to_owned()]);
        let mut csv = Csv::new(Vec::new(), false, &fields).unwrap();
        for name in ["plain", "a,b", "say \"hi\"", "two\nlines", "cr\r", "x"] {
            let referral = Referral {
                name: Some(name.to_owned()),
                ..Referral::default()
            };
            csv.item(&referral).unwrap();
        }
        csv.finish().unwrap();
        assert_eq!(
            written(csv),
            "plain\n\"a,b\"\n\"say \"\"hi\"\"\"\n\"two\nlines\"\n\"cr\r\"\nx\n"
        );
    }

    #[test]
    fn header_then_one_row_per_referral() {
        let mut csv = Csv::new(Vec::new(), true, &Fields::all()).unwrap();
        let referral: Referral =
            serde_json::from_str(r#"{"id":"r1","name":"Contoso, Ltd"}"#).unwrap();
        csv.item(&referral).unwrap();
        csv.finish().unwrap();
        let text = written(csv);
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
        assert!(written(csv).is_empty());
    }

    /// The cells of the one row written for `json`, read back by a csv reader.
    fn row(json: &str) -> Vec<(String, String)> {
        let mut csv = Csv::new(Vec::new(), true, &Fields::all()).unwrap();
        csv.item(&serde_json::from_str(json).unwrap()).unwrap();
        csv.finish().unwrap();
        let text = written(csv);
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        let record = reader.records().next().unwrap().unwrap();
        header
            .into_iter()
            .zip(record.iter().map(str::to_owned))
            .collect()
    }

    fn cell<'a>(row: &'a [(String, String)], name: &str) -> &'a str {
        &row.iter().find(|(n, _)| n == name).unwrap().1
    }

    #[test]
    fn a_hostile_value_comes_out_neutralised() {
        let row = row(r#"{"id":"r1",
            "name":"+SUM(A1:A9)",
            "engagementId":"@cmd|' /C calc'!A0",
            "customerProfile":{"name":"=HYPERLINK(\"http://evil.example\",\"click\")",
                               "address":{"country":"\tUS"}, "size":"\r=1+1"},
            "details":{"dealValue":"=1+1","currency":"-USD"}}"#);
        assert_eq!(
            cell(&row, "customerProfile.name"),
            "'=HYPERLINK(\"http://evil.example\",\"click\")"
        );
        assert_eq!(cell(&row, "name"), "'+SUM(A1:A9)");
        assert_eq!(cell(&row, "engagementId"), "'@cmd|' /C calc'!A0");
        assert_eq!(cell(&row, "customerProfile.address.country"), "'\tUS");
        assert_eq!(cell(&row, "customerProfile.size"), "'\r=1+1");
        assert_eq!(
            cell(&row, "details.dealValue"),
            "'=1+1",
            "text, even in a numeric column"
        );
        assert_eq!(cell(&row, "details.currency"), "'-USD");
    }

    #[test]
    fn a_neutralised_cell_reads_back_as_written_and_others_are_kept() {
        for value in [
            "=1+1", "+SUM(A1)", "-USD", "@cmd", "\tUS", "\r=1", "plain", "'quoted",
        ] {
            let cell = neutralised(Column::Name, value.to_owned());
            assert_eq!(unneutralised(&cell), value);
        }
    }

    #[test]
    fn numbers_and_ordinary_text_are_unchanged() {
        for (deal_value, shown) in [
            ("-5", "-5"),
            ("\"-5\"", "-5"),
            ("-1.5e3", "-1500.0"),
            ("\"+1.5e3\"", "+1.5e3"),
            ("120000", "120000"),
        ] {
            let row = row(&format!(
                r#"{{"id":"r1","name":"Contoso - North","customerProfile":{{"name":"O'Brien & Co"}},
                    "details":{{"dealValue":{deal_value},"currency":"USD"}},
                    "updatedDateTime":"2024-03-05T10:11:12Z"}}"#
            ));
            assert_eq!(cell(&row, "details.dealValue"), shown, "{deal_value}");
            assert_eq!(cell(&row, "name"), "Contoso - North");
            assert_eq!(cell(&row, "customerProfile.name"), "O'Brien & Co");
            assert_eq!(cell(&row, "updatedDateTime"), "2024-03-05T10:11:12Z");
        }
        assert!(!is_plain_number("inf") && !is_plain_number("-NaN") && !is_plain_number("-"));
        assert!(!is_plain_number("-5+cmd") && is_plain_number("-.5"));
    }
}
