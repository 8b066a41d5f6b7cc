//! The driver: runs one [`Session`] operation to its result over a
//! blocking socket. It does four things and decides nothing:
//!
//! 1. writes what the session has for the wire (one `write_all` per
//!    drain, bounded by `Timeouts::data_block`), so pipelined commands
//!    leave in one TCP segment;
//! 2. reads, with the socket's read timeout set to the session's deadline
//!    (only when that changes), and hands the bytes, the end of file or
//!    the timeout to the session;
//! 3. runs the TLS handshake when the session asks for it;
//! 4. hands over body bytes from the caller's source, and the caller's
//!    AUTH answers, when the session asks for them.
//!
//! The driver keeps no read-ahead buffer of its own: every byte read goes
//! to the session at once. So when the session asks for the handshake
//! (which the engine does only with its own buffer empty), nothing
//! received in plaintext is left anywhere to be mistaken for TLS-protected
//! input.

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use smtp_proto::auth::Authenticator;
use smtp_proto::session::{Action, BODY_CHUNK, Error, FromOutput, Session};

use crate::transport::Transport;

const READ_BUF: usize = 16 * 1024;

/// The shortest socket timeout: zero would mean "no timeout" to std.
pub(crate) const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// What an operation is fed: [`smtp_proto::session::Feed`] with this
/// driver's body source (`std::io::Empty` when there is none) and the
/// caller's authenticator.
pub(crate) type Feed<'a, R = std::io::Empty> =
    smtp_proto::session::Feed<'a, R, dyn Authenticator + 'a>;

/// The driver's clock.
pub(crate) fn now() -> Instant {
    Instant::now()
}

/// A connection and its session.
#[derive(Debug)]
pub(crate) struct Driver {
    pub(crate) session: Session,
    transport: Option<Transport>,
    out: Vec<u8>,
    buf: Vec<u8>,
    chunk: Vec<u8>,
    /// How to start TLS (STARTTLS): the connector's settings and the name
    /// to verify.
    tls: crate::tls::Plan,
    /// The read timeout the socket has now (`None`: not known, e.g. after
    /// the TLS handshake set its own).
    read_timeout: Option<Option<Duration>>,
}

impl Driver {
    pub(crate) fn new(
        session: Session,
        transport: Transport,
        tls: crate::tls::Plan,
    ) -> Result<Driver, Error> {
        let block = session.engine().config().timeouts.data_block;
        transport
            .base()
            .set_write_timeout(Some(block.max(MIN_TIMEOUT)))?;
        Ok(Driver {
            session,
            transport: Some(transport),
            out: Vec::with_capacity(READ_BUF),
            buf: vec![0; READ_BUF],
            chunk: Vec::new(),
            tls,
            read_timeout: None,
        })
    }

    /// Runs the operation just started on the session to its result.
    pub(crate) fn run<T: FromOutput, R: Read>(
        &mut self,
        mut feed: Feed<'_, R>,
    ) -> Result<T, Error> {
        loop {
            self.flush_trace();
            if !self.session.is_awaiting_reply() {
                // Anything the server sent meanwhile reaches the engine
                // before a new command goes out (a stray reply must not be
                // taken for that command's).
                self.read_pending();
            }
            let action = self.session.poll_action(Instant::now());
            if self.flush() {
                // The events behind `action` queued commands: written now,
                // so ask again (the deadlines start with the write).
                continue;
            }
            match action {
                Action::Done => break,
                Action::Read => self.read_once(),
                Action::StartTls => self.start_tls(),
                Action::Body { index } => {
                    if let Some(source) = self.session.feed_body(&mut feed.bodies, index) {
                        self.chunk.resize(BODY_CHUNK, 0);
                        let read = read_full(source, &mut self.chunk);
                        self.session.push_read(read, &self.chunk);
                    }
                }
                Action::AuthAnswer => self.session.answer_with(feed.auth.as_deref_mut()),
                other => self.session.abort_unknown(other),
            }
        }
        let result = self.session.take_output();
        self.flush_trace();
        if !self.session.is_connected() {
            self.close();
        }
        result
    }

    /// Closes the socket after QUIT (the same as [`close`](Self::close)
    /// here: a blocking close does not wait).
    pub(crate) fn shutdown(&mut self) {
        self.close();
    }

    /// Writes the session's trace (if tracing is on) to stderr; a closed
    /// stderr changes nothing.
    fn flush_trace(&mut self) {
        if let Some(text) = self.session.take_trace() {
            let _ = std::io::Write::write_all(&mut std::io::stderr(), text);
        }
    }

