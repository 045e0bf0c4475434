//! The report as one self-contained HTML page: no script, and nothing loaded from anywhere (a
//! Content-Security-Policy of `default-src 'none'` says so to the browser too), so it works
//! offline and as an email attachment. Its charts are inline SVG, each an image with a title
//! and a description, followed by the same figures as a table; the stylesheet is inline, with
//! rules for narrow screens and for print. Every text from the data is escaped.

use std::fmt::Write;
use std::time::SystemTime;

use referrals_model::Timestamp;

use crate::due::{Due, in_words};
use crate::instant::{IsoWeek, unix_nanos};
use crate::pipeline::Pipeline;
use crate::report::Report;
use crate::svg::{self, Bar, Chart, Series};
use crate::text::{escape, money, number};

/// How many ISO weeks the weekly chart shows.
pub const WEEKS_SHOWN: usize = 12;

const STYLE: &str = "\
:root{color-scheme:light;--fg:#1a202c;--muted:#4a5568;--line:#e2e8f0}
*{box-sizing:border-box}
body{margin:0 auto;max-width:60rem;padding:1.5rem;font:15px/1.5 system-ui,-apple-system,\
'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:var(--fg);background:#fff}
h1{font-size:1.6rem;margin:0 0 .25rem}h2{font-size:1.2rem;margin:2rem 0 .5rem}
p.meta,figcaption,.note{color:var(--muted);font-size:.9rem}
dl.totals{display:flex;flex-wrap:wrap;gap:.75rem;margin:0;padding:0}
dl.totals div{border:1px solid var(--line);border-radius:6px;padding:.5rem .9rem;min-width:8rem}
dl.totals dt{color:var(--muted);font-size:.85rem}dl.totals dd{margin:0;font-size:1.5rem;\
font-weight:600;font-variant-numeric:tabular-nums}
figure{margin:0}
svg.chart{width:100%;height:auto;display:block;font-size:13px;font-family:inherit}
svg.chart text{fill:var(--fg)}svg.chart text.axis{fill:var(--muted);font-size:11px}
svg.chart line.grid{stroke:var(--line)}
.s-new,.w-new{fill:#2b6cb0}.s-active,.w-accepted{fill:#c05621}.s-won,.w-won{fill:#2f855a}
.s-closed{fill:#718096}.s-other{fill:#6b46c1}.h-bar{fill:#2c7a7b}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
td.num,th.num{text-align:right;white-space:nowrap}
table.data{margin-top:.5rem}
tr.expired td.left{color:#c53030;font-weight:600}
code{font-size:.9em}
@media (max-width:600px){body{padding:.75rem;font-size:14px}dl.totals div{min-width:calc(50% - .5rem)}\
td.id,th.id{display:none}th,td{padding:.25rem .3rem}}
@media print{body{max-width:none;padding:0;font-size:11pt}h2{break-after:avoid}\
section,figure,tr{break-inside:avoid}.scroll{overflow:visible}td.id,th.id{display:table-cell}\
a{color:inherit;text-decoration:none}}
";

/// The page of `report`.
pub fn render(report: &Report) -> String {
    let pipeline = &report.pipeline;
    let made = minutes(report.generated_at);
    let mut page = String::with_capacity(32 * 1024);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'\">\n\
         <meta name=\"generator\" content=\"referrals-report {version}\">\n\
         <title>Referrals pipeline: {source}, {made}</title>\n<style>\n{STYLE}</style>\n</head>\n\
         <body>\n<header>\n<h1>Referrals pipeline</h1>\n\
         <p class=\"meta\">The mirror <code>{source}</code> on {made}: its current referrals \
         (removed ones left out).</p>\n</header>\n<main>\n",
        version = env!("CARGO_PKG_VERSION"),
        source = escape(&report.source),
    );
    totals(&mut page, pipeline);
    statuses(&mut page, pipeline);
    open_value(&mut page, pipeline);
    weeks(&mut page, pipeline, report.generated_at);
    acceptance(&mut page, pipeline);
    due(&mut page, report);
    page.push_str("</main>\n</body>\n</html>\n");
    page
}

/// `2026-12-04 12:00 UTC`.
fn minutes(at: SystemTime) -> String {
    let text = Timestamp::from_system_time(at).as_str().to_owned();
    let shown: String = text
        .chars()
        .take(16)
        .map(|c| if c == 'T' { ' ' } else { c })
        .collect();
    format!("{shown} UTC")
}

fn section_start(page: &mut String, id: &str, heading: &str) {
    let _ = write!(
        page,
        "<section id=\"{id}\" aria-labelledby=\"{id}-h\">\n<h2 id=\"{id}-h\">{}</h2>\n",
        escape(heading)
    );
}

/// A status's name as shown (`(no status)` for none).
fn status_name(status: &str) -> &str {
    if status.is_empty() { "(none)" } else { status }
}

fn totals(page: &mut String, pipeline: &Pipeline) {
    section_start(page, "totals", "Totals");
    let _ = write!(
        page,
        "<dl class=\"totals\">\n<div><dt>Referrals</dt><dd id=\"total\" data-count=\"{}\">{}</dd></div>\n",
        pipeline.total,
        number(pipeline.total)
    );
    for (status, count) in pipeline.statuses() {
        let _ = writeln!(
            page,
            "<div><dt>{}</dt><dd data-status=\"{}\" data-count=\"{}\">{}</dd></div>",
            escape(status_name(status)),
            escape(status),
            count.count,
            number(count.count)
        );
    }
    page.push_str("</dl>\n</section>\n");
}

fn due(page: &mut String, report: &Report) {
    let list = &report.due;
    section_start(
        page,
        "due",
        &format!(
            "Due: New referrals expiring within {}",
            in_words(report.within)
        ),
    );
    if list.due.is_empty() {
        page.push_str("<p id=\"due-none\">Nothing is due.</p>\n");
    } else {
        let _ = write!(
            page,
            "<p><span id=\"due-count\" data-count=\"{}\">{}</span> due, {} of them already past \
             their expiration while still New: accept or decline them in Partner Center.</p>\n\
             <div class=\"scroll\"><table id=\"due-table\">\n<thead><tr><th>Expires</th>\
             <th>Expiration (UTC)</th><th>Customer</th><th>Referral</th>\
             <th class=\"num\">Deal value</th><th class=\"id\">Id</th></tr></thead>\n<tbody>\n",
            list.due.len(),
            number(list.due.len() as u64),
            number(list.expired() as u64),
        );
        for due in &list.due {
            due_row(page, due);
        }
        page.push_str("</tbody>\n</table></div>\n");
    }
    if !list.unknown_expiration.is_empty() {
        let _ = writeln!(
            page,
            "<p class=\"note\">{} New referrals have no readable expiration date and may be due \
             too: {}.</p>",
            number(list.unknown_expiration.len() as u64),
            escape(&list.unknown_expiration.join(", "))
        );
    }
    page.push_str("</section>\n");
}

fn due_row(page: &mut String, due: &Due) {
    let referral = &due.referral;
    let customer = referral
        .customer_profile
        .as_ref()
        .and_then(|c| c.name.as_deref())
        .unwrap_or("");
    let details = referral.details.as_ref();
    let value = details
        .and_then(|d| d.deal_value.as_ref())
        .map(|v| v.as_f64().map_or_else(|| v.to_string(), money))
        .unwrap_or_default();
    let currency = details.and_then(|d| d.currency.as_deref()).unwrap_or("");
    let expiration = referral
        .expiration_date_time
        .as_ref()
        .map(|t| {
            t.as_str()
                .chars()
                .take(16)
                .collect::<String>()
                .replace('T', " ")
        })
        .unwrap_or_default();
    let _ = writeln!(
        page,
        "<tr{}><td class=\"left\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
         <td class=\"num\">{} {}</td><td class=\"id\"><code>{}</code></td></tr>",
        if due.left.is_expired() {
            " class=\"expired\""
        } else {
            ""
        },
        escape(&due.left.to_string()),
        escape(&expiration),
        escape(customer),
        escape(referral.name.as_deref().unwrap_or("")),
        escape(&value),
        escape(currency),
        escape(referral.id.as_deref().unwrap_or("")),
    );
}

/// The colour of a status and substatus.
fn status_class(status: &str, substatus: &str) -> &'static str {
    match (status, substatus) {
        ("New", _) => "s-new",
        ("Active", _) => "s-active",
        ("Closed", "Won") => "s-won",
        ("Closed", _) => "s-closed",
        _ => "s-other",
    }
}

fn statuses(page: &mut String, pipeline: &Pipeline) {
    section_start(page, "pipeline", "Pipeline by status and substatus");
    let mut bars = Vec::new();
    let mut rows = String::new();
    for (status, count) in pipeline.statuses() {
        for (substatus, n) in &count.substatuses {
            let label = if substatus.is_empty() {
                status_name(status).to_owned()
            } else {
                format!("{} / {substatus}", status_name(status))
            };
            bars.push(Bar {
                label,
                value: *n as f64,
                shown: number(*n),
                class: status_class(status, substatus),
            });
            let _ = writeln!(
                rows,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
                escape(status_name(status)),
                escape(if substatus.is_empty() {
                    "(none)"
                } else {
                    substatus
                }),
                number(*n)
            );
        }
    }
    let description = format!(
        "{} referrals: {}.",
        number(pipeline.total),
        pipeline
            .statuses()
            .iter()
            .map(|(status, c)| format!("{} {}", status_name(status), number(c.count)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    figure(
        page,
        &svg::bars(
            &Chart {
                id: "chart-pipeline",
                title: "Referrals by status and substatus",
                description: &description,
            },
            &bars,
        ),
        "Each bar is the number of referrals with that status and substatus.",
    );
    data_table(page, &["Status", "Substatus", "Referrals"], 2, &rows);
    page.push_str("</section>\n");
}

fn open_value(page: &mut String, pipeline: &Pipeline) {
    section_start(page, "value", "Open deal value by currency");
    if pipeline.open_value.is_empty() {
        page.push_str("<p>No open (New or Active) referral has a deal value.</p>\n");
    } else {
        let mut bars = Vec::new();
        let mut rows = String::new();
        for (currency, sum) in &pipeline.open_value {
            let name = if currency.is_empty() {
                "(no currency)"
            } else {
                currency
            };
            bars.push(Bar {
                label: format!("{name} ({} referrals)", number(sum.referrals)),
                value: sum.value,
                shown: format!("{} {name}", money(sum.value)),
                class: "s-active",
            });
            let _ = writeln!(
                rows,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                escape(name),
                money(sum.value),
                number(sum.referrals)
            );
        }
        let description = pipeline
            .open_value
            .iter()
            .map(|(currency, sum)| format!("{} {currency}", money(sum.value)))
            .collect::<Vec<_>>()
            .join(", ");
        figure(
            page,
            &svg::bars(
                &Chart {
                    id: "chart-value",
                    title: "Deal value of the New and Active referrals, by currency",
                    description: &format!("Open deal value: {description}."),
                },
                &bars,
            ),
            "Sums of details.dealValue of the New and Active referrals. Currencies are not \
             converted: compare a bar with the others of its currency only.",
        );
        data_table(page, &["Currency", "Open value", "Referrals"], 1, &rows);
    }
    if pipeline.open_without_value > 0 {
        let _ = writeln!(
            page,
            "<p class=\"note\">{} open referrals have no deal value.</p>",
            number(pipeline.open_without_value)
        );
    }
    page.push_str("</section>\n");
}

/// The last week shown: the current one, unless nothing was created in the weeks it would
/// show, then the newest week with a creation (a mirror not synced for a while still shows its
/// last weeks).
fn last_week(pipeline: &Pipeline, now: SystemTime) -> Option<IsoWeek> {
    let current = IsoWeek::of_nanos(unix_nanos(now))?;
    let recent = pipeline
        .weeks_up_to(current, WEEKS_SHOWN)
        .iter()
        .any(|(_, counts)| counts.new > 0);
    if recent {
        return Some(current);
    }
    pipeline
        .weeks
        .keys()
        .rev()
        .find(|week| **week <= current)
        .copied()
}

fn weeks(page: &mut String, pipeline: &Pipeline, now: SystemTime) {
    section_start(page, "weeks", "New against accepted and won, per week");
    let Some(last) = last_week(pipeline, now) else {
        page.push_str("<p>No referral has a creation date.</p>\n</section>\n");
        return;
    };
    let weeks = pipeline.weeks_up_to(last, WEEKS_SHOWN);
    let first = weeks.first().map_or(last, |(week, _)| *week);
    let groups: Vec<(String, Vec<u64>)> = weeks
        .iter()
        .map(|(week, c)| (week.to_string(), vec![c.new, c.accepted, c.won]))
        .collect();
    let (new, accepted, won) = weeks.iter().fold((0, 0, 0), |(n, a, w), (_, c)| {
        (n + c.new, a + c.accepted, w + c.won)
    });
    let description = format!(
        "ISO weeks {first} to {last}: {} referrals created, {} of them accepted since, {} won.",
        number(new),
        number(accepted),
        number(won)
    );
    figure(
        page,
        &svg::columns(
            &Chart {
                id: "chart-weeks",
                title: "Referrals created per week, and how many of them were accepted and won",
                description: &description,
            },
            &[
                Series {
                    name: "new",
                    class: "w-new",
                },
                Series {
                    name: "accepted",
                    class: "w-accepted",
                },
                Series {
                    name: "won",
                    class: "w-won",
                },
            ],
            &groups,
        ),
        &format!(
            "By the week of createdDateTime, {first} to {last}: accepted counts those since \
             accepted (or won), won those closed as won."
        ),
    );
    let mut rows = String::new();
    for (week, c) in &weeks {
        let _ = writeln!(
            rows,
            "<tr><td>{week}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td></tr>",
            number(c.new),
            number(c.accepted),
            number(c.won)
        );
    }
    data_table(page, &["Week", "New", "Accepted", "Won"], 1, &rows);
    page.push_str("</section>\n");
}

fn acceptance(page: &mut String, pipeline: &Pipeline) {
    section_start(page, "acceptance", "Time from creation to acceptance");
    let Some(median) = pipeline.median_acceptance() else {
        page.push_str(
            "<p>No referral has both a creation and an acceptance time.</p>\n</section>\n",
        );
        return;
    };
    let buckets = pipeline.acceptance_buckets();
    let measured = pipeline.accepted_with_times() as u64;
    let _ = writeln!(
        page,
        "<p>Median: <strong id=\"median-acceptance\">{}</strong>, over {} accepted referrals.</p>",
        in_words(median),
        number(measured)
    );
    let groups: Vec<(String, Vec<u64>)> = buckets
        .iter()
        .map(|b| (b.label.to_owned(), vec![b.count]))
        .collect();
    let description = buckets
        .iter()
        .map(|b| format!("{} {}", b.label, number(b.count)))
        .collect::<Vec<_>>()
        .join(", ");
    figure(
        page,
        &svg::columns(
            &Chart {
                id: "chart-acceptance",
                title: "How long referrals waited from creation to acceptance",
                description: &format!(
                    "{} accepted referrals, median {}: {description}.",
                    number(measured),
                    in_words(median)
                ),
            },
            &[Series {
                name: "referrals",
                class: "h-bar",
            }],
            &groups,
        ),
        "From createdDateTime to acceptedDateTime, for the referrals that have both.",
    );
    let mut rows = String::new();
    for bucket in &buckets {
        let _ = writeln!(
            rows,
            "<tr><td>{}</td><td class=\"num\">{}</td></tr>",
            bucket.label,
            number(bucket.count)
        );
    }
    data_table(page, &["Time to acceptance", "Referrals"], 1, &rows);
    page.push_str("</section>\n");
}

fn figure(page: &mut String, svg: &str, caption: &str) {
    let _ = write!(
        page,
        "<figure>\n{svg}\n<figcaption>{}</figcaption>\n</figure>\n",
        escape(caption)
    );
}

/// The chart's figures as a table (its text alternative, and what a printout keeps exact); the
/// columns from `numbers` on hold numbers.
fn data_table(page: &mut String, headers: &[&str], numbers: usize, rows: &str) {
    page.push_str("<div class=\"scroll\"><table class=\"data\">\n<thead><tr>");
    for (i, header) in headers.iter().enumerate() {
        let class = if i < numbers { "" } else { " class=\"num\"" };
        let _ = write!(page, "<th{class}>{}</th>", escape(header));
    }
    let _ = write!(
        page,
        "</tr></thead>\n<tbody>\n{rows}</tbody>\n</table></div>\n"
    );
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use referrals_model::Referral;

    use super::*;
    use crate::due::select_due;

    fn report(json: &str) -> Report {
        let referrals: Vec<Referral> = serde_json::from_str(json).unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_796_385_600); // 2026-12-04T12:00Z
        Report {
            pipeline: Pipeline::of(&referrals),
            due: select_due(referrals, now, Duration::from_secs(72 * 3600)),
            within: Duration::from_secs(72 * 3600),
            generated_at: now,
            source: "m<1>.db".into(),
        }
    }

    #[test]
    fn the_page_is_self_contained_and_escapes_the_data() {
        let page = report(
            r#"[{"id":"r1","status":"New","substatus":"Pending",
                 "expirationDateTime":"2026-12-04T17:00:00Z","createdDateTime":"2026-12-01T09:00:00Z",
                 "customerProfile":{"name":"<img src=x onerror=alert(1)>"},
                 "details":{"dealValue":1500,"currency":"USD"}},
                {"id":"r2","status":"Closed","substatus":"Won","createdDateTime":"2026-11-20T09:00:00Z",
                 "acceptedDateTime":"2026-11-21T09:00:00Z"}]"#,
        )
        .to_html();
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(!page.contains("<script"), "no script");
        assert!(!page.contains("<img"), "the customer's markup is text");
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(page.contains("m&lt;1&gt;.db"));
        for external in ["http:", "https:", "src=\"", "href=\"", "@import", "url("] {
            assert!(!page.contains(external), "nothing loaded: {external}");
        }
        assert!(page.contains("default-src 'none'"));
        assert!(page.contains("@media print") && page.contains("@media (max-width:600px)"));
        assert!(page.contains("<dd id=\"total\" data-count=\"2\">2</dd>"));
        assert!(page.contains("data-status=\"New\" data-count=\"1\""));
        assert!(page.contains("data-status=\"Closed\" data-count=\"1\""));
        assert!(page.contains("<td class=\"left\">in 5 h</td>"));
        assert!(page.contains("1,500 USD"));
        assert!(page.contains("Median: <strong id=\"median-acceptance\">24 h</strong>"));
        assert_eq!(page.matches("role=\"img\"").count(), 4, "four charts");
        assert_eq!(
            page.matches("<title id=").count(),
            4,
            "each with its own title"
        );
        assert_eq!(page.matches("<desc id=").count(), 4);
    }

    #[test]
    fn an_empty_mirror_still_makes_a_page() {
        let page = report("[]").to_html();
        assert!(page.contains("<dd id=\"total\" data-count=\"0\">0</dd>"));
        assert!(page.contains("Nothing is due."));
        assert!(page.contains("No referral has a creation date."));
        assert!(page.contains("No referral has both a creation and an acceptance time."));
        assert!(!page.contains("NaN"));
    }

    #[test]
    fn the_weekly_chart_ends_at_the_newest_week_of_a_stale_mirror() {
        let page =
            report(r#"[{"status":"Active","createdDateTime":"2025-03-05T09:00:00Z"}]"#).to_html();
        assert!(page.contains("ISO weeks 2024-W51 to 2025-W10"), "{page}");
        let fresh =
            report(r#"[{"status":"New","createdDateTime":"2026-11-05T09:00:00Z"}]"#).to_html();
        assert!(fresh.contains("to 2026-W49"), "the current week");
    }
}
