#![no_main]
//! Fuzzes the session engine through its full run loop, as an adapter
//! drives it: `poll_transmit`, `poll_event`, reactions to events
//! (`send_mail` after `Hello`, the body on `ReadyForBody`, `auth_respond` on
//! `AuthChallenge`, `tls_established` on `StartTlsReady`, QUIT when done),
//! `handle_timeout` with a virtual clock and `handle_eof` at the end.
//!
//! Input layout: `[script] ([n] [n server bytes])*`. The first byte picks a
//! fixed client script and configuration:
//!
//! - bit 0: LMTP instead of SMTP;
//! - bit 1: `Config::pipelining`;
//! - bit 2: `Config::chunking`;
//! - bits 3-5: the scenario (plain, STARTTLS + AUTH, two transactions,
//!   BINARYMIME, 8-byte BDAT chunks, AUTH only, extra commands first, a
//!   held body);
//! - bit 6: the handshake after `StartTlsReady` waits for one more read;
//! - bit 7: AUTH challenges are cancelled instead of answered.
//!
//! Then each record is one read of `n` server bytes (`n = 0` jumps the
//! clock to the deadline instead). Between reads the clock moves one
//! second.
//!
//! Assertions are engine invariants: no panic; once a `handle_*` call has
//! failed every later one fails with the same error; nothing is sent before
//! the greeting, after an error, after `Closed`, after QUIT or while the TLS
//! handshake is due; DATA bodies never put a lone CR or LF or an extra end
//! of data on the wire; output stays bounded; a client waiting for the
//! server always has a deadline, and passing it is a `Timeout`; every
//! transaction is reported exactly once; LMTP gives at most one delivery
//! reply per recipient.

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use smtp_proto::{
    BodyContent, BodyOptions, Client, Config, DeliveryScope, Envelope, Error, Event, ForwardPath,
    Mechanism, Phase, ReversePath, Secret, TxnId, UsageError,
};

const RCPTS: [&str; 3] = ["a@example.net", "b@example.net", "c@example.net"];
const TEXT_BODY: [&[u8]; 4] = [
    b"Subject: fuzz\r\n",
    b"\r\n.leading dot\n",
    b"lone cr\rsplit cr\r",
    b"\nend",
];
const BINARY_BODY: [&[u8]; 3] = [b"\x00\x01\x02", b"\n.\r\n\xff", b"\r"];
/// No fixed script can make the client send more than this.
const MAX_OUTPUT: usize = 64 * 1024;

#[derive(Clone, Copy, Debug)]
struct Script {
    lmtp: bool,
    pipelining: bool,
    chunking: bool,
    starttls: bool,
    auth: bool,
    txns: usize,
    chunk_size: usize,
    binary: bool,
    extras: bool,
    hold_body: bool,
    defer_tls: bool,
    cancel_auth: bool,
}

impl Script {
    fn from_byte(b: u8) -> Self {
        let scenario = (b >> 3) & 7;
        Self {
            lmtp: b & 1 != 0,
            pipelining: b & 2 != 0,
            chunking: b & 4 != 0,
            starttls: scenario == 1,
            auth: scenario == 1 || scenario == 5,
            txns: if scenario == 2 { 2 } else { 1 },
            chunk_size: if scenario == 4 { 8 } else { 4096 },
            binary: scenario == 3,
            extras: scenario == 6,
            hold_body: scenario == 7,
            defer_tls: b & 64 != 0,
            cancel_auth: b & 128 != 0,
        }
    }

    fn config(self) -> Config {
        let base = if self.lmtp {
            Config::lmtp()
        } else {
            Config::default()
        };
        base.with_pipelining(self.pipelining)
            .with_chunking(self.chunking)
            .with_bdat_chunk_size(self.chunk_size)
    }
}

struct Driver {
    client: Client,
    script: Script,
    now: Instant,
    sent: Vec<u8>,
    error: Option<Error>,
    closed: bool,
    tls_due: bool,
    tls_tried: bool,
    auth_tried: bool,
    mail_started: bool,
    quit_called: bool,
    started: Vec<TxnId>,
    finished: Vec<TxnId>,
    /// Delivery replies seen per started transaction.
    deliveries: Vec<usize>,
    body: Option<usize>,
    data_mode: bool,
}

