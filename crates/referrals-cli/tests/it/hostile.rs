//! What a hostile (or careless) server or setting gets from the binary: a token it echoes is
//! masked in every message and log line, a base URL's password is never shown, an HTML page is
//! named as one, and no control character it sends reaches the terminal.

use referrals_simulator::{Fault, FaultPlan, FaultRule, SimulatorHandle};

use crate::support::{self, bare, run, stderr};

/// Long enough to be masked, and not JWT-shaped: only the held secret's registry masks it.
const TOKEN: &str = "hostile-echo-token-a93f2c71";

async fn simulator(referrals: usize, faults: FaultPlan) -> SimulatorHandle {
    support::simulator(referrals, 23, TOKEN, faults).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_the_server_echoes_is_masked_in_every_message_and_log() {
    let sim = simulator(
        10,
        FaultPlan::new().rule(FaultRule::always(Fault::EchoAuthorization { status: 400 })),
    )
    .await;
    for args in [
        &["list"][..],
        &["get", "some-referral"],
        &["-vv", "list", "--all"],
        &["accept", "some-referral"],
    ] {
        // Through the environment variable and through --token.
        for through_option in [false, true] {
            let mut command = support::pointed_at(&sim, TOKEN);
            let mut args = args.to_vec();
            if through_option {
                command.env_remove("PARTNER_CENTER_TOKEN");
                args.extend(["--token", TOKEN]);
            }
            let output = run(&mut command, &args);
            // A listing stopped by it is resumable (4); a single call is an API error (1).
            let code = if args.contains(&"list") { 4 } else { 1 };
            assert_eq!(
                output.status.code(),
                Some(code),
                "{args:?}: {}",
                stderr(&output)
            );
            let err = stderr(&output);
            assert!(
                !err.contains(TOKEN),
                "{args:?}: the echoed token is shown:\n{err}"
            );
            assert!(
                err.contains("Authorization: Bearer [redacted]"),
                "{args:?}: what the server said is still shown, masked:\n{err}"
            );
            assert!(output.stdout.is_empty(), "{args:?}");
        }
    }
}

#[test]
fn a_base_url_with_a_password_is_refused_without_showing_it() {
    let url = "https://ada:pw-hunter2-77@api.example.com/v1";
    let mut by_option = bare();
    by_option
        .env("PARTNER_CENTER_TOKEN", TOKEN)
        .args(["list", "--base-url", url]);
    let mut by_variable = bare();
    by_variable
        .env("PARTNER_CENTER_TOKEN", TOKEN)
        .env("PARTNER_CENTER_BASE_URL", url)
        .args(["get", "x"]);
    for command in [&mut by_option, &mut by_variable] {
        let output = command.output().expect("runs");
        assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
        let shown = format!(
            "{}{}",
            stderr(&output),
            String::from_utf8_lossy(&output.stdout)
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("https://ada:[redacted]@api.example.com"),
            "{shown}"
        );
        assert!(shown.contains("user info"), "why it was refused: {shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_answer_is_named_with_its_status_and_type() {
    let gateway = simulator(
        10,
        FaultPlan::new().rule(FaultRule::always(Fault::GatewayHtml)),
    )
    .await;
    let output = run(
        &mut support::pointed_at(&gateway, TOKEN),
        &["get", "some-referral", "--retries", "0"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("HTTP 502 Bad Gateway with an HTML page (text/html), not the API's JSON"),
        "{err}"
    );

    let portal = simulator(
        10,
        FaultPlan::new().rule(FaultRule::always(Fault::HtmlPage { status: 200 })),
    )
    .await;
    for args in [&["list"][..], &["get", "some-referral"]] {
        let output = run(&mut support::pointed_at(&portal, TOKEN), args);
        assert_eq!(
            output.status.code(),
            Some(5),
            "{args:?}: {}",
            stderr(&output)
        );
        let err = stderr(&output);
        assert!(
            err.contains(
                "HTTP 200 with an HTML page (text/html; charset=utf-8), not the API's JSON"
            ),
            "{args:?}: {err}"
        );
        assert!(
            !err.contains("line 1"),
            "{args:?}: not a JSON position: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_control_character_a_server_sends_reaches_the_terminal() {
    let sim = simulator(5, FaultPlan::new()).await;
    // The service quotes the id it did not find: an OSC title, a bell, a screen clear.
    let id = "x\u{1b}]0;owned\u{7}\u{1b}[2J\r\u{9b}31m";
    let output = run(&mut support::pointed_at(&sim, TOKEN), &["get", id]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("itemNotFound"), "{err}");
    assert!(
        !err.chars().any(|c| c.is_control() && c != '\n'),
        "a control character reached stderr: {err:?}"
    );
}
