//! The run loop: moves bytes between the stream and `smtp_proto::Client`,
//! turns the engine's deadline into a `tokio::time::Sleep`, and performs
//! the TLS handshake when the engine asks for it. No protocol decision is
//! made here; every reply is interpreted by the engine.
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
//! in parts), flushed, and only then drained again. Input is handed to
//! `handle_input` the moment it is read: the driver keeps no read-ahead of
//! its own, so when the engine reports `StartTlsReady` (which it does only
//! with its own buffer empty) no plaintext byte is left anywhere to be
//! mistaken for TLS-protected input.

use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime};

use smtp_proto::{Client, Event, Stage};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Sleep;

use crate::Error;
use crate::debug::{self, Sent, Trace};
use crate::tls::TlsSettings;
use crate::transport::Transport;

/// Size of one read.
const READ_BUF: usize = 32 * 1024;
/// Bound on the TLS close and socket shutdown after QUIT.
const SHUTDOWN_BUDGET: Duration = Duration::from_secs(1);
/// What `Poisoned` says after a cancelled call.
pub(crate) const CANCELLED: &str =
    "an earlier call was cancelled before it finished (its future was dropped mid-command)";

/// The clock: tokio's, so that tests with a paused clock see the same time
/// as the engine's deadlines.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// A connection and its engine.
pub(crate) struct Driver {
    pub(crate) client: Client,
    transport: Option<Transport>,
    /// Bytes taken from `poll_transmit`; `out[written..]` still to write.
    out: Vec<u8>,
    written: usize,
    /// Everything was written but `poll_flush` has not completed yet.
    unflushed: bool,
    /// Scratch space for one read; handed to the engine in full at once.
    buf: Vec<u8>,
    /// The stream reported end of file.
    eof: bool,
    pub(crate) trace: Trace,
    /// Set by the first fatal error (or a cancelled call): its description.
    poisoned: Option<String>,
    /// The session ended normally or was closed by the caller.
    closed: bool,
    /// A public call is running; still set on entry means the previous
    /// call's future was dropped mid-command.
    busy: bool,
    /// How to build the TLS layer for STARTTLS, and the name to verify.
    tls: Option<(TlsSettings, String)>,
    /// What the next drained output carries, for the trace.
    pub(crate) sending: Sent,
    /// The pending write must make progress before this instant.
    write_deadline: Option<Instant>,
    timer: Option<Pin<Box<Sleep>>>,
    /// The instant `timer` is set to.
    armed: Option<Instant>,
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("client", &self.client)
            .field("transport", &self.transport)
            .field("pending_out", &self.out.len().saturating_sub(self.written))
            .field("eof", &self.eof)
            .field("poisoned", &self.poisoned)
            .field("closed", &self.closed)
            .field("busy", &self.busy)
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
        client: Client,
        transport: Transport,
        tls: Option<(TlsSettings, String)>,
        trace: Trace,
    ) -> Driver {
        Driver {
            client,
            transport: Some(transport),
            out: Vec::with_capacity(READ_BUF),
            written: 0,
            unflushed: false,
            buf: vec![0; READ_BUF],
            eof: false,
            trace,
            poisoned: None,
            closed: false,
            busy: false,
            tls,
            sending: Sent::Commands,
            write_deadline: None,
            timer: None,
            armed: None,
        }
    }

    /// A driver with no connection, closed: what is left in a
    /// [`PooledClient`](crate::PooledClient) whose session went back to
    /// the pool.
    pub(crate) fn detached() -> Driver {
        Driver {
            client: Client::new(smtp_proto::Config::default(), now()),
            transport: None,
            out: Vec::new(),
            written: 0,
            unflushed: false,
            buf: Vec::new(),
            eof: true,
            trace: debug::stderr(0),
            poisoned: None,
            closed: true,
            busy: false,
            tls: None,
            sending: Sent::Commands,
            write_deadline: None,
            timer: None,
            armed: None,
        }
    }

    // ----- state ---------------------------------------------------------

    /// Starts a public call: a call still marked running means its future
    /// was dropped, so the session is poisoned for good.
    pub(crate) fn enter(&mut self) -> Result<(), Error> {
        if self.busy {
            self.busy = false;
            let _ = self.fail(Error::Poisoned {
                cause: CANCELLED.to_owned(),
            });
        }
        self.check_usable()?;
        self.busy = true;
        Ok(())
    }

    /// Ends a public call that ran to completion (whatever its result).
    pub(crate) fn leave(&mut self) {
        self.busy = false;
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

    /// Connected, not closed, no fatal error, no cancelled call.
    pub(crate) fn is_open(&self) -> bool {
        self.poisoned.is_none() && !self.closed && self.transport.is_some() && !self.busy
    }

    /// Records a fatal error, drops the stream, and returns the error.
    pub(crate) fn fail(&mut self, e: Error) -> Error {
        if self.poisoned.is_none() {
            let cause = match &e {
                Error::Poisoned { cause } => cause.clone(),
                other => other.to_string(),
            };
            self.trace
                .note(&format!("fatal: {cause}"), SystemTime::now());
            self.poisoned = Some(cause);
        }
        self.transport = None;
        e
    }

    /// Closes the stream without a word (smtplib's `close`).
    pub(crate) fn close(&mut self) {
        self.closed = true;
        self.transport = None;
    }

    /// Closes the stream after a TLS close_notify and a shutdown, bounded.
    pub(crate) async fn shutdown(&mut self) {
        self.closed = true;
        if let Some(mut t) = self.transport.take() {
            let _ = tokio::time::timeout(SHUTDOWN_BUDGET, t.shutdown()).await;
        }
    }

    /// The next engine event left after a failure, without any I/O: the
    /// `TransactionFinished` reports the engine queued when it failed.
    pub(crate) fn leftover_event(&mut self) -> Option<Event> {
        self.client.poll_event()
    }

    /// Output is waiting to be written or flushed.
    pub(crate) fn write_pending(&self) -> bool {
        self.written < self.out.len() || self.unflushed
    }

    // ----- the loop ------------------------------------------------------

    /// Hands everything the engine has for the wire to the write buffer,
    /// once the previous drain is written.
    fn fill(&mut self) {
        if self.written < self.out.len() {
            return;
        }
        self.out.clear();
        self.written = 0;
        let now = now();
        while self.client.poll_transmit(now, &mut self.out) > 0 {}
        if !self.out.is_empty() {
            self.trace.sent(&self.out, self.sending, SystemTime::now());
            if self.sending == Sent::Secret {
                self.sending = Sent::Commands;
            }
            self.unflushed = true;
            self.write_deadline = now.checked_add(self.client.config().timeouts.data_block);
        }
    }

    /// Hands the engine whatever the server already sent, without waiting
    /// (one poll with a no-op waker), when nothing is outstanding and no
    /// write is half done. New output is taken right after this, so a stray
    /// reply is judged unsolicited by the engine instead of being taken for
    /// the next command's reply (DESIGN §8.6), and a reply during a body (an
    /// early 552) is reported before more body goes out.
    fn read_pending(&mut self) -> Result<(), Error> {
        if self.eof || self.written < self.out.len() || self.client.poll_timeout().is_some() {
            return Ok(());
        }
        let Some(t) = self.transport.as_mut() else {
            return Ok(());
        };
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut rb = ReadBuf::new(&mut self.buf);
        let read = match Pin::new(&mut *t).poll_read(&mut cx, &mut rb) {
            Poll::Ready(res) => res.map(|()| rb.filled().len()),
            Poll::Pending => return Ok(()),
        };
        self.on_io(Ready {
            read: Some(read),
            ..Ready::default()
        })
    }

    /// The next event, reading and writing as needed.
    pub(crate) async fn step(&mut self) -> Result<Event, Error> {
        self.check_usable()?;
        loop {
            if let Some(event) = self.ready_event().await? {
                return Ok(event);
            }
            self.turn().await?;
        }
    }

    /// An event available without waiting, after handing new output to the
    /// write buffer; `None` when the caller must wait ([`turn`](Self::turn)).
    pub(crate) async fn ready_event(&mut self) -> Result<Option<Event>, Error> {
        self.check_usable()?;
        self.read_pending()?;
        self.fill();
        if let Some(event) = self.client.poll_event() {
            return self.on_event(event).await.map(Some);
        }
        if let Some(e) = self.client.error() {
            let e = Error::from_engine(e.clone());
            return Err(self.fail(e));
        }
        if self.client.is_closed() {
            self.close();
            return Err(Error::ServerDisconnected { stage: None });
        }
        Ok(None)
    }

    /// Writes (and flushes) everything the engine has for the wire, reading
    /// meanwhile; events that arrive stay queued for [`step`](Self::step).
    pub(crate) async fn flush(&mut self) -> Result<(), Error> {
        loop {
            self.check_usable()?;
            self.read_pending()?;
            self.fill();
            if !self.write_pending() || self.client.is_closed() {
                return Ok(());
            }
            if let Some(e) = self.client.error() {
                let e = Error::from_engine(e.clone());
                return Err(self.fail(e));
            }
            self.turn().await?;
        }
    }

    /// One wait: I/O or the deadline, whichever comes first (see the module
    /// docs).
    pub(crate) async fn turn(&mut self) -> Result<(), Error> {
        let now = now();
        let writing = self.written < self.out.len();
        let flushing = !writing && self.unflushed;
        let engine = self.client.poll_timeout();
        let write_deadline = if writing || flushing {
            self.write_deadline
        } else {
            None
        };
        // Nothing expected and nothing to write: a caller waiting for an
        // event that cannot come, or a silent peer. Bounded either way.
        let idle = engine.is_none() && !writing && !flushing;
        let idle_deadline = if idle {
            now.checked_add(self.client.config().timeouts.command)
        } else {
            None
        };
        let target = [engine, write_deadline, idle_deadline]
            .into_iter()
            .flatten()
            .min();
        if target.is_some_and(|t| t <= now) {
            return self.on_deadline(engine, write_deadline, idle_deadline);
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
            return Err(Error::ServerDisconnected { stage: None });
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
            None => self.on_deadline(engine, write_deadline, idle_deadline),
        }
    }

    fn on_io(&mut self, ready: Ready) -> Result<(), Error> {
        let now = now();
        // Input first: a reply (a 421, a 554) explains a failing write
        // better than the write error does.
        match ready.read {
            None => {}
            Some(Ok(0)) => {
                self.eof = true;
                self.trace
                    .note("connection closed by the server", SystemTime::now());
                if let Err(e) = self.client.handle_eof(now) {
                    return Err(self.fail(Error::from_engine(e)));
                }
            }
            Some(Ok(n)) => {
                let bytes = self.buf.get(..n).unwrap_or_default();
                self.trace.received(bytes, SystemTime::now());
                if let Err(e) = self.client.handle_input(now, bytes) {
                    return Err(self.fail(Error::from_engine(e)));
                }
            }
            Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Some(Err(e)) => return Err(self.io_failed(e)),
        }
        match ready.wrote {
            None => {}
            Some(Ok(0)) => {
                let e = io::Error::new(io::ErrorKind::WriteZero, "the stream accepted no bytes");
                return Err(self.io_failed(e));
            }
            Some(Ok(n)) => {
                self.written = self.written.saturating_add(n).min(self.out.len());
                self.write_deadline = now.checked_add(self.client.config().timeouts.data_block);
            }
            Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Some(Err(e)) => return Err(self.io_failed(e)),
        }
        match ready.flushed {
            None => {}
            Some(Ok(())) if self.written >= self.out.len() => self.unflushed = false,
            Some(Ok(())) => {}
            Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Some(Err(e)) => return Err(self.io_failed(e)),
        }
        Ok(())
    }

    fn on_deadline(
        &mut self,
        engine: Option<Instant>,
        write_deadline: Option<Instant>,
        idle_deadline: Option<Instant>,
    ) -> Result<(), Error> {
        let now = now();
        if engine.is_some_and(|d| now >= d) {
            if let Err(e) = self.client.handle_timeout(now) {
                return Err(self.fail(Error::from_engine(e)));
            }
            return Ok(());
        }
        if write_deadline.is_some_and(|d| now >= d) {
            let e = io::Error::new(
                io::ErrorKind::TimedOut,
                "a write made no progress within Timeouts::data_block",
            );
            return Err(self.io_failed(e));
        }
        if idle_deadline.is_some_and(|d| now >= d) {
            return Err(self.fail(Error::Timeout { stage: None }));
        }
        Ok(())
    }

    /// A stream error: the engine is told the connection is gone (so that
    /// transactions are reported, `Unknown` after the end of data), and the
    /// error returned, as "outcome unknown" when the engine says so.
    fn io_failed(&mut self, e: io::Error) -> Error {
        let timeout = matches!(
            e.kind(),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
        );
        let engine = self.client.handle_eof(now()).err();
        let unknown = engine
            .as_ref()
            .is_some_and(smtp_proto::Error::is_outcome_unknown);
        let stage = engine
            .as_ref()
            .and_then(smtp_proto::Error::stage)
            .or((self.sending == Sent::Body).then_some(Stage::Body));
        let err = if timeout {
            Error::Timeout { stage }
        } else {
            Error::Io(e)
        };
        let err = if unknown {
            Error::OutcomeUnknown {
                cause: Box::new(err),
            }
        } else {
            err
        };
        self.fail(err)
    }

    async fn on_event(&mut self, event: Event) -> Result<Event, Error> {
        match &event {
            Event::StartTlsReady { .. } => self.start_tls().await?,
            Event::Closed { .. } => self.shutdown().await,
            _ => {}
        }
        Ok(event)
    }

    /// `StartTlsReady`: the handshake on the raw stream, then
    /// `tls_established`. The engine has checked that nothing followed the
    /// 220, and this driver holds no input of its own (see the module
    /// docs); output of ours still unwritten would mean the server answered
    /// STARTTLS before receiving it.
    async fn start_tls(&mut self) -> Result<(), Error> {
        if self.written < self.out.len() {
            let e = io::Error::new(
                io::ErrorKind::InvalidData,
                "STARTTLS was answered before the command was written",
            );
            return Err(self.fail(Error::Io(e)));
        }
        let Some((settings, name)) = self.tls.clone() else {
            let e = Error::NotSupported("TLS is not configured".to_owned());
            return Err(self.fail(e));
        };
        let connector = match settings.connector() {
            Ok(c) => c,
            Err(e) => return Err(self.fail(e)),
        };
        let Some(Transport::Plain(base)) = self.transport.take() else {
            return Err(self.fail(Error::NotSupported("TLS is already active".to_owned())));
        };
        self.unflushed = false;
        self.trace.note(
            &format!("TLS handshake, verifying {name:?}"),
            SystemTime::now(),
        );
        let timeout = self.client.config().timeouts.command;
        match crate::tls::handshake(connector, &name, base, timeout).await {
            Ok(t) => self.transport = Some(t),
            Err(e) => return Err(self.fail(e)),
        }
        self.trace.note("TLS established", SystemTime::now());
        if let Err(e) = self.client.tls_established(now()) {
            return Err(self.fail(Error::Usage(e)));
        }
        Ok(())
    }

    /// QUIT without waiting, for `Drop`: one non-blocking write of the QUIT
    /// line when the session is healthy and idle (or holds only an open
    /// envelope whose replies are all in), then the stream is dropped.
    /// Nothing is awaited, so dropping never blocks.
    pub(crate) fn quit_nowait(&mut self, open_envelope: bool) {
        let idle = self.client.is_idle() || open_envelope;
        if !self.is_open() || !idle || self.write_pending() {
            self.close();
            return;
        }
        let mut line = Vec::new();
        if self.client.quit().is_ok() {
            while self.client.poll_transmit(now(), &mut line) > 0 {}
        }
        if let Some(t) = self.transport.as_mut()
            && !line.is_empty()
        {
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            if let Poll::Ready(Ok(n)) = Pin::new(&mut *t).poll_write(&mut cx, &line)
                && n == line.len()
            {
                self.trace.sent(&line, Sent::Commands, SystemTime::now());
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
