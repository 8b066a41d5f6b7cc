//! [`Session`]: the smtplib-level client written once, sans-IO.
//!
//! The [`Client`] engine speaks the protocol one command at a time; a
//! `Session` owns one and runs **operations** over it: the greeting and
//! the first EHLO, `ehlo_or_helo_if_needed`, STARTTLS under a
//! [`TlsPolicy`], `login` (which mechanism, in which order, never a
//! password without TLS), `auth` with the caller's [`Authenticator`],
//! `sendmail`/`send_message`/`send` with the body supplied in pieces,
//! `send_many`, smtplib's step-by-step `mail`/`rcpt`/`data`, and
//! `verify`/`expn`/`help`/`noop`/`rset`/`docmd`/`quit`. An operation is
//! started with a method of the same name, decides everything, and
//! finishes with its typed result. The adapters (`smtp-blocking`,
//! `smtp-tokio`) are drivers: they move bytes, run the TLS handshake when
//! told to, hand over body bytes when asked, and wait for the deadline.
//!
//! # Writing a driver
//!
//! One operation runs at a time. Start it, then loop:
//!
//! 1. Ask [`Session::poll_action`] what to do.
//! 2. Drain [`Session::poll_transmit`] into your output buffer (the
//!    returned [`Sent`] says what the bytes are, for a wire trace) and
//!    write it. If a write fails, report it with
//!    [`Session::handle_io_error`]. If `poll_transmit` gave anything, go
//!    back to 1: the action may have changed. A non-blocking driver keeps
//!    what the socket did not take, writes it when the socket is writable
//!    again, and drains `poll_transmit` again only once it is all written.
//! 3. Do what the action says:
//!    - [`Action::Done`]: take the result with [`Session::take_output`];
//!      if [`Session::is_connected`] is now false, close the transport.
//!      The loop ends.
//!    - [`Action::Read`]: wait until the transport is readable or
//!      [`Session::poll_timeout`] passes, then call
//!      [`Session::handle_input`], [`Session::handle_eof`],
//!      [`Session::handle_timeout`] or [`Session::handle_io_error`].
//!    - [`Action::StartTls`]: run the TLS client handshake on the raw
//!      transport now, then call [`Session::tls_established`] (and
//!      [`Session::set_channel_binding`] when the TLS library gives the
//!      `tls-server-end-point` data) or
//!      [`Session::tls_failed`]. (The engine has checked that nothing
//!      followed the 220; a driver that buffers input must check its own
//!      buffer is empty too.)
//!    - [`Action::Body`]: once your output buffer is written (this is the
//!      backpressure: never push body while output is pending), read up to
//!      [`BODY_CHUNK`] bytes of message `index`'s body and call
//!      [`Session::push_body`] (with `last` set when the source is
//!      exhausted), or [`Session::body_failed`] when the source fails.
//!      [`Session::push_slice`] and [`Session::push_parts`] do this for
//!      bodies held in memory. While output is pending, wait as for
//!      `Read` (writable, readable or the deadline): the session bounds a
//!      body that stops moving by `Timeouts::data_block`.
//!    - [`Action::AuthAnswer`]: answer [`Session::auth_challenge`] with the
//!      caller's authenticator through [`Session::answer_auth`].
//!    - [`Action::AuthFinish`]: the server ended an AUTH exchange the
//!      caller's authenticator answers; pass what its
//!      [`finish`](crate::auth::Authenticator::finish) says to
//!      [`Session::auth_finished`] (`Ok(())` when there is none). A 235
//!      is a success only when the authenticator accepts it (SCRAM checks
//!      the server's signature).
//!    - anything else (the enum grows): end the operation with
//!      [`Session::abort`].
//! 4. Go back to 1.
//!
//! When [`Session::is_awaiting_reply`] is false and the operation is not
//! [`Action::Done`], a driver that can look at its socket without blocking
//! should hand any bytes already received to [`Session::handle_input`]
//! before writing: a stray reply is then judged unsolicited instead of
//! being taken for the next command's reply.
//!
//! Time is passed in as an [`Instant`]; nothing here reads a clock. A
//! driver that is dropped in the middle of an operation (a cancelled
//! future) leaves it running: the next operation started then poisons the
//! session, because a half-sent command cannot be continued.
//!
//! `smtp-proto/examples/many_sessions.rs` is a complete third driver: many
//! sessions on one thread over non-blocking sockets.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use crate::auth::Authenticator;
use crate::client::Client;
use crate::error::{Error as EngineError, Stage};
use crate::event::{CommandId, Event, TxnId, TxnReport};
use crate::reply::Reply;
use crate::secret::Secret;
use crate::trace::{Sent, Trace};

pub mod error;
mod feed;
mod options;
mod output;
mod start;
pub mod surface;
mod task;

