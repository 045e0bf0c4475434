//! Reading and checking a batch before anything is sent: every line decoded into the model,
//! checked as the API would ([`check_new_referral`]), keyed by a unique `externalReferenceId`.
//! Pure: text in, a [`Plan`] or every problem out.

use std::collections::HashMap;
use std::fmt;

use referrals_model::{Referral, check_new_referral, decode_str};

/// One problem of one line: its 1-based line number, the JSON path of the field (empty for the
/// whole line) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    /// The 1-based line of the file (for CSV, the line of the record); 0 for the whole file.
    pub line: u64,
    /// The field's JSON path, like `details.currency`; empty when the whole line is wrong.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

impl LineProblem {
    /// A problem of `line` at `path`.
    pub fn new(line: u64, path: impl Into<String>, reason: impl Into<String>) -> LineProblem {
        LineProblem {
            line,
            path: path.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.reason)
        } else if self.path.is_empty() {
            write!(f, "line {}: {}", self.line, self.reason)
        } else {
            write!(f, "line {}: {}: {}", self.line, self.path, self.reason)
        }
    }
}

/// A batch that cannot be sent: every problem of every line, in line order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} in the batch; nothing was sent", plural(self.problems.len()))]
pub struct PlanError {
    /// The problems, in line order.
    pub problems: Vec<LineProblem>,
}

fn plural(count: usize) -> String {
    if count == 1 {
        "1 problem".to_owned()
    } else {
        format!("{count} problems")
    }
}

/// One referral to create.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedLine {
    /// The 1-based line of the file.
    pub line: u64,
    /// Its `externalReferenceId`, unique in the batch.
    pub external_reference_id: String,
    /// The referral, as it will be sent.
    pub referral: Referral,
}

/// A checked batch: the referrals to create, in line order, each with a unique
/// `externalReferenceId`.
///
/// ```
/// use referrals_sync::batch::Plan;
///
/// let ok = r#"{"externalReferenceId":"crm-1","type":"Independent","customerProfile":{},"consent":{},"details":{}}"#;
/// let plan = Plan::from_ndjson(format!("{ok}\n\n").as_bytes())?;
/// assert_eq!(plan.lines().len(), 1);
///
/// let bad = r#"{"externalReferenceId":"crm-2","type":"Independent","details":{"currency":"usd"}}"#;
/// let error = Plan::from_ndjson(format!("{ok}\n{bad}\n{ok}\n").as_bytes()).unwrap_err();
/// let found: Vec<String> = error.problems.iter().map(ToString::to_string).collect();
/// assert_eq!(found[0], "line 2: customerProfile: is required (type, customerProfile, consent, details are)");
/// assert_eq!(found.last().unwrap(), "line 3: externalReferenceId: `crm-1` is on line 1 too");
/// # Ok::<(), referrals_sync::batch::PlanError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    lines: Vec<PlannedLine>,
}

impl Plan {
    /// The referrals to create, in line order.
    pub fn lines(&self) -> &[PlannedLine] {
        &self.lines
    }

    /// A batch from NDJSON: one JSON object per line; blank lines are skipped (and counted).
    pub fn from_ndjson(bytes: &[u8]) -> Result<Plan, PlanError> {
        let lines = bytes
            .split(|b| *b == b'\n')
            .enumerate()
            .filter_map(|(i, line)| {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let number = i as u64 + 1;
                if line.iter().all(u8::is_ascii_whitespace) {
                    return None;
                }
                Some(match std::str::from_utf8(line) {
                    Ok(text) => (number, Ok(text)),
                    Err(e) => (
                        number,
                        Err(LineProblem::new(number, "", format!("not UTF-8 text: {e}"))),
                    ),
                })
            });
        Plan::from_lines(lines)
    }

    /// A batch from numbered lines, each the JSON text of one referral or a problem already
    /// found in it (e.g. by a CSV reader).
    pub fn from_lines<'a>(
        lines: impl IntoIterator<Item = (u64, Result<&'a str, LineProblem>)>,
    ) -> Result<Plan, PlanError> {
        let mut problems = Vec::new();
        let mut planned = Vec::new();
        let mut first_line_of: HashMap<String, u64> = HashMap::new();
        for (line, text) in lines {
            let checked = text.map_err(|p| vec![p]).and_then(|t| check_line(line, t));
            match checked {
                Ok(checked) => {
                    if let Some(first) = first_line_of.get(&checked.external_reference_id) {
                        problems.push(LineProblem::new(
                            line,
                            "externalReferenceId",
                            format!(
                                "`{}` is on line {first} too",
                                referrals_query::snippet(&checked.external_reference_id, 80)
                            ),
                        ));
                    } else {
                        first_line_of.insert(checked.external_reference_id.clone(), line);
                        planned.push(checked);
                    }
                }
                Err(found) => problems.extend(found),
            }
        }
        if problems.is_empty() && planned.is_empty() {
            problems.push(LineProblem::new(0, "", "the batch has no referral"));
        }
        if problems.is_empty() {
            Ok(Plan { lines: planned })
        } else {
            Err(PlanError { problems })
        }
    }
}

