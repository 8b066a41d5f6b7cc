//! The driver: runs one [`Session`] operation to its result over a
//! blocking socket. It does four things and decides nothing:
//!
//! 1. writes what the session has for the wire (one `write_all` per
//!    drain, bounded by `Timeouts::data_block`), so pipelined commands
//!    leave in one TCP segment;
//! 2. reads, with a socket read timeout that never reaches past the
//!    session's deadline, and hands the bytes, the end of file or the
//!    timeout to the session;
//! 3. runs the TLS handshake when the session asks for it;
//! 4. hands over body bytes from the caller's source, and the caller's
//!    AUTH answers, when the session asks for them.
//!
//! The driver keeps no read-ahead buffer of its own: every byte read goes
//! to the session at once. So when the session asks for the handshake
//! (which the engine does only with its own buffer empty), nothing
//! received in plaintext is left anywhere to be mistaken for TLS-protected
//! input.
//!
//! # System calls
//!
//! On a warm connection a message costs one write per drain and the reads
//! its replies need, plus at most one non-blocking look at the socket per
//! operation (and one more before each piece of a body read from the
//! caller's source):
//!
//! - **The read timeout** is set only when the one the socket has would
//!   reach past the session's deadline, or is far shorter than the wait
//!   (see [`socket_timeout`]). A read that times out before the deadline
//!   is simply repeated: the session, not the socket, decides when time is
//!   up. Without this slack every read would set a new timeout, since the
//!   time left differs on every read.
//! - **The look at pending input** (see [`Driver::read_pending`]) is one
//!   `recv(MSG_PEEK | MSG_DONTWAIT)`, not a switch to non-blocking mode and
//!   back, and is skipped when a read that just emptied the socket left
//!   nothing to look for.
//! - **A body piece** is handed to the session before the commands queued
//!   ahead of it are written, so that with BDAT and PIPELINING the
//!   envelope, the BDAT command and the piece leave in one write whenever
//!   the engine lets the piece follow the envelope at once.

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use smtp_proto::auth::Authenticator;
use smtp_proto::session::{Action, BODY_CHUNK, Error, FromOutput, Session};

use crate::transport::{Transport, Waiting};

const READ_BUF: usize = 16 * 1024;
/// Reads of waiting input after a failed write before the failure is
/// reported: 64 × [`READ_BUF`] is more than any socket's receive buffer
/// holds by default.
const PENDING_READS: usize = 64;

