//! The transcript runner shared by the engine tests.
//!
//! A test reads like an RFC example: server bytes in, client bytes expected
//! out, events expected, virtual time advanced. The [`transcript!`] macro
//! runs every test twice, once feeding each server chunk whole and once
//! byte by byte, and requires the two event logs to be identical.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use smtp_proto::{Client, Config, Error, Event};

/// Drives one client through a transcript with a virtual clock.
pub struct Harness {
    pub client: Client,
    pub start: Instant,
    pub now: Instant,
    bytewise: bool,
    sent: Vec<u8>,
    events: VecDeque<Event>,
    /// Every event and error in order, as `Debug` text: compared between the
    /// whole and the byte-by-byte run.
    pub log: Vec<String>,
}

impl Harness {
    pub fn new(config: Config, bytewise: bool) -> Self {
        let start = Instant::now();
        let mut h = Self {
            client: Client::new(config, start),
            start,
            now: start,
            bytewise,
            sent: Vec::new(),
            events: VecDeque::new(),
            log: Vec::new(),
        };
        h.drain();
        h
    }

    /// The run-loop contract: transmit, then events.
    fn drain(&mut self) {
        loop {
            let n = self.client.poll_transmit(self.now, &mut self.sent);
            let mut got = false;
            while let Some(e) = self.client.poll_event() {
                self.log.push(format!("{e:?}"));
                self.events.push_back(e);
                got = true;
            }
            if n == 0 && !got {
                break;
            }
        }
    }

    /// Drains first, then logs the error: events the input produced come
    /// before the error in the log, whether the input came whole or byte by
    /// byte.
    fn record(&mut self, r: Result<(), Error>) -> Result<(), Error> {
        self.drain();
        if let Err(e) = &r {
            self.log.push(format!("error: {e:?}"));
        }
        r
    }

    /// Feeds server bytes (whole, or one byte per call in byte-wise mode).
    pub fn server(&mut self, bytes: impl AsRef<[u8]>) -> Result<(), Error> {
        let bytes = bytes.as_ref();
        let r = if self.bytewise {
            let mut r = Ok(());
            for b in bytes {
                r = self.client.handle_input(self.now, std::slice::from_ref(b));
                self.drain();
                if r.is_err() {
                    break;
                }
            }
            r
        } else {
            self.client.handle_input(self.now, bytes)
        };
        self.record(r)
    }

    /// Feeds server bytes that must be accepted.
    pub fn server_ok(&mut self, bytes: impl AsRef<[u8]>) {
        let text = String::from_utf8_lossy(bytes.as_ref()).into_owned();
        if let Err(e) = self.server(bytes) {
            panic!("server bytes {text:?} failed: {e:?}");
        }
    }

    pub fn eof(&mut self) -> Result<(), Error> {
        let r = self.client.handle_eof(self.now);
        self.record(r)
    }

    /// Advances the virtual clock and reports the time to the client.
    pub fn advance(&mut self, d: Duration) -> Result<(), Error> {
        self.now += d;
        let r = self.client.handle_timeout(self.now);
        self.record(r)
    }

    /// Runs a command (or any call) on the client, then drains.
    pub fn cmd<T>(&mut self, f: impl FnOnce(&mut Client) -> T) -> T {
        let r = f(&mut self.client);
        self.drain();
        r
    }

    /// Everything the client sent since the last call.
    pub fn sent(&mut self) -> String {
        self.drain();
        String::from_utf8_lossy(&std::mem::take(&mut self.sent)).into_owned()
    }

    pub fn sent_bytes(&mut self) -> Vec<u8> {
        self.drain();
        std::mem::take(&mut self.sent)
    }

    pub fn expect_sent(&mut self, expected: &str) {
        assert_eq!(self.sent(), expected, "client bytes");
    }

    /// The next event; panics if there is none.
    pub fn event(&mut self) -> Event {
        self.drain();
        self.events
            .pop_front()
            .unwrap_or_else(|| panic!("expected an event; log: {:#?}", self.log))
    }

    pub fn events(&mut self) -> Vec<Event> {
        self.drain();
        self.events.drain(..).collect()
    }

    pub fn no_event(&mut self) {
        self.drain();
        assert!(
            self.events.is_empty(),
            "unexpected events: {:?}",
            self.events
        );
    }

    /// Time left until the client's deadline.
    pub fn deadline_in(&self) -> Option<Duration> {
        self.client.poll_timeout().map(|d| d - self.now)
    }

