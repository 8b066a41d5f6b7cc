//! Property tests for the session engine, driven through the full run loop
//! by a small adapter that reacts to events as a real one would:
//!
//! 1. a realistic server conversation gives the same events and the same
//!    client bytes however each server turn is cut into reads;
//! 2. arbitrary server bytes after any valid prefix (before the greeting,
//!    after EHLO, with the body open, after the final ".", after the
//!    STARTTLS 220 before the handshake, during AUTH) never panic, end in
//!    normal progress or a typed error, and errors are sticky;
//! 3. memory stays bounded: junk without a line end is an error after a
//!    bounded number of bytes, never growth.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::{Duration, Instant};

use proptest::prelude::*;
use smtp_proto::reply::ParserConfig;
use smtp_proto::{
    BodyContent, BodyOptions, Client, Config, Envelope, Error, Event, ForwardPath, Mechanism,
    Phase, ProtocolError, ReversePath, Secret, TxnId, UsageError,
};

// ----- the adapter ----------------------------------------------------------

/// What the client does: fixed per script.
#[derive(Clone, Copy, Debug)]
struct Plan {
    lmtp: bool,
    pipelining: bool,
    chunking: bool,
    starttls: bool,
    auth: bool,
    txns: usize,
    chunk_size: usize,
    binary: bool,
}

const PLAN: Plan = Plan {
    lmtp: false,
    pipelining: true,
    chunking: true,
    starttls: false,
    auth: false,
    txns: 1,
    chunk_size: 256 * 1024,
    binary: false,
};

const TEXT_BODY: [&[u8]; 3] = [
    b"Subject: props\r\n",
    b"\r\n.dot line\n",
    b"body text\r\nend",
];
const BINARY_BODY: [&[u8]; 3] = [b"\x00\x01\x02", b"\n.\r\n", b"\xff\r"];

/// A client plus the adapter logic around it, with every invariant the
/// run loop promises checked after each step.
struct Driver {
    client: Client,
    plan: Plan,
    now: Instant,
    sent: Vec<u8>,
    log: Vec<String>,
    error: Option<Error>,
    /// Do not call `tls_established` on `StartTlsReady`.
    defer_tls: bool,
    /// Do not answer `AuthChallenge`.
    defer_auth: bool,
    /// Send only the first body piece and keep the body open.
    hold_body: bool,
    tls_tried: bool,
    auth_tried: bool,
    mail_started: bool,
    started: Vec<TxnId>,
    finished: Vec<TxnId>,
    body: Option<usize>,
    closed: bool,
}

impl Driver {
    fn new(plan: Plan) -> Self {
        let config = if plan.lmtp {
            Config::lmtp()
        } else {
            Config::default()
        }
        .with_pipelining(plan.pipelining)
        .with_chunking(plan.chunking)
        .with_bdat_chunk_size(plan.chunk_size);
        let now = Instant::now();
        let mut d = Self {
            client: Client::new(config, now),
            plan,
            now,
            sent: Vec::new(),
            log: Vec::new(),
            error: None,
            defer_tls: false,
            defer_auth: false,
            hold_body: false,
            tls_tried: false,
            auth_tried: false,
            mail_started: false,
            started: Vec::new(),
            finished: Vec::new(),
            body: None,
            closed: false,
        };
        d.settle();
        assert!(d.sent.is_empty(), "nothing is sent before the greeting");
        d
    }

    fn record(&mut self, what: &str, r: Result<(), Error>) -> Result<(), Error> {
        match (&r, &self.error) {
            (Err(e), Some(first)) => assert_eq!(e, first, "errors are sticky"),
            (Err(e), None) => {
                self.log.push(format!("{what} error: {e:?}"));
                self.error = Some(e.clone());
                assert_eq!(self.client.error(), Some(e));
                assert!(self.client.is_closed());
            }
            (Ok(()), Some(first)) => panic!("{what} succeeded after the error {first:?}"),
            (Ok(()), None) => {}
        }
        self.settle();
        r
    }

    fn input(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let r = self.client.handle_input(self.now, bytes);
        self.record("input", r)
    }

    fn eof(&mut self) -> Result<(), Error> {
        let r = self.client.handle_eof(self.now);
        self.record("eof", r)
    }

