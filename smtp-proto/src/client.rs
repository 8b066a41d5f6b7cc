//! [`Client`]: the public face of the engine. Commands validate and enqueue;
//! `handle_*` feed input; `poll_*` drain output. The rules for what each
//! reply means live in [`state`](crate::state).

use std::collections::VecDeque;
use std::time::Instant;

use crate::command::{Command, Mechanism};
use crate::config::{Config, Dialect};
use crate::ehlo::Extensions;
use crate::error::{Error, Stage, UsageError};
use crate::event::{CommandId, Event};
use crate::reply::ReplyReader;
use crate::secret::Secret;
use crate::state::{HelloVerb, Op, OpKind, Phase};
use crate::txn::{BodyMode, Txn, TxnStage};

/// A sans-IO SMTP/LMTP client session.
///
/// See the [crate documentation](crate) for the run-loop contract. In short:
/// after any `handle_*` call or command, drain [`poll_transmit`](Self::poll_transmit)
/// and write the bytes, drain [`poll_event`](Self::poll_event) until `None`,
/// then wait for the earliest of socket readable, [`poll_timeout`](Self::poll_timeout)
/// and the application's next command.
///
/// `Debug` never shows the bytes waiting for the wire: they may hold AUTH
/// lines (DESIGN §8.11).
pub struct Client {
    pub(crate) config: Config,
    pub(crate) phase: Phase,
    /// The sticky fatal error, once there is one.
    pub(crate) error: Option<Error>,
    pub(crate) reader: ReplyReader,
    /// Bytes ready for the wire (commands and body), drained by `poll_transmit`.
    pub(crate) out: Vec<u8>,
    pub(crate) events: VecDeque<Event>,
    /// Commands queued and not yet on the wire, in order.
    pub(crate) pending: VecDeque<Op>,
    /// Commands on the wire awaiting their reply, in order.
    pub(crate) inflight: VecDeque<OpKind>,
    /// Deadline for whatever the client waits on (greeting or the head of
    /// `inflight`). `None` while nothing is expected from the server.
    pub(crate) deadline: Option<Instant>,
    /// Arm the head's deadline at the next `poll_transmit` (set by calls that
    /// resume waiting but have no `now`, such as `auth_respond`).
    pub(crate) rearm: bool,
    pub(crate) extensions: Option<Extensions>,
    pub(crate) tls: bool,
    /// An AUTH exchange is in progress.
    pub(crate) auth: Option<AuthExchange>,
    pub(crate) txns: VecDeque<Txn>,
    /// STARTTLS is queued or in flight.
    pub(crate) starttls_pending: bool,
    pub(crate) quit_queued: bool,
    next_id: u64,
}

/// State of an AUTH exchange.
#[derive(Debug)]
pub(crate) struct AuthExchange {
    pub(crate) rounds: u32,
    /// A challenge was reported and the caller has not answered yet.
    pub(crate) awaiting_caller: bool,
    /// `*` was sent: no further challenge reaches the caller.
    pub(crate) cancelled: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `out` (and each queued `Op`) may hold an AUTH line or response:
        // only lengths are shown.
        f.debug_struct("Client")
            .field("config", &self.config)
            .field("phase", &self.phase)
            .field("error", &self.error)
            .field("reader", &self.reader)
            .field("out_len", &self.out.len())
            .field("events", &self.events)
            .field("pending", &self.pending)
            .field("inflight", &self.inflight)
            .field("deadline", &self.deadline)
            .field("rearm", &self.rearm)
            .field("extensions", &self.extensions)
            .field("tls", &self.tls)
            .field("auth", &self.auth)
            .field("txns", &self.txns)
            .field("starttls_pending", &self.starttls_pending)
            .field("quit_queued", &self.quit_queued)
            .field("next_id", &self.next_id)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Creates a client for a freshly connected transport; the greeting
    /// deadline starts at `now`.
    ///
    /// For implicit TLS (port 465), finish the handshake first: the client
    /// then sees only plaintext SMTP, and [`Client::set_tls`] marks the
    /// session as encrypted.
    pub fn new(config: Config, now: Instant) -> Self {
        let deadline = now.checked_add(config.timeouts.greeting);
        Self {
            reader: ReplyReader::new(config.parser),
            config,
            phase: Phase::Greeting,
            error: None,
            out: Vec::new(),
            events: VecDeque::new(),
            pending: VecDeque::new(),
            inflight: VecDeque::new(),
            deadline,
            rearm: false,
            extensions: None,
            tls: false,
            auth: None,
            txns: VecDeque::new(),
            starttls_pending: false,
            quit_queued: false,
            next_id: 0,
        }
    }

