//! `referrals listen`: bring the mirror up to date (a sync), then receive Partner Center
//! webhook events, verify them strictly, keep them in the mirror's database and apply each
//! referral to the mirror. `--demo` wires the embedded simulator to the listener and changes
//! referrals every few seconds.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use referrals_receiver::{InboxError, ListenerBuilder, StartError, TlsError, tls_acceptor};
use referrals_sync::{DEFAULT_LOCK_WAIT, Mirror, MirrorError, SyncOptions};
use referrals_webhooks::{CertUrlPrefix, Policy, TrustAnchors};

use super::sync::{CountingTransport, Shown, lock_and_open, mirror_api, sync_mirror};
use crate::cli::ListenArgs;
use crate::connect::{Connection, connect_with};
use crate::failure::Failure;
use crate::settings::Settings;

fn read(path: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    crate::input::read_file(what, path, crate::input::MAX_PEM_BYTES)
}

fn policy(args: &ListenArgs) -> Result<Policy, Failure> {
    if !args.path.starts_with('/') {
        return Err(Failure::Usage(format!(
            "--path must start with `/`, got `{}`",
            args.path
        )));
    }
    let mut anchors = if args.only_trust_anchors {
        TrustAnchors::default()
    } else {
        TrustAnchors::platform_and_webpki()
    };
    for path in &args.trust_anchors {
        let pem = read(path, "--trust-anchor")?;
        let more = TrustAnchors::from_pem(&pem)
            .map_err(|e| Failure::Usage(format!("--trust-anchor {}: {e}", path.display())))?;
        anchors.extend(more);
    }
    let mut policy = Policy::new(anchors);
    policy.path = args.path.clone();
    if !args.cert_url_prefixes.is_empty() {
        policy.cert_url_prefixes = args
            .cert_url_prefixes
            .iter()
            .map(|prefix| CertUrlPrefix::parse(prefix).map_err(|e| Failure::Usage(e.to_string())))
            .collect::<Result<_, _>>()?;
    }
    Ok(policy)
}

/// Runs the listener until Ctrl-C or SIGTERM.
pub async fn run(settings: &Settings, args: &ListenArgs) -> Result<(), Failure> {
    let mut policy = policy(args)?;
    let bind = match (args.bind, settings.demo) {
        (Some(bind), _) => bind,
        (None, true) => SocketAddr::from(([127, 0, 0, 1], 0)),
        (None, false) => {
            return Err(Failure::Usage(
                "--bind ADDR is required (e.g. --bind 0.0.0.0:8080)".into(),
            ));
        }
    };
    let started = Instant::now();
    let counter = Arc::new(CountingTransport::new(settings)?);
    let connection = connect_with(settings, None, Some(counter.clone())).await?;
    let demo = connection.demo();
    if let Some(simulator) = demo {
        let anchors = TrustAnchors::from_pem(simulator.webhook_ca_pem().as_bytes())
            .map_err(Failure::Local)?;
        policy.trust_anchors.extend(anchors);
        policy.cert_url_prefixes = vec![
            CertUrlPrefix::parse(&simulator.webhook_cert_url_prefix())
                .map_err(|e| Failure::Local(e.to_string()))?,
        ];
    }
    let mut builder = ListenerBuilder::new(policy);
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let acceptor = tls_acceptor(&read(cert, "--tls-cert")?, &read(key, "--tls-key")?).map_err(
            |error| {
                let option = match error {
                    TlsError::NoPrivateKey => "--tls-key",
                    TlsError::CertificatePem(_) | TlsError::NoCertificate => "--tls-cert",
                    _ => "--tls-cert/--tls-key",
                };
                Failure::Usage(format!("{option}: {error}"))
            },
        )?;
        builder = builder.tls(acceptor);
    }
    let db = settings.database();
    sync_first(&db, &connection, &counter, started).await?;
    let opened = db.clone();
    let mirror = tokio::task::spawn_blocking(move || Mirror::open(&opened))
        .await
        .map_err(|e| Failure::Local(format!("cannot open the mirror: {e}")))??;
    let client = connection.client.clone();
    let listener = builder
        .start(bind, mirror, Arc::new(client))
        .await
        .map_err(|error| match error {
            StartError::Inbox(InboxError::Mirror(error)) => Failure::from(error),
            error => Failure::Local(error.to_string()),
        })?;
    say!(
        "listening for webhook events at {} (mirror {}); Ctrl-C stops",
        listener.url(),
        db.display()
    );
    if let Some(simulator) = demo {
        simulator.register_webhook(&listener.url(), &["referral-created", "referral-updated"]);
        say!(
            "demo: the simulator delivers to {} and changes a referral every 2 s",
            listener.url()
        );
    }
    let stop = shutdown_signal();
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    tick.tick().await;
    loop {
        tokio::select! {
            () = &mut stop => break,
            _ = tick.tick(), if demo.is_some() => {
                if let Some(simulator) = demo {
                    demo_change(simulator);
                }
            }
        }
    }
    say!("stopping: finishing the requests and the event in hand");
    listener.shutdown().await;
    Ok(())
}

/// Brings the mirror at `db` up to date before serving, as `referrals sync` would (with its
/// default options, and its summary line): events only say what changes from now on, so
/// without it the mirror would hold only the referrals that happen to change. When another
/// `referrals sync` holds the mirror, that one brings it up to date: the mirror is only
/// checked to belong to this API.
async fn sync_first(
    db: &Path,
    connection: &Connection,
    counter: &CountingTransport,
    started: Instant,
) -> Result<(), Failure> {
    let (lock, mirror) = match lock_and_open(db, DEFAULT_LOCK_WAIT).await {
        Ok(locked) => locked,
        Err(Failure::Mirror(MirrorError::Locked { holder, .. })) => {
            say!(
                "another `referrals sync` is bringing {} up to date ({holder}); listening \
                 without a sync of its own",
                db.display()
            );
            let api = mirror_api(connection);
            let opened = db.to_path_buf();
            return tokio::task::spawn_blocking(move || {
                Mirror::open(&opened)?.claim_api(&api, SystemTime::now())
            })
            .await
            .map_err(|e| Failure::Local(format!("the mirror thread stopped: {e}")))?
            .map_err(Failure::from);
        }
        Err(failure) => return Err(failure),
    };
    let mirror = Arc::new(Mutex::new(mirror));
    let shown = Shown {
        started,
        changes: false,
        // The listener logs to stderr.
        progress: false,
    };
    let synced = sync_mirror(
        &mirror,
        db,
        connection,
        counter,
        SyncOptions::default(),
        shown,
    )
    .await;
    drop(lock);
    synced.map(|_| ())
}

fn demo_change(simulator: &referrals_simulator::SimulatorHandle) {
    let report = simulator.churn(1);
    for id in &report.created {
        say!("demo: the simulator created referral {id}");
    }
    for id in &report.updated {
        say!("demo: the simulator updated referral {id}");
    }
    for id in &report.removed {
        say!("demo: the simulator removed referral {id} (removals send no event)");
    }
}

/// Ctrl-C, or SIGTERM on Unix.
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