    fn tick(&mut self, d: Duration) -> Result<(), Error> {
        self.now += d;
        let r = self.client.handle_timeout(self.now);
        self.record("timeout", r)
    }

    /// Runs the loop until nothing moves: transmit, events, body.
    fn settle(&mut self) {
        for _ in 0..1000 {
            let before = self.sent.len();
            let n = self.client.poll_transmit(self.now, &mut self.sent);
            assert_eq!(self.sent.len(), before + n);
            if self.error.is_some() || self.closed {
                assert_eq!(n, 0, "nothing is sent after an error or after Closed");
            }
            if self.client.phase() == Phase::AwaitingTls {
                assert_eq!(n, 0, "nothing is sent while the handshake is due");
            }
            let mut moved = n > 0;
            while let Some(e) = self.client.poll_event() {
                moved = true;
                assert!(!self.closed, "event after Closed: {e:?}");
                self.log.push(format!("{e:?}"));
                self.react(e);
            }
            moved |= self.push_body();
            if !moved {
                self.check();
                return;
            }
        }
        panic!("the run loop does not settle; log: {:#?}", self.log);
    }

    fn check(&self) {
        if self.client.is_closed() {
            assert_eq!(self.client.poll_timeout(), None);
        }
        let waiting_on_us =
            self.client.phase() == Phase::AwaitingTls || self.defer_auth || self.body.is_some();
        if !self.client.is_closed() && !self.client.is_idle() && !waiting_on_us {
            assert!(
                self.client.poll_timeout().is_some(),
                "the client waits for the server without a deadline; log: {:#?}",
                self.log
            );
        }
        assert!(self.sent.len() < 1 << 20, "client output is bounded");
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
            Event::StartTlsReady { .. } if !self.defer_tls => {
                let r = self.client.tls_established(self.now);
                assert!(r.is_ok() || self.error.is_some(), "{r:?}");
            }
            Event::StartTlsRejected { .. } => self.next_step(),
            Event::AuthChallenge { challenge, .. } if !self.defer_auth => {
                let mut answer = b"user ".to_vec();
                answer.extend(challenge.expose().iter().take(8));
                // Only a failure in the same read can stop the answer.
                let r = self.client.auth_respond(Secret::new(answer));
                assert!(r.is_ok() || self.error.is_some(), "{r:?}");
            }
            Event::AuthSucceeded { .. } | Event::AuthFailed { .. } => self.next_step(),
            Event::ReadyForBody { .. } => {
                assert!(self.body.is_none(), "one body at a time");
                self.body = Some(0);
            }
            Event::TransactionFinished { txn, .. } => {
                assert!(self.started.contains(&txn), "unknown transaction {txn:?}");
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

    fn next_step(&mut self) {
        if self.plan.starttls && !self.tls_tried && !self.client.is_tls() {
            self.tls_tried = true;
            let r = self.client.starttls();
            self.log.push(format!("starttls: {r:?}"));
            if r.is_ok() {
                return;
            }
        }
        if self.plan.auth && !self.auth_tried {
            self.auth_tried = true;
            let r = self.client.auth(Mechanism::CRAM_MD5, None);
            self.log.push(format!("auth: {r:?}"));
            if r.is_ok() {
                return;
            }
        }
        if self.mail_started {
            return;
        }
        self.mail_started = true;
        for i in 0..self.plan.txns {
            let env = Envelope::new(
                ReversePath::parse(&format!("sender{i}@example.org")).unwrap(),
                ["a@example.net", "b@example.net", "c@example.net"]
                    .iter()
                    .map(|r| ForwardPath::parse(r).unwrap()),
            );
            let options = if self.plan.binary {
                BodyOptions::default().with_content(BodyContent::Binary)
            } else {
                BodyOptions::default()
            };
            let r = self.client.send_mail(&env, options);
            self.log.push(format!("send_mail: {r:?}"));
            if let Ok(id) = r {
                self.started.push(id);
            }
        }
        if self.started.is_empty() {
            self.quit();
        }
    }

    fn quit(&mut self) {
        let r = self.client.quit();
        self.log.push(format!("quit: {r:?}"));
    }

    /// Feeds the body as far as the client takes it. Returns whether
    /// anything happened.
    fn push_body(&mut self) -> bool {
        let Some(mut i) = self.body else {
            return false;
        };
        let pieces = if self.plan.binary {
            BINARY_BODY
        } else {
            TEXT_BODY
        };
        let start = i;
        while i < pieces.len() {
            if self.hold_body && i > 0 {
                self.body = Some(i);
                return i > start;
            }
            if !self.client.can_send_body() {
                break;
            }
            match self.client.send_body(pieces[i]) {
                Ok(()) => i += 1,
                Err(UsageError::WouldBlock) => break,
                Err(e) => {
                    self.log.push(format!("send_body: {e:?}"));
                    self.body = None;
                    return true;
                }
            }
        }
        if i < pieces.len() {
            if !self.client.can_send_body() && self.client.is_closed() {
                self.body = None;
                return true;
            }
            self.body = Some(i);
            return i > start;
        }
        let r = self.client.finish_body();
        self.log.push(format!("finish_body: {r:?}"));
        self.body = None;
        true
    }

    /// End of the run: EOF, and every transaction has been reported.
    fn finish(&mut self) {
        let _ = self.eof();
        assert!(self.client.is_closed(), "EOF ends the session");
        assert_eq!(self.client.poll_timeout(), None);
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
                    .handle_timeout(self.now + Duration::from_secs(1 << 20)),
                Err(e)
            );
            assert_eq!(self.client.quit(), Err(UsageError::Closed));
            assert_eq!(self.client.send_body(b"x"), Err(UsageError::Closed));
            let mut out = Vec::new();
            assert_eq!(self.client.poll_transmit(self.now, &mut out), 0);
        }
    }
}

