//! `referrals push` run as a process against a loopback receiver started in the test: order and
//! bodies (as `referrals changes` prints them), the key and the signature, retries, a refusal
//! (exit 8) that the next run starts with, SIGKILL at random moments, and `--follow` picking up
//! a later sync until SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use referrals::Secret;
use referrals_fixtures::rng::SeededRng;
use referrals_simulator::FaultPlan;
use referrals_sync::Mirror;

use crate::support::{assert_success, output, process, stderr, stdout, temp_dir};
use crate::sync::{simulator, sync_command};

/// One request as the receiver read it.
#[derive(Debug, Clone)]
struct Delivery {
    key: String,
    signature: Option<String>,
    content_type: String,
    body: Vec<u8>,
}

impl Delivery {
    fn seq(&self) -> i64 {
        let line: serde_json::Value = serde_json::from_slice(&self.body).unwrap();
        line["seq"].as_i64().unwrap()
    }
}

/// The answer to the `n`-th request (0-based): a status and an optional `Retry-After`.
type Plan = dyn Fn(usize, &Delivery) -> (u16, Option<u32>) + Send + Sync;

/// An HTTP/1.1 receiver on a loopback port (keep-alive, `Content-Length` bodies), recording
/// every complete request; its threads end with the test process.
struct Receiver {
    url: String,
    log: Arc<Mutex<Vec<Delivery>>>,
}

impl Receiver {
    fn start(delay: Duration, plan: Arc<Plan>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/hook?code=q5ecret",
            listener.local_addr().unwrap()
        );
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, plan) = (shared.clone(), plan.clone());
                std::thread::spawn(move || serve(stream, delay, &log, &*plan));
            }
        });
        Receiver { url, log }
    }

    fn accepting() -> Receiver {
        Receiver::start(Duration::ZERO, Arc::new(|_, _| (204, None)))
    }

    fn log(&self) -> Vec<Delivery> {
        self.log.lock().unwrap().clone()
    }

    fn wait_for(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.log().len() < n {
            assert!(Instant::now() < deadline, "{n} deliveries never came");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve(stream: TcpStream, delay: Duration, log: &Mutex<Vec<Delivery>>, plan: &Plan) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let line = line.trim_end().to_owned();
            if line.is_empty() {
                break;
            }
            headers.push(line);
        }
        let header = |name: &str| {
            headers.iter().find_map(|h| {
                let (n, v) = h.split_once(':')?;
                n.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_owned())
            })
        };
        let length: usize = header("content-length").map_or(0, |v| v.parse().unwrap());
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let delivery = Delivery {
            key: header("idempotency-key").unwrap_or_default(),
            signature: header("x-referrals-signature"),
            content_type: header("content-type").unwrap_or_default(),
            body,
        };
        let (status, retry_after) = {
            let mut log = log.lock().unwrap();
            let answer = plan(log.len(), &delivery);
            log.push(delivery);
            answer
        };
        std::thread::sleep(delay);
        let mut response = format!("HTTP/1.1 {status} Answer\r\ncontent-length: 2\r\n");
        if let Some(seconds) = retry_after {
            response.push_str(&format!("retry-after: {seconds}\r\n"));
        }
        response.push_str("\r\nno");
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn referral(id: &str) -> referrals::Referral {
    serde_json::from_str(&format!(
        r#"{{"id":"{id}","eTag":"\"1\"","name":"{id}","x-new":{{"a":[1,2.5]}}}}"#
    ))
    .unwrap()
}

/// A mirror at `db` with `n` referrals `r0`… (journal rows 1..=n).
fn mirror_with(db: &Path, n: usize) {
    let mut mirror = Mirror::open(db).unwrap();
    for i in 0..n {
        mirror
            .apply_referral(&referral(&format!("r{i}")), SystemTime::now())
            .unwrap();
    }
}

fn push_command(db: &Path, url: &str, extra: &[&str]) -> Command {
    let mut command = process();
    command
        .args(["push", "--consumer", "crm", "--url", url, "--db"])
        .arg(db)
        .args(extra);
    command
}

fn offset(db: &Path) -> i64 {
    Mirror::open(db).unwrap().consumer_offset("crm").unwrap()
}

