//! The run loop: moves bytes between the socket and `smtp_proto::Client`,
//! turns the engine's deadline into socket timeouts, and performs the TLS
//! handshake when the engine asks for it. No protocol decision is made
//! here; every reply is interpreted by the engine.
//!
//! One [`Driver::step`] is the engine's run-loop contract, in order:
//!
//! 1. drain `poll_transmit` into one buffer and write it with one
//!    `write_all` (bounded by `Timeouts::data_block`): several pipelined
//!    commands leave in one TCP segment;
//! 2. return the next `poll_event`, if any (after performing the handshake
//!    for `StartTlsReady`);
//! 3. otherwise set the read timeout to the time left until `poll_timeout`
//!    (at least 1 ms), read once, and feed the result to `handle_input`,
//!    `handle_eof` or `handle_timeout`.
//!
//! The driver keeps no read-ahead buffer of its own: every byte read goes
//! to the engine at once. So when the engine reports `StartTlsReady` (which
//! it does only with its own buffer empty), nothing received in plaintext
//! is left anywhere to be mistaken for TLS-protected input.

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant, SystemTime};

use smtp_proto::{Client, Event, Stage};

use crate::Error;
use crate::debug::{Sent, Trace};
use crate::tls::TlsSettings;
use crate::transport::Transport;

const READ_BUF: usize = 16 * 1024;

/// A connection and its engine.
#[derive(Debug)]
pub(crate) struct Driver {
    pub(crate) client: Client,
    transport: Option<Transport>,
    out: Vec<u8>,
    buf: Vec<u8>,
    pub(crate) trace: Trace,
    /// Set by the first fatal error: its description.
    poisoned: Option<String>,
    /// The session ended normally (QUIT, refused greeting, peer closed
    /// while idle) or was closed by the caller.
    closed: bool,
    /// How to build the TLS layer for STARTTLS, and the name to verify.
    tls: Option<(TlsSettings, String)>,
    /// What the next write carries, for the trace.
    pub(crate) sending: Sent,
    /// A wall-clock bound tighter than the engine's deadlines (QUIT on
    /// drop must not block for the engine's five minutes).
    pub(crate) cap: Option<Instant>,
}

impl Driver {
    pub(crate) fn new(
        client: Client,
        transport: Transport,
        tls: Option<(TlsSettings, String)>,
        trace: Trace,
    ) -> Result<Driver, Error> {
        transport
            .base()
            .set_write_timeout(Some(client.config().timeouts.data_block.max(MIN_TIMEOUT)))?;
        Ok(Driver {
            client,
            transport: Some(transport),
            out: Vec::with_capacity(READ_BUF),
            buf: vec![0; READ_BUF],
            trace,
            poisoned: None,
            closed: false,
            tls,
            sending: Sent::Commands,
            cap: None,
        })
    }

    /// Fails with the reason the connection cannot be used, if it cannot.
    pub(crate) fn check_usable(&self) -> Result<(), Error> {
        if let Some(cause) = &self.poisoned {
            return Err(Error::Poisoned {
                cause: cause.clone(),
            });
        }
        if self.closed || self.transport.is_none() {
            return Err(Error::ServerDisconnected { stage: None });
        }
        Ok(())
    }

    pub(crate) fn is_open(&self) -> bool {
        self.poisoned.is_none() && !self.closed && self.transport.is_some()
    }

    /// Records a fatal error, closes the socket, and returns the error.
    pub(crate) fn fail<T>(&mut self, e: Error) -> Result<T, Error> {
        if self.poisoned.is_none() {
            self.poisoned = Some(e.to_string());
            self.trace.note(&format!("fatal: {e}"), SystemTime::now());
        }
        if let Some(mut t) = self.transport.take() {
            t.close();
        }
        Err(e)
    }

    /// Closes the socket without a word (smtplib's `close`).
    pub(crate) fn close(&mut self) {
        self.closed = true;
        if let Some(mut t) = self.transport.take() {
            t.close();
        }
    }

    /// Step 1: writes everything the engine has for the wire, in one
    /// `write_all` per drain.
    pub(crate) fn flush(&mut self) -> Result<(), Error> {
        loop {
            self.out.clear();
            if self.client.poll_transmit(Instant::now(), &mut self.out) == 0 {
                return Ok(());
            }
            self.trace.sent(&self.out, self.sending, SystemTime::now());
            let Some(t) = self.transport.as_mut() else {
                return Err(Error::ServerDisconnected { stage: None });
            };
            if let Err(e) = t.write_all(&self.out).and_then(|()| t.flush()) {
                // A server that refuses a body early (552) and closes, or
                // stops reading, breaks our write; its reply is the news.
                if let Some(engine) = self.read_pending() {
                    return self.fail(Error::from_engine(engine));
                }
                let body = self.sending == Sent::Body;
                return self.io_failed(e, body);
            }
            if self.sending == Sent::Secret {
                self.sending = Sent::Commands;
            }
        }
    }

    /// One turn of the loop: the next event, reading as needed.
    pub(crate) fn step(&mut self) -> Result<Event, Error> {
        self.check_usable()?;
        loop {
            // Nothing outstanding: anything the server sent meanwhile must
            // reach the engine before a new command goes out, or a stray
            // reply would be taken for that command's (DESIGN §8.6).
            if self.client.poll_timeout().is_none()
                && let Some(engine) = self.read_pending()
            {
                return self.fail(Error::from_engine(engine));
            }
            self.flush()?;
            if let Some(event) = self.client.poll_event() {
                return self.on_event(event);
            }
            if let Some(e) = self.client.error() {
                let e = Error::from_engine(e.clone());
                return self.fail(e);
            }
            if self.client.is_closed() {
                self.close();
                return Err(Error::ServerDisconnected { stage: None });
            }
            self.read_once()?;
        }
    }