// ----- scripts: what the server says, turn by turn -------------------------

struct Script {
    name: &'static str,
    plan: Plan,
    /// What the server sends after reading the client's output, in order.
    turns: &'static [&'static str],
}

const SCRIPTS: &[Script] = &[
    Script {
        name: "pipelining and chunking",
        plan: PLAN,
        turns: &[
            "220 mx.example.net ESMTP\r\n",
            "250-mx.example.net\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n",
            // The first message's data waits for the envelope's replies.
            "250 2.1.0 sender ok\r\n250 2.1.5 ok\r\n550 5.1.1 no such user\r\n250 2.1.5 ok\r\n",
            "250 2.0.0 queued as 1234\r\n",
            "221 2.0.0 bye\r\n",
        ],
    },
    Script {
        name: "lock-step",
        plan: PLAN,
        turns: &[
            "220-mx.example.net ESMTP\r\n220 no UCE\r\n",
            "250 mx.example.net\r\n",
            "250 ok\r\n",
            "250 ok\r\n",
            "550 5.1.1 no such user\r\n",
            "251 will forward\r\n",
            "354 go ahead\r\n",
            "250 queued\r\n",
            "221 bye\r\n",
        ],
    },
    Script {
        name: "pipelining, two transactions",
        plan: Plan { txns: 2, ..PLAN },
        turns: &[
            "220 mx.example.net ESMTP\r\n",
            "250-mx.example.net\r\n250 PIPELINING\r\n",
            "250 ok\r\n250 ok\r\n450 4.2.1 later\r\n250 ok\r\n354 go\r\n",
            "250 first queued\r\n250 ok\r\n550 no\r\n550 no\r\n250 ok\r\n354 go\r\n",
            "250 second queued\r\n",
            "221 bye\r\n",
        ],
    },
    Script {
        name: "lock-step chunking, small chunks",
        plan: Plan {
            chunk_size: 8,
            ..PLAN
        },
        turns: &[
            "220 mx.example.net ESMTP\r\n",
            "250-mx.example.net\r\n250 CHUNKING\r\n",
            "250 ok\r\n",
            "250 ok\r\n",
            "250 ok\r\n",
            "250 ok\r\n",
            "250 8 octets\r\n",
            "250 8 octets\r\n",
            "250 8 octets\r\n",
            "250 8 octets\r\n",
            "250 8 octets\r\n",
            "250 message ok\r\n",
            "221 bye\r\n",
        ],
    },
    Script {
        name: "LMTP",
        plan: Plan { lmtp: true, ..PLAN },
        turns: &[
            "220 lmtp.example.net LMTP\r\n",
            "250-lmtp.example.net\r\n250 PIPELINING\r\n",
            "250 ok\r\n250 ok\r\n550 no\r\n250 ok\r\n354 go\r\n",
            "250 2.0.0 a delivered\r\n452 4.2.2 c over quota\r\n",
            "221 bye\r\n",
        ],
    },
    Script {
        name: "STARTTLS and AUTH",
        plan: Plan {
            starttls: true,
            auth: true,
            ..PLAN
        },
        turns: &[
            "220 mx.example.net ESMTP\r\n",
            "250-mx.example.net\r\n250-STARTTLS\r\n250 AUTH CRAM-MD5\r\n",
            "220 2.0.0 ready to start TLS\r\n",
            "250-mx.example.net\r\n250-PIPELINING\r\n250 AUTH CRAM-MD5 PLAIN\r\n",
            "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n",
            "235 2.7.0 authenticated\r\n",
            "250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n",
            "250 queued\r\n",
            "221 bye\r\n",
        ],
    },
    Script {
        name: "BINARYMIME",
        plan: Plan {
            binary: true,
            ..PLAN
        },
        turns: &[
            "220 mx.example.net ESMTP\r\n",
            "250-mx.example.net\r\n250-PIPELINING\r\n250-BINARYMIME\r\n250 CHUNKING\r\n",
            // The connection's first message: its data waits for the
            // envelope's replies.
            "250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n",
            "250 message ok\r\n",
            "221 bye\r\n",
        ],
    },
];

