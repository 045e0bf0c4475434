//! The `referrals` binary run as a process against a simulator started in the test: every
//! format, both wire forms, paging limits, resuming after an injected failure, argument errors
//! refused before any request, and get/create/update/replace.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Output, Stdio};

use assert_cmd::Command;
use referrals_simulator::{Fault, FaultPlan, FaultRule, SimulatorHandle};
use serde_json::{Value, json};

use crate::support::{self, assert_success, bare, run, stderr, stdout};

const TOKEN: &str = "cli-test-token-7f3a";

async fn simulator(referrals: usize, faults: FaultPlan) -> SimulatorHandle {
    support::simulator(referrals, 11, TOKEN, faults).await
}

/// The binary with a clean environment, pointed at `sim` through the environment variables.
fn referrals(sim: &SimulatorHandle) -> Command {
    support::pointed_at(sim, TOKEN)
}

/// Each line a JSON object; returns them.
fn ndjson(output: &Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).expect("each line is JSON");
            assert!(value.is_object(), "not an object: {line}");
            value
        })
        .collect()
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|item| item["id"].as_str().expect("an id").to_owned())
        .collect()
}

fn assert_each_once(ids: &[String], expected: &SimulatorHandle) {
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "duplicates");
    let all: HashSet<String> = ids_of(&expected.referrals()).into_iter().collect();
    assert_eq!(unique.len(), all.len(), "count");
    assert!(ids.iter().all(|id| all.contains(id)), "unknown ids");
}

fn ids_of(values: &[Value]) -> Vec<String> {
    ids(values)
}

/// A minimal RFC 4180 reader: records of fields, quotes doubled inside quoted fields.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(field.is_empty() && record.is_empty(), "unterminated record");
    records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_writes_every_referral_exactly_as_served_2018_form() {
    let sim = simulator(250, FaultPlan::new()).await;
    let output = run(
        &mut referrals(&sim),
        &["list", "--all", "--page-size", "100", "--format", "ndjson"],
    );
    assert_success(&output);
    let items = ndjson(&output);
    assert_each_once(&ids(&items), &sim);
    // Lossless: each line is the stored referral, every field included.
    assert_eq!(items, sim.referrals());
    let requests = sim.requests();
    assert_eq!(requests.len(), 3);
    assert!(
        requests
            .iter()
            .all(|r| r.path_and_query.contains("pageSize=100"))
    );
    assert!(requests[1].header("ms-continuationtoken").is_some());
}