    fn on_event(&mut self, event: Event) -> Result<Event, Error> {
        match &event {
            Event::StartTlsReady { .. } => self.start_tls()?,
            Event::Closed { .. } => {
                // Later events (none are expected) stay queued for callers
                // that drain them; the socket is done.
                self.closed = true;
                if let Some(mut t) = self.transport.take() {
                    t.close();
                }
            }
            _ => {}
        }
        Ok(event)
    }

    /// Reads what the server has already sent, without waiting, and hands
    /// it to the engine; returns the engine's error if the bytes caused one.
    /// EOF, `WouldBlock` and read errors are left to the normal read path.
    /// Caller-supplied streams, which cannot be made non-blocking, are
    /// skipped.
    fn read_pending(&mut self) -> Option<smtp_proto::Error> {
        let t = self.transport.as_mut()?;
        t.base().set_nonblocking(true).ok()?;
        let result = t.read(&mut self.buf);
        let restored = t.base().set_nonblocking(false);
        let n = match result {
            Ok(n) if n > 0 => n,
            _ => return None,
        };
        if restored.is_err() {
            // A socket stuck in non-blocking mode would turn every later
            // read into a spurious timeout; treat it as broken.
            return Some(smtp_proto::Error::PeerClosed {
                stage: self.client.stage(),
            });
        }
        let bytes = self.buf.get(..n).unwrap_or_default();
        self.trace.received(bytes, SystemTime::now());
        self.client.handle_input(Instant::now(), bytes).err()
    }

    fn read_once(&mut self) -> Result<(), Error> {
        let fallback = self.client.config().timeouts.command;
        let deadline = self.client.poll_timeout();
        let mut wait = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()),
            None => fallback,
        };
        if let Some(cap) = self.cap {
            let left = cap.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return self.fail(Error::Timeout { stage: None });
            }
            wait = wait.min(left);
        }
        let wait = wait.max(MIN_TIMEOUT);
        let Some(t) = self.transport.as_mut() else {
            return Err(Error::ServerDisconnected { stage: None });
        };
        if let Err(e) = t.base().set_read_timeout(Some(wait)) {
            return self.io_failed(e, false);
        }
        let result = t.read(&mut self.buf);
        let now = Instant::now();
        let handled = match result {
            Ok(0) => {
                self.trace
                    .note("connection closed by the server", SystemTime::now());
                self.client.handle_eof(now)
            }
            Ok(n) => {
                let bytes = self.buf.get(..n).unwrap_or_default();
                self.trace.received(bytes, SystemTime::now());
                self.client.handle_input(now, bytes)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if deadline.is_none() || self.cap.is_some_and(|c| now >= c) {
                    // Nothing was expected and nothing came: a caller bug
                    // or a silent server; bounded either way.
                    return self.fail(Error::Timeout { stage: None });
                }
                self.client.handle_timeout(now)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(()),
            Err(e) => return self.io_failed(e, false),
        };
        match handled {
            Ok(()) => Ok(()),
            Err(e) => self.fail(Error::from_engine(e)),
        }
    }

    /// A socket error: the engine is told the connection is gone (so that
    /// transactions are reported, `Unknown` after the end of data), and the
    /// error is returned, as "outcome unknown" when the engine says so.
    fn io_failed<T>(&mut self, e: std::io::Error, body: bool) -> Result<T, Error> {
        let timeout = matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut);
        let engine = self.client.handle_eof(Instant::now()).err();
        let unknown = engine
            .as_ref()
            .is_some_and(smtp_proto::Error::is_outcome_unknown);
        let stage = engine
            .as_ref()
            .and_then(smtp_proto::Error::stage)
            .or(body.then_some(Stage::Body));
        let err = if timeout {
            Error::Timeout { stage }
        } else {
            Error::Io(e)
        };
        if unknown && !body {
            return self.fail(Error::OutcomeUnknown {
                cause: Box::new(err),
            });
        }
        self.fail(err)
    }

    /// `StartTlsReady`: the handshake on the raw transport, then
    /// `tls_established`. The engine has checked that nothing followed the
    /// 220; this driver holds no bytes of its own (see the module docs).
    fn start_tls(&mut self) -> Result<(), Error> {
        let Some((settings, name)) = self.tls.clone() else {
            let e = Error::NotSupported("TLS is not configured".to_owned());
            return self.fail(e);
        };
        let connector = match settings.connector() {
            Ok(c) => c,
            Err(e) => return self.fail(e),
        };
        let Some(Transport::Plain(base)) = self.transport.take() else {
            return self.fail(Error::NotSupported("TLS is already active".to_owned()));
        };
        let timeouts = self.client.config().timeouts;
        self.trace.note(
            &format!("TLS handshake, verifying {name:?}"),
            SystemTime::now(),
        );
        let transport = match crate::tls::handshake(&connector, &name, base, timeouts.command) {
            Ok(t) => t,
            Err(e) => return self.fail(e),
        };
        if let Err(e) = transport
            .base()
            .set_write_timeout(Some(timeouts.data_block.max(MIN_TIMEOUT)))
        {
            return self.fail(Error::Io(e));
        }
        self.transport = Some(transport);
        self.trace.note("TLS established", SystemTime::now());
        if let Err(e) = self.client.tls_established(Instant::now()) {
            return self.fail(Error::Usage(e));
        }
        Ok(())
    }
}

/// The shortest socket timeout: zero would mean "no timeout" to std.
const MIN_TIMEOUT: Duration = Duration::from_millis(1);
