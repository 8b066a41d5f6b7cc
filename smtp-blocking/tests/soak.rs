//! Soak against the project's Postfix (`scripts/test-servers.sh`), the
//! blocking adapter's way: one thread per connection, each sending its
//! share of the messages in pipelined batches (`send_many`), each message
//! with its own recipient and Message-ID, and the spool audited against
//! the reports (the rules are in `smtp_testkit::soak`): nothing lost,
//! nothing doubled, every outcome told. Then the same through a relay that
//! cuts connections or answers 421 at random points, deep pipelining on: a
//! thread whose connection broke connects again for its next batch. Sizes:
//! 10,000 messages over 50 connections by default (`SOAK_MESSAGES`,
//! `SOAK_CONNECTIONS`, `SOAK_SEED` change them; `SOAK_DEBUG=1` lists each
//! message of the cut run that was not delivered, with its result). Fails
//! under `CI=true` when the servers are missing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::net::ToSocketAddrs;
use std::time::{Duration, Instant};

use common::{ServersExt, servers};
use smtp_blocking::smtp_proto::{Envelope, TxnReport};
use smtp_blocking::{Builder, Error, SmtpClient};
use smtp_testkit::soak::{CuttingRelay, Plan, Run, audit, audit_cut_run};

/// Messages per `send_many` call.
const BATCH: usize = 50;
/// Connection attempts per batch before its messages count as not sent.
const ATTEMPTS: usize = 3;

/// Sends `messages` over `connections` threads, one connection each,
/// in batches; one result per message, in order.
fn send_all(
    builder: &(dyn Fn() -> Builder + Sync),
    addr: &str,
    messages: &[(Envelope, Vec<u8>)],
    connections: usize,
) -> Vec<Result<TxnReport, Error>> {
    let per = messages.len().div_ceil(connections.max(1)).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = messages
            .chunks(per)
            .map(|share| scope.spawn(move || send_share(builder, addr, share)))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a soak thread panicked"))
            .collect()
    })
}

/// One thread's share: batches over one connection, a new one after a
/// batch that broke it.
fn send_share(
    builder: &(dyn Fn() -> Builder + Sync),
    addr: &str,
    share: &[(Envelope, Vec<u8>)],
) -> Vec<Result<TxnReport, Error>> {
    let mut results = Vec::with_capacity(share.len());
    let mut client: Option<SmtpClient> = None;
    for batch in share.chunks(BATCH) {
        if client.as_ref().is_none_or(|c| c.check_usable().is_err()) {
            client = None;
            let mut last = None;
            for _ in 0..ATTEMPTS {
                match builder().connect(addr) {
                    Ok(c) => {
                        client = Some(c);
                        break;
                    }
                    Err(e) => last = Some(e.to_string()),
                }
            }
            if client.is_none() {
                let cause = last.unwrap_or_default();
                results.extend(batch.iter().map(|_| {
                    Err(Error::Poisoned {
                        cause: format!("no connection: {cause}"),
                    })
                }));
                continue;
            }
        }
        let Some(c) = client.as_mut() else { continue };
        results.extend(c.send_many(batch));
    }
    if let Some(mut c) = client {
        let _ = c.quit();
    }
    results
}

#[test]
fn threads_soak_nothing_lost_nothing_doubled() {
    let Some(s) = servers() else { return };
    let plan = Plan::from_env(10_000, 50);
    let run = Run::new("bsoak", plan.messages);
    let addr = s.addr("SMTP_TEST_POSTFIX_PORT");
    let started = Instant::now();
    let results = send_all(&|| s.builder(), &addr, &run.messages, plan.connections);
    let took = started.elapsed();
    let figures = audit(&s.postfix_spool(), &run, &results, None);
    eprintln!(
        "soak: {} messages over {} connections in {took:?}: {figures:?}",
        plan.messages, plan.connections
    );
    assert_eq!(figures.delivered, plan.messages, "every message delivered");
}

#[test]
fn threads_soak_through_a_relay_that_cuts_connections() {
    let Some(s) = servers() else { return };
    let plan = Plan::from_env(2_000, 20);
    let run = Run::new("bcut", plan.messages);
    let upstream = s
        .addr("SMTP_TEST_POSTFIX_PORT")
        .to_socket_addrs()
        .unwrap()
        .next()
        .unwrap();
    let relay = CuttingRelay::start(upstream, plan.seed, (1, 40));
    let builder = || s.builder().timeout(Duration::from_secs(20));
    let results = send_all(
        &builder,
        &relay.addr.to_string(),
        &run.messages,
        plan.connections,
    );
    audit_cut_run(&s.postfix_spool(), &run, &results, &relay);
}
