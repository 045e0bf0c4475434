//! The partner's daily commands run as a process against a simulator started in the test:
//! accept, decline, won, lost (a forbidden move refused after the read alone, a 412 race
//! retried or explained), deal register/update, `--select`/`--skip`/`--count`, completions for
//! each shell, and config profiles (flag > env > profile > default).

use std::io::Write;
use std::process::Output;

use assert_cmd::Command;
use referrals::query::http::Method;
use referrals_simulator::{
    Fault, FaultPlan, FaultRule, Operation, RecordedRequest, Simulator, SimulatorHandle,
};
use serde_json::{Value, json};
use tempfile::TempPath;

use crate::support::{self, assert_success, bare, run, stderr, stdout, temp_dir};

const TOKEN: &str = "daily-test-token-51c2";

async fn simulator(faults: FaultPlan) -> SimulatorHandle {
    support::simulator(60, 5, TOKEN, faults).await
}

/// The binary with a clean environment (and a config directory of its own, empty), pointed at
/// `sim`.
fn referrals(sim: &SimulatorHandle) -> Command {
    support::pointed_at(sim, TOKEN)
}

/// The id of a stored referral with this status, and its eTag when the body has one (the
/// `ETag` header always carries it).
fn referral_with(sim: &SimulatorHandle, status: &str) -> (String, Option<String>) {
    let stored = sim
        .referrals()
        .into_iter()
        .find(|r| r["status"] == status)
        .unwrap_or_else(|| panic!("a {status} referral"));
    (
        stored["id"].as_str().expect("an id").to_owned(),
        stored["eTag"].as_str().map(str::to_owned),
    )
}

fn api_requests(sim: &SimulatorHandle) -> Vec<RecordedRequest> {
    sim.requests()
}

fn methods(requests: &[RecordedRequest]) -> Vec<(Method, Option<u16>)> {
    requests
        .iter()
        .map(|r| (r.method.clone(), r.status))
        .collect()
}