pub use error::Error;
pub use feed::{Bodies, Feed};
pub use options::{
    DEFAULT_CONNECT_TIMEOUT, LMTP_PORT, Options, SMTP_PORT, SMTP_SSL_PORT, TlsBackend, TlsOptions,
    TlsPolicy, TlsSetup, Window,
};
pub use output::{FromOutput, Output};

use task::Task;

/// Bytes of body a driver reads per [`Action::Body`].
pub const BODY_CHUNK: usize = 64 * 1024;

/// How long the QUIT that ends a refused greeting, a refused STARTTLS or a
/// dropped client may take: never the engine's five-minute deadline.
pub const QUIT_BUDGET: Duration = Duration::from_secs(5);

/// What `Poisoned` says after an operation was abandoned half-way.
const CANCELLED: &str =
    "an earlier call was cancelled before it finished (its future was dropped mid-command)";

/// What the driver must do next; see the module docs.
#[must_use]
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Wait for input or the deadline.
    Read,
    /// Run the TLS handshake now.
    StartTls,
    /// Hand over the next piece of message `index`'s body (0 for a single
    /// message).
    Body {
        /// Which message of the operation.
        index: usize,
    },
    /// Answer the pending AUTH challenge with the caller's authenticator.
    AuthAnswer,
    /// The server ended the AUTH exchange: report the caller's
    /// authenticator's verdict with [`Session::auth_finished`].
    AuthFinish,
    /// The operation is over; take its output.
    Done,
}

/// Whether the connection can be used.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Link {
    Open,
    /// Ended normally (QUIT, refused greeting, peer closed while idle) or
    /// closed by the caller.
    Closed,
    /// A fatal error happened; its description.
    Poisoned(String),
}

/// What smtplib remembers of EHLO/HELO.
#[derive(Clone, Debug, Default)]
struct HelloState {
    greeting: Option<Reply>,
    ehlo_resp: Option<Reply>,
    helo_resp: Option<Reply>,
    does_esmtp: bool,
    /// A positive EHLO/HELO/LHLO in the current (TLS) phase.
    ok: bool,
}

/// The envelope opened by `mail`: the engine's transaction and the caller's
/// spelling of each address, for smtplib's errors.
#[derive(Clone, Debug)]
pub(crate) struct OpenEnvelope {
    pub(crate) txn: TxnId,
    pub(crate) sender: String,
    pub(crate) recipients: Vec<String>,
}

/// An SMTP/LMTP session: the engine plus smtplib's state and the running
/// operation. See the module docs for the driving loop.
#[derive(Debug)]
pub struct Session {
    client: Client,
    hello: HelloState,
    policy: TlsPolicy,
    link: Link,
    envelope: Option<OpenEnvelope>,
    transactions: usize,
    sending: Sent,
    /// The running operation.
    task: Option<Task>,
    /// EHLO sent before the task may begin (`ehlo_or_helo_if_needed`).
    hello_first: Option<CommandId>,
    /// The finished operation's result, until taken.
    done: Option<Result<Output, Error>>,
    /// A bound tighter than the engine's deadlines (a QUIT budget).
    cap: Option<Instant>,
    /// A bound for waiting when nothing at all is expected.
    idle: Option<Instant>,
    /// The running call's overall deadline (`Options::call_deadline`).
    call_end: Option<Instant>,
    /// `Options::call_deadline`.
    call_deadline: Option<Duration>,
    /// While a body streams: the moment it must have moved on by
    /// (`Timeouts::data_block` after the last piece).
    body_stall: Option<Instant>,
    /// The challenge the caller's authenticator must answer.
    challenge: Option<Secret<Vec<u8>>>,
    /// The wire trace (smtplib's `set_debuglevel`), kept until the driver
    /// takes it with [`take_trace`](Session::take_trace).
    trace: Trace<Vec<u8>>,
    /// The trace text handed out by the last `take_trace`.
    trace_out: Vec<u8>,
    /// A wall-clock reading and the instant it was taken: the trace's time
    /// of day is derived from it, so nothing here reads a clock.
    wall: Option<(Instant, SystemTime)>,
    /// Whether the server has sent any byte at all.
    heard: bool,
    /// The latest instant the session was given (for trace lines written
    /// where no instant is at hand).
    last: Option<Instant>,
    /// How far a batch runs ahead of the replies.
    window: Window,
    /// The TLS connection's `tls-server-end-point` channel binding data
    /// (RFC 5929), from the driver; forgotten when the connection changes.
    channel_binding: Option<Vec<u8>>,
    /// The `tracing` spans (see the [`trace`](crate::trace) module docs).
    #[cfg(feature = "tracing")]
    spans: crate::trace::spans::Spans,
}

impl Session {
    /// A session over a fresh connection (after the implicit-TLS handshake,
    /// when there is one): the *open* operation is running, waiting for
    /// the greeting and the first EHLO, then applying the TLS policy. Drive
    /// it to its result (`()`) like any other operation.
    pub fn connect(options: &Options, local: crate::Domain, tls: bool, now: Instant) -> Session {
        Self::open(options, local, tls, now, true)
    }

