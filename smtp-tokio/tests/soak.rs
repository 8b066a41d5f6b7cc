//! Soak against the project's Postfix (`scripts/test-servers.sh`): many
//! messages over many pooled connections, each with its own recipient and
//! Message-ID, and the spool audited against the reports (the rules are in
//! `smtp_testkit::soak`): nothing lost, nothing doubled, every outcome
//! told. Then the same through a relay that cuts connections at random
//! points, deep pipelining on. Sizes: 10,000 messages over 50 connections
//! by default (`SOAK_MESSAGES`, `SOAK_CONNECTIONS`, `SOAK_SEED` change
//! them). Fails under `CI=true` when the servers are missing.
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
use smtp_testkit::soak::{CuttingRelay, Plan, Run, audit, audit_cut_run};
use smtp_tokio::{Pool, PoolConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_soak_nothing_lost_nothing_doubled() {
    let Some(s) = servers() else { return };
    let plan = Plan::from_env(10_000, 50);
    let run = Run::new("tsoak", plan.messages);
    let pool = Pool::new(
        s.builder(),
        &s.addr("SMTP_TEST_POSTFIX_PORT"),
        PoolConfig::default()
            .with_max_size(plan.connections)
            .with_max_messages(None),
    );
    let started = Instant::now();
    let results = pool.send_many(&run.messages).await;
    let took = started.elapsed();
    pool.close().await;
    let figures = audit(&s.postfix_spool(), &run, &results, None);
    eprintln!(
        "soak: {} messages over {} connections in {took:?}: {figures:?}",
        plan.messages, plan.connections
    );
    assert_eq!(figures.delivered, plan.messages, "every message delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_soak_through_a_relay_that_cuts_connections() {
    let Some(s) = servers() else { return };
    let plan = Plan::from_env(2_000, 20);
    let run = Run::new("tcut", plan.messages);
    let upstream = s
        .addr("SMTP_TEST_POSTFIX_PORT")
        .to_socket_addrs()
        .unwrap()
        .next()
        .unwrap();
    let relay = CuttingRelay::start(upstream, plan.seed, (1, 40));
    let pool = Pool::new(
        s.builder().timeout(Duration::from_secs(20)),
        &relay.addr.to_string(),
        PoolConfig::default()
            .with_max_size(plan.connections)
            .with_max_messages(None),
    );
    let results = pool.send_many(&run.messages).await;
    pool.close().await;
    audit_cut_run(&s.postfix_spool(), &run, &results, &relay);
}