/// The referral on `line`, or every problem it has.
fn check_line(line: u64, text: &str) -> Result<PlannedLine, Vec<LineProblem>> {
    if !text.trim_start().starts_with('{') {
        return Err(vec![LineProblem::new(
            line,
            "",
            "not a JSON object (one referral per line)",
        )]);
    }
    let referral: Referral = decode_str(text).map_err(|e| {
        let reason = if e.is_syntax() {
            format!("invalid JSON at column {}: {}", e.column(), e.message())
        } else {
            e.message().to_owned()
        };
        vec![LineProblem::new(line, e.path(), reason)]
    })?;
    let mut problems: Vec<LineProblem> = check_new_referral(&referral)
        .into_iter()
        .map(|p| LineProblem::new(line, p.path(), p.problem()))
        .collect();
    let external = referral
        .external_reference_id
        .as_deref()
        .filter(|id| !id.trim().is_empty());
    if external.is_none() {
        problems.push(LineProblem::new(
            line,
            "externalReferenceId",
            "is required: the key that makes a second run skip what the first created",
        ));
    }
    match external {
        Some(external) if problems.is_empty() => Ok(PlannedLine {
            line,
            external_reference_id: external.to_owned(),
            referral,
        }),
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"{"externalReferenceId":"crm-1","type":"Independent","customerProfile":{"name":"Contoso"},"consent":{},"details":{"currency":"USD"},"x-new":1}"#;

    fn problems(text: &str) -> Vec<String> {
        Plan::from_ndjson(text.as_bytes())
            .unwrap_err()
            .problems
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn good_lines_become_the_plan_in_order_with_unknown_fields_kept() {
        let second = OK.replace("crm-1", "crm-2");
        let plan = Plan::from_ndjson(format!("{OK}\r\n  \n{second}").as_bytes()).unwrap();
        let keys: Vec<(u64, &str)> = plan
            .lines()
            .iter()
            .map(|l| (l.line, l.external_reference_id.as_str()))
            .collect();
        assert_eq!(keys, [(1, "crm-1"), (3, "crm-2")]);
        let sent = serde_json::to_value(&plan.lines()[0].referral).unwrap();
        assert_eq!(sent["x-new"], 1);
    }

    #[test]
    fn every_problem_of_every_line_is_named_with_its_line_and_path() {
        let text = [
            OK,
            "not json",
            "{\"externalReferenceId\":",
            r#"{"externalReferenceId":"crm-3","type":"Independent","customerProfile":{"size":7},"consent":{},"details":{}}"#,
            r#"{"externalReferenceId":" ","id":"r1","type":"Independent","customerProfile":{},"consent":{},"details":{}}"#,
            OK,
            "[1]",
        ]
        .join("\n");
        assert_eq!(
            problems(&text),
            [
                "line 2: not a JSON object (one referral per line)",
                "line 3: externalReferenceId: invalid JSON at column 23: EOF while parsing a value",
                "line 4: customerProfile.size: invalid type: integer `7`, expected a string \
                 (CustomerSize)",
                "line 5: id: is assigned by the service: a referral with an id exists already",
                "line 5: externalReferenceId: is required: the key that makes a second run skip \
                 what the first created",
                "line 6: externalReferenceId: `crm-1` is on line 1 too",
                "line 7: not a JSON object (one referral per line)",
            ]
        );
    }

    #[test]
    fn an_empty_batch_and_bytes_that_are_not_text_are_refused() {
        assert_eq!(problems("\n \n"), ["the batch has no referral"]);
        let mut bytes = OK.as_bytes().to_vec();
        bytes.extend_from_slice(b"\n{\"a\":\"\xff\"}\n");
        let error = Plan::from_ndjson(&bytes).unwrap_err();
        assert_eq!(error.problems.len(), 1);
        assert_eq!(error.problems[0].line, 2);
        assert!(
            error.problems[0].reason.starts_with("not UTF-8"),
            "{error:?}"
        );
    }
}