    /// [`connect`](Self::connect), with a `tracing` span when `traced`.
    fn open(
        options: &Options,
        local: crate::Domain,
        tls: bool,
        now: Instant,
        traced: bool,
    ) -> Session {
        #[cfg(feature = "tracing")]
        let spans = if traced {
            crate::trace::spans::Spans::new(options.is_lmtp(), local.as_str(), tls)
        } else {
            crate::trace::spans::Spans::none()
        };
        #[cfg(not(feature = "tracing"))]
        let _ = traced;
        let mut client = Client::new(options.engine_config(local), now);
        client.set_tls(tls);
        Session {
            client,
            hello: HelloState::default(),
            policy: options.effective_tls_policy(),
            link: Link::Open,
            envelope: None,
            transactions: 0,
            sending: Sent::Commands,
            task: Some(Task::open()),
            hello_first: None,
            done: None,
            cap: None,
            idle: None,
            call_end: options.call_deadline.and_then(|d| now.checked_add(d)),
            call_deadline: options.call_deadline,
            body_stall: None,
            challenge: None,
            trace: Trace::new(0, Vec::new()),
            trace_out: Vec::new(),
            wall: None,
            heard: false,
            last: None,
            window: options.window,
            channel_binding: None,
            #[cfg(feature = "tracing")]
            spans,
        }
    }

    /// A closed session with no connection: what is left in a pooled
    /// client whose connection went back to the pool.
    pub fn detached(now: Instant) -> Session {
        let mut s = Session::open(
            &Options::default(),
            crate::Domain::localhost(),
            false,
            now,
            false,
        );
        s.task = None;
        s.link = Link::Closed;
        s
    }

    // ----- getters (smtplib's attributes) -------------------------------

    /// The server's greeting (what smtplib's `connect` returns).
    pub fn greeting(&self) -> Option<&Reply> {
        self.hello.greeting.as_ref()
    }

    /// The last reply to EHLO/LHLO (smtplib's `ehlo_resp`).
    pub fn ehlo_resp(&self) -> Option<&Reply> {
        self.hello.ehlo_resp.as_ref()
    }

    /// The last reply to HELO (smtplib's `helo_resp`).
    pub fn helo_resp(&self) -> Option<&Reply> {
        self.hello.helo_resp.as_ref()
    }

    /// Whether the server answered EHLO/LHLO positively (smtplib's
    /// `does_esmtp`).
    pub fn does_esmtp(&self) -> bool {
        self.hello.does_esmtp
    }

    /// The advertised extensions, keys case-insensitive (smtplib's
    /// `esmtp_features`); `None` before a successful EHLO and right after
    /// TLS until the new EHLO.
    pub fn esmtp_features(&self) -> Option<&crate::Extensions> {
        self.client.extensions()
    }

    /// Whether `name` was advertised, ignoring case (smtplib's `has_extn`).
    pub fn has_extn(&self, name: &str) -> bool {
        self.esmtp_features().is_some_and(|e| e.has(name))
    }

    /// Whether the connection is TLS-protected.
    pub fn is_tls(&self) -> bool {
        self.client.is_tls()
    }

    /// Whether this is an LMTP session.
    pub fn is_lmtp(&self) -> bool {
        self.client.config().dialect == crate::Dialect::Lmtp
    }

    /// The name sent with EHLO (smtplib's `local_hostname`).
    pub fn local_hostname(&self) -> &crate::Domain {
        &self.client.config().client_domain
    }

    /// The engine, read-only: phase, configuration, extensions.
    pub fn engine(&self) -> &Client {
        &self.client
    }

    /// The TLS policy this session applies.
    pub fn tls_policy(&self) -> TlsPolicy {
        self.policy
    }

    /// Whether the session can still be used: connected, not closed, no
    /// fatal error, no abandoned operation.
    pub fn is_connected(&self) -> bool {
        self.link == Link::Open && self.task.is_none() && self.hello_first.is_none()
    }

    /// Mail transactions started on this session.
    pub fn transactions(&self) -> usize {
        self.transactions
    }

    /// Fails with the reason the session cannot be used, if it cannot.
    ///
    /// # Errors
    /// [`Error::Poisoned`] after a fatal error, [`Error::ServerDisconnected`]
    /// once closed.
    pub fn check_usable(&self) -> Result<(), Error> {
        match &self.link {
            Link::Open => Ok(()),
            Link::Closed => Err(Error::ServerDisconnected { stage: None }),
            Link::Poisoned(cause) => Err(Error::Poisoned {
                cause: cause.clone(),
            }),
        }
    }

    // ----- the wire trace --------------------------------------------------