    /// Greeting plus EHLO with the given capability lines; the events are
    /// consumed. Returns the harness ready for commands.
    pub fn ready(&mut self, caps: &[&str]) {
        self.server_ok("220 mx.example.org ESMTP ready\r\n");
        assert!(matches!(self.event(), Event::Greeting { .. }));
        let hello = self.sent();
        assert!(
            hello == "EHLO localhost\r\n" || hello == "LHLO localhost\r\n",
            "{hello:?}"
        );
        self.server_ok(ehlo_reply(caps));
        match self.event() {
            Event::Hello { reply, .. } => assert!(reply.code().is_positive_completion()),
            e => panic!("expected Hello, got {e:?}"),
        }
    }
}

impl Harness {
    /// Delivers one message with BDAT on a ready CHUNKING connection, so
    /// that the connection is known to take chunks behind unanswered
    /// MAIL/RCPT (the engine's rule 7): the first message of a connection
    /// waits for its envelope's replies before its data goes out.
    pub fn warm(&mut self) {
        let env = smtp_proto::Envelope::new(
            smtp_proto::ReversePath::parse("warm@b.example").unwrap(),
            [smtp_proto::ForwardPath::parse("warm@d.example").unwrap()],
        );
        let _ = self
            .cmd(|c| c.send_mail(&env, smtp_proto::BodyOptions::default()))
            .unwrap();
        assert_eq!(
            self.sent(),
            "MAIL FROM:<warm@b.example>\r\nRCPT TO:<warm@d.example>\r\n",
            "the first message's data waits for its envelope's replies"
        );
        self.server_ok("250 ok\r\n250 ok\r\n");
        let _ = self.events();
        self.cmd(|c| c.send_body(b"w\r\n")).unwrap();
        self.cmd(|c| c.finish_body()).unwrap();
        assert_eq!(self.sent(), "BDAT 3 LAST\r\nw\r\n");
        self.server_ok("250 queued\r\n");
        match self.events().last() {
            Some(Event::TransactionFinished { report, .. }) => {
                assert_eq!(report.outcome, smtp_proto::TxnOutcome::Delivered)
            }
            other => panic!("expected TransactionFinished, got {other:?}"),
        }
    }
}

/// A multi-line EHLO reply: greeting line plus one line per capability.
pub fn ehlo_reply(caps: &[&str]) -> String {
    let mut s = String::new();
    if caps.is_empty() {
        return "250 mx.example.org\r\n".to_owned();
    }
    s.push_str("250-mx.example.org\r\n");
    for (i, c) in caps.iter().enumerate() {
        let sep = if i + 1 == caps.len() { ' ' } else { '-' };
        s.push_str(&format!("250{sep}{c}\r\n"));
    }
    s
}

/// Defines a test that runs `$body` twice (whole and byte by byte) and
/// requires both runs to produce the same event log.
#[macro_export]
macro_rules! transcript {
    ($name:ident, $config:expr, |$t:ident| $body:block) => {
        #[test]
        fn $name() {
            let run = |bytewise: bool| {
                let mut harness = $crate::common::Harness::new($config, bytewise);
                {
                    let $t = &mut harness;
                    $body
                }
                harness.log
            };
            let whole = run(false);
            let bytewise = run(true);
            assert_eq!(whole, bytewise, "whole vs byte-by-byte event logs differ");
        }
    };
}

/// A reply as the server would send it: `reply(250, &["a", "b"])` is
/// `250-a\r\n250 b\r\n` after parsing.
pub fn reply(code: u16, lines: &[&str]) -> smtp_proto::Reply {
    let code = smtp_proto::ReplyCode::new(code).expect("valid reply code");
    smtp_proto::Reply::new(code, lines.iter().map(|l| l.as_bytes().to_vec()).collect())
}

impl Harness {
    /// Like [`Harness::server`], but logs the events that input caused
    /// before its error, in both modes. (`server` logs the error first when
    /// fed whole and last when fed byte by byte, so a test whose input both
    /// reports events and fails, e.g. a 421 reply, needs this one.)
    pub fn feed(&mut self, bytes: impl AsRef<[u8]>) -> Result<(), Error> {
        let bytes = bytes.as_ref();
        let chunks: Vec<&[u8]> = if self.bytewise && !bytes.is_empty() {
            bytes.chunks(1).collect()
        } else {
            vec![bytes]
        };
        let mut r = Ok(());
        for chunk in chunks {
            r = self.client.handle_input(self.now, chunk);
            self.drain();
            if r.is_err() {
                break;
            }
        }
        if let Err(e) = &r {
            self.log.push(format!("error: {e:?}"));
        }
        r
    }
}
