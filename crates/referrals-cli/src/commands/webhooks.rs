//! `referrals webhooks register|show|events|test`: the webhook registration on the Partner
//! Center host (`--webhooks-url`), whose tokens have their own audience.

use std::io::Write;
use std::time::{Duration, Instant};

use referrals::query::scope::PARTNER_CENTER_API;
use referrals::registration::{REFERRAL_EVENTS, WebhookRegistration};
use referrals::{ConfigError, ErrorKind};
use referrals_simulator::Simulator;
use serde_json::Value;

use crate::cli::{WebhooksArgs, WebhooksCommand};
use crate::failure::Failure;
use crate::settings::Settings;

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
    let (url, builder) = match &demo {
        Some(simulator) => (
            simulator.base_url(),
            WebhookRegistration::builder().bearer_token(simulator.token()),
        ),
        None => match args.webhooks_token.clone() {
            Some(token) => (
                args.webhooks_url.clone(),
                WebhookRegistration::builder()
                    .bearer_token(token)
                    .transport(crate::connect::transport(settings)?),
            ),
            // The sign-in of the API options (and its transport and retries), asked for the
            // registration host's audience.
            None if settings.token.is_none() => {
                let connection = crate::connect::connect(settings, None).await?;
                (
                    args.webhooks_url.clone(),
                    connection.client.webhook_registration(),
                )
            }
            None => {
                return Err(Failure::Usage(format!(
                    "--token is a token for the Referrals API; the registration host needs one \
                     for {PARTNER_CENTER_API}: set PARTNER_CENTER_WEBHOOKS_TOKEN (or \
                     --webhooks-token), or sign in (referrals login) so that one can be asked for"
                )));
            }
        },
    };
    let client = builder.base_url(url).build().map_err(|e| match e.kind() {
        ErrorKind::Config(ConfigError::BaseUrl(_)) => {
            Failure::Usage(format!("--webhooks-url: {e}"))
        }
        _ => Failure::from(e),
    })?;
    match &args.command {
        WebhooksCommand::Events => {
            let events = client.events().await?;
            print(&Value::from(events))
        }
        WebhooksCommand::Show => match client.show().await? {
            Some(registration) => print(&registration),
            None => Err(Failure::Local("no webhook is registered".into())),
        },
        WebhooksCommand::Register { url, events } => {
            let events: Vec<String> = if events.is_empty() {
                REFERRAL_EVENTS.iter().map(|e| (*e).to_owned()).collect()
            } else {
                events.clone()
            };
            let registered = client.register(url, &events).await?;
            say!(
                "{} {url} for {}",
                if registered.replaced {
                    "re-registered"
                } else {
                    "registered"
                },
                events.join(", ")
            );
            print(&registered.registration)
        }
        WebhooksCommand::Test { wait, wait_timeout } => {
            let id = client.send_validation_event().await?;
            say!("validation event sent, correlation id {id}");
            if !wait {
                return print(&serde_json::json!({ "correlationId": id }));
            }
            let deadline = Instant::now() + Duration::from_secs(*wait_timeout);
            loop {
                let status = client.validation_status(&id).await?;
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
