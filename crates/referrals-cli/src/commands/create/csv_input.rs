//! `create --from FILE.csv`: rows read into referrals. The header names JSON paths (the
//! columns `list --format csv` writes, and any other, such as `consent.consentToContact`);
//! a cell is text, except where `list` writes a number (`details.dealValue`) and, in the
//! other columns, `true` and `false`; an empty cell is left out; a cell `list` neutralised
//! (`'=...`) is read back as it was.

use referrals_sync::batch::{LineProblem, Plan, PlanError};
use serde_json::{Map, Value};

use crate::output::{Column, is_plain_number, unneutralised};

/// The batch in the CSV `bytes`, or every problem of it.
pub fn plan(bytes: &[u8]) -> Result<Plan, PlanError> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(bytes);
    let header: Vec<String> = match reader.headers() {
        Ok(header) => header.iter().map(|name| name.trim().to_owned()).collect(),
        Err(e) => return Err(whole_file(1, format!("the header row cannot be read: {e}"))),
    };
    check_header(&header)?;
    let mut lines: Vec<(u64, Result<String, LineProblem>)> = Vec::new();
    for record in reader.records() {
        match record {
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line());
                if record.iter().all(|cell| cell.trim().is_empty()) {
                    continue;
                }
                lines.push((line, row(line, &header, &record)));
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                lines.push((line, Err(LineProblem::new(line, "", e.to_string()))));
            }
        }
    }
    Plan::from_lines(
        lines
            .iter()
            .map(|(line, text)| (*line, text.as_deref().map_err(Clone::clone))),
    )
}

fn whole_file(line: u64, reason: String) -> PlanError {
    PlanError {
        problems: vec![LineProblem::new(line, "", reason)],
    }
}

/// Every column names a JSON path once, and no path lies inside another.
fn check_header(header: &[String]) -> Result<(), PlanError> {
    let mut problems = Vec::new();
    for (i, name) in header.iter().enumerate() {
        if name.is_empty() || name.split('.').any(str::is_empty) {
            problems.push(LineProblem::new(
                1,
                name.as_str(),
                format!(
                    "column {} is not a JSON path (like customerProfile.name)",
                    i + 1
                ),
            ));
        } else if let Some(other) = header[..i]
            .iter()
            .find(|o| *o == name || inside(o, name) || inside(name, o))
        {
            problems.push(LineProblem::new(
                1,
                name.as_str(),
                format!("column {} overlaps the column {other}", i + 1),
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PlanError { problems })
    }
}

/// True when `inner` names a field inside `outer` (`a.b` inside `a`).
fn inside(outer: &str, inner: &str) -> bool {
    inner
        .strip_prefix(outer)
        .is_some_and(|rest| rest.starts_with('.'))
}

/// The referral of one row, as JSON text.
fn row(line: u64, header: &[String], record: &csv::StringRecord) -> Result<String, LineProblem> {
    let mut referral = Map::new();
    for (path, cell) in header.iter().zip(record.iter()) {
        if cell.is_empty() {
            continue;
        }
        let mut object = &mut referral;
        let mut segments = path.split('.').peekable();
        while let Some(segment) = segments.next() {
            if segments.peek().is_none() {
                object.insert(segment.to_owned(), cell_value(path, cell));
                break;
            }
            let next = object
                .entry(segment.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            object = match next {
                Value::Object(inner) => inner,
                // The header's check rules this out: no path lies inside another.
                _ => {
                    return Err(LineProblem::new(
                        line,
                        path.as_str(),
                        "overlaps another column",
                    ));
                }
            };
        }
    }
    Ok(Value::Object(referral).to_string())
}

/// A cell's JSON value in the column `path`.
fn cell_value(path: &str, cell: &str) -> Value {
    let cell = unneutralised(cell);
    match Column::CSV.iter().find(|c| c.csv_name() == path) {
        Some(column) if column.is_numeric() && is_plain_number(cell) => {
            let digits = cell.strip_prefix('+').unwrap_or(cell);
            serde_json::from_str::<serde_json::Number>(digits)
                .ok()
                .or_else(|| digits.parse().ok().and_then(serde_json::Number::from_f64))
                .map_or_else(|| Value::String(cell.to_owned()), Value::Number)
        }
        Some(_) => Value::String(cell.to_owned()),
        None => match cell {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(cell.to_owned()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "externalReferenceId,name,type,customerProfile.name,customerProfile.address.country,details.dealValue,details.currency,consent.consentToContact";

    #[test]
    fn rows_become_referrals_with_the_types_list_writes() {
        let text = format!(
            "{HEADER}\ncrm-1,'=Deal,Independent,Contoso,US,+1.5e3,USD,true\n,,,,,,,\ncrm-2,,Independent,Fabrikam,,120000,EUR,false\n"
        );
        let plan = plan(text.as_bytes()).unwrap();
        let lines: Vec<(u64, Value)> = plan
            .lines()
            .iter()
            .map(|l| (l.line, serde_json::to_value(&l.referral).unwrap()))
            .collect();
        assert_eq!(lines[0].0, 2);
        assert_eq!(
            lines[1].0, 4,
            "the blank row is skipped, the line numbers are the file's"
        );
        assert_eq!(
            lines[0].1,
            serde_json::json!({"externalReferenceId":"crm-1","name":"=Deal","type":"Independent",
                "customerProfile":{"name":"Contoso","address":{"country":"US"}},
                "details":{"dealValue":1500.0,"currency":"USD"},"consent":{"consentToContact":true}})
        );
        assert_eq!(lines[1].1["details"]["dealValue"], 120000);
        assert_eq!(lines[1].1["consent"]["consentToContact"], false);
        assert!(
            lines[1].1.get("name").is_none(),
            "an empty cell is left out"
        );
    }

    #[test]
    fn header_and_row_problems_are_named_by_line_and_column() {
        let bad_header = "externalReferenceId,details,details.currency,,a..b\n";
        let problems: Vec<String> = plan(bad_header.as_bytes())
            .unwrap_err()
            .problems
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            problems,
            [
                "line 1: details.currency: column 3 overlaps the column details",
                "line 1: column 4 is not a JSON path (like customerProfile.name)",
                "line 1: a..b: column 5 is not a JSON path (like customerProfile.name)",
            ]
        );
        let text = format!("{HEADER}\ncrm-1,x,Independent,C,US,5,usd,true\ncrm-2,too,few\n");
        let problems = plan(text.as_bytes()).unwrap_err().problems;
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert_eq!(
            (problems[0].line, problems[0].path.as_str()),
            (2, "details.currency")
        );
        assert!(problems.iter().any(|p| p.line == 3), "{problems:#?}");
    }
}