impl Driver {
    fn new(script: Script) -> Self {
        let now = Instant::now();
        let mut d = Self {
            client: Client::new(script.config(), now),
            script,
            now,
            sent: Vec::new(),
            error: None,
            closed: false,
            tls_due: false,
            tls_tried: false,
            auth_tried: false,
            mail_started: false,
            quit_called: false,
            started: Vec::new(),
            finished: Vec::new(),
            deliveries: Vec::new(),
            body: None,
            data_mode: true,
        };
        d.settle();
        d
    }

    fn record(&mut self, r: Result<(), Error>) {
        match (&r, &self.error) {
            (Err(e), Some(first)) => assert_eq!(e, first, "errors are sticky"),
            (Err(e), None) => {
                assert!(self.client.is_closed());
                assert_eq!(self.client.error(), Some(e));
                self.error = Some(e.clone());
            }
            (Ok(()), Some(first)) => panic!("a call succeeded after the error {first:?}"),
            (Ok(()), None) => {}
        }
        self.settle();
    }

    fn input(&mut self, bytes: &[u8]) {
        let r = self.client.handle_input(self.now, bytes);
        self.record(r);
    }

    /// Jumps to the deadline: just before it nothing happens, at it the
    /// session times out.
    fn deadline(&mut self) {
        let Some(at) = self.client.poll_timeout() else {
            return;
        };
        let before = at.checked_sub(Duration::from_millis(1)).unwrap_or(at);
        if before > self.now {
            self.now = before;
            let r = self.client.handle_timeout(self.now);
            assert!(r.is_ok(), "timeout before the deadline: {r:?}");
            self.record(r);
        }
        self.now = self.now.max(at);
        let r = self.client.handle_timeout(self.now);
        assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
        self.record(r);
    }

    fn tick(&mut self) {
        self.now += Duration::from_secs(1);
        let r = self.client.handle_timeout(self.now);
        self.record(r);
    }

    fn settle(&mut self) {
        for _ in 0..10_000 {
            let before = self.sent.len();
            let n = self.client.poll_transmit(self.now, &mut self.sent);
            assert_eq!(self.sent.len(), before + n);
            if n > 0 {
                assert!(
                    self.client.phase() != Phase::Greeting,
                    "output before the greeting"
                );
                assert!(self.error.is_none(), "output after an error");
                assert!(!self.closed, "output after Closed");
                assert!(
                    self.client.phase() != Phase::AwaitingTls,
                    "output while the handshake is due"
                );
                self.check_output(before);
            }
            let mut moved = n > 0;
            while let Some(e) = self.client.poll_event() {
                moved = true;
                assert!(!self.closed, "event after Closed: {e:?}");
                self.react(e);
            }
            moved |= self.push_body();
            if !moved {
                self.check_waiting();
                return;
            }
        }
        panic!("the run loop does not settle");
    }

    /// Checks the bytes from `from` on, just appended.
    fn check_output(&self, from: usize) {
        assert!(self.sent.len() <= MAX_OUTPUT, "unbounded output");
        // QUIT is the last thing ever sent (no body here has such a line).
        let quit = if self.sent.starts_with(b"QUIT\r\n") {
            Some(0)
        } else {
            find(&self.sent, b"\r\nQUIT\r\n").map(|p| p + 2)
        };
        if let Some(pos) = quit {
            assert_eq!(pos + 6, self.sent.len(), "bytes after QUIT");
        }
        if self.data_mode {
            // Only CRLF line ends on the wire, wherever a read was cut.
            let new = &self.sent[from.saturating_sub(1)..];
            for w in new.windows(2) {
                assert!(!(w[0] == b'\r' && w[1] != b'\n'), "lone CR sent");
                assert!(!(w[0] != b'\r' && w[1] == b'\n'), "lone LF sent");
            }
            if from == 0 {
                assert_ne!(self.sent.first(), Some(&b'\n'), "lone LF sent");
            }
            // Every end of data follows a DATA command.
            let ends = count(&self.sent, b"\r\n.\r\n");
            let datas = count(&self.sent, b"\r\nDATA\r\n");
            assert!(
                ends <= datas,
                "{ends} ends of data for {datas} DATA commands"
            );
        }
    }

