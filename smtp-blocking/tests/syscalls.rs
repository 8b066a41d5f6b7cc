//! System-call budget of a warm connection, counted (never timed): a
//! caller-supplied stream counts the driver's `read`, `write` and
//! `set_read_timeout` calls, each one system call on the socket beneath.
//!
//! The budget: per message, one write per drain of the session and the
//! reads its replies need, and no socket-option call per read. With BDAT
//! and PIPELINING a message is one write (envelope, BDAT and body); with
//! DATA the 354 forces two (envelope and DATA, then the body); a batch
//! (`send_many`) is one write per flush, which with pipelining across
//! messages is one per message.
//!
//! The peer is a small pipelining sink on 127.0.0.1 that, like Postfix,
//! answers everything it has read in one write once its input runs dry,
//! so a reply group arrives in one segment and takes one read. The same
//! counts are then checked against the real Postfix and smtp-sink.
//!
//! (A caller-supplied stream cannot be asked for waiting input without
//! blocking, so the driver's look before each operation is not among
//! these counts; `strace -c` of a TCP connection shows it as one
//! `recv(MSG_PEEK | MSG_DONTWAIT)` per operation.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{Peer, ServersExt, Step, expect, loopback_builder, send, servers};
use smtp_blocking::smtp_proto::{Envelope, Timeouts};
use smtp_blocking::{SmtpClient, Stream};
use smtp_testkit::pipelining_sink::{Counts, Sink, Snapshot, body, envelope};

const T: Duration = Duration::from_secs(10);
/// Messages counted after the warm-up message.
const N: usize = 50;

/// A TCP stream that counts the calls the driver makes on it.
#[derive(Debug)]
struct Counted {
    inner: TcpStream,
    counts: Arc<Counts>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.counts.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.read(buf)
    }
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.counts.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Stream for Counted {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.counts.read_timeouts.fetch_add(1, Ordering::SeqCst);
        self.inner.set_read_timeout(timeout)
    }

    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_write_timeout(timeout)
    }

    fn set_nodelay(&self) -> io::Result<()> {
        self.inner.set_nodelay(true)
    }
}

/// A client over a counted TCP connection to `port`.
fn connect(builder: smtp_blocking::Builder, port: u16) -> (SmtpClient, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let inner = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let stream = Counted {
        inner,
        counts: Arc::clone(&counts),
    };
    (builder.connect_stream(stream).unwrap(), counts)
}

/// One message to warm up (the first transaction on a connection may
/// wait for its envelope's replies before its data), then [`N`] with
/// `send`: what they cost.
fn per_message(c: &mut SmtpClient, counts: &Counts) -> Snapshot {
    let (env, body) = (envelope(), body());
    let _ = c.send(&env, &body[..]).unwrap();
    let before = counts.snapshot();
    for _ in 0..N {
        let _ = c.send(&env, &body[..]).unwrap();
    }
    counts.snapshot().since(before)
}

/// One message to warm up, then a batch of [`N`]: what the batch costs.
fn batch(c: &mut SmtpClient, counts: &Counts) -> Snapshot {
    let (env, body) = (envelope(), body());
    let _ = c.send(&env, &body[..]).unwrap();
    let messages: Vec<(Envelope, &[u8])> = (0..N).map(|_| (env.clone(), &body[..])).collect();
    let before = counts.snapshot();
    for r in c.send_many(&messages) {
        let _ = r.unwrap();
    }
    counts.snapshot().since(before)
}

#[test]
fn bdat_with_pipelining_is_one_write_per_message() {
    let sink = Sink::start(true);
    let (mut c, counts) = connect(loopback_builder(T), sink.port);
    assert!(c.has_extn("chunking") && c.has_extn("pipelining"));
    let cost = per_message(&mut c, &counts);
    // Envelope, BDAT and body in one write; the sink answers all three in
    // one write, read at once.
    assert_eq!(cost.writes, N, "{cost:?}");
    assert!(cost.reads <= N, "{cost:?}");
    assert_eq!(cost.read_timeouts, 0, "{cost:?}");
    c.quit().unwrap();
    sink.finish();
}

#[test]
fn data_with_pipelining_is_two_writes_per_message() {
    let sink = Sink::start(false);
    let (mut c, counts) = connect(loopback_builder(T), sink.port);
    assert!(!c.has_extn("chunking"));
    let cost = per_message(&mut c, &counts);
    // MAIL, RCPT and DATA; after the 354, the body: two writes and two
    // replies groups.
    assert_eq!(cost.writes, 2 * N, "{cost:?}");
    assert!(cost.reads <= 2 * N, "{cost:?}");
    assert_eq!(cost.read_timeouts, 0, "{cost:?}");
    c.quit().unwrap();
    sink.finish();
}