/// Runs `script`, cutting every turn into reads of the given sizes (used in
/// turn, cycling; an empty list means whole turns). A time step of a few
/// milliseconds is reported between reads.
fn run_script(script: &Script, sizes: &[usize], tick: bool) -> (Vec<String>, Vec<u8>) {
    let mut d = Driver::new(script.plan);
    let mut k = 0;
    for turn in script.turns {
        let mut rest = turn.as_bytes();
        while !rest.is_empty() {
            let size = if sizes.is_empty() {
                rest.len()
            } else {
                sizes[k % sizes.len()]
            };
            k += 1;
            let (chunk, tail) = rest.split_at(size.clamp(1, rest.len()));
            rest = tail;
            d.input(chunk)
                .unwrap_or_else(|e| panic!("{}: {e:?}; log: {:#?}", script.name, d.log));
            if tick {
                d.tick(Duration::from_millis(3)).unwrap();
            }
        }
    }
    assert!(
        d.closed,
        "{}: the script ends with QUIT; log: {:#?}",
        script.name, d.log
    );
    d.finish();
    (d.log, d.sent)
}

#[test]
fn every_script_completes() {
    for script in SCRIPTS {
        let (log, sent) = run_script(script, &[], false);
        assert!(
            log.iter().any(|l| l.starts_with("Closed")),
            "{}: {log:#?}",
            script.name
        );
        assert!(
            String::from_utf8_lossy(&sent).ends_with("QUIT\r\n"),
            "{}",
            script.name
        );
        let bytewise = run_script(script, &[1], false);
        assert_eq!(bytewise, (log, sent), "{}", script.name);
    }
}

// ----- server bytes that are not a valid conversation ----------------------

/// Server bytes that look like replies, often enough to reach deep states.
fn reply_like() -> impl Strategy<Value = Vec<u8>> {
    let code = prop::sample::select(vec![
        "220", "221", "235", "250", "251", "334", "354", "421", "450", "452", "500", "501", "502",
        "503", "530", "535", "550", "552", "554", "199", "600", "25", "2500",
    ]);
    let sep = prop::sample::select(vec!["", " ", "-", "\t"]);
    let text = "[ -~]{0,12}";
    let end = prop::sample::select(vec!["\r\n", "\r\n", "\r\n", "\n", "\r", ""]);
    (code, sep, text, end).prop_map(|(c, s, t, e)| format!("{c}{s}{t}{e}").into_bytes())
}

fn junk() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(
        prop_oneof![
            3 => reply_like(),
            1 => prop::collection::vec(any::<u8>(), 0..40),
            1 => Just(b"334 dGVzdA==\r\n".to_vec()),
            1 => Just(b"250-a\r\n550 b\r\n".to_vec()),
        ],
        0..12,
    )
}