    /// A client that waits for the server has a deadline.
    fn check_waiting(&self) {
        if self.client.is_closed() {
            assert_eq!(self.client.poll_timeout(), None);
            return;
        }
        let on_us =
            self.client.phase() == Phase::AwaitingTls || self.body.is_some() || self.tls_due;
        if !self.client.is_idle() && !on_us {
            assert!(
                self.client.poll_timeout().is_some(),
                "waiting without a deadline"
            );
        }
    }

    fn react(&mut self, e: Event) {
        match e {
            Event::Hello {
                extensions: Some(_),
                ..
            } => self.next_step(),
            Event::Hello {
                extensions: None, ..
            } => self.quit(),
            Event::StartTlsReady { .. } => {
                if self.script.defer_tls {
                    self.tls_due = true;
                } else if self.error.is_none() {
                    assert!(self.client.tls_established(self.now).is_ok());
                }
            }
            Event::StartTlsRejected { .. }
            | Event::AuthSucceeded { .. }
            | Event::AuthFailed { .. } => self.next_step(),
            Event::AuthChallenge { challenge, .. } => {
                let r = if self.script.cancel_auth {
                    self.client.auth_cancel()
                } else {
                    let mut answer = b"user ".to_vec();
                    answer.extend(challenge.expose().iter().take(16));
                    self.client.auth_respond(Secret::new(answer))
                };
                // Only a failure in the same read can stop the answer.
                assert!(r.is_ok() || self.error.is_some(), "{r:?}");
            }
            Event::ReadyForBody { txn } => {
                assert!(self.started.contains(&txn));
                assert!(!self.finished.contains(&txn));
                assert!(self.body.is_none(), "two bodies open");
                self.body = Some(0);
            }
            Event::DeliveryReply { txn, scope, .. } => {
                let i = self.index(txn);
                self.deliveries[i] += 1;
                let max = match scope {
                    DeliveryScope::AllAccepted => {
                        assert!(!self.script.lmtp);
                        1
                    }
                    DeliveryScope::Recipient(r) => {
                        assert!(self.script.lmtp);
                        assert!(r.0 < RCPTS.len());
                        RCPTS.len()
                    }
                    other => panic!("a delivery scope this target does not know: {other:?}"),
                };
                assert!(self.deliveries[i] <= max, "too many delivery replies");
            }
            Event::MailReply { txn, .. } | Event::RcptReply { txn, .. } => {
                let _ = self.index(txn);
                assert!(
                    !self.finished.contains(&txn),
                    "event after TransactionFinished"
                );
            }
            Event::TransactionFinished { txn, .. } => {
                let _ = self.index(txn);
                assert!(!self.finished.contains(&txn), "{txn:?} finished twice");
                self.finished.push(txn);
                if self.finished.len() == self.started.len() && self.error.is_none() {
                    self.quit();
                }
            }
            Event::Closed { .. } => self.closed = true,
            _ => {}
        }
    }

    fn index(&self, txn: TxnId) -> usize {
        self.started
            .iter()
            .position(|t| *t == txn)
            .expect("event for an unknown transaction")
    }

