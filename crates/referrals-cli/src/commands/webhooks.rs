//! `referrals webhooks register|show|events|test`: the webhook registration on the Partner
//! Center host (`--webhooks-url`), whose tokens have their own audience.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use referrals::auth::{self, StaticToken, TokenProvider};
use referrals_receiver::{REFERRAL_EVENTS, REGISTRATION_SCOPE, RegistrationClient};
use referrals_simulator::Simulator;
use serde_json::Value;

use crate::cli::{WebhooksArgs, WebhooksCommand};
use crate::failure::Failure;
use crate::settings::Settings;

fn failed(error: impl std::fmt::Display) -> Failure {
    Failure::Local(error.to_string())
}

fn print(value: &Value) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value).map_err(|e| Failure::Output(e.into()))?;
    writeln!(out)?;
    Ok(())
}

/// Runs a registration command.
pub async fn run(settings: &Settings, args: &WebhooksArgs) -> Result<(), Failure> {
    // Under --demo, an embedded simulator's registration API answers (kept alive until the
    // command ends).
    let demo = if settings.demo {
        Some(
            Simulator::builder()
                .referrals(1)
                .start()
                .await
                .map_err(|e| Failure::Local(format!("cannot start the demo simulator: {e}")))?,
        )
    } else {
        None
    };
    let (url, auth): (String, Arc<dyn TokenProvider>) = match &demo {
        Some(simulator) => (
            simulator.base_url(),
            Arc::new(StaticToken::new(simulator.token())),
        ),
        None => match args.webhooks_token.clone() {
            Some(token) => (args.webhooks_url.clone(), Arc::new(StaticToken::new(token))),
            // The sign-in of the global options, asked for the registration host's audience.
            None if settings.token.is_none() => {
                let connection = crate::connect::connect(settings, None).await?;
                let provider = connection.client.token_provider().clone();
                (
                    args.webhooks_url.clone(),
                    auth::with_scope(provider, REGISTRATION_SCOPE),
                )
            }
            None => {
                return Err(Failure::Usage(format!(
                    "--token is a token for the Referrals API; the registration host needs one \
                     for {REGISTRATION_SCOPE}: set PARTNER_CENTER_WEBHOOKS_TOKEN (or \
                     --webhooks-token), or sign in (referrals login) so that one can be asked for"
                )));
            }
        },
    };
    let client = RegistrationClient::new(&url, auth).map_err(|e| Failure::Usage(e.to_string()))?;
    match &args.command {
        WebhooksCommand::Events => {
            let events = client.events().await.map_err(failed)?;
            print(&Value::from(events))
        }
        WebhooksCommand::Show => match client.show().await.map_err(failed)? {
            Some(registration) => print(&registration),
            None => Err(Failure::Local("no webhook is registered".into())),
        },
        WebhooksCommand::Register { url, events } => {
            let events: Vec<String> = if events.is_empty() {
                REFERRAL_EVENTS.iter().map(|e| (*e).to_owned()).collect()
            } else {
                events.clone()
            };
            let (answer, replaced) = client.register(url, &events).await.map_err(failed)?;
            eprintln!(
                "{} {url} for {}",
                if replaced {
                    "re-registered"
                } else {
                    "registered"
                },
                events.join(", ")
            );
            print(&answer)
        }
        WebhooksCommand::Test { wait, wait_timeout } => {
            let id = client.send_validation_event().await.map_err(failed)?;
            eprintln!("validation event sent, correlation id {id}");
            if !wait {
                return print(&serde_json::json!({ "correlationId": id }));
            }
            let deadline = Instant::now() + Duration::from_secs(*wait_timeout);
            loop {
                let status = client.validation_status(&id).await.map_err(failed)?;
                let state = status.get("status").and_then(Value::as_str).unwrap_or("");
                let pending = state.eq_ignore_ascii_case("pending")
                    || state.eq_ignore_ascii_case("inprogress")
                    || state.is_empty();
                if !pending {
                    print(&status)?;
                    return if state.eq_ignore_ascii_case("completed") {
                        Ok(())
                    } else {
                        Err(Failure::Local(format!("the validation event {state}")))
                    };
                }
                if Instant::now() >= deadline {
                    print(&status)?;
                    return Err(Failure::Local(format!(
                        "the validation event is still pending after {wait_timeout} s"
                    )));
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