    /// smtplib's `set_debuglevel`: 0 off, 1 the wire conversation, 2 with
    /// the time of day. AUTH payloads are always redacted, message data is
    /// a byte count. `wall` is the wall-clock time at `now` (the session
    /// reads no clock; later times are derived from the instants it is
    /// given). Take the text with [`take_trace`](Self::take_trace).
    pub fn set_debuglevel(&mut self, level: u8, now: Instant, wall: SystemTime) {
        self.trace.set_level(level);
        self.wall = Some((now, wall));
    }

    /// The trace written since the last call (`None` when there is none,
    /// as at level 0); the driver writes it where the user looks (stderr).
    pub fn take_trace(&mut self) -> Option<&[u8]> {
        self.trace_out.clear();
        std::mem::swap(&mut self.trace_out, self.trace.get_mut());
        (!self.trace_out.is_empty()).then_some(self.trace_out.as_slice())
    }

    /// Names the server this session talks to (the host the driver
    /// connected to) for the `tracing` span's `peer` field. Without the
    /// `tracing` feature it does nothing.
    pub fn set_peer(&mut self, peer: &str) {
        #[cfg(feature = "tracing")]
        self.spans.peer(peer);
        #[cfg(not(feature = "tracing"))]
        let _ = peer;
    }

    /// A line of the driver's own in the trace (`* text`), e.g. which name
    /// a TLS handshake verifies; with the `tracing` feature, also a DEBUG
    /// event in the session's span.
    pub fn trace_note(&mut self, text: &str, now: Instant) {
        #[cfg(feature = "tracing")]
        self.spans.note(text);
        if self.trace.is_enabled() {
            let wall = self.wall_at(now);
            self.trace.note(text, wall);
        }
    }

    fn wall_at(&self, now: Instant) -> SystemTime {
        match self.wall {
            Some((at, wall)) => wall
                .checked_add(now.saturating_duration_since(at))
                .unwrap_or(wall),
            None => SystemTime::UNIX_EPOCH,
        }
    }

    // ----- the driving loop ---------------------------------------------

    /// Appends every byte that may be written now to `out`; returns what
    /// they are (for a wire trace), or `None` when there was nothing.
    ///
    /// Nothing once the session is unusable: a command the engine queued
    /// before the failure was decided (an AUTH answer computed while the
    /// server's final reply was already on its way) is not sent after it.
    pub fn poll_transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> Option<Sent> {
        if let Link::Poisoned(_) = self.link {
            return None;
        }
        let before = out.len();
        while self.client.poll_transmit(now, out) > 0 {}
        if out.len() == before {
            return None;
        }
        let kind = self.sending;
        #[cfg(feature = "tracing")]
        {
            self.spans.open_txns(self.client.state.txn_sizes());
            self.spans.sent(out.get(before..).unwrap_or_default(), kind);
        }
        if self.trace.is_enabled() {
            let wall = self.wall_at(now);
            self.trace
                .sent(out.get(before..).unwrap_or_default(), kind, wall);
        }
        if kind == Sent::Secret || (kind == Sent::Body && !self.streaming()) {
            self.sending = Sent::Commands;
        }
        Some(kind)
    }

    /// What the driver must do next. Handles every event the engine has
    /// produced first, so call it after each input and each drain.
    pub fn poll_action(&mut self, now: Instant) -> Action {
        self.last = Some(now);
        self.pump(now);
        if self.done.is_some() || self.task.is_none() && self.hello_first.is_none() {
            return Action::Done;
        }
        if !self.streaming() {
            self.body_stall = None;
        } else if self.body_stall.is_none() {
            self.body_stall = now.checked_add(self.client.config().timeouts.data_block);
        }
        if let Some(task) = &self.task
            && let Some(action) = task.action(&self.client, self.challenge.is_some())
        {
            self.idle = None;
            return action;
        }
        if self.client.is_awaiting_reply() {
            self.idle = None;
        } else if self.idle.is_none() {
            self.idle = now.checked_add(self.client.config().timeouts.command);
        }
        Action::Read
    }

    /// The instant by which [`handle_timeout`](Self::handle_timeout) must be
    /// called if nothing else happens.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.client.poll_timeout(),
            self.cap,
            self.idle,
            self.body_stall,
            self.call_end,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether the engine waits for a reply (a driver hands bytes already
    /// received to the engine before writing when it does not).
    pub fn is_awaiting_reply(&self) -> bool {
        self.client.is_awaiting_reply()
    }

    /// Bytes from the server.
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) {
        self.last = Some(now);
        self.heard |= !bytes.is_empty();
        self.idle = None;
        #[cfg(feature = "tracing")]
        self.spans.received(bytes);
        if self.trace.is_enabled() {
            let wall = self.wall_at(now);
            self.trace.received(bytes, wall);
        }
        let stage = self.client.stage();
        if let Err(e) = self.client.handle_input(now, bytes) {
            self.fail(Error::from_engine(e, stage));
        }
    }

    /// The server closed the connection.
    pub fn handle_eof(&mut self, now: Instant) {
        self.last = Some(now);
        self.trace_note("connection closed by the server", now);
        let stage = self.client.stage();
        if let Err(e) = self.client.handle_eof(now) {
            self.fail(Error::from_engine(e, stage));
        }
    }