    /// Marks the transport as TLS-protected from the start (implicit TLS).
    /// Call before the greeting arrives.
    pub fn set_tls(&mut self, tls: bool) {
        self.tls = tls;
    }

    // ----- getters -------------------------------------------------------

    /// The session phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The capabilities from the last successful EHLO/LHLO (empty after HELO);
    /// `None` before it and after the TLS handshake until the new EHLO.
    pub fn extensions(&self) -> Option<&Extensions> {
        self.extensions.as_ref()
    }

    /// Whether the transport is TLS-protected (implicit TLS or STARTTLS done).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Whether the session has ended, normally or with an error.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed | Phase::Failed)
    }

    /// The sticky fatal error, if the session failed.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether commands are pipelined: configured and advertised.
    pub fn is_pipelining(&self) -> bool {
        self.config.pipelining && self.extensions.as_ref().is_some_and(Extensions::pipelining)
    }

    /// Whether nothing is queued, in flight or open: the session is idle.
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.inflight.is_empty() && self.txns.is_empty()
    }

    /// Whether [`send_body`](Self::send_body) would accept a chunk now.
    pub fn can_send_body(&self) -> bool {
        match self.body_txn() {
            Some(t) => !(t.mode == BodyMode::Bdat && self.chunk_waiting()),
            None => false,
        }
    }

    // ----- input ---------------------------------------------------------

    /// Feeds bytes received from the server.
    ///
    /// Call after: reading from the transport. Then drain `poll_transmit`
    /// and `poll_event`.
    ///
    /// # Errors
    /// A fatal [`Error`]; sticky.
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) -> Result<(), Error> {
        self.check_failed()?;
        match self.phase {
            Phase::Closed => return Ok(()),
            Phase::AwaitingTls if !bytes.is_empty() => {
                // A StartTlsReady not yet taken is withdrawn (rule 3).
                self.events
                    .retain(|e| !matches!(e, Event::StartTlsReady { .. }));
                return self.fail(crate::error::ProtocolError::DataAfterStartTls.into());
            }
            _ => {}
        }
        self.reader.push(bytes);
        loop {
            if matches!(self.phase, Phase::Closed | Phase::Failed) {
                break;
            }
            let reply = match self.reader.next_reply() {
                Ok(Some(reply)) => reply,
                Ok(None) => break,
                Err(e) => {
                    return self.fail(crate::error::ProtocolError::MalformedReply(e).into());
                }
            };
            self.on_reply(now, reply)?;
            if self.phase == Phase::AwaitingTls {
                if self.reader.buffered_len() > 0 {
                    // Withdraw the StartTlsReady just queued: no handshake
                    // may follow (rule 3).
                    self.events
                        .retain(|e| !matches!(e, Event::StartTlsReady { .. }));
                    return self.fail(crate::error::ProtocolError::DataAfterStartTls.into());
                }
                break;
            }
        }
        self.check_failed()
    }

    /// Reports that the server closed the connection (read returned 0).
    ///
    /// Closing while idle, or after QUIT, ends the session normally with
    /// [`Event::Closed`]. Closing while replies are expected is
    /// [`Error::PeerClosed`]; after the end of data the affected transaction
    /// is reported with outcome `Unknown`.
    ///
    /// # Errors
    /// A fatal [`Error`]; sticky.
    pub fn handle_eof(&mut self, _now: Instant) -> Result<(), Error> {
        self.check_failed()?;
        if self.phase == Phase::Closed {
            return Ok(());
        }
        let quit_head = matches!(self.inflight.front(), Some(OpKind::Quit { .. }));
        let partial = self.reader.buffered_len() > 0;
        if quit_head && !partial {
            self.close(None);
            return Ok(());
        }
        if self.phase != Phase::Greeting
            && self.inflight.is_empty()
            && self.body_txn().is_none()
            && !partial
        {
            // Nothing was expected from the server: an ordinary close. Any
            // transaction still queued never started.
            self.abort_txns();
            self.close(None);
            return Ok(());
        }
        let stage = self.stage();
        self.fail(Error::PeerClosed { stage })
    }

    /// Checks the deadline. Call when the time from
    /// [`poll_timeout`](Self::poll_timeout) has come; calling early is harmless.
    ///
    /// # Errors
    /// [`Error::Timeout`] when the deadline has passed; sticky.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        self.check_failed()?;
        match self.deadline {
            Some(d) if now >= d => {
                let stage = self.stage();
                self.fail(Error::Timeout { stage })
            }
            _ => Ok(()),
        }
    }

    /// Reports that the TLS handshake after [`Event::StartTlsReady`]
    /// succeeded. Everything learned before is forgotten (RFC 3207 §4.2);
    /// with `auto_ehlo` a fresh EHLO/LHLO is queued.
    ///
    /// # Errors
    /// [`UsageError::NotAllowed`] unless the client was waiting for TLS.
    pub fn tls_established(&mut self, _now: Instant) -> Result<(), UsageError> {
        if self.phase != Phase::AwaitingTls {
            return Err(UsageError::NotAllowed {
                command: "TLS handshake",
                phase: self.phase,
            });
        }
        self.tls = true;
        self.starttls_pending = false;
        self.extensions = None;
        self.phase = Phase::Connected;
        if self.config.auto_ehlo {
            self.queue_hello_front();
        }
        Ok(())
    }

    // ----- output --------------------------------------------------------

    /// Appends every byte that may be written now to `out` and returns how
    /// many it appended. Takes `now` because putting a command on the wire
    /// starts its reply deadline.
    ///
    /// Call after: every `handle_*` call and every command; repeat until it
    /// returns 0. It may queue events, so drain `poll_event` after it.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> usize {
        self.pump(now);
        let n = self.out.len();
        out.append(&mut self.out);
        n
    }

    /// The next event, if any.
    ///
    /// Call after: `poll_transmit`; repeat until `None`.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest deadline, if the client is waiting for the server.
    ///
    /// Call after: draining `poll_transmit` and `poll_event`. When it
    /// passes, call [`handle_timeout`](Self::handle_timeout).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.error.is_some() || self.phase == Phase::Closed {
            None
        } else {
            self.deadline
        }
    }

    // ----- commands ------------------------------------------------------

    /// Queues EHLO (SMTP, falling back to HELO on 500/502) or LHLO (LMTP).
    /// With `auto_ehlo` the client does this itself after the greeting and
    /// after TLS; call it to re-learn capabilities.
    ///
    /// # Errors
    /// `NotAllowed` before the greeting, `TransactionInProgress`,
    /// `StartTlsInProgress`, `AuthInProgress`, `Closed`.
    pub fn ehlo(&mut self) -> Result<CommandId, UsageError> {
        self.check_session_command("EHLO")?;
        let verb = match self.config.dialect {
            Dialect::Smtp => HelloVerb::EhloOrHelo,
            Dialect::Lmtp => HelloVerb::Lhlo,
        };
        self.queue_hello(verb, false)
    }

    /// Queues HELO (SMTP only): no extensions will be used.
    ///
    /// # Errors
    /// As [`ehlo`](Self::ehlo), plus `WrongDialect` in LMTP.
    pub fn helo(&mut self) -> Result<CommandId, UsageError> {
        if self.config.dialect == Dialect::Lmtp {
            return Err(UsageError::WrongDialect("HELO"));
        }
        self.check_session_command("HELO")?;
        self.queue_hello(HelloVerb::Helo, false)
    }

    /// Queues STARTTLS (RFC 3207). Watch for [`Event::StartTlsReady`] or
    /// [`Event::StartTlsRejected`]; no other command is accepted meanwhile.
    ///
    /// # Errors
    /// `TlsAlreadyActive`, `ExtensionNotAdvertised("STARTTLS")`,
    /// `NotAllowed` before a successful EHLO, `TransactionInProgress`,
    /// `AuthInProgress`, `Closed`.
    pub fn starttls(&mut self) -> Result<CommandId, UsageError> {
        if self.tls {
            return Err(UsageError::TlsAlreadyActive);
        }
        self.check_session_command("STARTTLS")?;
        self.check_ready("STARTTLS")?;
        if !self.extensions.as_ref().is_some_and(Extensions::starttls) {
            return Err(UsageError::ExtensionNotAdvertised("STARTTLS"));
        }
        let id = self.next_command_id();
        self.push_op(OpKind::StartTls { id }, &Command::StartTls)?;
        self.starttls_pending = true;
        Ok(id)
    }

    /// Queues AUTH with an optional initial response (RFC 4954). Answer each
    /// [`Event::AuthChallenge`] with [`auth_respond`](Self::auth_respond) or
    /// [`auth_cancel`](Self::auth_cancel). [`crate::auth`] builds the
    /// responses of common mechanisms.
    ///
    /// # Errors
    /// `ExtensionNotAdvertised("AUTH")`, `MechanismNotAdvertised` (unless
    /// `allow_unadvertised_auth`), `PlaintextAuthRefused` for a mechanism that
    /// reveals the password without TLS (unless `allow_plaintext_auth`),
    /// `NotAllowed` before a successful EHLO, `TransactionInProgress`,
    /// `AuthInProgress`, `StartTlsInProgress`, `Closed`.
    pub fn auth(
        &mut self,
        mechanism: Mechanism,
        initial_response: Option<Secret<Vec<u8>>>,
    ) -> Result<CommandId, UsageError> {
        self.check_session_command("AUTH")?;
        self.check_ready("AUTH")?;
        if !self.config.allow_unadvertised_auth {
            let ext = self.extensions.as_ref();
            if !ext.is_some_and(|e| e.has("AUTH")) {
                return Err(UsageError::ExtensionNotAdvertised("AUTH"));
            }
            if !ext.is_some_and(|e| e.supports_auth(mechanism.as_str())) {
                return Err(UsageError::MechanismNotAdvertised(mechanism));
            }
        }
        if !self.tls && !self.config.allow_plaintext_auth && crate::auth::reveals_secret(&mechanism)
        {
            return Err(UsageError::PlaintextAuthRefused(mechanism));
        }
        let id = self.next_command_id();
        let command = Command::Auth {
            mechanism,
            initial_response,
        };
        self.push_op(OpKind::Auth { id }, &command)?;
        self.auth = Some(AuthExchange {
            rounds: 0,
            awaiting_caller: false,
            cancelled: false,
        });
        Ok(id)
    }

    /// Answers the pending [`Event::AuthChallenge`] (raw bytes; the client
    /// base64-encodes them).
    ///
    /// # Errors
    /// `NoAuthChallenge`.
    pub fn auth_respond(&mut self, response: Secret<Vec<u8>>) -> Result<(), UsageError> {
        self.answer_challenge(&Command::AuthResponse(response))
    }

    /// Cancels the AUTH exchange with `*`; the server's reply ends it with
    /// [`Event::AuthFailed`].
    ///
    /// # Errors
    /// `NoAuthChallenge`.
    pub fn auth_cancel(&mut self) -> Result<(), UsageError> {
        self.answer_challenge(&Command::AuthCancel)?;
        if let Some(a) = self.auth.as_mut() {
            a.cancelled = true;
        }
        Ok(())
    }

    /// Queues RSET.
    ///
    /// An envelope opened by [`mail`](Self::mail) that has not queued DATA
    /// is closed: no more RCPT or DATA may be added, and its
    /// [`Event::TransactionFinished`] (outcome `SenderRefused`,
    /// `AllRecipientsRefused` or `Aborted`) comes once its MAIL and RCPT
    /// replies are in, before the reply to this RSET.
    ///
    /// # Errors
    /// `NotAllowed` before the greeting, `StartTlsInProgress`, `Closed`.
    pub fn rset(&mut self) -> Result<CommandId, UsageError> {
        self.check_open("RSET")?;
        let id = self.next_command_id();
        self.push_op(OpKind::Rset { id }, &Command::Rset)?;
        self.abandon_open_envelopes();
        Ok(id)
    }

    /// Queues NOOP.
    ///
    /// # Errors
    /// As [`rset`](Self::rset).
    pub fn noop(&mut self) -> Result<CommandId, UsageError> {
        self.simple(Command::Noop)
    }

    /// Queues VRFY (RFC 5321 §3.5).
    ///
    /// # Errors
    /// As [`rset`](Self::rset), plus `InvalidCommand` for a forbidden byte.
    pub fn vrfy(&mut self, what: &str) -> Result<CommandId, UsageError> {
        self.simple(Command::Vrfy(what.to_owned()))
    }

    /// Queues EXPN (RFC 5321 §3.5).
    ///
    /// # Errors
    /// As [`vrfy`](Self::vrfy).
    pub fn expn(&mut self, what: &str) -> Result<CommandId, UsageError> {
        self.simple(Command::Expn(what.to_owned()))
    }

    /// Queues HELP with an optional topic.
    ///
    /// # Errors
    /// As [`vrfy`](Self::vrfy).
    pub fn help(&mut self, topic: Option<&str>) -> Result<CommandId, UsageError> {
        self.simple(Command::Help(topic.map(str::to_owned)))
    }

    /// Queues any single command line (smtplib's `docmd`); its reply comes
    /// as [`Event::Reply`]. The line must not contain CR, LF or other
    /// control bytes. Commands that change the session's state (STARTTLS,
    /// AUTH, DATA, BDAT, …) sent this way are the caller's responsibility.
    ///
    /// # Errors
    /// As [`vrfy`](Self::vrfy).
    pub fn raw(&mut self, line: &str) -> Result<CommandId, UsageError> {
        self.simple(Command::Raw(line.to_owned()))
    }

    /// Queues QUIT. [`Event::Reply`] and [`Event::Closed`] follow.
    ///
    /// # Errors
    /// `NotAllowed` before the greeting, `StartTlsInProgress`, `Closed`.
    pub fn quit(&mut self) -> Result<CommandId, UsageError> {
        self.check_open("QUIT")?;
        let id = self.next_command_id();
        self.push_op(OpKind::Quit { id }, &Command::Quit)?;
        self.quit_queued = true;
        Ok(id)
    }

    // ----- internals -----------------------------------------------------

    pub(crate) fn bump_id(&mut self) -> u64 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }

    pub(crate) fn next_command_id(&mut self) -> CommandId {
        CommandId(self.bump_id())
    }

    /// Encodes `command` and queues it; nothing is queued on error.
    pub(crate) fn push_op(&mut self, kind: OpKind, command: &Command) -> Result<(), UsageError> {
        let op = Op::encode(kind, command)?;
        self.pending.push_back(op);
        Ok(())
    }

    fn simple(&mut self, command: Command) -> Result<CommandId, UsageError> {
        self.check_open(command.verb())?;
        let id = self.next_command_id();
        self.push_op(
            OpKind::Simple {
                id,
                internal: false,
            },
            &command,
        )?;
        Ok(id)
    }

    pub(crate) fn queue_hello(
        &mut self,
        verb: HelloVerb,
        front: bool,
    ) -> Result<CommandId, UsageError> {
        let id = self.next_command_id();
        let domain = self.config.client_domain.clone();
        let op = Op::hello(id, verb, domain)?;
        if front {
            self.pending.push_front(op);
        } else {
            self.pending.push_back(op);
        }
        Ok(id)
    }

    /// Queues the automatic EHLO/LHLO ahead of everything else. The client
    /// name is a validated [`Domain`](crate::Domain), so encoding cannot
    /// fail; if it ever did, no EHLO would go out and the caller would see
    /// no `Hello` event rather than a malformed line.
    pub(crate) fn queue_hello_front(&mut self) {
        let verb = match self.config.dialect {
            Dialect::Smtp => HelloVerb::EhloOrHelo,
            Dialect::Lmtp => HelloVerb::Lhlo,
        };
        let _ = self.queue_hello(verb, true);
    }

    /// The session accepts new commands at all.
    pub(crate) fn check_open(&self, command: &'static str) -> Result<(), UsageError> {
        if self.error.is_some() || self.quit_queued {
            return Err(UsageError::Closed);
        }
        match self.phase {
            Phase::Closed | Phase::Failed | Phase::Closing => Err(UsageError::Closed),
            Phase::Greeting => Err(UsageError::NotAllowed {
                command,
                phase: self.phase,
            }),
            Phase::AwaitingTls => Err(UsageError::StartTlsInProgress),
            Phase::Connected | Phase::Ready => {
                if self.starttls_pending {
                    Err(UsageError::StartTlsInProgress)
                } else if self.auth.is_some() {
                    Err(UsageError::AuthInProgress)
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Commands that change the session (EHLO, STARTTLS, AUTH) may not
    /// interleave with a transaction.
    fn check_session_command(&self, command: &'static str) -> Result<(), UsageError> {
        self.check_open(command)?;
        if !self.txns.is_empty() {
            return Err(UsageError::TransactionInProgress);
        }
        Ok(())
    }

    /// A successful EHLO/HELO is needed (extensions known).
    pub(crate) fn check_ready(&self, command: &'static str) -> Result<(), UsageError> {
        if self.phase == Phase::Ready && self.extensions.is_some() {
            Ok(())
        } else {
            Err(UsageError::NotAllowed {
                command,
                phase: self.phase,
            })
        }
    }

    fn answer_challenge(&mut self, command: &Command) -> Result<(), UsageError> {
        if self.error.is_some() {
            return Err(UsageError::Closed);
        }
        match &mut self.auth {
            Some(a) if a.awaiting_caller => a.awaiting_caller = false,
            _ => return Err(UsageError::NoAuthChallenge),
        }
        command.encode(&mut self.out)?;
        self.rearm = true;
        Ok(())
    }

    /// The transaction whose body is open.
    pub(crate) fn body_txn(&self) -> Option<&Txn> {
        self.txns.iter().find(|t| t.stage == TxnStage::BodyOpen)
    }

    pub(crate) fn check_failed(&self) -> Result<(), Error> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// What the client is waiting for now: the [`Stage`] a timeout or a lost
    /// connection would be reported with. Adapters use it to label their
    /// own I/O errors.
    pub fn stage(&self) -> Stage {
        if self.phase == Phase::Greeting {
            return Stage::Greeting;
        }
        if let Some(head) = self.inflight.front() {
            return head.stage();
        }
        if self.body_txn().is_some() {
            return Stage::Body;
        }
        Stage::Idle
    }
}