/// Feeds the first `prefix` turns of `script` (whole), then `junk`, reacting
/// throughout; then maybe a deadline, then EOF. Checks the invariants.
fn run_junk(
    script: &Script,
    prefix: usize,
    flags: (bool, bool, bool),
    junk: &[Vec<u8>],
    deadline: bool,
) {
    let mut d = Driver::new(script.plan);
    (d.defer_tls, d.defer_auth, d.hold_body) = flags;
    for turn in &script.turns[..prefix.min(script.turns.len())] {
        let _ = d.input(turn.as_bytes());
    }
    let awaiting_tls = d.client.phase() == Phase::AwaitingTls;
    let mut first_junk = true;
    for chunk in junk {
        let r = d.input(chunk);
        if awaiting_tls && first_junk && !chunk.is_empty() {
            assert_eq!(r, Err(Error::Protocol(ProtocolError::DataAfterStartTls)));
        }
        first_junk &= chunk.is_empty();
        let _ = d.tick(Duration::from_millis(10));
    }
    if deadline && let Some(at) = d.client.poll_timeout() {
        let early = at
            .saturating_duration_since(d.now)
            .saturating_sub(Duration::from_millis(1));
        d.tick(early).unwrap();
        let r = d.tick(Duration::from_millis(1));
        assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    }
    d.finish();
}

// ----- properties ------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    /// (1) The same events and client bytes however the server's turns
    /// are cut into reads, with clock ticks in between.
    #[test]
    fn chunking_does_not_change_the_conversation(
        script in 0..SCRIPTS.len(),
        sizes in prop::collection::vec(1usize..24, 1..16),
        tick in any::<bool>(),
    ) {
        let script = &SCRIPTS[script];
        let whole = run_script(script, &[], false);
        let split = run_script(script, &sizes, tick);
        prop_assert_eq!(&split.0, &whole.0, "{}: events differ", script.name);
        prop_assert!(split.1 == whole.1, "{}: client bytes differ", script.name);
    }

    /// (2) Arbitrary server bytes after any valid prefix of any script.
    #[test]
    fn junk_after_any_prefix_is_handled(
        script in 0..SCRIPTS.len(),
        prefix in 0usize..12,
        flags in (any::<bool>(), any::<bool>(), any::<bool>()),
        junk in junk(),
        deadline in any::<bool>(),
    ) {
        run_junk(&SCRIPTS[script], prefix, flags, &junk, deadline);
    }

    /// (3) Any run of bytes without LF longer than a reply line may be is
    /// an error, wherever in the session it arrives.
    #[test]
    fn junk_without_lf_is_bounded(
        script in 0..SCRIPTS.len(),
        prefix in 0usize..12,
        byte in any::<u8>().prop_filter("no LF", |b| *b != b'\n'),
        chunk in 1usize..5000,
    ) {
        let script = &SCRIPTS[script];
        let mut d = Driver::new(script.plan);
        for turn in &script.turns[..prefix.min(script.turns.len())] {
            let _ = d.input(turn.as_bytes());
        }
        if d.client.is_closed() {
            return Ok(());
        }
        let junk = vec![byte; chunk];
        let mut fed = 0;
        while d.error.is_none() {
            prop_assert!(
                fed <= ParserConfig::DEFAULT_MAX_LINE_LEN,
                "{} bytes without LF accepted", fed
            );
            let _ = d.input(&junk);
            fed += chunk;
        }
        d.finish();
    }
}

// Specific prefixes named in the design, each with a fixed kind of junk.

fn script(name: &str) -> &'static Script {
    SCRIPTS.iter().find(|s| s.name == name).unwrap()
}

#[test]
fn bytes_after_starttls_220_are_fatal() {
    let s = script("STARTTLS and AUTH");
    for junk in [&b"2"[..], b"250 injected\r\n", b"\r\n", b"\x00"] {
        let mut d = Driver::new(s.plan);
        d.defer_tls = true;
        for turn in &s.turns[..3] {
            d.input(turn.as_bytes()).unwrap();
        }
        assert_eq!(d.client.phase(), Phase::AwaitingTls);
        let err = d.input(junk).unwrap_err();
        assert_eq!(err, Error::Protocol(ProtocolError::DataAfterStartTls));
        assert!(d.client.tls_established(d.now).is_err());
        d.finish();
    }
}

