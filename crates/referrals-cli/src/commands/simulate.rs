//! `referrals simulate`: the Partner Center simulator in the foreground, for integration tests of
//! your own, until Ctrl-C.

use std::io::Write;

use referrals_simulator::Simulator;

use crate::cli::SimulateArgs;
use crate::failure::Failure;
use crate::plural::count;
use crate::settings::Settings;

/// Runs the simulator and prints how to point the CLI (or any client) at it.
pub async fn run(settings: &Settings, args: &SimulateArgs) -> Result<(), Failure> {
    let mut builder = Simulator::builder()
        .referrals(args.referrals)
        .seed(args.seed)
        .port(args.port)
        .allow_app_only_tokens(args.allow_app_only)
        .latency(args.latency);
    if let Some(max) = args.max_in_flight {
        builder = builder.max_in_flight(max);
    }
    if let Some(token) = &args.accept_token {
        builder = builder.token(token.expose());
    }
    let simulator = builder.start().await.map_err(|e| {
        Failure::Local(format!(
            "cannot start the simulator on 127.0.0.1:{}: {e}",
            args.port
        ))
    })?;
    let base = simulator.base_url();
    let token = crate::resume::quote(simulator.token());
    let program = std::env::args_os()
        .next()
        .map(|p| crate::resume::quote(&p.to_string_lossy()))
        .unwrap_or_else(|| "referrals".into());
    let text = format!(
        "Partner Center simulator: {count} (seed {seed}) at {base}{churn}{pace}
  collection:      {collection}
  bearer token:    {token}
  token endpoint:  {token_url} (sign-in below)

Point the CLI at it with environment variables:
export PARTNER_CENTER_BASE_URL={base}
export PARTNER_CENTER_TOKEN={token}
  {program} list --all

or with options:
  {program} list --all --base-url {base} --token {token}

or sign in as the Referrals API wants (App+User), with PARTNER_CENTER_TOKEN unset:
  export AZURE_AUTHORITY_HOST={authority} AZURE_TENANT_ID={tenant} AZURE_CLIENT_ID={client_id}
  {program} login                  # device code; the simulator approves it by itself
  {program} list --all             # uses the stored sign-in (refreshed, rotated)
or, for automation, with a refresh token (each one is usable once; rotation is kept in the cache):
  export PARTNER_CENTER_REFRESH_TOKEN={refresh_token}

OAuth2 client credentials (app-only tokens, which the API refuses with 403{app_only}):
  export AZURE_CLIENT_SECRET={secret}     # or AZURE_CLIENT_CERTIFICATE_PATH=<PEM>

Webhooks: register a receiver with the registration API at {base} (same token), e.g.
  {program} webhooks --webhooks-url {base} register --url http://127.0.0.1:8080/webhooks/partner-center
(PARTNER_CENTER_WEBHOOKS_TOKEN={token}); events are signed by a certificate at
  {cert_url}
Listen with: {program} listen --base-url {base} --token {token} --bind 127.0.0.1:8080 \
  --cert-url-prefix {cert_prefix} --trust-anchor simulator-ca.pem --only-trust-anchors
where simulator-ca.pem holds the signing CA:
{ca_pem}
Press Ctrl-C to stop.
",
        count = count(simulator.referral_count(), "synthetic referral"),
        seed = args.seed,
        churn = if args.churn > 0 {
            format!(", {} a second", count(args.churn, "random change"))
        } else {
            String::new()
        },
        pace = pace(args),
        collection = simulator.referrals_url(),
        token_url = simulator.token_url(),
        authority = simulator.authority_url(),
        tenant = simulator.tenant(),
        client_id = simulator.client_id(),
        secret = simulator.client_secret(),
        cert_url = simulator.webhook_certificate_url(),
        cert_prefix = simulator.webhook_cert_url_prefix(),
        ca_pem = simulator.webhook_ca_pem(),
        refresh_token = simulator.issue_refresh_token(),
        app_only = if args.allow_app_only {
            "; accepted here: --allow-app-only"
        } else {
            " unless --allow-app-only"
        },
    );
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    drop(out);
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            signal = &mut interrupted => {
                signal.map_err(|e| Failure::Local(format!("cannot wait for Ctrl-C: {e}")))?;
                break;
            }
            _ = tick.tick(), if args.churn > 0 => {
                let report = simulator.churn(args.churn as usize);
                if settings.verbose > 0 {
                    say!(
                        "churn: {} created, {} updated, {} removed; {}",
                        report.created.len(),
                        report.updated.len(),
                        report.removed.len(),
                        count(simulator.referral_count(), "referral")
                    );
                }
            }
        }
    }
    say!("stopping the simulator");
    simulator.shutdown().await;
    Ok(())
}

/// `, answers after 200 ms, 3 requests in flight at most` (what `--latency` and
/// `--max-in-flight` set), or nothing.
fn pace(args: &SimulateArgs) -> String {
    let mut text = String::new();
    if !args.latency.is_zero() {
        text.push_str(&format!(", answers after {} ms", args.latency.as_millis()));
    }
    if let Some(max) = args.max_in_flight {
        text.push_str(&format!(
            ", {} in flight at most (429 above)",
            count(max, "request")
        ));
    }
    text
}