    /// The deadline from [`poll_timeout`](Self::poll_timeout) passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last = Some(now);
        if let (Some(end), Some(limit)) = (self.call_end, self.call_deadline)
            && now >= end
        {
            // The call's own deadline: the engine fails with it, so that
            // its transactions are reported like on any timeout.
            self.call_end = None;
            let stage = self.client.stage();
            let e = match self.client.handle_deadline(crate::Deadline::Call(limit)) {
                Err(e) => Error::from_engine(e, stage),
                Ok(()) => Error::DeadlineExceeded {
                    deadline: crate::Deadline::Call(limit),
                    stage: None,
                },
            };
            return self.fail(e);
        }
        if self.client.poll_timeout().is_some_and(|d| now >= d) {
            let stage = self.client.stage();
            if let Err(e) = self.client.handle_timeout(now) {
                self.fail(Error::from_engine(e, stage));
            }
            return;
        }
        if self.body_stall.is_some_and(|c| now >= c) {
            // The body stopped moving: the driver could not write (a server
            // that stopped reading) within `Timeouts::data_block`.
            let e = std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the message body made no progress within Timeouts::data_block",
            );
            return self.handle_io_error(now, e);
        }
        let capped = self.cap.is_some_and(|c| now >= c);
        let idle = self.idle.is_some_and(|c| now >= c);
        if capped || idle {
            // Nothing was expected and nothing came (a caller bug or a
            // silent server), or a QUIT budget ran out: bounded either way.
            self.fail(Error::Timeout { stage: None });
        }
    }

    /// A transport error (a failed or timed-out read or write). The engine
    /// is told the connection is gone, so that transactions are reported
    /// (`Unknown` after the end of data), and the operation fails with the
    /// error, as "outcome unknown" when the end of data had gone out.
    pub fn handle_io_error(&mut self, now: Instant, e: std::io::Error) {
        self.last = Some(now);
        let timeout = matches!(
            e.kind(),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
        );
        let engine = self.client.handle_eof(now).err();
        let unknown = engine.as_ref().is_some_and(EngineError::is_outcome_unknown);
        let stage = engine
            .as_ref()
            .and_then(EngineError::stage)
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
        self.fail(err);
    }

    /// How long the TLS handshake asked for by [`Action::StartTls`] may
    /// take: the command timeout, cut short by the call's deadline (at
    /// least a millisecond, so that no driver mistakes it for "no
    /// timeout").
    pub fn handshake_timeout(&self, now: Instant) -> Duration {
        let command = self.client.config().timeouts.command;
        let left = self
            .call_end
            .map_or(command, |end| end.saturating_duration_since(now));
        command.min(left).max(Duration::from_millis(1))
    }

    /// The TLS handshake asked for by [`Action::StartTls`] succeeded.
    /// Any channel binding data is forgotten: give the new connection's
    /// with [`set_channel_binding`](Self::set_channel_binding) after this
    /// call.
    pub fn tls_established(&mut self, now: Instant) {
        self.trace_note("TLS established", now);
        self.channel_binding = None;
        self.hello.ok = false;
        self.hello.does_esmtp = false;
        self.hello.ehlo_resp = None;
        self.hello.helo_resp = None;
        if let Some(task) = self.task.as_mut() {
            task.handshake_done();
        }
        if let Err(e) = self.client.tls_established(now) {
            self.fail(Error::Usage(e));
        }
    }

    /// The TLS connection's `tls-server-end-point` channel binding data
    /// (RFC 5929 §4.1, the hash of the server's certificate), for
    /// SCRAM-SHA-256-PLUS. A driver calls this right after
    /// [`tls_established`](Self::tls_established), or after
    /// [`connect`](Self::connect) for implicit TLS, when its TLS library
    /// exposes the value; `None` (or not calling it) means none is known,
    /// and `-PLUS` mechanisms are then neither chosen nor allowed.
    pub fn set_channel_binding(&mut self, data: Option<Vec<u8>>) {
        self.channel_binding = data.filter(|d| !d.is_empty() && self.client.is_tls());
    }

    /// The channel binding data given with
    /// [`set_channel_binding`](Self::set_channel_binding) for this
    /// connection.
    pub fn channel_binding(&self) -> Option<&[u8]> {
        self.channel_binding.as_deref()
    }

    /// What an authenticator learns before an exchange
    /// ([`Authenticator::prepare`]): the channel binding data and the
    /// advertised mechanisms.
    pub fn auth_context(&self) -> crate::auth::AuthContext<'_> {
        let offered = self
            .esmtp_features()
            .map(crate::Extensions::auth_mechanisms)
            .unwrap_or_default();
        crate::auth::AuthContext::new(self.channel_binding(), offered)
    }

    /// The TLS handshake failed (or timed out): the connection is gone.
    pub fn tls_failed(&mut self, e: Error) {
        self.fail(e);
    }

    /// A piece of the body asked for by [`Action::Body`]; `last` when the
    /// source has no more (a short read means the end: the last piece and
    /// the end of data then leave in one write).
    pub fn push_body(&mut self, chunk: &[u8], last: bool) {
        self.sending = Sent::Body;
        self.body_stall = None;
        let mut queued = if chunk.is_empty() {
            Ok(())
        } else {
            self.client.send_body(chunk)
        };
        if queued.is_ok() && last {
            queued = self.client.finish_body();
        }
        if let Some(task) = self.task.as_mut() {
            task.body_pushed(last);
        }
        match queued {
            Ok(()) => {}
            // The transaction ended meanwhile (a refused chunk): its
            // report follows.
            Err(crate::UsageError::NoBodyExpected) => {
                if let Some(task) = self.task.as_mut() {
                    task.body_pushed(true);
                }
            }
            Err(e) => {
                let err = match self.client.error() {
                    Some(engine) => Error::from_engine(engine.clone(), Stage::Body),
                    None => Error::Usage(e),
                };
                self.fail(err);
            }
        }
    }

    /// [`push_body`](Self::push_body) for a body held in memory: pushes
    /// its next piece (at most [`BODY_CHUNK`] bytes) and advances `body`.
    pub fn push_slice(&mut self, body: &mut &[u8]) {
        let whole: &[u8] = body;
        let (piece, rest) = whole.split_at(whole.len().min(BODY_CHUNK));
        *body = rest;
        self.push_body(piece, rest.is_empty());
    }

    /// [`push_body`](Self::push_body) for a body held in memory as pieces
    /// (a message with headers left out): pushes the next piece (at most
    /// [`BODY_CHUNK`] bytes) and advances `parts`.
    pub fn push_parts(&mut self, parts: &mut VecDeque<&[u8]>) {
        while parts.front().is_some_and(|p| p.is_empty()) {
            parts.pop_front();
        }
        let Some(front) = parts.front_mut() else {
            return self.push_body(&[], true);
        };
        let whole: &[u8] = front;
        let (piece, rest) = whole.split_at(whole.len().min(BODY_CHUNK));
        *front = rest;
        let last = parts.iter().all(|p| p.is_empty());
        self.push_body(piece, last);
    }

    /// Ends the running operation with `e` (a driver that cannot do what
    /// the session asked, e.g. an [`Action`] it does not know). The
    /// connection is poisoned: the operation may be half-way.
    pub fn abort(&mut self, e: Error) {
        self.fail(e);
    }

    /// What a driver read from a body source for [`Action::Body`]: the
    /// bytes in `chunk` (at most [`BODY_CHUNK`]; fewer means the source
    /// ended), or the read error.
    pub fn push_read(&mut self, read: std::io::Result<usize>, chunk: &[u8]) {
        match read {
            Ok(n) => self.push_body(chunk.get(..n).unwrap_or(chunk), n < BODY_CHUNK),
            Err(e) => self.body_failed(e),
        }
    }

    /// Ends an operation whose [`Action`] this driver does not know (the
    /// enum grows): see [`abort`](Self::abort).
    pub fn abort_unknown(&mut self, action: Action) {
        let e = Error::NotSupported(format!("the driver cannot do {action:?}"));
        self.abort(e);
    }

    /// The body source failed: the body cannot be withdrawn, so the
    /// connection must be abandoned (the server then discards the partial
    /// message). The operation fails with the error.
    pub fn body_failed(&mut self, e: std::io::Error) {
        self.fail(Error::Io(e));
    }

    /// The challenge for [`Action::AuthAnswer`], base64-decoded.
    pub fn auth_challenge(&self) -> Option<&[u8]> {
        self.challenge.as_ref().map(|c| c.expose().as_slice())
    }

    /// The caller's answer to [`auth_challenge`](Self::auth_challenge);
    /// `None` cancels the exchange.
    pub fn answer_auth(&mut self, answer: Option<Secret<Vec<u8>>>) {
        self.challenge = None;
        self.respond(answer);
    }

    /// The caller's authenticator's verdict on the ended exchange, for
    /// [`Action::AuthFinish`]: what its
    /// [`finish`](crate::auth::Authenticator::finish) returned, or `Ok(())`
    /// when there is no authenticator. An `Err` after a 235 fails the
    /// operation with [`Error::MutualAuthFailed`] and closes the
    /// connection.
    pub fn auth_finished(&mut self, verdict: Result<(), crate::auth::MechanismError>) {
        let Some(mut task) = self.task.take() else {
            return;
        };
        match task.auth_finished(self, verdict) {
            task::Step::Finish(result) => self.finish(result),
            _ => self.task = Some(task),
        }
    }

    /// The finished operation's result, as the type the operation
    /// produces.
    ///
    /// # Errors
    /// The operation's error; [`Error::Poisoned`] when no operation has
    /// finished or the type does not match.
    pub fn take_output<T: FromOutput>(&mut self) -> Result<T, Error> {
        let done = self.done.take().ok_or_else(|| Error::Poisoned {
            cause: "no operation has finished".to_owned(),
        })?;
        T::from_output(done?).ok_or_else(|| Error::Poisoned {
            cause: "the operation produced another kind of result".to_owned(),
        })
    }

    /// Closes the session without QUIT (smtplib's `close`); the driver
    /// drops the transport.
    pub fn close(&mut self) {
        if self.link == Link::Open {
            self.link = Link::Closed;
        }
    }

    // ----- internals ------------------------------------------------------

    fn streaming(&self) -> bool {
        self.task.as_ref().is_some_and(Task::is_streaming)
    }

    /// Hands every engine event to the running operation.
    /// Moves the engine's queue to the wire and hands its events to the
    /// task, until neither has anything more: handling one event can queue
    /// commands (the next message of a batch) whose sending brings the
    /// next event (its body wanted), and the driver should learn that in
    /// this call, not after a write.
    fn pump(&mut self, now: Instant) {
        loop {
            self.client.pump(now);
            let Some(event) = self.client.poll_event() else {
                break;
            };
            self.on_event(event, now);
            while let Some(event) = self.client.poll_event() {
                self.on_event(event, now);
            }
        }
        if self.done.is_some() {
            return;
        }
        if let Some(e) = self.client.error() {
            let e = Error::from_engine(e.clone(), self.client.stage());
            self.fail(e);
        } else if self.client.is_closed() && self.link == Link::Open {
            self.link = Link::Closed;
            self.finish_err(Error::ServerDisconnected { stage: None });
        }
    }

    fn on_event(&mut self, event: Event, now: Instant) {
        #[cfg(feature = "tracing")]
        self.spans.event(&event);
        match &event {
            Event::Hello {
                id,
                reply,
                esmtp,
                extensions,
            } => {
                let ok = extensions.is_some() && reply.code().is_positive_completion();
                self.record_hello(reply.clone(), *esmtp, ok);
                if self.hello_first == Some(*id) {
                    self.hello_first = None;
                    if ok {
                        self.begin_task(now);
                    } else if let Some(task) = self.task.take() {
                        let result = task.on_fail(
                            self,
                            Error::HeloError {
                                reply: reply.clone(),
                            },
                        );
                        self.finish(result);
                    }
                    return;
                }
            }
            Event::Greeting { reply } => self.hello.greeting = Some(reply.clone()),
            Event::Closed { .. } if self.link == Link::Open => self.link = Link::Closed,
            Event::AuthChallenge { .. } | Event::ReadyForBody { .. } => self.idle = None,
            _ => {}
        }
        if self.done.is_none() && self.task.as_ref().is_some_and(|t| t.ignores(&event)) {
            return;
        }
        let Some(mut task) = self.task.take() else {
            return;
        };
        let step = task.on_event(self, event, now);
        self.settle(task, step, now);
    }

    fn record_hello(&mut self, reply: Reply, esmtp: bool, ok: bool) {
        self.hello.ok = ok;
        if esmtp {
            self.hello.does_esmtp = ok;
            self.hello.ehlo_resp = Some(reply);
        } else {
            self.hello.does_esmtp = false;
            self.hello.helo_resp = Some(reply);
        }
    }

    /// Whether `ehlo_or_helo_if_needed` would send EHLO.
    fn needs_hello(&self) -> bool {
        !self.hello.ok || self.client.extensions().is_none()
    }

    /// Starts `task` (the previous operation must be over).
    fn start(&mut self, task: Task, now: Instant) {
        self.take_over();
        self.arm_call(now);
        if let Err(e) = self.check_usable() {
            let result = task.on_fail(self, e);
            self.done = Some(result);
            return;
        }
        self.launch(task, now);
    }

    /// Starts the new call's overall deadline (`Options::call_deadline`; a
    /// length past the clock's range means none).
    fn arm_call(&mut self, now: Instant) {
        self.call_end = self.call_deadline.and_then(|d| now.checked_add(d));
    }

    /// Clears the last operation's traces before a new one; poisons the
    /// session when that operation never finished.
    fn take_over(&mut self) {
        if self.task.is_some() || self.hello_first.is_some() {
            // The previous operation was abandoned half-way (a dropped
            // future): nothing may ever be sent on this connection again.
            self.task = None;
            self.hello_first = None;
            self.poison(CANCELLED.to_owned());
        }
        self.done = None;
        self.cap = None;
        self.idle = None;
        self.challenge = None;
        self.call_end = None;
    }

    /// Begins `task`, EHLO first when it needs one and none succeeded.
    fn launch(&mut self, task: Task, now: Instant) {
        let hello = task.wants_hello() && self.needs_hello();
        if !hello {
            let mut task = task;
            let step = task.begin(self, now);
            self.settle(task, step, now);
            return;
        }
        match self.client.ehlo() {
            Ok(id) => {
                self.hello_first = Some(id);
                self.task = Some(task);
            }
            Err(e) => {
                let result = task.on_fail(self, e.into());
                self.finish(result);
            }
        }
    }

    fn begin_task(&mut self, now: Instant) {
        let Some(mut task) = self.task.take() else {
            return;
        };
        let step = task.begin(self, now);
        self.settle(task, step, now);
    }

    /// Puts `task` back unless `step` (or a failure meanwhile) finished it.
    fn settle(&mut self, task: Task, step: task::Step, now: Instant) {
        match step {
            task::Step::Continue if self.done.is_none() => self.task = Some(task),
            task::Step::Continue => {}
            task::Step::Finish(result) => self.finish(result),
            task::Step::Then(next) => self.launch(*next, now),
        }
    }

    fn finish(&mut self, result: Result<Output, Error>) {
        self.task = None;
        self.hello_first = None;
        self.cap = None;
        self.idle = None;
        self.call_end = None;
        self.body_stall = None;
        self.challenge = None;
        if !self.streaming() {
            self.sending = Sent::Commands;
        }
        if self.done.is_none() {
            self.done = Some(result);
        }
    }

    fn finish_err(&mut self, e: Error) {
        match self.task.take() {
            Some(task) => {
                let result = task.on_fail(self, e);
                self.finish(result);
            }
            None => {
                self.hello_first = None;
                if self.done.is_none() {
                    self.done = Some(Err(e));
                }
            }
        }
    }

    /// A fatal error: the session is poisoned, the operation fails with
    /// `e` (after seeing the reports the engine queued as it failed).
    fn fail(&mut self, e: Error) {
        if self.done.is_some() && self.task.is_none() {
            self.poison(e.to_string());
            return;
        }
        if let Some(mut task) = self.task.take() {
            while let Some(event) = self.client.poll_event() {
                task.on_leftover(self, event);
            }
            self.task = Some(task);
        }
        self.poison(e.to_string());
        self.finish_err(e);
    }

    fn poison(&mut self, cause: String) {
        if let Link::Poisoned(_) = self.link {
            return;
        }
        #[cfg(feature = "tracing")]
        self.spans.failed(&cause);
        if self.trace.is_enabled() {
            let wall = match self.last {
                Some(now) => self.wall_at(now),
                None => self.wall.map_or(SystemTime::UNIX_EPOCH, |(_, w)| w),
            };
            self.trace.note(&format!("fatal: {cause}"), wall);
        }
        self.link = Link::Poisoned(cause);
    }

    fn respond(&mut self, answer: Option<Secret<Vec<u8>>>) {
        let result = match answer {
            Some(answer) => {
                self.sending = Sent::Secret;
                self.client.auth_respond(answer)
            }
            None => self.client.auth_cancel(),
        };
        if let Err(e) = result {
            self.fail(Error::Usage(e));
        }
    }
}

