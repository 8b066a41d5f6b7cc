//! System-call budget of a warm connection, counted (never timed): a
//! caller-supplied stream counts the driver's completed `poll_write` and
//! `poll_read` calls, each one system call on the socket beneath (a
//! `Pending` poll of a Tokio socket whose readiness is known to be clear
//! costs none).
//!
//! The budget: per message, one write per drain of the session and the
//! reads its replies need. With BDAT and PIPELINING a message is one write
//! (envelope, BDAT and body); with DATA the 354 forces two (envelope and
//! DATA, then the body); a batch (`send_many`) is one write per flush,
//! which with pipelining across messages is one per message.
//!
//! The peer is a small pipelining sink on 127.0.0.1 (the same as
//! smtp-blocking's `tests/syscalls.rs`) that, like Postfix, answers
//! everything it has read in one write once its input runs dry. The same
//! counts are then checked against the real Postfix and smtp-sink.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use common::{ServersExt, loopback_builder, servers};
use smtp_testkit::pipelining_sink::{Sink, body, envelope};
use smtp_tokio::smtp_proto::Envelope;
use smtp_tokio::{Builder, SmtpClient};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const T: Duration = Duration::from_secs(10);
/// Messages counted after the warm-up message.
const N: usize = 50;

/// What the driver did to the stream: completed reads and writes.
#[derive(Debug, Default)]
struct Counts {
    reads: AtomicUsize,
    writes: AtomicUsize,
}

/// The counts at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Snapshot {
    reads: usize,
    writes: usize,
}

impl Counts {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            reads: self.reads.load(Ordering::SeqCst),
            writes: self.writes.load(Ordering::SeqCst),
        }
    }
}

impl Snapshot {
    fn since(self, before: Snapshot) -> Snapshot {
        Snapshot {
            reads: self.reads - before.reads,
            writes: self.writes - before.writes,
        }
    }
}

/// A Tokio TCP stream that counts the driver's completed calls on it.
struct Counted {
    inner: tokio::net::TcpStream,
    counts: Arc<Counts>,
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        if res.is_ready() {
            this.counts.reads.fetch_add(1, Ordering::SeqCst);
        }
        res
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_write(cx, buf);
        if res.is_ready() {
            this.counts.writes.fetch_add(1, Ordering::SeqCst);
        }
        res
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A client over a counted TCP connection to `port`.
async fn connect(builder: Builder, port: u16) -> (SmtpClient, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let inner = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    inner.set_nodelay(true).unwrap();
    let stream = Counted {
        inner,
        counts: Arc::clone(&counts),
    };
    (builder.connect_stream(stream).await.unwrap(), counts)
}

/// One message to warm up (the first transaction on a connection may
/// wait for its envelope's replies before its data), then [`N`] with
/// `send`: what they cost.
async fn per_message(c: &mut SmtpClient, counts: &Counts) -> Snapshot {
    let (env, body) = (envelope(), body());
    let _ = c.send(&env, &body[..]).await.unwrap();
    let before = counts.snapshot();
    for _ in 0..N {
        let _ = c.send(&env, &body[..]).await.unwrap();
    }
    counts.snapshot().since(before)
}

/// One message to warm up, then a batch of [`N`]: what the batch costs.
async fn batch(c: &mut SmtpClient, counts: &Counts) -> Snapshot {
    let (env, body) = (envelope(), body());
    let _ = c.send(&env, &body[..]).await.unwrap();
    let messages: Vec<(Envelope, &[u8])> = (0..N).map(|_| (env.clone(), &body[..])).collect();
    let before = counts.snapshot();
    for r in c.send_many(&messages).await {
        let _ = r.unwrap();
    }
    counts.snapshot().since(before)
}

#[tokio::test]
async fn bdat_with_pipelining_is_one_write_per_message() {
    let sink = Sink::start(true);
    let (mut c, counts) = connect(loopback_builder(T), sink.port).await;
    assert!(c.has_extn("chunking") && c.has_extn("pipelining"));
    let cost = per_message(&mut c, &counts).await;
    // Envelope, BDAT and body in one write; the sink answers all three in
    // one write, read at once.
    assert_eq!(cost.writes, N, "{cost:?}");
    assert!(cost.reads <= N, "{cost:?}");
    c.quit().await.unwrap();
    sink.finish();
}

#[tokio::test]
async fn data_with_pipelining_is_two_writes_per_message() {
    let sink = Sink::start(false);
    let (mut c, counts) = connect(loopback_builder(T), sink.port).await;
    assert!(!c.has_extn("chunking"));
    let cost = per_message(&mut c, &counts).await;
    // MAIL, RCPT and DATA; after the 354, the body: two writes and two
    // reply groups.
    assert_eq!(cost.writes, 2 * N, "{cost:?}");
    assert!(cost.reads <= 2 * N, "{cost:?}");
    c.quit().await.unwrap();
    sink.finish();
}

#[tokio::test]
async fn send_many_is_one_write_per_flush() {
    for chunking in [true, false] {
        let sink = Sink::start(chunking);
        let (mut c, counts) = connect(loopback_builder(T), sink.port).await;
        let cost = batch(&mut c, &counts).await;
        // Pipelined across messages: each flush carries the end of one
        // message and the next envelope, so one write per message (plus
        // the first envelope with DATA, whose 354 splits it from its body).
        let most = if chunking { N } else { N + 1 };
        assert!(cost.writes <= most, "chunking {chunking}: {cost:?}");
        assert!(cost.reads <= 2 * N, "chunking {chunking}: {cost:?}");
        c.quit().await.unwrap();
        sink.finish();
    }
}

/// The same budget against the real servers: Postfix (CHUNKING and
/// PIPELINING) and smtp-sink (PIPELINING, DATA).
#[tokio::test]
async fn real_servers_keep_the_budget() {
    let Some(s) = servers() else { return };
    let (mut c, counts) = connect(s.builder(), s.port("SMTP_TEST_POSTFIX_PORT")).await;
    assert!(c.has_extn("chunking") && c.has_extn("pipelining"));
    let cost = per_message(&mut c, &counts).await;
    assert_eq!(cost.writes, N, "Postfix: {cost:?}");
    assert!(cost.reads <= 2 * N, "Postfix: {cost:?}");
    let cost = batch(&mut c, &counts).await;
    assert!(cost.writes <= N, "Postfix batch: {cost:?}");
    c.quit().await.unwrap();

    let (mut c, counts) = connect(s.builder(), s.port("SMTP_TEST_SINK_PORT")).await;
    assert!(!c.has_extn("chunking") && c.has_extn("pipelining"));
    let cost = per_message(&mut c, &counts).await;
    assert_eq!(cost.writes, 2 * N, "smtp-sink: {cost:?}");
    assert!(cost.reads <= 2 * N, "smtp-sink: {cost:?}");
    let cost = batch(&mut c, &counts).await;
    assert!(cost.writes <= N + 1, "smtp-sink batch: {cost:?}");
    c.quit().await.unwrap();
}
