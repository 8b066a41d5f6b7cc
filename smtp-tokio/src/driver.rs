//! The driver: runs one [`Session`] operation to its result over a Tokio
//! stream. It moves bytes between the stream and the session, turns the
//! session's deadline into a `tokio::time::Sleep`, performs the TLS
//! handshake when the session asks for it, and hands over body bytes from
//! the caller's `AsyncRead`. No protocol or policy decision is made here.
//!
//! One [`Driver::turn`] waits, in a single `tokio::select!`, for the
//! earliest of:
//!
//! - **I/O**: the stream readable, *and* (when output is pending) the
//!   stream writable. Both are polled by one `poll_fn` because they need
//!   the same `&mut` stream (a TLS stream cannot be split without a lock);
//!   whatever is ready is handled, so a large pipelined write never waits
//!   for the server to read while the server waits for us to read its
//!   replies.
//! - **the deadline**: the earliest of the engine's `poll_timeout`, the
//!   write deadline (`Timeouts::data_block` since the last write progress)
//!   and, when nothing at all is expected, a safety bound. The `Sleep` is
//!   reset only when that instant changes (quinn's `drive_timer`), and the
//!   clock is checked before sleeping.
//!
//! Output follows the engine's contract: `poll_transmit` is drained into
//! one buffer, written (one `write` per drain unless the stream takes it
//! in parts), flushed, and only then drained again. A body piece the
//! session asks for is taken before the commands queued ahead of it are
//! drained, so that with BDAT and PIPELINING a message (envelope, BDAT
//! and body) leaves in one write whenever the engine lets the piece follow
//! the envelope at once; one piece per drain, so a long body still
//! streams.
//!
//! Input is handed to `handle_input` the moment it is read: the driver
//! keeps no read-ahead of its own, so when the engine reports
//! `StartTlsReady` (which it does only with its own buffer empty) no
//! plaintext byte is left anywhere to be mistaken for TLS-protected input.
//!
//! On a warm connection a message costs one write per drain and the
//! reads its replies need (each after one `epoll_wait`): the look at input
//! that arrived while idle polls the stream's cached readiness, which
//! costs no system call unless input is there, and the deadline is a
//! `Sleep` reset in place, which costs none.

use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use smtp_proto::auth::Authenticator;
use smtp_proto::session::{Action, BODY_CHUNK, Error, FromOutput, Session};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Sleep;

use crate::transport::Transport;

/// Size of one read.
const READ_BUF: usize = 32 * 1024;
/// Bound on the TLS close and socket shutdown after QUIT.
const SHUTDOWN_BUDGET: Duration = Duration::from_secs(1);

/// What an operation is fed: [`smtp_proto::session::Feed`] with this
/// driver's body source (`tokio::io::Empty` when there is none; generic,
/// so a future is `Send` exactly when the caller's source is) and the
/// caller's authenticator.
pub(crate) type Feed<'a, R = tokio::io::Empty> =
    smtp_proto::session::Feed<'a, R, dyn Authenticator + Send + 'a>;

/// The clock: tokio's, so that tests with a paused clock see the same time
/// as the session's deadlines.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// A connection and its session.
pub(crate) struct Driver {
    pub(crate) session: Session,
    transport: Option<Transport>,
    /// Bytes taken from `poll_transmit`; `out[written..]` still to write.
    out: Vec<u8>,
    written: usize,
    /// Everything was written but `poll_flush` has not completed yet.
    unflushed: bool,
    /// Scratch space for one read; handed to the session in full at once.
    buf: Vec<u8>,
    /// Scratch space for one piece of a streamed body.
    chunk: Vec<u8>,
    /// The stream reported end of file.
    eof: bool,
    /// How to start TLS (STARTTLS): the connector's settings and the name
    /// to verify.
    tls: crate::tls::Plan,
    /// The pending write must make progress before this instant.
    write_deadline: Option<Instant>,
    timer: Option<Pin<Box<Sleep>>>,
    /// The instant `timer` is set to.
    armed: Option<Instant>,
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("session", &self.session)
            .field("transport", &self.transport)
            .field("pending_out", &self.out.len().saturating_sub(self.written))
            .field("eof", &self.eof)
            .field("tls", &self.tls)
            .field("armed", &self.armed)
            .finish_non_exhaustive()
    }
}