fn json_out(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).expect("the referral as JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_reads_checks_then_patches_with_the_etag_just_read() {
    let sim = simulator(FaultPlan::new()).await;
    let (id, etag) = referral_with(&sim, "New");
    let output = run(&mut referrals(&sim), &["accept", &id]);
    assert_success(&output);
    let updated = json_out(&output);
    assert_eq!(
        (updated["status"].as_str(), updated["substatus"].as_str()),
        (Some("Active"), Some("Accepted"))
    );
    assert!(stderr(&output).contains("is now Active/Accepted"));
    let requests = api_requests(&sim);
    assert_eq!(
        methods(&requests),
        [(Method::GET, Some(200)), (Method::PATCH, Some(200))]
    );
    let patch = &requests[1];
    let sent = patch.header("if-match").map(|v| v.trim_matches('"'));
    assert!(sent.is_some(), "If-Match is sent");
    if let Some(etag) = &etag {
        assert_eq!(sent, Some(etag.trim_matches('"')), "the eTag just read");
    }
    assert_eq!(patch.header("prefer"), Some("return=representation"));
    assert_eq!(sim.referral(&id).expect("stored")["status"], "Active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decline_sets_the_reason_and_won_and_lost_close_active_referrals() {
    let sim = simulator(FaultPlan::new()).await;
    let (new_id, _) = referral_with(&sim, "New");
    let output = run(
        &mut referrals(&sim),
        &["decline", &new_id, "--reason", "Outside our region"],
    );
    assert_success(&output);
    let declined = json_out(&output);
    assert_eq!(declined["substatus"], "Declined");
    assert_eq!(declined["statusReason"], "Outside our region");

    let active: Vec<String> = sim
        .referrals()
        .into_iter()
        .filter(|r| r["status"] == "Active")
        .take(2)
        .map(|r| r["id"].as_str().expect("an id").to_owned())
        .collect();
    assert_eq!(
        active.len(),
        2,
        "two Active referrals in the synthetic data"
    );
    let won = referrals(&sim)
        .args(["won", &active[0]])
        .output()
        .expect("runs");
    assert_success(&won);
    assert_eq!(json_out(&won)["substatus"], "Won");
    let lost = referrals(&sim)
        .args([
            "lost",
            &active[1],
            "--reason",
            "Budget cut",
            "--format",
            "json",
        ])
        .output()
        .expect("runs");
    assert_success(&lost);
    let stored = sim.referral(&active[1]).expect("stored");
    assert_eq!(
        (stored["status"].as_str(), stored["substatus"].as_str()),
        (Some("Closed"), Some("Lost"))
    );
    assert_eq!(stored["statusReason"], "Budget cut");

    // A table when asked, one row under the header.
    let (other_new, _) = sim
        .referrals()
        .into_iter()
        .find(|r| r["status"] == "New")
        .map(|r| (r["id"].as_str().unwrap_or_default().to_owned(), ()))
        .expect("another New referral");
    let table = run(
        &mut referrals(&sim),
        &["accept", &other_new, "--format", "table"],
    );
    assert_success(&table);
    let text = stdout(&table);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.starts_with("ID") && text.contains("Accepted"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_move_is_refused_after_the_read_with_nothing_sent() {
    let sim = simulator(FaultPlan::new()).await;
    let (id, _) = referral_with(&sim, "New");
    let before = sim.referral(&id).expect("stored");
    let output = run(&mut referrals(&sim), &["won", &id]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("it is New"), "{err}");
    assert!(err.contains("won needs Active"), "{err}");
    assert!(err.contains("allowed from New: accept, decline"), "{err}");
    // Only the read: zero requests after the GET.
    assert_eq!(methods(&api_requests(&sim)), [(Method::GET, Some(200))]);
    assert_eq!(sim.referral(&id).expect("stored"), before);

    let closed = sim
        .referrals()
        .into_iter()
        .find(|r| r["status"] == "Closed")
        .expect("a Closed referral");
    let closed_id = closed["id"].as_str().expect("an id");
    sim.clear_requests();
    let output = run(&mut referrals(&sim), &["accept", closed_id]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("nothing (it is final)"),
        "{}",
        stderr(&output)
    );
    assert_eq!(api_requests(&sim).len(), 1);
}

fn on_first_patch(patch: Value) -> FaultPlan {
    FaultPlan::new().rule(
        FaultRule::matching(
            |info| info.operation == Operation::Patch,
            Fault::concurrent_update(patch),
        )
        .times(1),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_412_race_rereads_once_and_retries_when_the_move_still_applies() {
    let sim = simulator(on_first_patch(json!([
        { "op": "replace", "path": "/name", "value": "Renamed meanwhile" }
    ])))
    .await;
    let (id, _) = referral_with(&sim, "New");
    let output = run(&mut referrals(&sim), &["accept", &id]);
    assert_success(&output);
    let updated = json_out(&output);
    assert_eq!(updated["substatus"], "Accepted");
    assert_eq!(
        updated["name"], "Renamed meanwhile",
        "the other change is kept"
    );
    let requests = api_requests(&sim);
    assert_eq!(
        methods(&requests),
        [
            (Method::GET, Some(200)),
            (Method::PATCH, Some(412)),
            (Method::GET, Some(200)),
            (Method::PATCH, Some(200)),
        ]
    );
    assert_ne!(
        requests[1].header("if-match"),
        requests[3].header("if-match"),
        "the new eTag"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_412_race_that_makes_the_move_impossible_is_explained() {
    let sim = simulator(on_first_patch(json!([
        { "op": "replace", "path": "/status", "value": "Closed" },
        { "op": "replace", "path": "/substatus", "value": "Declined" }
    ])))
    .await;
    let (id, _) = referral_with(&sim, "New");
    let output = run(&mut referrals(&sim), &["accept", &id]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("changed meanwhile (HTTP 412)"), "{err}");
    assert!(err.contains("it is Closed (substatus Declined)"), "{err}");
    assert_eq!(
        methods(&api_requests(&sim)),
        [
            (Method::GET, Some(200)),
            (Method::PATCH, Some(412)),
            (Method::GET, Some(200))
        ]
    );
    assert_eq!(sim.referral(&id).expect("stored")["substatus"], "Declined");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deal_registers_and_updates_round_trip() {
    let sim = simulator(FaultPlan::new()).await;
    let (id, _) = referral_with(&sim, "Active");
    let deal = json!({
        "type": "AzureIPCoSell",
        "contract": { "currency": "USD", "value": 120000.5, "term": "Finite",
                      "startDateTime": "2025-01-01T00:00:00Z", "endDateTime": "2027-12-31T00:00:00Z" },
        "solutionDetails": [{ "id": "sol-1", "currency": "USD", "value": 120000.5,
                              "isDeployedOnAzure": true, "primaryDeploymentOn": "Customer",
                              "pricingModel": "PayAsYouGo", "futureField": { "kept": 1 } }]
    });
    let output = referrals(&sim)
        .args(["deal", "register", &id, "--file", "-"])
        .write_stdin(deal.to_string())
        .output()
        .expect("runs");
    assert_success(&output);
    let referral = json_out(&output);
    let registration = &referral["registrations"][0];
    assert_eq!(registration["contract"], deal["contract"]);
    assert_eq!(
        registration["solutionDetails"], deal["solutionDetails"],
        "unknown fields kept"
    );
    assert_eq!(registration["status"], "ReviewPending");
    assert!(registration["id"].is_string());
    assert_eq!(referral["registrationStatus"], "ReviewPending");
    let requests = api_requests(&sim);
    assert_eq!(
        methods(&requests),
        [(Method::PATCH, Some(204)), (Method::GET, Some(200))]
    );

    let patch = json!([
        { "op": "replace", "path": "/registrations/0/contract/value", "value": 150000 },
        { "op": "replace", "path": "/registrations/0/solutionDetails/0/pricingModel", "value": "Other" }
    ]);
    sim.clear_requests();
    let output = referrals(&sim)
        .args(["deal", "update", &id, "--patch", "-"])
        .write_stdin(patch.to_string())
        .output()
        .expect("runs");
    assert_success(&output);
    let stored = sim.referral(&id).expect("stored");
    assert_eq!(stored["registrations"][0]["contract"]["value"], 150000);
    assert_eq!(
        stored["registrations"][0]["solutionDetails"][0]["pricingModel"],
        "Other"
    );
    assert_eq!(
        json_out(&output)["registrations"][0]["contract"]["value"],
        150000
    );
    assert_eq!(
        methods(&api_requests(&sim)),
        [(Method::PATCH, Some(204)), (Method::GET, Some(200))]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_deal_is_refused_with_the_path_of_the_field_before_any_request() {
    let sim = simulator(FaultPlan::new()).await;
    let (id, _) = referral_with(&sim, "Active");
    let cases = [
        (
            json!({ "contract": { "currency": "USDX", "value": 1, "term": "Perpetual" },
                    "solutionDetails": [{ "id": "s" }] }),
            "contract.currency",
        ),
        (
            json!({ "contract": { "currency": "USD", "value": 1, "term": "Finite" },
                    "solutionDetails": [{ "id": "s" }] }),
            "contract.endDateTime",
        ),
        (
            json!({ "contract": { "currency": "USD", "value": 1, "term": "Perpetual" },
                    "solutionDetails": [{ "id": "s", "value": -5 }] }),
            "solutionDetails[0].value",
        ),
    ];
    for (deal, path) in cases {
        let output = referrals(&sim)
            .args(["deal", "register", &id, "--file", "-"])
            .write_stdin(deal.to_string())
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(
            stderr(&output).contains(&format!("{path}: ")),
            "{path}: {}",
            stderr(&output)
        );
    }
    let output = referrals(&sim)
        .args(["deal", "update", &id, "--patch", "-"])
        .write_stdin(
            r#"[{"op":"replace","path":"/registrations/0/contract/term","value":"Forever"}]"#,
        )
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("operation 0: /registrations/0/contract/term"),
        "{}",
        stderr(&output)
    );
    assert!(api_requests(&sim).is_empty(), "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_lists_partial_referrals_with_their_columns_and_count_goes_to_stderr() {
    let sim = simulator(FaultPlan::new()).await;
    let output = run(
        &mut referrals(&sim),
        &[
            "list",
            "--select",
            "id,status",
            "--top",
            "10",
            "--skip",
            "5",
            "--count",
            "--format",
            "csv",
        ],
    );
    assert_success(&output);
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "id,status");
    assert_eq!(lines.len(), 11, "{text}");
    let expected: Vec<String> = sim
        .referrals()
        .iter()
        .skip(5)
        .take(10)
        .map(|r| {
            format!(
                "{},{}",
                r["id"].as_str().unwrap_or_default(),
                r["status"].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(lines[1..], expected[..]);
    assert!(
        stderr(&output).contains("count: 60 referrals match"),
        "{}",
        stderr(&output)
    );
    let request = &api_requests(&sim)[0];
    assert!(
        request.path_and_query.contains("$select=id,status"),
        "{}",
        request.path_and_query
    );
    assert!(
        request.path_and_query.contains("$skip=5")
            && request.path_and_query.contains("$count=true")
    );

    let output = run(
        &mut referrals(&sim),
        &[
            "list", "--select", "id,name", "--top", "3", "--format", "ndjson",
        ],
    );
    assert_success(&output);
    for line in stdout(&output).lines() {
        let item: Value = serde_json::from_str(line).expect("JSON");
        let mut keys: Vec<&String> = item.as_object().expect("an object").keys().collect();
        keys.sort();
        assert_eq!(keys, ["id", "name"], "{line}");
    }
    let table = run(
        &mut referrals(&sim),
        &[
            "list",
            "--select",
            "id,status",
            "--top",
            "2",
            "--format",
            "table",
        ],
    );
    assert_success(&table);
    let header: Vec<String> = stdout(&table)
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(header, ["ID", "STATUS"]);
}

#[test]
fn completions_are_generated_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef referrals"),
        ("fish", "complete -c referrals"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[referrals]"),
    ] {
        let output = bare().args(["completions", shell]).output().expect("runs");
        assert_success(&output);
        let script = stdout(&output);
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        for command in [
            "accept",
            "decline",
            "won",
            "lost",
            "deal",
            "completions",
            "config",
        ] {
            assert!(script.contains(command), "{shell}: no {command}");
        }
    }
    let output = bare().args(["completions", "tcsh"]).output().expect("runs");
    assert_eq!(output.status.code(), Some(2));
}

/// `config show`'s row for `name`: (value, source).
fn shown(output: &Output, name: &str) -> (String, String) {
    let text = stdout(output);
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no {name} row in\n{text}"));
    let (value, source) = line[name.len()..].rsplit_once(" (").expect("a source");
    (
        value.trim().to_owned(),
        source.trim_end_matches(')').to_owned(),
    )
}

/// Each `(name, value, source)` of `rows` is a row of `config show`'s `output`.
fn assert_shown(output: &Output, rows: &[(&str, &str, &str)]) {
    for (name, value, source) in rows {
        assert_eq!(
            shown(output, name),
            ((*value).to_owned(), (*source).to_owned()),
            "{name}"
        );
    }
}

/// A config file of the test's own, removed when dropped.
fn write_config(name: &str, text: &str) -> TempPath {
    let mut file = tempfile::Builder::new()
        .prefix(name)
        .suffix(".toml")
        .tempfile()
        .expect("a config file");
    file.write_all(text.as_bytes())
        .expect("the config file is written");
    file.into_temp_path()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_come_from_the_flag_then_the_environment_then_the_profile_then_the_default() {
    let sim = simulator(FaultPlan::new()).await;
    let config = write_config(
        "precedence",
        &format!(
            "default_profile = \"work\"\n\n[profiles.work]\nbase_url = \"{}\"\ntenant = \"contoso.example\"\n\
             format = \"json\"\n\n[profiles.other]\nbase_url = \"http://127.0.0.1:9\"\n",
            sim.base_url()
        ),
    );
    let config_show =
        |command: &mut Command| command.args(["config", "show"]).output().expect("runs");

    // Default: nothing set.
    let output = config_show(&mut bare());
    assert_success(&output);
    assert_shown(
        &output,
        &[("base_url", "https://api.partner.microsoft.com", "default")],
    );

    // Profile.
    let output = config_show(bare().env("REFERRALS_CONFIG", &config));
    assert_shown(
        &output,
        &[
            ("base_url", &sim.base_url(), "profile work"),
            ("tenant", "contoso.example", "profile work"),
            ("profile", "work", "profile default_profile"),
        ],
    );

    // Environment over profile (and REFERRALS_PROFILE over default_profile).
    let base_url_from_env = (
        "base_url",
        "http://127.0.0.1:7",
        "env PARTNER_CENTER_BASE_URL",
    );
    let output = config_show(
        bare()
            .env("REFERRALS_CONFIG", &config)
            .env("REFERRALS_PROFILE", "other")
            .env("PARTNER_CENTER_BASE_URL", "http://127.0.0.1:7")
            .env("AZURE_TENANT_ID", "env-tenant"),
    );
    assert_shown(
        &output,
        &[
            ("profile", "other", "env REFERRALS_PROFILE"),
            base_url_from_env,
            ("tenant", "env-tenant", "env AZURE_TENANT_ID"),
        ],
    );

    // Flag over environment. `config show` takes no API option (`--base-url` is one of the
    // commands that call the API, whose settings show the flag's source: see the settings'
    // unit tests); the command that has the flag uses it over the environment's.
    let output = config_show(
        bare()
            .env("REFERRALS_CONFIG", &config)
            .env("PARTNER_CENTER_BASE_URL", "http://127.0.0.1:7")
            .args(["--profile", "work"]),
    );
    assert_shown(
        &output,
        &[base_url_from_env, ("profile", "work", "flag --profile")],
    );
    let refused = config_show(
        bare()
            .env("REFERRALS_CONFIG", &config)
            .args(["--base-url", "http://127.0.0.1:8"]),
    );
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let output = bare()
        .env("REFERRALS_CONFIG", &config)
        .env("PARTNER_CENTER_BASE_URL", "http://127.0.0.1:7")
        .env("PARTNER_CENTER_TOKEN", TOKEN)
        .args(["list", "--top", "2", "--base-url", &sim.base_url()])
        .output()
        .expect("runs");
    assert_success(&output);

    // The profile really drives a command: base URL and format from it.
    let (id, _) = referral_with(&sim, "New");
    let output = bare()
        .env("REFERRALS_CONFIG", &config)
        .env("PARTNER_CENTER_TOKEN", TOKEN)
        .args(["accept", &id])
        .output()
        .expect("runs");
    assert_success(&output);
    assert_eq!(json_out(&output)["substatus"], "Accepted");
    let output = bare()
        .env("REFERRALS_CONFIG", &config)
        .env("PARTNER_CENTER_TOKEN", TOKEN)
        .args(["list", "--top", "2"])
        .output()
        .expect("runs");
    assert_success(&output);
    let listed: Value =
        serde_json::from_slice(&output.stdout).expect("a JSON array (the profile's format)");
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
}

#[test]
fn config_show_never_prints_a_secret_and_a_bad_file_names_line_and_column() {
    let output = bare()
        .env("PARTNER_CENTER_TOKEN", "eyJ-very-secret")
        .env("AZURE_CLIENT_SECRET", "client-secret-value")
        .args(["config", "show"])
        .output()
        .expect("runs");
    assert_success(&output);
    let text = stdout(&output);
    assert!(
        !text.contains("eyJ-very-secret") && !text.contains("client-secret-value"),
        "{text}"
    );
    assert_shown(
        &output,
        &[("token", "set, not shown", "env PARTNER_CENTER_TOKEN")],
    );

    let config = write_config(
        "bad",
        "[profiles.p]\nbase_url = \"https://x\"\ncolour = \"red\"\n",
    );
    let output = bare()
        .env("REFERRALS_CONFIG", &config)
        .args(["config", "show"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(3));
    let err = stderr(&output);
    assert!(err.contains(&format!("{}:3:1:", config.display())), "{err}");
    assert!(err.contains("colour"), "{err}");

    let output = bare()
        .env("REFERRALS_CONFIG", &config)
        .args(["completions", "bash"])
        .output()
        .expect("runs");
    assert_success(&output);

    let missing = bare()
        .args(["--profile", "nowhere", "config", "show"])
        .output()
        .expect("runs");
    assert_eq!(missing.status.code(), Some(3));
    assert!(
        stderr(&missing).contains("profile `nowhere`"),
        "{}",
        stderr(&missing)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_s_tenant_and_client_id_sign_in_with_the_secret_from_the_environment() {
    // Client credentials give app-only tokens, which the real API refuses; this simulator takes
    // them so that the sign-in itself is what the test sees.
    let sim = Simulator::builder()
        .referrals(5)
        .seed(5)
        .allow_app_only_tokens(true)
        .start()
        .await
        .expect("the simulator starts");
    let config = write_config(
        "identity",
        &format!(
            "[profiles.default]\nbase_url = \"{}\"\ntenant = \"{}\"\nclient_id = \"{}\"\n",
            sim.base_url(),
            sim.tenant(),
            sim.client_id()
        ),
    );
    let (id, _) = referral_with(&sim, "New");
    let output = bare()
        .env("REFERRALS_CONFIG", &config)
        .env("AZURE_AUTHORITY_HOST", sim.authority_url())
        .env("AZURE_CLIENT_SECRET", sim.client_secret())
        .args(["get", &id])
        .output()
        .expect("runs");
    assert_success(&output);
    assert_eq!(json_out(&output)["id"], id.as_str());
    assert_eq!(
        sim.token_requests(),
        1,
        "signed in with the profile's tenant and client id"
    );
    assert!(!stderr(&output).contains(sim.client_secret()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_s_auth_method_forces_a_source_and_the_flag_overrides_it() {
    let sim = simulator(FaultPlan::new()).await;
    let config = write_config(
        "auth-method",
        &format!(
            "[profiles.default]\nbase_url = \"{}\"\nauth = \"azure-cli\"\n",
            sim.base_url()
        ),
    );
    let shown_auth = |command: &mut Command| {
        let output = command.args(["config", "show"]).output().expect("runs");
        assert_success(&output);
        shown(&output, "auth")
    };
    assert_eq!(
        shown_auth(bare().env("REFERRALS_CONFIG", &config)),
        ("azure-cli".into(), "profile default".into())
    );
    assert_eq!(
        shown_auth(
            bare()
                .env("REFERRALS_CONFIG", &config)
                .env("REFERRALS_AUTH", "token")
        ),
        ("token".into(), "env REFERRALS_AUTH".into())
    );
    // `config show` takes no `--auth` (an option of the commands that call the API; the
    // settings' unit tests show its source is the flag); the command below uses it.
    let refused = bare()
        .env("REFERRALS_CONFIG", &config)
        .args(["config", "show", "--auth", "token"])
        .output()
        .expect("runs");
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    // The profile's method is the one the command uses: with `token` forced from the flag the
    // environment's token signs in, and the profile's azure-cli is not tried.
    let (id, _) = referral_with(&sim, "New");
    let output = bare()
        .env("REFERRALS_CONFIG", &config)
        .env("PARTNER_CENTER_TOKEN", TOKEN)
        .args(["get", &id, "--auth", "token"])
        .output()
        .expect("runs");
    assert_success(&output);
    let output = bare()
        .env("REFERRALS_CONFIG", &config)
        .env("PARTNER_CENTER_TOKEN", TOKEN)
        .env("PATH", temp_dir().path())
        .args(["get", &id])
        .output()
        .expect("runs");
    assert_eq!(
        output.status.code(),
        Some(3),
        "the profile forced azure-cli: {}",
        stderr(&output)
    );
}
