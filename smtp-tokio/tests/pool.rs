//! The pool: bounded, health-checked, never handing out a dead or poisoned
//! connection, retiring connections at their limit or when idle too long,
//! QUIT to all on close.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::Duration;

use common::{Peer, ServersExt, Step, expect, loopback_builder, opening, send, servers, until};
use smtp_tokio::smtp_proto::{Envelope, ForwardPath, ReversePath, TxnOutcome};
use smtp_tokio::{Error, HealthCheck, Pool, PoolConfig};

fn pool(peer: &Peer, config: PoolConfig) -> Pool {
    Pool::new(
        loopback_builder(Duration::from_secs(5)),
        &peer.addr.to_string(),
        config,
    )
}

/// The health check before every reuse, however recent.
fn always_checked() -> PoolConfig {
    PoolConfig::default().with_quiet_reuse(Duration::ZERO)
}

fn with(mut a: Vec<Step>, b: Vec<Step>) -> Vec<Step> {
    a.extend(b);
    a
}

#[tokio::test]
async fn healthy_connections_are_reused_and_closed_with_quit() {
    let script = with(
        opening(&[]),
        vec![
            expect("RSET\r\n"),
            send("250 ok\r\n"),
            expect("NOOP\r\n"),
            send("250 ok\r\n"),
            expect("QUIT\r\n"),
            send("221 bye\r\n"),
        ],
    );
    let peer = Peer::start(script).await;
    let pool = pool(&peer, always_checked());
    let c = pool.get().await.unwrap();
    assert!(!c.is_reused());
    drop(c);
    assert_eq!(pool.stats().idle, 1);
    let mut c = pool.get().await.unwrap();
    assert!(c.is_reused());
    c.noop().await.unwrap();
    drop(c);
    pool.close().await;
    assert!(pool.get().await.is_err());
    assert_eq!(peer.finish().await, 1);
    let stats = pool.stats();
    assert_eq!((stats.opened, stats.reused), (1, 1));
}

#[tokio::test]
async fn a_421_to_the_health_check_is_discarded() {
    let first = with(
        opening(&[]),
        vec![expect("RSET\r\n"), send("421 4.3.2 bye\r\n"), Step::Drain],
    );
    let second = with(opening(&[]), vec![Step::Drain]);
    let peer = Peer::start_many(vec![first, second]).await;
    let pool = pool(&peer, always_checked());
    drop(pool.get().await.unwrap());
    let c = pool.get().await.unwrap();
    assert!(!c.is_reused(), "the 421 connection was handed out");
    assert!(c.is_connected());
    drop(c);
    drop(pool);
    assert_eq!(peer.finish().await, 2);
}

/// A connection that came back a moment ago and whose socket is quiet is
/// reused without the health check's round trip.
#[tokio::test]
async fn a_quiet_connection_is_reused_without_a_round_trip() {
    let script = with(
        opening(&[]),
        vec![
            expect("NOOP\r\n"),
            send("250 ok\r\n"),
            expect("QUIT\r\n"),
            send("221 bye\r\n"),
        ],
    );
    let peer = Peer::start(script).await;
    let pool = pool(&peer, PoolConfig::default());
    drop(pool.get().await.unwrap());
    let mut c = pool.get().await.unwrap();
    assert!(c.is_reused());
    c.noop().await.unwrap();
    drop(c);
    pool.close().await;
    assert_eq!(peer.finish().await, 1);
}

/// A 421 that came while the connection was idle is seen by the look at
/// its socket, so the health check runs, reads it, and the connection is
/// discarded; likewise an end of file, with no command needed at all.
#[tokio::test]
async fn a_421_or_close_while_briefly_idle_is_caught_without_the_round_trip() {
    let idle = || Step::Sleep(Duration::from_millis(50));
    for ending in [
        vec![idle(), send("421 4.3.2 bye\r\n"), Step::Drain],
        vec![idle(), Step::Close],
    ] {
        let first = with(opening(&[]), ending);
        let second = with(opening(&[]), vec![Step::Drain]);
        let peer = Peer::start_many(vec![first, second]).await;
        let pool = pool(&peer, PoolConfig::default());
        drop(pool.get().await.unwrap());
        tokio::time::sleep(Duration::from_millis(150)).await;
        let c = pool.get().await.unwrap();
        assert!(!c.is_reused(), "a closing connection was handed out");
        assert!(c.is_connected());
        assert_eq!(pool.stats().discarded, 1);
        drop(c);
        drop(pool);
        assert_eq!(peer.finish().await, 2);
    }
}

#[tokio::test]
async fn a_connection_closed_while_idle_is_discarded() {
    let first = with(opening(&[]), vec![Step::Close]);
    let second = with(opening(&[]), vec![Step::Drain]);
    let peer = Peer::start_many(vec![first, second]).await;
    let pool = pool(
        &peer,
        PoolConfig::default().with_health_check(HealthCheck::Noop),
    );
    drop(pool.get().await.unwrap());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let c = pool.get().await.unwrap();
    assert!(!c.is_reused());
    assert_eq!(pool.stats().discarded, 1);
    drop(c);
    drop(pool);
    assert_eq!(peer.finish().await, 2);
}