    /// Closes the socket (after a TLS close_notify when possible).
    pub(crate) fn close(&mut self) {
        self.session.close();
        if let Some(mut t) = self.transport.take() {
            t.close();
        }
    }

    /// Writes everything the session has for the wire; whether there was
    /// anything.
    fn flush(&mut self) -> bool {
        let mut wrote = false;
        loop {
            self.out.clear();
            if self
                .session
                .poll_transmit(Instant::now(), &mut self.out)
                .is_none()
            {
                return wrote;
            }
            wrote = true;
            let Some(t) = self.transport.as_mut() else {
                let e = std::io::Error::new(ErrorKind::NotConnected, "the connection is closed");
                self.session.handle_io_error(Instant::now(), e);
                return true;
            };
            if let Err(e) = t.write_all(&self.out).and_then(|()| t.flush()) {
                // A server that refuses a body early (552) and closes, or
                // stops reading, breaks our write; its reply is the news.
                self.read_pending();
                self.session.handle_io_error(Instant::now(), e);
                return true;
            }
        }
    }

    /// Hands what the server has already sent to the session, without
    /// waiting. Caller-supplied streams, which cannot be made non-blocking,
    /// are skipped.
    fn read_pending(&mut self) {
        let Some(t) = self.transport.as_mut() else {
            return;
        };
        if t.base().set_nonblocking(true).is_err() {
            return;
        }
        let result = t.read(&mut self.buf);
        let restored = t.base().set_nonblocking(false);
        let n = match result {
            Ok(n) if n > 0 => n,
            _ => return,
        };
        let bytes = self.buf.get(..n).unwrap_or_default();
        self.session.handle_input(Instant::now(), bytes);
        if let Err(e) = restored {
            // A socket stuck in non-blocking mode would turn every later
            // read into a spurious timeout; treat it as broken.
            self.session.handle_io_error(Instant::now(), e);
        }
    }

    /// One read, bounded by the session's deadline.
    fn read_once(&mut self) {
        let now = Instant::now();
        // No deadline at all only when the timeouts are too large to add
        // to the clock (Duration::MAX): then the read waits unbounded.
        let wait = self
            .session
            .poll_timeout()
            .map(|d| d.saturating_duration_since(now).max(MIN_TIMEOUT));
        let Some(t) = self.transport.as_mut() else {
            return self.session.handle_eof(now);
        };
        if self.read_timeout != Some(wait) {
            if let Err(e) = t.base().set_read_timeout(wait) {
                return self.session.handle_io_error(now, e);
            }
            self.read_timeout = Some(wait);
        }
        let result = t.read(&mut self.buf);
        let now = Instant::now();
        match result {
            Ok(0) => {
                self.session.handle_eof(now);
            }
            Ok(n) => {
                let bytes = self.buf.get(..n).unwrap_or_default();
                self.session.handle_input(now, bytes);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                self.session.handle_timeout(now);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => self.session.handle_io_error(now, e),
        }
    }

    /// The handshake on the raw transport, then `tls_established`.
    fn start_tls(&mut self) {
        let Some(Transport::Plain(base)) = self.transport.take() else {
            let e = Error::NotSupported("TLS is already active".to_owned());
            return self.session.tls_failed(e);
        };
        let timeouts = self.session.engine().config().timeouts;
        let note = format!("TLS handshake, verifying {:?}", self.tls.name);
        self.session.trace_note(&note, now());
        self.read_timeout = None;
        let transport = match crate::tls::handshake(&self.tls, base, timeouts.command) {
            Ok(t) => t,
            Err(e) => return self.session.tls_failed(e),
        };
        if let Err(e) = transport
            .base()
            .set_write_timeout(Some(timeouts.data_block.max(MIN_TIMEOUT)))
        {
            return self.session.tls_failed(Error::Io(e));
        }
        self.transport = Some(transport);
        self.session.tls_established(Instant::now());
    }
}

/// Reads until `buf` is full or the source ends (a short result means the
/// end, so the last piece and the end of data leave in one write).
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    loop {
        let Some(rest) = buf.get_mut(filled..).filter(|r| !r.is_empty()) else {
            return Ok(filled);
        };
        match r.read(rest) {
            Ok(0) => return Ok(filled),
            Ok(n) => filled = filled.saturating_add(n),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
