//! Peak memory of a long listing: streams N referrals through `client.list(..)` and prints
//! the counts and this process's peak resident set (`VmHWM`, the kernel's own accounting).
//!
//! The simulator holds every referral pre-encoded (about 2.6 KB each), so it runs in a child
//! process (this binary with `--serve N`): the figure printed is the client's alone.
//!
//! ```text
//! cargo build --release -p referrals-benches --example stream_memory
//! target/release/examples/stream_memory 10000
//! target/release/examples/stream_memory 100000
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use futures::TryStreamExt;
use referrals::transport::HyperTransport;
use referrals::{Client, ListQuery};
use referrals_simulator::Simulator;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        let n = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(100_000);
        return serve(n);
    }
    let n: usize = args.first().and_then(|n| n.parse().ok()).unwrap_or(100_000);

    let mut server = Command::new(std::env::current_exe()?)
        .args(["--serve", &n.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    let stdout = server.stdout.take().ok_or("no stdout from the simulator")?;
    BufReader::new(stdout).read_line(&mut line)?;
    let (base, token) = line
        .trim()
        .split_once(' ')
        .ok_or("the simulator did not print its address")?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let before = status("VmRSS");
    let (items, pages, connections, elapsed) = runtime.block_on(async {
        let transport = HyperTransport::builder().no_proxy().build()?;
        let client = Client::builder()
            .base_url(base)
            .bearer_token(token)
            .transport(transport.clone())
            .build()?;
        let started = Instant::now();
        let mut listing = client.list(ListQuery::new().page_size(100)?);
        let mut items = 0u64;
        let mut bytes_of_names = 0usize;
        while let Some(referral) = listing.try_next().await? {
            items += 1;
            bytes_of_names += referral.name.as_ref().map_or(0, String::len);
        }
        std::hint::black_box(bytes_of_names);
        let pages = items.div_ceil(100);
        Ok::<_, Box<dyn std::error::Error>>((
            items,
            pages,
            transport.connections_opened(),
            started.elapsed(),
        ))
    })?;
    let peak = status("VmHWM");
    let server_peak = std::fs::read_to_string(format!("/proc/{}/status", server.id()))
        .ok()
        .and_then(|s| field(&s, "VmHWM"));

    // Closing its stdin ends the simulator.
    drop(server.stdin.take());
    server.wait()?;

    println!(
        "listed {items} referrals in {pages} pages of 100 over {connections} connection(s) in {:.2} s",
        elapsed.as_secs_f64()
    );
    println!(
        "client process: VmRSS before listing {} KiB, peak VmHWM {} KiB ({:.1} MiB)",
        before.unwrap_or(0),
        peak.unwrap_or(0),
        peak.unwrap_or(0) as f64 / 1024.0
    );
    if let Some(server_peak) = server_peak {
        println!("simulator process (not counted above): VmHWM {server_peak} KiB");
    }
    if items != n as u64 {
        return Err(format!("expected {n} referrals, listed {items}").into());
    }
    Ok(())
}

/// Runs a simulator with `n` referrals, prints `base_url token`, and serves until stdin closes.
fn serve(n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let simulator = runtime.block_on(Simulator::builder().referrals(n).seed(42).start())?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{} {}", simulator.base_url(), simulator.token())?;
    stdout.flush()?;
    let mut rest = Vec::new();
    std::io::stdin().read_to_end(&mut rest)?;
    drop(simulator);
    Ok(())
}

/// A `kB` field of `/proc/self/status`.
fn status(name: &str) -> Option<u64> {
    field(&std::fs::read_to_string("/proc/self/status").ok()?, name)
}

fn field(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}