/// Which write-side operation one turn waits for.
#[derive(Clone, Copy)]
enum WriteSide<'a> {
    Idle,
    Data(&'a [u8]),
    Flush,
}

/// What one I/O poll found ready.
#[derive(Default)]
struct Ready {
    read: Option<io::Result<usize>>,
    wrote: Option<io::Result<usize>>,
    flushed: Option<io::Result<()>>,
}

impl Driver {
    pub(crate) fn new(
        session: Session,
        transport: Transport,
        tls: crate::tls::Plan,
    ) -> Result<Driver, Error> {
        Ok(Driver {
            session,
            transport: Some(transport),
            out: Vec::with_capacity(READ_BUF),
            written: 0,
            unflushed: false,
            buf: vec![0; READ_BUF],
            chunk: Vec::new(),
            eof: false,
            tls,
            write_deadline: None,
            timer: None,
            armed: None,
        })
    }

    /// A driver with no connection, closed: what is left in a
    /// [`PooledClient`](crate::PooledClient) whose session went back to
    /// the pool.
    pub(crate) fn detached() -> Driver {
        Driver {
            session: Session::detached(now()),
            transport: None,
            out: Vec::new(),
            written: 0,
            unflushed: false,
            buf: Vec::new(),
            chunk: Vec::new(),
            eof: true,
            tls: crate::tls::Plan::default(),
            write_deadline: None,
            timer: None,
            armed: None,
        }
    }

    /// Runs the operation just started on the session to its result.
    ///
    /// Dropping this future mid-way leaves the operation unfinished in the
    /// session, which then refuses every later operation as poisoned.
    pub(crate) async fn run<T: FromOutput, R: AsyncRead + Unpin>(
        &mut self,
        mut feed: Feed<'_, R>,
    ) -> Result<T, Error> {
        // A body piece went to the session and has not been drained into
        // the write buffer yet.
        let mut body_unwritten = false;
        loop {
            self.flush_trace();
            self.read_pending();
            let action = self.session.poll_action(now());
            // A body piece is taken before the commands queued ahead of it
            // are drained, so both leave in one write (with BDAT and
            // PIPELINING: the envelope, BDAT and the piece); one piece per
            // write, so a long body still streams.
            let body_first =
                matches!(action, Action::Body { .. }) && !body_unwritten && !self.write_pending();
            if !body_first && self.fill() {
                // The events behind `action` queued commands: they are in
                // the write buffer now, so ask again.
                body_unwritten = false;
                continue;
            }
            match action {
                Action::Done => break,
                Action::Body { index } if !self.write_pending() => {
                    if let Some(source) = self.session.feed_body(&mut feed.bodies, index) {
                        self.chunk.resize(BODY_CHUNK, 0);
                        let read = read_full(source, &mut self.chunk).await;
                        self.session.push_read(read, &self.chunk);
                    }
                    body_unwritten = true;
                }
                Action::StartTls if self.written >= self.out.len() => self.start_tls().await,
                Action::StartTls => {
                    let e = io::Error::new(
                        io::ErrorKind::InvalidData,
                        "STARTTLS was answered before the command was written",
                    );
                    self.session.handle_io_error(now(), e);
                }
                Action::AuthAnswer => self.session.answer_with(feed.auth.as_deref_mut()),
                Action::AuthFinish => self.session.finish_with(feed.auth.as_deref_mut()),
                Action::Read | Action::Body { .. } => self.turn().await,
                other => self.session.abort_unknown(other),
            }
        }
        let result = self.session.take_output();
        self.flush_trace();
        if !self.session.is_connected() {
            self.shutdown().await;
        }
        result
    }

    /// Writes the session's trace (if tracing is on) to stderr; a closed
    /// stderr changes nothing.
    fn flush_trace(&mut self) {
        if let Some(text) = self.session.take_trace() {
            let _ = std::io::Write::write_all(&mut std::io::stderr(), text);
        }
    }

    /// Closes the stream without a word (smtplib's `close`).
    /// Whether the connection is quiet (see [`Transport::quiet`]); `None`
    /// without a connection or when it cannot be looked at.
    pub(crate) fn quiet(&self) -> Option<bool> {
        self.transport.as_ref()?.quiet()
    }

    pub(crate) fn close(&mut self) {
        self.session.close();
        self.transport = None;
    }