#[test]
fn send_many_is_one_write_per_flush() {
    for chunking in [true, false] {
        let sink = Sink::start(chunking);
        let (mut c, counts) = connect(loopback_builder(T), sink.port);
        let cost = batch(&mut c, &counts);
        // Pipelined across messages: each flush carries the end of one
        // message and the next envelope, so one write per message (plus
        // the first envelope with DATA, whose 354 splits it from its body).
        let most = if chunking { N } else { N + 1 };
        assert!(cost.writes <= most, "chunking {chunking}: {cost:?}");
        assert!(cost.reads <= 2 * N, "chunking {chunking}: {cost:?}");
        assert_eq!(cost.read_timeouts, 0, "chunking {chunking}: {cost:?}");
        c.quit().unwrap();
        sink.finish();
    }
}

/// The same budget against the real servers: Postfix (CHUNKING and
/// PIPELINING) and smtp-sink (PIPELINING, DATA).
#[test]
fn real_servers_keep_the_budget() {
    let Some(s) = servers() else { return };
    let (mut c, counts) = connect(s.builder(), s.port("SMTP_TEST_POSTFIX_PORT"));
    assert!(c.has_extn("chunking") && c.has_extn("pipelining"));
    let cost = per_message(&mut c, &counts);
    assert_eq!(cost.writes, N, "Postfix: {cost:?}");
    assert!(cost.reads <= 2 * N, "Postfix: {cost:?}");
    assert_eq!(cost.read_timeouts, 0, "Postfix: {cost:?}");
    let cost = batch(&mut c, &counts);
    assert!(cost.writes <= N, "Postfix batch: {cost:?}");
    assert_eq!(cost.read_timeouts, 0, "Postfix batch: {cost:?}");
    c.quit().unwrap();

    let (mut c, counts) = connect(s.builder(), s.port("SMTP_TEST_SINK_PORT"));
    assert!(!c.has_extn("chunking") && c.has_extn("pipelining"));
    let cost = per_message(&mut c, &counts);
    assert_eq!(cost.writes, 2 * N, "smtp-sink: {cost:?}");
    assert!(cost.reads <= 2 * N, "smtp-sink: {cost:?}");
    assert_eq!(cost.read_timeouts, 0, "smtp-sink: {cost:?}");
    let cost = batch(&mut c, &counts);
    assert!(cost.writes <= N + 1, "smtp-sink batch: {cost:?}");
    assert_eq!(cost.read_timeouts, 0, "smtp-sink batch: {cost:?}");
    c.quit().unwrap();
}

/// The socket's read timeout may be shorter than the time left (it is kept
/// across deadlines that differ): a read that times out early is read
/// again, and only the session's deadline ends the wait.
#[test]
fn a_socket_timeout_shorter_than_the_deadline_only_reads_again() {
    let short = Duration::from_millis(200);
    let mut timeouts = Timeouts::default();
    (
        timeouts.greeting,
        timeouts.command,
        timeouts.mail,
        timeouts.rcpt,
    ) = (short, short, short, short);
    timeouts.data_init = short;
    timeouts.data_end = Duration::from_secs(2);
    let peer = Peer::start(vec![
        send("220 peer.test ESMTP\r\n"),
        expect("EHLO client.test\r\n"),
        send("250-peer.test\r\n250 8BITMIME\r\n"),
        expect("MAIL FROM:<a@x.test>\r\n"),
        send("250 ok\r\n"),
        expect("RCPT TO:<b@x.test>\r\n"),
        send("250 ok\r\n"),
        expect("DATA\r\n"),
        send("354 go\r\n"),
        expect("Subject: x\r\n\r\nhi\r\n.\r\n"),
        // Several of the socket's timeouts (set for the 200 ms deadlines
        // and kept for the 2 s one), well within the deadline.
        Step::Sleep(Duration::from_millis(800)),
        send("250 queued\r\n"),
        expect("QUIT\r\n"),
        send("221 bye\r\n"),
    ]);
    let counts = Arc::new(Counts::default());
    let stream = Counted {
        inner: TcpStream::connect(peer.addr).unwrap(),
        counts: Arc::clone(&counts),
    };
    let mut c = loopback_builder(T)
        .timeouts(timeouts)
        .connect_stream(stream)
        .unwrap();
    let before = counts.snapshot();
    let refused = c
        .sendmail(
            "a@x.test",
            &["b@x.test"],
            b"Subject: x\r\n\r\nhi\r\n",
            &[],
            &[],
        )
        .unwrap();
    assert!(refused.is_empty());
    let cost = counts.snapshot().since(before);
    // Four replies, and at least two early wake-ups in the 800 ms wait.
    assert!(cost.reads >= 4 + 2, "{cost:?}");
    assert_eq!(cost.read_timeouts, 0, "{cost:?}");
    c.quit().unwrap();
    peer.finish();
}