/// The bodies a batch still has to send, and which message each
/// transaction carries.
#[derive(Debug, Default)]
pub(crate) struct BatchQueue {
    /// The messages not yet handed to the engine, in order.
    pub(crate) waiting: VecDeque<Waiting>,
    /// Every waiting message's recipients, back to back (one list for the
    /// batch rather than one per message).
    pub(crate) recipients: Vec<crate::Recipient>,
    /// The messages in flight, oldest first.
    pub(crate) queued: VecDeque<InFlight>,
    /// The body bytes of the messages in flight.
    pub(crate) queued_bytes: u64,
    pub(crate) results: Vec<Option<Result<TxnReport, Error>>>,
}

/// A message of a batch not yet handed to the engine: its index, its
/// envelope (recipients in [`BatchQueue::recipients`]) and body options.
#[derive(Debug)]
pub(crate) struct Waiting {
    pub(crate) index: usize,
    pub(crate) from: crate::ReversePath,
    pub(crate) params: crate::MailParams,
    pub(crate) recipients: std::ops::Range<usize>,
    pub(crate) options: crate::BodyOptions,
}

/// A message of a batch the engine holds: its transaction, its index in
/// the batch and its body's size.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InFlight {
    pub(crate) txn: TxnId,
    pub(crate) index: usize,
    pub(crate) bytes: u64,
}

/// One result per message of a batch that failed as a whole with `e`:
/// the first unfinished message gets `e`, the others say why they were
/// not sent.
pub fn batch_failed<T>(e: Error, messages: usize) -> Vec<Result<T, Error>> {
    let cause = e.to_string();
    let mut first = Some(e);
    (0..messages)
        .map(|_| {
            Err(first.take().unwrap_or_else(|| Error::Poisoned {
                cause: cause.clone(),
            }))
        })
        .collect()
}

/// Boxed authenticator an operation owns (`login`'s built-in mechanisms).
pub(crate) type OwnedAuth = Box<dyn Authenticator + Send>;