    /// Closes the stream after a TLS close_notify and a shutdown, bounded.
    pub(crate) async fn shutdown(&mut self) {
        self.session.close();
        if let Some(mut t) = self.transport.take() {
            let _ = tokio::time::timeout(SHUTDOWN_BUDGET, t.shutdown()).await;
        }
    }

    /// Output is waiting to be written or flushed.
    fn write_pending(&self) -> bool {
        self.written < self.out.len() || self.unflushed
    }

    /// Hands everything the session has for the wire to the write buffer,
    /// once the previous drain is written; whether there was anything.
    fn fill(&mut self) -> bool {
        if self.written < self.out.len() {
            return false;
        }
        self.out.clear();
        self.written = 0;
        let now = now();
        if self.session.poll_transmit(now, &mut self.out).is_none() {
            return false;
        }
        self.unflushed = true;
        let block = self.session.engine().config().timeouts.data_block;
        self.write_deadline = now.checked_add(block);
        true
    }

    /// Hands the session whatever the server already sent, without waiting
    /// (one poll with a no-op waker), when nothing is outstanding and no
    /// write is half done: a stray reply is then judged unsolicited instead
    /// of being taken for the next command's reply, and a reply during a
    /// body (an early 552) is seen before more body goes out.
    fn read_pending(&mut self) {
        if self.eof || self.written < self.out.len() || self.session.is_awaiting_reply() {
            return;
        }
        let Some(t) = self.transport.as_mut() else {
            return;
        };
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut rb = ReadBuf::new(&mut self.buf);
        let read = match Pin::new(&mut *t).poll_read(&mut cx, &mut rb) {
            Poll::Ready(res) => res.map(|()| rb.filled().len()),
            Poll::Pending => return,
        };
        self.on_io(Ready {
            read: Some(read),
            ..Ready::default()
        });
    }

    /// One wait: I/O or the deadline, whichever comes first (see the module
    /// docs).
    async fn turn(&mut self) {
        let now = now();
        let writing = self.written < self.out.len();
        let flushing = !writing && self.unflushed;
        let session = self.session.poll_timeout();
        let write_deadline = if writing || flushing {
            self.write_deadline
        } else {
            None
        };
        let target = [session, write_deadline].into_iter().flatten().min();
        if target.is_some_and(|t| t <= now) {
            return self.on_deadline(session, write_deadline);
        }
        if let Some(t) = target
            && self.armed != Some(t)
        {
            let at = tokio::time::Instant::from_std(t);
            match self.timer.as_mut() {
                Some(timer) => timer.as_mut().reset(at),
                None => self.timer = Some(Box::pin(tokio::time::sleep_until(at))),
            }
            self.armed = Some(t);
        }
        let Some(transport) = self.transport.as_mut() else {
            return self.session.handle_eof(now);
        };
        let side = if writing {
            WriteSide::Data(self.out.get(self.written..).unwrap_or_default())
        } else if flushing {
            WriteSide::Flush
        } else {
            WriteSide::Idle
        };
        let io = io_ready(transport, &mut self.buf, side, !self.eof);
        let ready = match (self.timer.as_mut(), target) {
            (Some(timer), Some(_)) => tokio::select! {
                biased;
                ready = io => Some(ready),
                () = timer.as_mut() => None,
            },
            _ => Some(io.await),
        };
        match ready {
            Some(ready) => self.on_io(ready),
            None => self.on_deadline(session, write_deadline),
        }
    }

    fn on_io(&mut self, ready: Ready) {
        let now = now();
        // Input first: a reply (a 421, a 554) explains a failing write
        // better than the write error does.
        match ready.read {
            None => {}
            Some(Ok(0)) => {
                self.eof = true;
                self.session.handle_eof(now);
            }
            Some(Ok(n)) => {
                let bytes = self.buf.get(..n).unwrap_or_default();
                self.session.handle_input(now, bytes);
            }
            Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Some(Err(e)) => return self.session.handle_io_error(now, e),
        }
        match ready.wrote {
            None => {}
            Some(Ok(0)) => {
                let e = io::Error::new(io::ErrorKind::WriteZero, "the stream accepted no bytes");
                return self.session.handle_io_error(now, e);
            }
            Some(Ok(n)) => {
                self.written = self.written.saturating_add(n).min(self.out.len());
                let block = self.session.engine().config().timeouts.data_block;
                self.write_deadline = now.checked_add(block);
            }
            Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Some(Err(e)) => return self.session.handle_io_error(now, e),
        }
        match ready.flushed {
            None => {}
            Some(Ok(())) if self.written >= self.out.len() => self.unflushed = false,
            Some(Ok(())) => {}
            Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Some(Err(e)) => self.session.handle_io_error(now, e),
        }
    }

