//! A session on a warm connection to an in-memory server that answers
//! PIPELINING and CHUNKING commands, or DATA without CHUNKING (and offers
//! SIZE, so MAIL carries `SIZE=`): no sockets, no clock, so what it
//! counts or times is the engine alone. Shared by `tests/alloc.rs` and
//! `benches/session.rs`.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::Instant;

use smtp_proto::session::{Action, Options, Session, TlsPolicy};
use smtp_proto::{BodyOptions, Domain, Envelope, ForwardPath, ReversePath, TxnReport};

/// An in-memory server: answers each command line the client wrote,
/// skips BDAT data, and without CHUNKING takes DATA up to its end.
pub struct Server {
    input: Vec<u8>,
    skip: usize,
    /// Inside a DATA body: looking for the end of data.
    in_data: bool,
    chunking: bool,
    out: Vec<u8>,
}

impl Server {
    fn take(&mut self, wire: &[u8]) {
        self.input.extend_from_slice(wire);
        let mut at = 0;
        loop {
            if self.in_data {
                let Some(end) = self.input[at..].windows(5).position(|w| w == b"\r\n.\r\n") else {
                    // Keep the last bytes: the end may straddle two writes.
                    at = self.input.len().saturating_sub(4).max(at);
                    break;
                };
                at += end + 5;
                self.in_data = false;
                self.out
                    .extend_from_slice(b"250 2.0.0 Ok: queued as 4BcD3fGh1jK\r\n");
                continue;
            }
            if self.skip > 0 {
                let n = self.skip.min(self.input.len() - at);
                self.skip -= n;
                at += n;
                if self.skip > 0 {
                    break;
                }
            }
            let Some(end) = self.input[at..].windows(2).position(|w| w == b"\r\n") else {
                break;
            };
            let line = &self.input[at..at + end];
            at += end + 2;
            if let Some(rest) = line.strip_prefix(b"BDAT ") {
                let n: usize = std::str::from_utf8(rest.split(|b| *b == b' ').next().unwrap())
                    .unwrap()
                    .parse()
                    .unwrap();
                self.skip = n;
                self.out
                    .extend_from_slice(b"250 2.0.0 Ok: queued as 4BcD3fGh1jK\r\n");
            } else if line == b"DATA" {
                self.in_data = true;
                self.out
                    .extend_from_slice(b"354 End data with <CR><LF>.<CR><LF>\r\n");
            } else if line.starts_with(b"EHLO") {
                self.out
                    .extend_from_slice(b"250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n");
                if self.chunking {
                    self.out.extend_from_slice(b"250-CHUNKING\r\n");
                }
                self.out.extend_from_slice(b"250 8BITMIME\r\n");
            } else if line.starts_with(b"MAIL") {
                self.out.extend_from_slice(b"250 2.1.0 Ok\r\n");
            } else if line.starts_with(b"RCPT") {
                self.out.extend_from_slice(b"250 2.1.5 Ok\r\n");
            } else {
                panic!("unexpected {:?}", String::from_utf8_lossy(line));
            }
        }
        self.input.drain(..at);
    }
}

pub struct Run {
    pub session: Session,
    pub server: Server,
    pub wire: Vec<u8>,
    pub now: Instant,
}

impl Run {
    /// A session to a server offering CHUNKING.
    pub fn new() -> Run {
        Run::with_chunking(true)
    }

    /// A session to a server offering CHUNKING or not (then DATA).
    pub fn with_chunking(chunking: bool) -> Run {
        let mut options = Options::default();
        options.tls_policy = Some(TlsPolicy::Disabled);
        let now = Instant::now();
        let local = Domain::parse("client.test").unwrap();
        let mut run = Run {
            session: Session::connect(&options, local, false, now),
            server: Server {
                input: Vec::with_capacity(1 << 16),
                skip: 0,
                in_data: false,
                chunking,
                out: Vec::with_capacity(1 << 16),
            },
            wire: Vec::with_capacity(1 << 16),
            now,
        };
        run.session.handle_input(now, b"220 mx.test ESMTP\r\n");
        run.drive(&mut [], |_| {});
        run.session.take_output::<()>().unwrap();
        run
    }

    /// Runs the operation to its end; `bodies[i]` is message i's body.
    pub fn drive(&mut self, bodies: &mut [&[u8]], mut on_wire: impl FnMut(&[u8])) {
        for _ in 0..1_000_000 {
            let action = self.session.poll_action(self.now);
            if self
                .session
                .poll_transmit(self.now, &mut self.wire)
                .is_some()
            {
                continue;
            }
            match action {
                Action::Body { index } => self.session.push_slice(&mut bodies[index]),
                Action::Read => {
                    if !self.wire.is_empty() {
                        on_wire(&self.wire);
                        self.server.take(&self.wire);
                        self.wire.clear();
                    }
                    if self.server.out.is_empty() {
                        return;
                    }
                    self.session.handle_input(self.now, &self.server.out);
                    self.server.out.clear();
                }
                Action::Done => return,
                other => panic!("{other:?}"),
            }
        }
        panic!("no progress");
    }

    pub fn send(&mut self, envelope: &Envelope, body: &[u8]) -> TxnReport {
        self.session
            .send(self.now, envelope, BodyOptions::for_body(body));
        self.drive(&mut [body], |_| {});
        self.session.take_output().unwrap()
    }
}

/// An envelope from `sender@example.org` to `rcpts` recipients.
pub fn envelope(rcpts: usize) -> Envelope {
    Envelope::new(
        ReversePath::parse("sender@example.org").unwrap(),
        (0..rcpts).map(|i| ForwardPath::parse(&format!("rcpt{i}@example.net")).unwrap()),
    )
}

/// A small message.
pub const BODY: &[u8] =
    b"From: sender@example.org\r\nTo: rcpt@example.net\r\nSubject: test\r\n\r\nhello\r\n";
