//! Request building and pager stepping, measured against decoding the same page.
//!
//! - `query/requests/*`: building the list (seed query plus an OData filter), get, patch and
//!   put requests;
//! - `query/page/{form}/{n}/decode`: `referrals_model::decode` of one page of `n` synthetic
//!   referrals: the baseline;
//! - `query/page/{form}/{n}/pager_step`: one full pager step over the same bytes
//!   (`next_request` + `on_response`: request building, decode, continuation checks, loop
//!   fingerprint, checkpoint).
//!
//! At the end the run prints the pager's own cost per step, measured on a page with no item as
//! `pager_step - decode` (it does not grow with the items), and its ratio to decoding pages of
//! 10 and 100 referrals, all in the same run.
//!
//! `cargo bench -p referrals-benches --bench query -- --measurement-time 1 --warm-up-time 1`.

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use referrals_fixtures::synthetic::Synthetic;
use referrals_model::{Referral, ReferralCollection, ReferralStatus, decode};
use referrals_query::http::{HeaderMap, StatusCode};
use referrals_query::{
    Endpoint, Filter, ListQuery, NextRequest, Pager, PagerEvent, PatchOp, PatchOptions, RequestIds,
};

const CORRELATION: &str = "9a7c2f4e-1b3d-4e5f-8a9b-0c1d2e3f4a5b";
const REQUEST: &str = "0f1e2d3c-4b5a-4968-8776-655443322110";
/// A continuation token as long as the seed's.
const TOKEN: &str = "g2q9mn5G/SJYYddorHEJ2ZLfGt9Z8XgT9kvVPbTWpBy4o6nrABKProJryRimedhKImLrIX85wa8ZViryeGjik386S+byTR1XwtDk3erWTYwoG+7Rpq+dAB2kSqj0pIPCcDd1fTOnVSRkwl+8Rk6FeMSj86BO2OW6P+1GwYzXfuecUvYJaodMS7eRM7dZFHQMR5OEVI21STM8TYVCE1aityEDBv18Y/6mRJbirj9zTcfJNPAUSEWrqmQoEoKoeV9PMQkVaWYx8KnWhrBXmpD2gM3vY1GvgPVZlhVy73g5X+G3JVZ0ol0rlPRTFHcrKXF143lEZPbnaeOCPc/Y1c3aJ8umE/LBKBjMv5Cwgq2ZtqdyignVbsCdSg/a5O43xCCmLDNVN+phhI0mvCZkWphqiMZAuH0myt6zHznMWVLTCnILsGtW4g8KDYyyK37wdW7j03+jd7SqWw8jvGSQARZxTcEhrZQ8G0tlPgwTk9ufDs6GPhE7FastVOGdzzD60aLn";