/// The shortest socket timeout: zero would mean "no timeout" to std.
pub(crate) const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// A socket read timeout is kept while it is at least this fraction of the
/// time left: then a long wait wakes the reader at most this many times
/// before the time left falls under it, while the command deadlines of a
/// message (a minute for MAIL, ten for the end of data by default) all
/// share one timeout.
const KEEP_RATIO: u32 = 16;

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
        // Everything the server sent has reached the session, as of a
        // moment since which only the session's own work ran (a read that
        // emptied the socket, a look that found nothing): the next look
        // would find nothing it could not have missed by a microsecond
        // anyway. Never so at the start: the caller's time since the last
        // operation is not the session's.
        let mut caught_up = false;
        // A body piece went to the session and has not been written yet.
        let mut body_unwritten = false;
        loop {
            self.flush_trace();
            if !caught_up && !self.session.is_awaiting_reply() {
                // Anything the server sent meanwhile reaches the engine
                // before a new command goes out (a stray reply must not be
                // taken for that command's). `poll_action` below puts the
                // queued commands in flight, so the look comes first.
                caught_up = self.read_pending();
            }
            // One clock read serves the poll and the write behind it: no
            // I/O happens between them.
            let now = Instant::now();
            let action = self.session.poll_action(now);
            // A body piece is taken before the commands queued ahead of it
            // are written, so both leave in one write (with BDAT and
            // PIPELINING: the envelope, BDAT and the piece); one piece per
            // write, so a long body still streams.
            let body_first = matches!(action, Action::Body { .. }) && !body_unwritten;
            if !body_first && self.flush(now) {
                // The events behind `action` queued commands: written now,
                // so ask again.
                caught_up = false;
                body_unwritten = false;
                continue;
            }
            match action {
                Action::Done => break,
                Action::Read => caught_up = self.read_once(),
                Action::StartTls => {
                    caught_up = false;
                    self.start_tls();
                }
                Action::Body { index } => {
                    if let Some(source) = self.session.feed_body(&mut feed.bodies, index) {
                        // The caller's source may take its time.
                        caught_up = false;
                        self.chunk.resize(BODY_CHUNK, 0);
                        let read = read_full(source, &mut self.chunk);
                        self.session.push_read(read, &self.chunk);
                    }
                    body_unwritten = true;
                }
                Action::AuthAnswer => {
                    caught_up = false;
                    self.session.answer_with(feed.auth.as_deref_mut());
                }
                Action::AuthFinish => self.session.finish_with(feed.auth.as_deref_mut()),
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
    /// anything. `now` is the time of the caller's last poll; after a
    /// write, which may have blocked, the clock is read again.
    fn flush(&mut self, now: Instant) -> bool {
        let mut wrote = false;
        let mut now = now;
        loop {
            self.out.clear();
            if self.session.poll_transmit(now, &mut self.out).is_none() {
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
                // With deep pipelining many replies may wait (more than
                // one read holds): all of them reach the session first, so
                // that no message whose final reply came reads as unknown.
                for _ in 0..PENDING_READS {
                    if self.read_pending() || self.session.check_usable().is_err() {
                        break;
                    }
                }
                self.session.handle_io_error(Instant::now(), e);
                return true;
            }
            now = Instant::now();
        }
    }

    /// Hands what the server has already sent to the session, without
    /// waiting; whether the socket was found empty. Caller-supplied
    /// streams, which cannot be asked or made non-blocking, are skipped.
    ///
    /// One `recv(MSG_PEEK | MSG_DONTWAIT)` answers the common case (nothing
    /// there). Plaintext that is there is read with an ordinary read, which
    /// returns at once; so is input the TLS layer has already decrypted.
    /// Raw bytes under TLS may be part of a record or no application data
    /// at all (a TLS 1.3 session ticket), on which a blocking read would
    /// wait: they are read with the socket non-blocking for that one read.
    fn read_pending(&mut self) -> bool {
        let Some(t) = self.transport.as_mut() else {
            return false;
        };
        let result = if t.tls_buffered() {
            t.read(&mut self.buf)
        } else {
            match (t.base().input_waiting(), &*t) {
                (Waiting::No, _) => return true,
                (Waiting::Yes, Transport::Plain(_)) => t.read(&mut self.buf),
                _ => {
                    if t.base().set_nonblocking(true).is_err() {
                        return false;
                    }
                    let result = t.read(&mut self.buf);
                    if let Err(e) = t.base().set_nonblocking(false) {
                        // A socket stuck in non-blocking mode would turn
                        // every later read into a spurious timeout; treat it
                        // as broken (after what was read, which may explain
                        // more).
                        if let Ok(n) = result {
                            let bytes = self.buf.get(..n).unwrap_or_default();
                            self.session.handle_input(Instant::now(), bytes);
                        }
                        self.session.handle_io_error(Instant::now(), e);
                        return false;
                    }
                    result
                }
            }
        };
        // Nothing, the end of file or an error: the next read or write
        // meets it with the operation it concerns.
        if let Ok(n) = result
            && n > 0
        {
            let bytes = self.buf.get(..n).unwrap_or_default();
            self.session.handle_input(Instant::now(), bytes);
        }
        false
    }

    /// One read, bounded by the session's deadline; whether it emptied a
    /// plaintext socket (a short read: more input would have come with
    /// it). A TLS read returns one record at a time, so it never says so.
    fn read_once(&mut self) -> bool {
        let now = Instant::now();
        // No deadline at all only when the timeouts are too large to add
        // to the clock (Duration::MAX): then the read waits unbounded.
        let deadline = self.session.poll_timeout();
        let wait = deadline.map(|d| d.saturating_duration_since(now).max(MIN_TIMEOUT));
        let Some(t) = self.transport.as_mut() else {
            self.session.handle_eof(now);
            return false;
        };
        if let Some(timeout) = socket_timeout(self.read_timeout, wait) {
            if let Err(e) = t.base().set_read_timeout(timeout) {
                self.session.handle_io_error(now, e);
                return false;
            }
            self.read_timeout = Some(timeout);
        }
        let result = t.read(&mut self.buf);
        let plain = matches!(t, Transport::Plain(_));
        let now = Instant::now();
        match result {
            Ok(0) => self.session.handle_eof(now),
            Ok(n) => {
                let bytes = self.buf.get(..n).unwrap_or_default();
                self.session.handle_input(now, bytes);
                return plain && n < self.buf.len();
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                // The socket's timeout may be shorter than the time left
                // (see `socket_timeout`): before the deadline, the next
                // turn simply reads again.
                if deadline.is_none_or(|d| now >= d) {
                    self.session.handle_timeout(now);
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => self.session.handle_io_error(now, e),
        }
        false
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
        let limit = self.session.handshake_timeout(Instant::now());
        let transport = match crate::tls::handshake(&self.tls, base, limit) {
            Ok(t) => t,
            Err(e) => return self.session.tls_failed(e),
        };
        if let Err(e) = transport
            .base()
            .set_write_timeout(Some(timeouts.data_block.max(MIN_TIMEOUT)))
        {
            return self.session.tls_failed(Error::Io(e));
        }
        let binding = transport.channel_binding();
        self.transport = Some(transport);
        self.session.tls_established(Instant::now());
        self.session.set_channel_binding(binding);
    }
}

/// The read timeout to give the socket for a read that may wait `wait`
/// (`None`: unbounded), given the one it has (`current`, `None` when not
/// known); `None` when the current one will do.
///
/// It will do when it does not reach past the wait and is at least
/// 1/[`KEEP_RATIO`] of it: the time left differs on every read, and
/// setting it anew each time would cost a system call per read. A new one
/// is three quarters of the wait, so that the next operations' slightly
/// shorter waits keep it; a read that times out early is repeated by the
/// caller, and the session judges the deadline.
fn socket_timeout(
    current: Option<Option<Duration>>,
    wait: Option<Duration>,
) -> Option<Option<Duration>> {
    let Some(wait) = wait else {
        return (current != Some(None)).then_some(None);
    };
    if let Some(Some(have)) = current
        && have <= wait
        && have >= wait / KEEP_RATIO
    {
        return None;
    }
    let new = wait.saturating_sub(wait / 4).max(MIN_TIMEOUT);
    Some(Some(new))
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

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn a_timeout_that_fits_the_wait_is_kept() {
        // The deadlines of one message (a minute, ten for the end of data)
        // share the timeout set for the first.
        let set = socket_timeout(None, Some(S(60)));
        assert_eq!(set, Some(Some(S(45))));
        assert_eq!(socket_timeout(set, Some(S(60) - MIN_TIMEOUT)), None);
        assert_eq!(socket_timeout(set, Some(S(600))), None);
        assert_eq!(socket_timeout(set, Some(S(45))), None);
    }

    #[test]
    fn a_timeout_past_the_wait_or_far_shorter_is_replaced() {
        let have = Some(Some(S(45)));
        assert_eq!(socket_timeout(have, Some(S(40))), Some(Some(S(30))));
        assert_eq!(socket_timeout(have, Some(S(3600))), Some(Some(S(2700))));
        // A tiny timeout left from a deadline that nearly ran out.
        let tiny = Some(Some(MIN_TIMEOUT));
        assert_eq!(socket_timeout(tiny, Some(S(60))), Some(Some(S(45))));
    }

    #[test]
    fn no_deadline_means_no_timeout() {
        assert_eq!(socket_timeout(None, None), Some(None));
        assert_eq!(socket_timeout(Some(Some(S(1))), None), Some(None));
        assert_eq!(socket_timeout(Some(None), None), None);
    }

    #[test]
    fn never_past_the_wait_never_zero_never_overflowing() {
        let waits = [
            MIN_TIMEOUT,
            Duration::from_millis(3),
            S(1),
            S(59),
            S(60),
            S(600),
            S(u64::MAX),
            Duration::MAX,
        ];
        let mut have = None;
        for _ in 0..2 {
            for &wait in &waits {
                if let Some(set) = socket_timeout(have, Some(wait)) {
                    have = Some(set);
                }
                let t = have.flatten();
                let fits = |t: Duration| t <= wait && t >= MIN_TIMEOUT && t >= wait / KEEP_RATIO;
                assert!(t.is_some_and(fits), "{t:?} for {wait:?}");
            }
        }
    }
}
