//! `referrals push`: deliver the mirror's journal to an HTTP endpoint, one `POST` per change,
//! each acknowledged (the consumer's offset moved) before the next; `--follow` keeps going as
//! `sync` and `listen` write new changes. The rules are the library's
//! (`referrals_sync::push`); this adds the secret from the environment, the signals, the
//! progress line and the summary.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use referrals::RetryPolicy;
use referrals::Secret;
use referrals_sync::Mirror;
use referrals_sync::push::{PushEvent, PushOptions, push};

use super::listen::shutdown_signal;
use crate::cli::PushArgs;
use crate::connect::transport;
use crate::failure::Failure;
use crate::progress::PushProgress;
use crate::settings::Settings;

/// The key of `--secret-env VAR`, read from that variable (never an argument, never printed).
fn secret(variable: &str) -> Result<Secret, Failure> {
    match std::env::var(variable) {
        Ok(value) if !value.is_empty() => Ok(Secret::new(value)),
        Ok(_) => Err(Failure::Usage(format!(
            "--secret-env {variable}: the variable is empty"
        ))),
        Err(std::env::VarError::NotPresent) => Err(Failure::Usage(format!(
            "--secret-env {variable}: the variable is not set"
        ))),
        Err(std::env::VarError::NotUnicode(_)) => Err(Failure::Usage(format!(
            "--secret-env {variable}: the value is not UTF-8"
        ))),
    }
}

/// Runs `referrals push`.
pub async fn run(settings: &Settings, args: &PushArgs) -> Result<(), Failure> {
    let mut options = PushOptions::new(&args.consumer, &args.url)?;
    if let Some(variable) = &args.secret_env {
        options.secret = Some(secret(variable)?);
    }
    if let Some(retries) = args.retries {
        options.retry = RetryPolicy {
            max_attempts: retries.saturating_add(1),
            ..RetryPolicy::default()
        };
    }
    options.follow = args.follow;
    let transport = transport(settings)?;
    let db = settings.database();
    let opened = db.clone();
    let mirror = tokio::task::spawn_blocking(move || Mirror::open_existing(&opened))
        .await
        .map_err(|e| Failure::Local(format!("cannot open the mirror: {e}")))??;
    let mirror = Arc::new(Mutex::new(mirror));
    // Logs (-v) go to stderr too: a progress line would garble them.
    let progress = PushProgress::new(settings.verbose == 0);
    let outcome = push(
        &transport,
        &mirror,
        &options,
        shutdown_signal(),
        |event| match event {
            PushEvent::Started { offset, last } => progress.span(*offset, *last),
            PushEvent::Delivered { seq } => progress.delivered(*seq),
            PushEvent::Retrying {
                seq,
                delay,
                outcome,
                ..
            } => {
                progress.note(format!(
                    "(change {seq}: {outcome}, again in {})",
                    seconds(*delay)
                ));
            }
            PushEvent::Idle { offset } => {
                progress.span(*offset, *offset);
                progress.note("(waiting for new changes)".to_owned());
            }
            PushEvent::Woke { last } => progress.extend(*last),
            _ => {}
        },
    )
    .await;
    progress.clear();
    let report = match &outcome {
        Ok(report) => Some(*report),
        Err(error) => error.stopped_at().map(|at| at.report),
    };
    if let Some(report) = report {
        say!(
            "push {}: {} delivered, {} retried, offset {} ({})",
            options.consumer(),
            report.delivered,
            report.retried,
            report.offset,
            options.origin()
        );
    }
    outcome.map(|_| ()).map_err(Failure::from)
}

/// `1.5 s`.
fn seconds(delay: Duration) -> String {
    format!("{:.1} s", delay.as_secs_f64())
}