/// `list --all` without a page size asks for 100 per page (a fifth of the requests of the
/// server's default of 20): as `pageSize=100` in the 2018 form, as `Prefer: odata.maxpagesize=100`
/// in the OData form (a partitioned listing's ranges); an explicit size is sent as given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_all_asks_for_the_largest_pages_unless_told_otherwise() {
    let sim = simulator(250, FaultPlan::new()).await;
    let output = run(&mut referrals(&sim), &["list", "--all"]);
    assert_success(&output);
    assert_each_once(&ids(&ndjson(&output)), &sim);
    let requests = sim.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path_and_query.as_str()).collect();
    // Two probes (one referral each), then 250 referrals in pages of 100: too few pages for
    // ranges, so one listing, in the 2018 form since it has no OData option of its own.
    assert_eq!(requests.len(), 5, "{paths:?}");
    assert!(
        paths[..2].iter().all(|p| p.contains("$top=1&")),
        "{paths:?}"
    );
    assert!(
        paths[2..].iter().all(|p| p.contains("pageSize=100")),
        "{paths:?}"
    );

    sim.clear_requests();
    let output = run(
        &mut referrals(&sim),
        &["list", "--all", "--concurrency", "1"],
    );
    assert_success(&output);
    assert_each_once(&ids(&ndjson(&output)), &sim);
    let requests = sim.requests();
    assert_eq!(requests.len(), 3, "250 referrals in pages of 100");
    assert!(
        requests
            .iter()
            .all(|r| r.path_and_query.contains("pageSize=100")),
        "{:?}",
        requests
            .iter()
            .map(|r| &r.path_and_query)
            .collect::<Vec<_>>()
    );

    sim.clear_requests();
    let output = run(
        &mut referrals(&sim),
        &["list", "--all", "--page-size", "50"],
    );
    assert_success(&output);
    assert_eq!(sim.requests().len(), 5);

    sim.clear_requests();
    let output = run(
        &mut referrals(&sim),
        &["list", "--all", "--orderby", "updatedDateTime"],
    );
    assert_success(&output);
    assert_each_once(&ids(&ndjson(&output)), &sim);
    assert!(
        sim.requests()
            .iter()
            .all(|r| !r.path_and_query.contains("pageSize")),
        "the OData form keeps the server's paging"
    );

    // Without --all, the first page is the server's choice too.
    sim.clear_requests();
    let output = run(&mut referrals(&sim), &["list"]);
    assert_success(&output);
    assert!(!sim.requests()[0].path_and_query.contains("pageSize"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_is_one_array_odata_form() {
    let sim = simulator(100, FaultPlan::new()).await;
    let output = run(
        &mut referrals(&sim),
        &[
            "list",
            "--all",
            "--count",
            "--max-page-size",
            "40",
            "--format",
            "json",
            "--concurrency",
            "1",
        ],
    );
    assert_success(&output);
    let value: Value = serde_json::from_slice(&output.stdout).expect("one JSON document");
    let items = value.as_array().expect("an array");
    assert_each_once(&ids(items), &sim);
    let requests = sim.requests();
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert_eq!(request.header("prefer"), Some("odata.maxpagesize=40"));
    }
    assert!(requests[1].path_and_query.contains("skiptoken"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_lists_that_many_referrals_in_all_and_the_page_size_is_its_own_option() {
    let sim = simulator(100, FaultPlan::new()).await;
    // `--top 25` follows pages until 25 (without --all), in pages of 10: three requests, and
    // no hint of more, since the listing got what it asked for.
    let output = run(
        &mut referrals(&sim),
        &["list", "--top", "25", "--max-page-size", "10"],
    );
    assert_success(&output);
    let listed = ids(&ndjson(&output));
    assert_eq!(listed.len(), 25);
    let expected: Vec<String> = sim
        .referrals()
        .iter()
        .take(25)
        .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(listed, expected);
    let requests = sim.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests[0].path_and_query.contains("$top=25"));
    assert!(
        requests
            .iter()
            .all(|r| r.header("prefer") == Some("odata.maxpagesize=10"))
    );
    assert!(!stderr(&output).contains("--resume"), "{}", stderr(&output));

    // Alone, the OData page size has no form to apply to: refused, pointing at --page-size.
    let before = sim.api_requests();
    let output = run(&mut referrals(&sim), &["list", "--max-page-size", "10"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--page-size"),
        "{}",
        stderr(&output)
    );
    for size in ["0", "101"] {
        let output = run(
            &mut referrals(&sim),
            &["list", "--count", "--max-page-size", size],
        );
        assert_eq!(output.status.code(), Some(2), "{size}");
    }
    assert_eq!(sim.api_requests(), before, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_odata_filter_and_order_reach_the_server() {
    let sim = simulator(60, FaultPlan::new()).await;
    let output = run(
        &mut referrals(&sim),
        &[
            "list",
            "--all",
            "--filter",
            "status eq 'New'",
            "--orderby",
            "createdDateTime desc",
        ],
    );
    assert_success(&output);
    let items = ndjson(&output);
    assert!(!items.is_empty());
    assert!(items.iter().all(|r| r["status"] == "New"));
    let created: Vec<&str> = items
        .iter()
        .map(|r| r["createdDateTime"].as_str().expect("a date"))
        .collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let expected = sim
        .referrals()
        .iter()
        .filter(|r| r["status"] == "New")
        .count();
    assert_eq!(items.len(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_has_the_header_and_one_row_per_referral() {
    let sim = simulator(120, FaultPlan::new()).await;
    let output = run(
        &mut referrals(&sim),
        &["list", "--all", "--page-size", "50", "--format", "csv"],
    );
    assert_success(&output);
    let records = parse_csv(&stdout(&output));
    assert_eq!(
        records[0].join(","),
        "id,name,status,substatus,type,qualification,direction,engagementId,\
         customerProfile.name,customerProfile.address.country,customerProfile.size,\
         details.dealValue,details.currency,createdDateTime,updatedDateTime,\
         expirationDateTime,eTag"
    );
    assert_eq!(records.len(), 121);
    assert!(
        records.iter().all(|r| r.len() == 17),
        "every row has 17 fields"
    );
    let rows: Vec<String> = records[1..].iter().map(|r| r[0].clone()).collect();
    assert_each_once(&rows, &sim);
    // Fields with commas or quotes survive the round trip.
    let served = sim.referrals();
    for (row, referral) in records[1..].iter().zip(&served) {
        assert_eq!(row[1], referral["name"].as_str().unwrap_or(""));
        assert_eq!(row[16], referral["eTag"].as_str().unwrap_or(""));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_has_a_header_and_without_all_lists_only_the_first_page() {
    let sim = simulator(50, FaultPlan::new()).await;
    let output = run(
        &mut referrals(&sim),
        &["list", "--page-size", "10", "--format", "table"],
    );
    assert_success(&output);
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("ID "), "{}", lines[0]);
    for header in ["NAME", "STATUS", "CUSTOMER", "DEAL VALUE", "UPDATED"] {
        assert!(lines[0].contains(header), "{header} missing: {}", lines[0]);
    }
    assert_eq!(lines.len(), 11, "header and one page of 10");
    assert_eq!(sim.api_requests(), 1);
    // The first page tells how to go on.
    let err = stderr(&output);
    assert!(err.contains("--resume rq1."), "{err}");
    assert!(err.contains("--all"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_is_the_default_when_stdout_is_not_a_terminal() {
    let sim = simulator(5, FaultPlan::new()).await;
    let output = run(&mut referrals(&sim), &["list"]);
    assert_success(&output);
    assert_eq!(ndjson(&output).len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_items_stops_inside_a_page() {
    let sim = simulator(100, FaultPlan::new()).await;
    let output = run(
        &mut referrals(&sim),
        &["list", "--max-items", "30", "--page-size", "20"],
    );
    assert_success(&output);
    let items = ndjson(&output);
    assert_eq!(ids(&items), ids_of(&sim.referrals()[..30]));
    assert_eq!(sim.api_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_page_prints_the_resume_option_and_resuming_yields_the_rest_once() {
    let faults = FaultPlan::new().rule(FaultRule::list_page(2, Fault::status(500)).times(1));
    let sim = simulator(95, faults).await;
    let first = run(
        &mut referrals(&sim),
        &["list", "--retries", "0", "--all", "--page-size", "20"],
    );
    assert_eq!(first.status.code(), Some(4), "stderr:\n{}", stderr(&first));
    let err = stderr(&first);
    assert!(err.contains("500"), "{err}");
    assert!(err.contains("request id"), "{err}");
    let received = ndjson(&first);
    assert_eq!(received.len(), 40, "the two pages received stay written");

    // The printed option resumes...
    let token = err
        .split_whitespace()
        .skip_while(|word| *word != "--resume")
        .nth(1)
        .expect("a --resume option on stderr");
    let second = run(
        &mut referrals(&sim),
        &["list", "--retries", "0", "--all", "--resume", token],
    );
    assert_success(&second);
    let mut all = ids(&received);
    all.extend(ids(&ndjson(&second)));
    assert_each_once(&all, &sim);

    // ... and so does the full command line printed after it, word for word.
    let line = err
        .lines()
        .map(str::trim)
        .find(|line| line.contains(" list ") && line.contains("--resume"))
        .expect("a full command line");
    let words: Vec<&str> = line.split_whitespace().collect();
    assert!(
        words.contains(&"--all") && words.contains(&"--retries"),
        "{line}"
    );
    assert!(!line.contains(TOKEN), "the token is never printed");
    let again = run(&mut referrals(&sim), &words[1..]);
    assert_success(&again);
    assert_eq!(ids(&ndjson(&again)), ids(&ndjson(&second)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_json_listing_still_writes_a_valid_array() {
    let faults = FaultPlan::new().rule(FaultRule::list_page(1, Fault::status(503)).times(1));
    let sim = simulator(30, faults).await;
    let output = run(
        &mut referrals(&sim),
        &[
            "list",
            "--retries",
            "0",
            "--all",
            "--page-size",
            "10",
            "--format",
            "json",
        ],
    );
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let value: Value = serde_json::from_slice(&output.stdout).expect("a closed array");
    assert_eq!(value.as_array().map(Vec::len), Some(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_sizes_out_of_range_are_refused_before_any_request() {
    let sim = simulator(5, FaultPlan::new()).await;
    for size in ["0", "101"] {
        let output = run(&mut referrals(&sim), &["list", "--page-size", size]);
        assert_eq!(output.status.code(), Some(2), "page size {size}");
        let err = stderr(&output);
        assert!(err.contains("--page-size"), "{err}");
        assert!(err.contains("between 1 and 100"), "{err}");
        assert!(err.contains(&format!("got {size}")), "{err}");
        assert!(output.stdout.is_empty());
    }
    assert_eq!(sim.api_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixing_the_two_query_forms_is_refused() {
    let sim = simulator(5, FaultPlan::new()).await;
    let output = run(
        &mut referrals(&sim),
        &["list", "--page-size", "10", "--top", "10"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--top"), "{}", stderr(&output));
    assert_eq!(sim.api_requests(), 0);
}

#[test]
fn a_plain_http_base_url_off_loopback_is_refused() {
    let output = run(
        bare().env("PARTNER_CENTER_TOKEN", TOKEN),
        &["list", "--base-url", "http://example.com"],
    );
    assert_eq!(output.status.code(), Some(3));
    let err = stderr(&output);
    assert!(err.contains("base URL"), "{err}");
    assert!(err.contains("example.com"), "{err}");
    assert!(err.contains("https"), "{err}");
    assert!(output.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_credentials_are_named_and_nothing_is_sent() {
    let sim = simulator(5, FaultPlan::new()).await;
    let output = bare()
        .env_clear()
        .args(["list", "--base-url", &sim.base_url()])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(3));
    let err = stderr(&output);
    for name in [
        "PARTNER_CENTER_TOKEN",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
    ] {
        assert!(err.contains(name), "{name} not named: {err}");
    }
    assert_eq!(sim.api_requests(), 0);
    assert_eq!(sim.token_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_resume_token_is_refused_before_any_request() {
    let sim = simulator(5, FaultPlan::new()).await;
    let output = run(
        &mut referrals(&sim),
        &["list", "--resume", "not-a-checkpoint"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--resume"), "{}", stderr(&output));
    assert_eq!(sim.api_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_credentials_exit_3() {
    let sim = simulator(5, FaultPlan::new()).await;
    let output = run(
        referrals(&sim).env("PARTNER_CENTER_TOKEN", "wrong-token"),
        &["get", "x"],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("401"), "{}", stderr(&output));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_response_exits_5_with_its_position() {
    let sim = simulator(
        5,
        FaultPlan::new().rule(FaultRule::always(Fault::InvalidJson)),
    )
    .await;
    let id = ids_of(&sim.referrals())[0].clone();
    let output = run(&mut referrals(&sim), &["get", &id]);
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("line") && err.contains("column"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_prints_the_referral_and_a_missing_one_is_an_api_error() {
    let sim = simulator(5, FaultPlan::new()).await;
    let stored = sim.referrals()[3].clone();
    let id = stored["id"].as_str().expect("an id");
    let output = run(&mut referrals(&sim), &["get", id]);
    assert_success(&output);
    let printed: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(printed, stored);

    let missing = run(&mut referrals(&sim), &["get", "no-such-referral"]);
    assert_eq!(missing.status.code(), Some(1));
    let err = stderr(&missing);
    assert!(err.contains("404") && err.contains("itemNotFound"), "{err}");
    assert!(err.contains("request id"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_reads_stdin_and_prints_the_created_referral() {
    let sim = simulator(2, FaultPlan::new()).await;
    let body = json!({
        "name": "Fabrikam – new deal",
        "type": "Independent",
        "customerProfile": { "name": "Fabrikam", "address": { "country": "FR" } },
        "consent": { "consentToContact": true },
        "details": { "dealValue": 1200, "currency": "EUR" },
        "someFutureField": { "kept": true }
    });
    let output = referrals(&sim)
        .args(["create", "--file", "-"])
        .write_stdin(body.to_string())
        .output()
        .expect("runs");
    assert_success(&output);
    let created: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let id = created["id"].as_str().expect("an id was assigned");
    assert_eq!(created["name"], "Fabrikam – new deal");
    assert_eq!(sim.referral_count(), 3);
    assert!(sim.referral(id).is_some());

    let invalid = referrals(&sim)
        .args(["create", "--file", "-"])
        .write_stdin("{\"name\": \"x\",}")
        .output()
        .expect("runs");
    assert_eq!(invalid.status.code(), Some(2));
    let err = stderr(&invalid);
    assert!(err.contains("--file") && err.contains("line 1"), "{err}");
    assert_eq!(sim.referral_count(), 3, "nothing sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_applies_a_patch_and_a_stale_etag_is_refused() {
    let sim = simulator(20, FaultPlan::new()).await;
    let stored = sim
        .referrals()
        .into_iter()
        .find(|r| r["status"] == "New")
        .expect("a New referral");
    let id = stored["id"].as_str().expect("an id");
    let etag = stored["eTag"].as_str().expect("an eTag");
    let patch = r#"[{"op":"replace","path":"/status","value":"Active"},
                    {"op":"replace","path":"/substatus","value":"Accepted"}]"#;
    let output = referrals(&sim)
        .args(["update", id, "--patch", "-", "--if-match", etag])
        .write_stdin(patch)
        .output()
        .expect("runs");
    assert_success(&output);
    let updated: Value = serde_json::from_slice(&output.stdout).expect("the updated referral");
    assert_eq!(updated["status"], "Active");
    assert_ne!(updated["eTag"].as_str(), Some(etag), "a new eTag");
    assert_eq!(sim.referral(id).expect("stored")["status"], "Active");

    // The old eTag is stale now.
    let stale = referrals(&sim)
        .args(["update", id, "--patch", "-", "--if-match", etag])
        .write_stdin(r#"[{"op":"replace","path":"/name","value":"late"}]"#)
        .output()
        .expect("runs");
    assert_eq!(stale.status.code(), Some(1));
    let err = stderr(&stale);
    assert!(err.contains("412"), "{err}");
    assert!(err.contains("hint"), "{err}");

    let unsupported = referrals(&sim)
        .args(["update", id, "--patch", "-"])
        .write_stdin(r#"[{"op":"remove","path":"/name"}]"#)
        .output()
        .expect("runs");
    assert_eq!(unsupported.status.code(), Some(2));
    assert!(stderr(&unsupported).contains("remove"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_puts_the_file_with_its_etag() {
    let sim = simulator(3, FaultPlan::new()).await;
    let mut referral = sim.referrals()[0].clone();
    let id = referral["id"].as_str().expect("an id").to_owned();
    referral["name"] = json!("Renamed by replace");
    let output = referrals(&sim)
        .args(["replace", "--file", "-"])
        .write_stdin(referral.to_string())
        .output()
        .expect("runs");
    assert_success(&output);
    assert_eq!(
        sim.referral(&id).expect("stored")["name"],
        "Renamed by replace"
    );

    referral.as_object_mut().expect("an object").remove("eTag");
    let no_etag = referrals(&sim)
        .args(["replace", "--file", "-"])
        .write_stdin(referral.to_string())
        .output()
        .expect("runs");
    assert_eq!(no_etag.status.code(), Some(2));
    assert!(stderr(&no_etag).contains("eTag"));
}

#[test]
fn demo_lists_every_referral_of_the_embedded_simulator() {
    let output = run(&mut bare(), &["list", "--demo", "--all"]);
    assert_success(&output);
    let items = ndjson(&output);
    assert_eq!(items.len(), 250);
    let unique: HashSet<String> = ids(&items).into_iter().collect();
    assert_eq!(unique.len(), 250);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_logs_go_to_stderr_without_the_token() {
    let sim = simulator(30, FaultPlan::new()).await;
    let output = run(
        &mut referrals(&sim),
        &["-vv", "list", "--all", "--page-size", "10"],
    );
    assert_success(&output);
    assert_eq!(ndjson(&output).len(), 30, "logs never reach stdout");
    let err = stderr(&output);
    assert!(err.contains("DEBUG") || err.contains("TRACE"), "{err}");
    assert!(!err.contains(TOKEN), "the token was logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_serves_until_stopped_and_prints_how_to_connect() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_referrals"))
        .args(["simulate", "--referrals", "12", "--seed", "3"])
        .env_remove("PARTNER_CENTER_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut base = None;
    let mut token = None;
    for line in lines.by_ref() {
        let line = line.expect("a line");
        if let Some(value) = line.strip_prefix("export PARTNER_CENTER_BASE_URL=") {
            base = Some(value.to_owned());
        }
        if let Some(value) = line.strip_prefix("export PARTNER_CENTER_TOKEN=") {
            token = Some(value.to_owned());
            break;
        }
    }
    let (base, token) = (base.expect("a base URL"), token.expect("a token"));
    let output = run(
        bare()
            .env("PARTNER_CENTER_BASE_URL", &base)
            .env("PARTNER_CENTER_TOKEN", &token),
        &["list", "--all"],
    );
    child.kill().expect("stops");
    let _ = child.wait();
    assert_success(&output);
    assert_eq!(ndjson(&output).len(), 12);
}

#[test]
fn help_documents_the_exit_codes() {
    let output = run(&mut bare(), &["--help"]);
    assert_success(&output);
    let text = stdout(&output);
    for line in [
        "Exit codes:",
        "  2  bad arguments",
        "  4  a listing stopped",
    ] {
        assert!(text.contains(line), "{line} missing from --help");
    }
}

#[test]
fn a_demo_listing_resumes_in_another_demo_run_in_both_forms() {
    for form in [
        &["--page-size", "30"][..],
        &["--count", "--max-page-size", "30"][..],
    ] {
        let first = run(&mut bare(), &[&["list", "--demo"][..], form].concat());
        assert_success(&first);
        let err = stderr(&first);
        let token = err
            .split_whitespace()
            .skip_while(|word| *word != "--resume")
            .nth(1)
            .expect("a --resume hint after the first page");
        let next = run(&mut bare(), &["list", "--demo", "--resume", token]);
        assert_success(&next);
        let (a, b) = (ids(&ndjson(&first)), ids(&ndjson(&next)));
        assert_eq!((a.len(), b.len()), (30, 30), "{form:?}");
        assert!(
            a.iter().all(|id| !b.contains(id)),
            "{form:?}: pages overlap"
        );
    }
}

#[test]
fn a_reader_that_goes_away_ends_the_listing_quietly() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_referrals"))
        .args(["list", "--demo", "--all", "--page-size", "100"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut first = String::new();
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    out.read_line(&mut first).expect("a first line");
    assert!(first.starts_with('{'));
    drop(out);
    let output = child.wait_with_output().expect("ends");
    assert_eq!(output.status.code(), Some(0));
    assert!(!stderr(&output).contains("error"), "{}", stderr(&output));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_2018_filters_reach_the_server() {
    let sim = simulator(80, FaultPlan::new()).await;
    let engagement = sim.referrals()[0]["engagementId"]
        .as_str()
        .expect("an engagement")
        .to_owned();
    let output = run(
        &mut referrals(&sim),
        &[
            "list",
            "--all",
            "--status",
            "New",
            "--engagement-id",
            &engagement,
        ],
    );
    assert_success(&output);
    let items = ndjson(&output);
    assert!(!items.is_empty());
    assert!(
        items
            .iter()
            .all(|r| r["status"] == "New" && r["engagementId"] == engagement.as_str())
    );
    let first = &sim.requests()[0].path_and_query;
    assert!(first.contains("status=New"), "{first}");
    assert!(
        first.contains(&format!("engagementId={engagement}")),
        "{first}"
    );

    let own = run(
        &mut referrals(&sim),
        &["list", "--self", "--page-size", "5"],
    );
    assert_success(&own);
    let last = sim.requests().pop().expect("a request").path_and_query;
    assert!(
        last.contains("self=true") && last.contains("pageSize=5"),
        "{last}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_and_retries_apply_to_each_request() {
    let slow = Fault::SlowHeaders(std::time::Duration::from_secs(5));
    let sim = simulator(5, FaultPlan::new().rule(FaultRule::always(slow))).await;
    let output = run(
        &mut referrals(&sim),
        &["get", "x", "--timeout", "0.2", "--retries", "1"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("timed out"), "{}", stderr(&output));
    // What the user is told, not what the simulator had read by then: a process that gives up
    // on its own clock may do so before a busy machine schedules the simulator.
    assert!(
        stderr(&output).contains("after 2 attempts"),
        "one attempt and one retry: {}",
        stderr(&output)
    );
}

/// The options of the commands that call the API.
const API_OPTIONS: [&[&str]; 6] = [
    &["--token", "x"],
    &["--demo"],
    &["--retries", "1"],
    &["--timeout", "1"],
    &["--base-url", "http://127.0.0.1:9"],
    &["--auth", "token"],
];

#[test]
fn commands_that_never_call_the_api_refuse_its_options() {
    let commands: [&[&str]; 4] = [
        &["changes"],
        &["config", "show"],
        &["completions", "bash"],
        &["simulate"],
    ];
    for command in commands {
        let help = stdout(&run(&mut bare(), &[command, &["--help"]].concat()));
        for option in API_OPTIONS {
            assert!(
                !help.contains(option[0]),
                "{command:?} --help offers {}:\n{help}",
                option[0]
            );
            // Bounded: a simulator that took the option would serve until stopped.
            let output = run(
                bare().timeout(std::time::Duration::from_secs(60)),
                &[command, option].concat(),
            );
            assert_eq!(
                output.status.code(),
                Some(2),
                "{command:?} {option:?}: {}",
                stderr(&output)
            );
            assert!(output.stdout.is_empty());
        }
        assert!(
            help.contains("--profile") && help.contains("--verbose"),
            "{help}"
        );
    }
}

#[test]
fn a_command_s_help_shows_its_own_options_before_the_api_options() {
    for (command, own) in [
        (&["list"][..], "--status"),
        (&["get"][..], "<ID>"),
        (&["sync"][..], "--full"),
        (&["accept"][..], "--format"),
        (&["deal", "register"][..], "--file"),
        (&["webhooks"][..], "--webhooks-url"),
    ] {
        let output = run(&mut bare(), &[command, &["--help"]].concat());
        assert_success(&output);
        let help = stdout(&output);
        let at = |text: &str| {
            help.find(text)
                .unwrap_or_else(|| panic!("{command:?} --help has no {text}:\n{help}"))
        };
        assert!(at(own) < at("API options:"), "{command:?}:\n{help}");
        assert!(at("API options:") < at("--token"), "{command:?}:\n{help}");
        assert!(
            at("--token") < at("Global options:"),
            "{command:?}:\n{help}"
        );
    }
}

#[test]
fn an_api_option_before_the_command_s_name_is_refused_with_a_tip() {
    let output = run(&mut bare(), &["--demo", "list"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("referrals list --demo"), "{err}");
    assert!(output.stdout.is_empty());
}
