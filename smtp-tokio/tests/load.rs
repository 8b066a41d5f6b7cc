//! Bounded load: 1,000 concurrent transactions over a pool of 50
//! connections to the real Postfix. Every message is accounted for:
//! delivered exactly once (its queue id's `.env` file in the Postfix spool
//! names its unique recipient, and no other file does), or reported failed
//! (and then found nowhere). Bounded in count and in time.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{ServersExt, queue_id, servers, token};
use smtp_tokio::smtp_proto::{BodyOptions, Envelope, ForwardPath, ReversePath, TxnOutcome};
use smtp_tokio::{Pool, PoolConfig};
use tokio::task::JoinSet;

const MESSAGES: usize = 1000;
const CONNECTIONS: usize = 50;
const SEND_BUDGET: Duration = Duration::from_secs(180);
const DELIVERY_BUDGET: Duration = Duration::from_secs(180);

#[derive(Debug)]
enum Fate {
    Delivered(String),
    Failed(String),
    Unknown(String),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_transactions_over_fifty_connections() {
    let Some(s) = servers() else { return };
    let run = token("load");
    let pool = Pool::new(
        s.builder(),
        &s.addr("SMTP_TEST_POSTFIX_PORT"),
        PoolConfig::default()
            .with_max_size(CONNECTIONS)
            .with_max_messages(None),
    );
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for i in 0..MESSAGES {
        let pool = pool.clone();
        let rcpt = format!("{run}-{i}@example.org");
        tasks.spawn(async move {
            let body = format!("Subject: {rcpt}\r\n\r\nload message {i}\r\n").into_bytes();
            let env = Envelope::new(
                ReversePath::parse("load@example.org").unwrap(),
                [ForwardPath::parse(&rcpt).unwrap()],
            );
            let fate = match pool
                .send_report(&env, &body[..], BodyOptions::for_body(&body))
                .await
            {
                Ok(r) if r.outcome == TxnOutcome::Delivered => {
                    let text = r.recipients[0]
                        .delivery_reply
                        .as_ref()
                        .unwrap()
                        .text_lossy();
                    Fate::Delivered(queue_id(&text))
                }
                Ok(r) if r.outcome == TxnOutcome::Unknown => Fate::Unknown(format!("{r:?}")),
                Ok(r) => Fate::Failed(format!("{:?}", r.outcome)),
                Err(e) if e.is_outcome_unknown() => Fate::Unknown(e.to_string()),
                Err(e) => Fate::Failed(e.to_string()),
            };
            (i, fate)
        });
    }
    let mut fates: HashMap<usize, Fate> = HashMap::new();
    let collect = async {
        while let Some(joined) = tasks.join_next().await {
            let (i, fate) = joined.unwrap();
            fates.insert(i, fate);
        }
    };
    tokio::time::timeout(SEND_BUDGET, collect)
        .await
        .expect("the load did not finish in time");
    let elapsed = started.elapsed();
    let stats = pool.stats();
    pool.close().await;
    assert_eq!(fates.len(), MESSAGES);
    assert!(stats.opened <= CONNECTIONS, "{stats:?}");

    // Accounting in the spool: wait (bounded) for every delivered message.
    let spool = s.postfix_spool();
    let wanted: Vec<(usize, String)> = fates
        .iter()
        .filter_map(|(i, f)| match f {
            Fate::Delivered(q) => Some((*i, q.clone())),
            _ => None,
        })
        .collect();
    let wait_start = Instant::now();
    loop {
        let missing = wanted
            .iter()
            .filter(|(_, q)| !spool.join(format!("{q}.env")).exists())
            .count();
        if missing == 0 {
            break;
        }
        assert!(
            wait_start.elapsed() < DELIVERY_BUDGET,
            "{missing} delivered messages never reached the spool"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every spool envelope naming one of ours, by recipient.
    let prefix = format!("rcpt {run}-");
    let mut found: HashMap<usize, Vec<String>> = HashMap::new();
    for entry in std::fs::read_dir(&spool).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(qid) = name.strip_suffix(".env") else {
            continue;
        };
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix(&prefix)
                && let Some(n) = rest.strip_suffix("@example.org")
            {
                found
                    .entry(n.parse().unwrap())
                    .or_default()
                    .push(qid.to_owned());
            }
        }
    }
    let (mut delivered, mut failed, mut unknown) = (0, 0, 0);
    for i in 0..MESSAGES {
        let copies = found.get(&i).cloned().unwrap_or_default();
        match &fates[&i] {
            Fate::Delivered(q) => {
                delivered += 1;
                assert_eq!(
                    copies,
                    std::slice::from_ref(q),
                    "message {i}: delivered once as {q}"
                );
            }
            Fate::Failed(why) => {
                failed += 1;
                assert!(copies.is_empty(), "message {i} failed ({why}) yet stored");
            }
            Fate::Unknown(why) => {
                unknown += 1;
                assert!(copies.len() <= 1, "message {i} ({why}) stored twice");
            }
        }
    }
    let rate = MESSAGES as f64 / elapsed.as_secs_f64();
    eprintln!(
        "load: {MESSAGES} messages over {} connections (max {CONNECTIONS}) in {elapsed:.2?}: \
         {rate:.0} messages/s; delivered {delivered}, failed {failed}, unknown {unknown}; \
         pool {stats:?}",
        stats.opened
    );
    assert_eq!(delivered + failed + unknown, MESSAGES);
    assert_eq!(
        failed + unknown,
        0,
        "a healthy Postfix should take every message"
    );
}