#[tokio::test]
async fn a_poisoned_connection_never_comes_back() {
    let first = with(
        opening(&[]),
        vec![expect("MAIL FROM:<a@example.org>\r\n"), Step::Drain],
    );
    let second = with(opening(&[]), vec![Step::Drain]);
    let peer = Peer::start_many(vec![first, second]).await;
    let pool = pool(&peer, PoolConfig::default());
    let mut c = pool.get().await.unwrap();
    let cancelled = tokio::time::timeout(
        Duration::from_millis(200),
        c.sendmail("a@example.org", &["b@example.org"], b"x\r\n", &[], &[]),
    )
    .await;
    assert!(cancelled.is_err());
    drop(c);
    assert_eq!(pool.stats().idle, 0, "a poisoned connection went back");
    let c = pool.get().await.unwrap();
    assert!(!c.is_reused());
    assert!(c.is_connected());
    drop(c);
    drop(pool);
    assert_eq!(peer.finish().await, 2);
}

#[tokio::test]
async fn message_limit_and_idle_timeout_retire_connections() {
    let one = with(
        opening(&["PIPELINING"]),
        vec![
            until("DATA\r\n"),
            send("250 ok\r\n250 ok\r\n354 go\r\n"),
            until("\r\n.\r\n"),
            send("250 queued\r\n"),
            // Retired at its limit: QUIT without waiting, then closed.
            expect("QUIT\r\n"),
            Step::Drain,
        ],
    );
    let two = with(opening(&[]), vec![Step::Drain]);
    let three = with(opening(&[]), vec![Step::Drain]);
    let peer = Peer::start_many(vec![one, two, three]).await;
    let pool = pool(
        &peer,
        PoolConfig::default()
            .with_max_messages(Some(1))
            .with_idle_timeout(Duration::from_millis(100)),
    );
    let refused = pool
        .sendmail("a@example.org", &["b@example.org"], b"x\r\n", &[], &[])
        .await
        .unwrap();
    assert!(refused.is_empty());
    assert_eq!(pool.stats().idle, 0);
    let c = pool.get().await.unwrap();
    assert!(!c.is_reused());
    drop(c);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let c = pool.get().await.unwrap();
    assert!(!c.is_reused(), "an expired connection was reused");
    drop(c);
    drop(pool);
    assert_eq!(peer.finish().await, 3);
}

#[tokio::test]
async fn get_waits_for_a_free_slot() {
    let script = with(opening(&[]), vec![Step::Drain]);
    let peer = Peer::start(script).await;
    let pool = pool(&peer, PoolConfig::default().with_max_size(1));
    let held = pool.get().await.unwrap();
    let waiting = tokio::time::timeout(Duration::from_millis(150), pool.get()).await;
    assert!(waiting.is_err(), "a second connection beyond max_size");
    assert_eq!(pool.stats().in_use, 1);
    let p2 = pool.clone();
    let later = tokio::spawn(async move { p2.get().await.map(|c| c.is_reused()) });
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(held);
    assert!(later.await.unwrap().unwrap());
    drop(pool);
    assert_eq!(peer.finish().await, 1);
}

#[tokio::test]
async fn postfix_pool_reuses_and_pipelines() {
    let Some(s) = servers() else { return };
    let pool = Pool::new(
        s.builder(),
        &s.addr("SMTP_TEST_POSTFIX_PORT"),
        PoolConfig::default().with_max_size(3),
    );
    for i in 0..6 {
        let refused = pool
            .sendmail(
                "a@example.org",
                &vec![format!("pool{i}@example.org")],
                format!("Subject: pool {i}\r\n\r\nx\r\n").as_bytes(),
                &[],
                &[],
            )
            .await
            .unwrap();
        assert!(refused.is_empty());
    }
    let stats = pool.stats();
    assert_eq!(stats.opened, 1, "{stats:?}");
    assert_eq!(stats.reused, 5, "{stats:?}");
    let messages: Vec<(Envelope, Vec<u8>)> = (0..40)
        .map(|i| {
            (
                Envelope::new(
                    ReversePath::parse("a@example.org").unwrap(),
                    [ForwardPath::parse(&format!("many{i}@example.org")).unwrap()],
                ),
                format!("Subject: many {i}\r\n\r\nx\r\n").into_bytes(),
            )
        })
        .collect();
    let results = pool.send_many(&messages).await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(rep) if rep.outcome == TxnOutcome::Delivered))
    );
    assert!(pool.stats().opened <= 3, "{:?}", pool.stats());
    pool.close().await;
    assert!(matches!(pool.get().await, Err(Error::Io(_))));
}