#[test]
fn push_posts_every_change_in_order_as_changes_prints_it_signed_with_the_variable_s_key() {
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    mirror_with(&db, 5);
    let receiver = Receiver::accepting();
    let run = output(
        push_command(&db, &receiver.url, &["--secret-env", "PUSH_KEY"])
            .env("PUSH_KEY", "k3y-value-never-shown"),
    );
    assert_success(&run);
    let err = stderr(&run);
    assert!(
        err.contains("push crm: 5 delivered, 0 retried, offset 5 (http://127.0.0.1:"),
        "{err}"
    );
    for hidden in ["k3y-value", "q5ecret"] {
        assert!(
            !err.contains(hidden) && !stdout(&run).contains(hidden),
            "{err}"
        );
    }

    let changes = output(process().args(["changes", "--db"]).arg(&db));
    assert_success(&changes);
    let lines: Vec<String> = stdout(&changes).lines().map(str::to_owned).collect();
    let log = receiver.log();
    assert_eq!(log.len(), 5);
    let identity = Mirror::open(&db).unwrap().identity().unwrap();
    for (i, (delivery, line)) in log.iter().zip(&lines).enumerate() {
        assert_eq!(String::from_utf8(delivery.body.clone()).unwrap(), *line);
        assert_eq!(delivery.key, format!("{identity}:{}", i + 1));
        assert_eq!(delivery.content_type, "application/json");
        let expected =
            referrals_sync::push::signature(&Secret::new("k3y-value-never-shown"), &delivery.body);
        assert_eq!(delivery.signature.as_deref(), Some(expected.as_str()));
    }
    assert_eq!(offset(&db), 5);

    // Delivered is acknowledged: nothing is left for the consumer, nothing is sent again.
    let again = output(&mut push_command(&db, &receiver.url, &[]));
    assert_success(&again);
    assert!(stderr(&again).contains("0 delivered, 0 retried, offset 5"));
    assert_eq!(receiver.log().len(), 5);
    let left = output(
        process()
            .args(["changes", "--consumer", "crm", "--db"])
            .arg(&db),
    );
    assert_eq!(stdout(&left), "");
}

#[test]
fn usage_errors_exit_2_before_anything_is_sent() {
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    mirror_with(&db, 1);
    let plain = output(&mut push_command(
        &db,
        "http://crm.example/hook?sig=abc",
        &[],
    ));
    assert_eq!(plain.status.code(), Some(2), "{}", stderr(&plain));
    assert!(stderr(&plain).contains("loopback") && !stderr(&plain).contains("abc"));
    let receiver = Receiver::accepting();
    let unset = output(&mut push_command(
        &db,
        &receiver.url,
        &["--secret-env", "PUSH_KEY_NOT_SET"],
    ));
    assert_eq!(unset.status.code(), Some(2));
    assert!(
        stderr(&unset).contains("PUSH_KEY_NOT_SET"),
        "{}",
        stderr(&unset)
    );
    assert!(receiver.log().is_empty());
}

#[test]
fn a_refused_change_exits_8_naming_it_and_the_next_run_starts_with_it() {
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    mirror_with(&db, 5);
    let refusing = Receiver::start(
        Duration::ZERO,
        Arc::new(|_, d: &Delivery| {
            if d.seq() == 3 {
                (422, None)
            } else {
                (200, None)
            }
        }),
    );
    let run = output(&mut push_command(&db, &refusing.url, &[]));
    assert_eq!(run.status.code(), Some(8), "{}", stderr(&run));
    let err = stderr(&run);
    for expected in [
        "change 3",
        "r2",
        "422",
        "2 delivered, 0 retried, offset 2",
        "hint:",
    ] {
        assert!(err.contains(expected), "{expected}: {err}");
    }
    assert_eq!(offset(&db), 2);
    assert_eq!(
        refusing.log().iter().map(Delivery::seq).collect::<Vec<_>>(),
        [1, 2, 3]
    );

    let accepting = Receiver::accepting();
    assert_success(&output(&mut push_command(&db, &accepting.url, &[])));
    assert_eq!(
        accepting
            .log()
            .iter()
            .map(Delivery::seq)
            .collect::<Vec<_>>(),
        [3, 4, 5]
    );
    assert_eq!(accepting.log()[0].key, refusing.log()[2].key);
    assert_eq!(offset(&db), 5);
}