    fn on_deadline(&mut self, session: Option<Instant>, write_deadline: Option<Instant>) {
        let now = now();
        if session.is_some_and(|d| now >= d) {
            return self.session.handle_timeout(now);
        }
        if write_deadline.is_some_and(|d| now >= d) {
            let e = io::Error::new(
                io::ErrorKind::TimedOut,
                "a write made no progress within Timeouts::data_block",
            );
            self.session.handle_io_error(now, e);
        }
    }

    /// The handshake on the raw stream, then `tls_established`. The engine
    /// has checked that nothing followed the 220, and this driver holds no
    /// input of its own (see the module docs).
    async fn start_tls(&mut self) {
        let Some(Transport::Plain(base)) = self.transport.take() else {
            let e = Error::NotSupported("TLS is already active".to_owned());
            return self.session.tls_failed(e);
        };
        self.unflushed = false;
        let note = format!("TLS handshake, verifying {:?}", self.tls.name);
        self.session.trace_note(&note, now());
        let timeout = self.session.handshake_timeout(now());
        match crate::tls::handshake(&self.tls, base, timeout).await {
            Ok(t) => self.transport = Some(t),
            Err(e) => return self.session.tls_failed(e),
        }
        let binding = self.transport.as_ref().and_then(|t| t.channel_binding());
        self.session.tls_established(now());
        self.session.set_channel_binding(binding);
    }

    /// QUIT without waiting, for `Drop`: one non-blocking write of the QUIT
    /// line when the session is healthy and idle, then the stream is
    /// dropped. Nothing is awaited, so dropping never blocks.
    pub(crate) fn quit_nowait(&mut self) {
        let line = if self.write_pending() {
            self.session.close();
            None
        } else {
            self.session.quit_now(now())
        };
        self.flush_trace();
        if let (Some(t), Some(line)) = (self.transport.as_mut(), line) {
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            if let Poll::Ready(Ok(n)) = Pin::new(&mut *t).poll_write(&mut cx, &line)
                && n == line.len()
            {
                let _ = Pin::new(&mut *t).poll_flush(&mut cx);
            }
        }
        self.close();
    }
}

/// Polls the write side (when given) and the read side (when `read`) of
/// one stream in one future; ready when either made progress.
fn io_ready<'a>(
    t: &'a mut Transport,
    buf: &'a mut [u8],
    side: WriteSide<'a>,
    read: bool,
) -> impl Future<Output = Ready> + 'a {
    poll_fn(move |cx| {
        let mut ready = Ready::default();
        match side {
            WriteSide::Data(data) => {
                if let Poll::Ready(res) = Pin::new(&mut *t).poll_write(cx, data) {
                    let all = matches!(&res, Ok(n) if *n >= data.len());
                    ready.wrote = Some(res);
                    if all && let Poll::Ready(f) = Pin::new(&mut *t).poll_flush(cx) {
                        ready.flushed = Some(f);
                    }
                }
            }
            WriteSide::Flush => {
                if let Poll::Ready(f) = Pin::new(&mut *t).poll_flush(cx) {
                    ready.flushed = Some(f);
                }
            }
            WriteSide::Idle => {}
        }
        if read {
            let mut rb = ReadBuf::new(&mut *buf);
            if let Poll::Ready(res) = Pin::new(&mut *t).poll_read(cx, &mut rb) {
                ready.read = Some(res.map(|()| rb.filled().len()));
            }
        }
        if ready.read.is_none() && ready.wrote.is_none() && ready.flushed.is_none() {
            Poll::Pending
        } else {
            Poll::Ready(ready)
        }
    })
}

/// Reads until `buf` is full or the source ends: a short read means the
/// end, so the last piece and the end of data leave in one write. (A
/// single `read` may return less than the source has.)
async fn read_full<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0usize;
    while let Some(rest) = buf.get_mut(filled..) {
        match r.read(rest).await {
            Ok(0) => break,
            Ok(n) => filled = filled.saturating_add(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        if filled >= buf.len() {
            break;
        }
    }
    Ok(filled)
}