    fn next_step(&mut self) {
        if self.script.starttls && !self.tls_tried && !self.client.is_tls() {
            self.tls_tried = true;
            if self.client.starttls().is_ok() {
                return;
            }
        }
        if self.script.auth && !self.auth_tried {
            self.auth_tried = true;
            if self.client.auth(Mechanism::CRAM_MD5, None).is_ok() {
                return;
            }
        }
        if self.mail_started {
            return;
        }
        self.mail_started = true;
        if self.script.extras {
            let _ = self.client.noop();
            let _ = self.client.rset();
            let _ = self.client.vrfy("postmaster");
        }
        let chunking =
            self.script.chunking && self.client.extensions().is_some_and(|e| e.chunking());
        for i in 0..self.script.txns {
            let env = Envelope::new(
                ReversePath::parse(&format!("sender{i}@example.org")).expect("valid"),
                RCPTS.iter().map(|r| ForwardPath::parse(r).expect("valid")),
            );
            let options = if self.script.binary {
                BodyOptions::default().with_content(BodyContent::Binary)
            } else {
                BodyOptions::default()
            };
            if let Ok(id) = self.client.send_mail(&env, options) {
                self.started.push(id);
                self.deliveries.push(0);
                if chunking || self.script.binary {
                    self.data_mode = false;
                }
            }
        }
        if self.started.is_empty() {
            self.quit();
        }
    }

    fn quit(&mut self) {
        if self.client.quit().is_ok() {
            self.quit_called = true;
        }
    }

    fn push_body(&mut self) -> bool {
        let Some(mut i) = self.body else {
            return false;
        };
        let pieces: &[&[u8]] = if self.script.binary {
            &BINARY_BODY
        } else {
            &TEXT_BODY
        };
        let start = i;
        while i < pieces.len() {
            if self.script.hold_body && i > 0 {
                self.body = Some(i);
                return i > start;
            }
            if !self.client.can_send_body() {
                break;
            }
            match self.client.send_body(pieces[i]) {
                Ok(()) => i += 1,
                Err(UsageError::WouldBlock) => break,
                Err(_) => {
                    self.body = None;
                    return true;
                }
            }
        }
        if i < pieces.len() {
            if self.client.is_closed() || self.client.error().is_some() {
                self.body = None;
                return true;
            }
            self.body = Some(i);
            return i > start;
        }
        let _ = self.client.finish_body();
        self.body = None;
        true
    }

    fn finish(&mut self) {
        if self.error.is_none() && !self.closed {
            self.quit();
            self.settle();
        }
        let r = self.client.handle_eof(self.now);
        self.record(r);
        assert!(self.client.is_closed(), "EOF ends the session");
        let mut started = self.started.clone();
        let mut finished = self.finished.clone();
        started.sort();
        finished.sort();
        assert_eq!(started, finished, "every transaction is reported once");
        if let Some(e) = self.error.clone() {
            assert_eq!(
                self.client.handle_input(self.now, b"250 ok\r\n"),
                Err(e.clone())
            );
            assert_eq!(self.client.handle_eof(self.now), Err(e.clone()));
            assert_eq!(
                self.client
                    .handle_timeout(self.now + Duration::from_secs(1 << 30)),
                Err(e)
            );
            assert_eq!(self.client.quit(), Err(UsageError::Closed));
            assert_eq!(self.client.poll_transmit(self.now, &mut Vec::new()), 0);
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

fuzz_target!(|data: &[u8]| {
    let Some((&script, mut rest)) = data.split_first() else {
        return;
    };
    let mut d = Driver::new(Script::from_byte(script));
    while let Some((&n, tail)) = rest.split_first() {
        if n == 0 {
            // A clock record: the deferred handshake happens now, or the
            // clock jumps to the deadline.
            rest = tail;
            if d.tls_due {
                d.tls_due = false;
                assert!(d.client.tls_established(d.now).is_ok());
                d.settle();
            } else if d.error.is_none() {
                d.deadline();
            }
            continue;
        }
        let (read, tail) = tail.split_at(usize::from(n).min(tail.len()));
        rest = tail;
        let awaiting_tls = d.client.phase() == Phase::AwaitingTls;
        d.input(read);
        if awaiting_tls && !read.is_empty() {
            // Plaintext after the 220, before the handshake: never kept.
            assert_eq!(
                d.error,
                Some(Error::Protocol(
                    smtp_proto::ProtocolError::DataAfterStartTls
                ))
            );
            d.tls_due = false;
        }
        if d.error.is_none() {
            d.tick();
        }
    }
    d.finish();
});