#[test]
fn transient_answers_are_retried_with_the_same_key() {
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    mirror_with(&db, 2);
    let receiver = Receiver::start(
        Duration::ZERO,
        Arc::new(|n, _| match n {
            0 => (503, Some(1)),
            1 => (429, Some(0)),
            _ => (202, None),
        }),
    );
    let run = output(&mut push_command(&db, &receiver.url, &[]));
    assert_success(&run);
    assert!(
        stderr(&run).contains("2 delivered, 2 retried, offset 2"),
        "{}",
        stderr(&run)
    );
    let log = receiver.log();
    assert_eq!(
        log.iter().map(Delivery::seq).collect::<Vec<_>>(),
        [1, 1, 1, 2]
    );
    assert!(log[0].key == log[1].key && log[1].key == log[2].key && log[2].key != log[3].key);
}

#[test]
fn push_killed_at_random_moments_resends_at_most_the_change_in_flight() {
    const CHANGES: i64 = 40;
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    mirror_with(&db, CHANGES as usize);
    let receiver = Receiver::start(Duration::from_millis(4), Arc::new(|_, _| (200, None)));
    // The kill moments.
    let mut moments = SeededRng::new(0x9e37_79b9_7f4a_7c15);
    let (mut kills, mut mid_push) = (0, 0);
    for _ in 0..25 {
        let before = receiver.log().len();
        let mut child = push_command(&db, &receiver.url, &[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The kill lands at a random moment after the first delivery of this run.
        let deadline = Instant::now() + Duration::from_secs(60);
        while receiver.log().len() == before && Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(moments.below(40)));
        let _ = child.kill(); // SIGKILL; an error means it had already exited
        if child.wait().unwrap().code().is_none() {
            kills += 1;
            // The kill landed while changes were being delivered, not before the first.
            mid_push += usize::from(receiver.log().len() > before);
        }
        if offset(&db) == CHANGES {
            break;
        }
    }
    assert_success(&output(&mut push_command(&db, &receiver.url, &[])));
    let seqs: Vec<i64> = receiver.log().iter().map(Delivery::seq).collect();
    assert_eq!(seqs.first(), Some(&1));
    assert_eq!(seqs.last(), Some(&CHANGES));
    let mut repeats = 0;
    for pair in seqs.windows(2) {
        assert!(
            pair[1] == pair[0] + 1 || pair[1] == pair[0],
            "a change skipped or an older one repeated: {seqs:?}"
        );
        repeats += usize::from(pair[1] == pair[0]);
    }
    assert!(
        repeats <= kills,
        "{repeats} repeats after {kills} kills: {seqs:?}"
    );
    assert_eq!(offset(&db), CHANGES);
    assert!(mid_push > 0, "no kill landed during a push ({kills} kills)");
    eprintln!("{kills} kills, {mid_push} during deliveries, {repeats} changes sent twice");
}

fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_picks_up_a_later_sync_and_stops_cleanly_on_sigterm() {
    let sim = simulator(20, FaultPlan::default()).await;
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    assert_success(&output(&mut sync_command(&sim, &db, &[])));
    let first = Mirror::open(&db).unwrap().last_seq().unwrap();
    assert_eq!(first, 20);
    let receiver = Receiver::accepting();
    let child = push_command(&db, &receiver.url, &["--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (receiver, child) = tokio::task::spawn_blocking(move || {
        receiver.wait_for(20);
        (receiver, child)
    })
    .await
    .unwrap();

    let churn = sim.churn(4);
    assert!(!churn.created.is_empty() || !churn.updated.is_empty());
    let db_again = db.clone();
    let mut again = sync_command(&sim, &db, &[]);
    let (receiver, child, last) = tokio::task::spawn_blocking(move || {
        assert_success(&output(&mut again));
        let last = Mirror::open(&db_again).unwrap().last_seq().unwrap();
        receiver.wait_for(last as usize);
        terminate(&child);
        (receiver, child, last)
    })
    .await
    .unwrap();
    assert!(last > first, "the sync recorded changes");
    let done = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    assert!(
        stderr(&done).contains(&format!("retried, offset {last}")),
        "{}",
        stderr(&done)
    );
    let seqs: Vec<i64> = receiver.log().iter().map(Delivery::seq).collect();
    assert_eq!(seqs, (1..=last).collect::<Vec<_>>());
    assert_eq!(offset(&db), last);
}