#[test]
fn junk_while_auth_waits_for_the_caller_is_fatal() {
    let s = script("STARTTLS and AUTH");
    let mut d = Driver::new(s.plan);
    d.defer_auth = true;
    for turn in &s.turns[..5] {
        d.input(turn.as_bytes()).unwrap();
    }
    assert!(d.log.last().unwrap().starts_with("AuthChallenge"));
    let err = d.input(b"235 too early\r\n").unwrap_err();
    assert!(
        matches!(err, Error::Protocol(ProtocolError::UnexpectedReply { .. })),
        "{err:?}"
    );
    d.finish();
}

#[test]
fn reply_while_the_body_is_open_is_fatal() {
    let s = script("lock-step");
    let mut d = Driver::new(s.plan);
    d.hold_body = true;
    for turn in &s.turns[..7] {
        d.input(turn.as_bytes()).unwrap();
    }
    assert!(d.body.is_some() && d.client.can_send_body());
    let err = d.input(b"552 too much\r\n").unwrap_err();
    assert!(
        matches!(err, Error::Protocol(ProtocolError::UnexpectedReply { .. })),
        "{err:?}"
    );
    assert!(!d.client.can_send_body());
    d.finish();
    assert!(
        d.log.iter().any(|l| l.contains("outcome: Aborted")),
        "{:#?}",
        d.log
    );
}

#[test]
fn eof_after_the_final_dot_leaves_the_outcome_unknown() {
    let s = script("lock-step");
    let mut d = Driver::new(s.plan);
    for turn in &s.turns[..7] {
        d.input(turn.as_bytes()).unwrap();
    }
    assert!(String::from_utf8_lossy(&d.sent).ends_with("\r\n.\r\n"));
    let _ = d.input(b"250 partial");
    let err = d.eof().unwrap_err();
    assert!(err.is_outcome_unknown(), "{err:?}");
    d.finish();
    assert!(
        d.log.iter().any(|l| l.contains("outcome: Unknown")),
        "{:#?}",
        d.log
    );
}

// ----- memory ---------------------------------------------------------------

const MB: usize = 1 << 20;

/// Feeds `total` bytes of `pattern` in reads of `read` bytes and returns
/// how many had been fed when the first error came.
fn feed_until_error(d: &mut Driver, pattern: &[u8], total: usize, read: usize) -> usize {
    let block: Vec<u8> = pattern.iter().copied().cycle().take(read).collect();
    let mut fed = 0;
    let mut failed_at = None;
    while fed < total {
        let r = d.input(&block);
        fed += read;
        if r.is_err() && failed_at.is_none() {
            failed_at = Some(fed);
        }
    }
    failed_at.expect("the junk was accepted")
}

#[test]
fn ten_megabytes_without_crlf_is_an_error_not_growth() {
    let limit = ParserConfig::DEFAULT_MAX_REPLY_LEN;
    for (name, prefix) in [
        ("lock-step", 0),
        ("lock-step", 2),
        ("lock-step", 7),
        ("STARTTLS and AUTH", 5),
        ("pipelining and chunking", 2),
    ] {
        let s = script(name);
        let mut d = Driver::new(s.plan);
        for turn in &s.turns[..prefix] {
            d.input(turn.as_bytes()).unwrap();
        }
        let at = feed_until_error(&mut d, b"x", 10 * MB, 64 * 1024);
        assert!(
            at <= 64 * 1024,
            "{name}/{prefix}: error only after {at} bytes"
        );
        let err = d.error.clone().unwrap();
        assert!(
            matches!(err, Error::Protocol(ProtocolError::MalformedReply(_))),
            "{err:?}"
        );
        d.finish();

        // Endless continuation lines: the reply limit, not memory, ends it.
        let mut d = Driver::new(s.plan);
        for turn in &s.turns[..prefix] {
            d.input(turn.as_bytes()).unwrap();
        }
        let at = feed_until_error(&mut d, b"250-continued forever\r\n", 10 * MB, 4096);
        assert!(
            at <= limit + 4096,
            "{name}/{prefix}: error only after {at} bytes"
        );
        d.finish();
    }
}

#[test]
fn a_byte_at_a_time_drip_is_bounded() {
    let s = script("lock-step");
    let mut d = Driver::new(s.plan);
    let at = feed_until_error(&mut d, b"220 ", 100 * 1024, 1);
    assert!(
        at <= ParserConfig::DEFAULT_MAX_LINE_LEN + 1,
        "error after {at} bytes"
    );
    d.finish();
}