fn query() -> ListQuery {
    let filter = Filter::status(ReferralStatus::Active)
        .and(Filter::customer_country("US"))
        .and(Filter::team_member_email("sue.smith@fabrikam.com"));
    match ListQuery::new().page_size(100) {
        Ok(query) => query.self_only(true).filter(&filter),
        Err(error) => panic!("{error}"),
    }
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn requests(c: &mut Criterion) {
    let endpoint = Endpoint::default();
    let query = query();
    let ids = RequestIds::new(CORRELATION, REQUEST);
    let referral = Referral {
        name: Some("Fabrikam".into()),
        status: Some(ReferralStatus::Active),
        ..Referral::default()
    };
    let patch = [
        PatchOp::replace("/status", "Active"),
        PatchOp::replace("/substatus", "Accepted"),
    ];
    let options = PatchOptions::new()
        .if_match("\"etag-1\"")
        .return_representation();
    let mut group = c.benchmark_group("query/requests");
    group.bench_function("list", |b| {
        b.iter(|| endpoint.list(black_box(&query), black_box(ids)))
    });
    group.bench_function("get", |b| {
        b.iter(|| endpoint.get(black_box("c5fbb3b6-be74-4795-9fb5-4324c73fed37"), ids))
    });
    group.bench_function("patch", |b| {
        b.iter(|| endpoint.patch(black_box("c5fbb3b6"), black_box(&patch), &options, ids))
    });
    group.bench_function("put", |b| {
        b.iter(|| endpoint.put(black_box("c5fbb3b6"), black_box(&referral), "\"1\"", ids))
    });
    group.finish();
}

/// One page of each form, with a continuation, so the pager does all of its work.
fn pages(n: usize) -> [(&'static str, Vec<u8>); 2] {
    let synthetic = Synthetic::new(7);
    let next_link =
        format!("http://api.partner.microsoft.com/v1.0/engagements/referrals?$skiptoken={TOKEN}");
    [
        ("classic", synthetic.classic_page(0, n, 10 * n, Some(TOKEN))),
        (
            "odata",
            synthetic.odata_page(0, n, 10 * n, Some(&next_link)),
        ),
    ]
}

/// `next_request` + `on_response` on a fresh pager; returns the page's item count.
fn step(pager: &mut Pager, body: &[u8], headers: &HeaderMap) -> usize {
    match pager.next_request(REQUEST) {
        Ok(NextRequest::Send(request)) => {
            black_box(request);
        }
        other => panic!("expected a request: {other:?}"),
    }
    match pager.on_response(StatusCode::OK, headers, body, now(), 0.5) {
        Ok(PagerEvent::Page(page)) => page.items.len(),
        other => panic!("expected a page: {other:?}"),
    }
}

fn pager_steps(c: &mut Criterion) {
    let fresh = match Pager::new(Endpoint::default(), &query(), CORRELATION) {
        Ok(pager) => pager,
        Err(error) => panic!("{error}"),
    };
    let headers = HeaderMap::new();
    let mut timings = Vec::new();
    for n in [0, 10, 100] {
        for (form, bytes) in pages(n) {
            assert_eq!(step(&mut fresh.clone(), &bytes, &headers), n);
            let mut group = c.benchmark_group(format!("query/page/{form}/{n}"));
            group.throughput(Throughput::Bytes(bytes.len() as u64));
            group.bench_function("decode", |b| {
                b.iter(|| decode::<ReferralCollection>(black_box(&bytes)))
            });
            group.bench_function("pager_step", |b| {
                b.iter_batched_ref(
                    || fresh.clone(),
                    |pager| step(pager, black_box(&bytes), &headers),
                    BatchSize::SmallInput,
                )
            });
            group.finish();
            let calls = if n == 0 { 2000 } else { 20 };
            timings.push((form, n, timings_of(&fresh, &bytes, &headers, calls)));
        }
    }
    // The pager's own work per step (request, continuation checks, fingerprint, checkpoint) does
    // not grow with the page's items: measure it on a page with no item, where decoding is
    // cheap and the difference is not lost in the noise of a large decode.
    println!("\npager overhead beyond decode, per step, against decoding the page (same run):");
    for form in ["classic", "odata"] {
        let Some((decode_empty, step_empty)) = timings
            .iter()
            .find(|(f, n, _)| *f == form && *n == 0)
            .map(|(_, _, t)| *t)
        else {
            continue;
        };
        let overhead = step_empty - decode_empty;
        println!(
            "  {form:>7}: empty page decode {decode_empty:>7.0} ns, pager step {step_empty:>7.0} ns \
             -> overhead {overhead:>6.0} ns"
        );
        for (_, n, (decode_ns, step_ns)) in timings.iter().filter(|(f, n, _)| *f == form && *n > 0)
        {
            println!(
                "  {form:>7} page of {n:>3}: decode {decode_ns:>9.0} ns (full step {step_ns:>9.0} ns); \
                 overhead / decode = {:.4}",
                overhead / decode_ns
            );
        }
    }
}

/// Median time per call of decode and of a full pager step, interleaved so both see the same
/// machine state.
fn timings_of(fresh: &Pager, bytes: &[u8], headers: &HeaderMap, calls: usize) -> (f64, f64) {
    const ROUNDS: usize = 31;
    let mut decode_times = Vec::with_capacity(ROUNDS);
    let mut step_times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        for _ in 0..calls {
            let _ = black_box(decode::<ReferralCollection>(black_box(bytes)));
        }
        decode_times.push(started.elapsed().as_nanos() as f64 / calls as f64);
        let mut pagers: Vec<Pager> = (0..calls).map(|_| fresh.clone()).collect();
        let started = Instant::now();
        for pager in &mut pagers {
            black_box(step(pager, black_box(bytes), headers));
        }
        step_times.push(started.elapsed().as_nanos() as f64 / calls as f64);
    }
    (median(decode_times), median(step_times))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

criterion_group!(benches, requests, pager_steps);
criterion_main!(benches);
