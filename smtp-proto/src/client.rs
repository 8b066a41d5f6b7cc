//! [`Client`]: the public face of the engine. Commands validate and delegate;
//! `handle_*` feed input; `poll_*` drain output. Everything that changes
//! lives in one [`State`]; the rules for what each reply means live in
//! [`state`](crate::state).

use std::time::Instant;

use crate::command::{Command, Mechanism};
use crate::config::{Config, Dialect};
use crate::ehlo::Extensions;
use crate::error::{Error, Stage, UsageError};
use crate::event::{CommandId, Event};
use crate::secret::Secret;
use crate::state::{HelloVerb, OpKind, Phase, State};

/// A sans-IO SMTP/LMTP client session.
///
/// See the [crate documentation](crate) for the run-loop contract. In short:
/// after any `handle_*` call or command, drain [`poll_transmit`](Self::poll_transmit)
/// and write the bytes, drain [`poll_event`](Self::poll_event) until `None`,
/// then wait for the earliest of socket readable, [`poll_timeout`](Self::poll_timeout)
/// and the application's next command.
///
/// `Debug` never shows the bytes waiting for the wire: they may hold AUTH
/// lines.
pub struct Client {
    /// The whole session. `pub(crate)` only so that the transaction
    /// commands in `mail.rs` can delegate to it too.
    pub(crate) state: State,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.state.fmt(f)
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
        Self {
            state: State::new(config, now),
        }
    }

    /// Marks the transport as TLS-protected from the start (implicit TLS).
    /// Call before the greeting arrives.
    pub fn set_tls(&mut self, tls: bool) {
        self.state.set_tls(tls);
    }

    // ----- getters -------------------------------------------------------

    /// The session phase.
    pub fn phase(&self) -> Phase {
        self.state.phase()
    }

    /// The capabilities from the last successful EHLO/LHLO (empty after HELO);
    /// `None` before it and after the TLS handshake until the new EHLO.
    pub fn extensions(&self) -> Option<&Extensions> {
        self.state.extensions()
    }

    /// Whether the transport is TLS-protected (implicit TLS or STARTTLS done).
    pub fn is_tls(&self) -> bool {
        self.state.is_tls()
    }

    /// Whether the session has ended, normally or with an error.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase(), Phase::Closed | Phase::Failed)
    }

    /// The sticky fatal error, if the session failed.
    pub fn error(&self) -> Option<&Error> {
        self.state.error()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        self.state.config()
    }

    /// Whether commands are pipelined: configured and advertised.
    pub fn is_pipelining(&self) -> bool {
        self.state.is_pipelining()
    }

    /// Whether nothing is queued, in flight or open: the session is idle.
    pub fn is_idle(&self) -> bool {
        self.state.is_idle()
    }

    /// Whether [`send_body`](Self::send_body) would accept a chunk now.
    pub fn can_send_body(&self) -> bool {
        self.state.can_send_body()
    }

    /// What the client is waiting for now: the [`Stage`] a timeout or a lost
    /// connection would be reported with. Adapters use it to label their
    /// own I/O errors.
    pub fn stage(&self) -> Stage {
        self.state.stage()
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
        self.state.handle_input(now, bytes)
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
        self.state.handle_eof()
    }

    /// Checks the deadline. Call when the time from
    /// [`poll_timeout`](Self::poll_timeout) has come; calling early is harmless.
    ///
    /// # Errors
    /// [`Error::Timeout`] when the deadline has passed; sticky.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        self.state.handle_timeout(now)
    }

    /// Reports that an overall deadline the caller keeps (one call's, see
    /// [`Deadline::Call`](crate::Deadline::Call)) passed: the session fails
    /// as on a timeout, with [`Error::DeadlineExceeded`] naming the
    /// deadline and the stage; transactions are reported as on any fatal
    /// error. A closed session stays closed (`Ok`).
    ///
    /// # Errors
    /// The error it failed with; sticky.
    pub fn handle_deadline(&mut self, deadline: crate::Deadline) -> Result<(), Error> {
        self.state.deadline_passed(deadline)
    }

    /// Reports that the TLS handshake after [`Event::StartTlsReady`]
    /// succeeded. Everything learned before is forgotten (RFC 3207 §4.2);
    /// with `auto_ehlo` a fresh EHLO/LHLO is queued.
    ///
    /// # Errors
    /// [`UsageError::NotAllowed`] unless the client was waiting for TLS.
    pub fn tls_established(&mut self, _now: Instant) -> Result<(), UsageError> {
        self.state.tls_established()
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
        self.state.poll_transmit(now, out)
    }

    /// Moves queued commands onto the wire buffer as the pipelining rules
    /// allow (what `poll_transmit` does before it drains), so that the
    /// events this causes (`ReadyForBody`) are visible before the bytes are
    /// taken. For the operations layer, which decides its next step from
    /// the events.
    pub(crate) fn pump(&mut self, now: Instant) {
        self.state.pump(now);
    }

    /// The next event, if any.
    ///
    /// Call after: `poll_transmit`; repeat until `None`.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.state.poll_event()
    }

    /// The earliest deadline, if the client is waiting for the server.
    ///
    /// Call after: draining `poll_transmit` and `poll_event`. When it
    /// passes, call [`handle_timeout`](Self::handle_timeout).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.state.poll_timeout()
    }

    /// Whether a reply is awaited: its deadline is armed. (With a
    /// [`Config::transaction_deadline`] [`poll_timeout`](Self::poll_timeout)
    /// may also be set while the body is the caller's to send.)
    pub fn is_awaiting_reply(&self) -> bool {
        self.state.is_awaiting_reply()
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
        self.state.check_session_command("EHLO")?;
        let verb = match self.config().dialect {
            Dialect::Smtp => HelloVerb::EhloOrHelo,
            Dialect::Lmtp => HelloVerb::Lhlo,
        };
        self.state.queue_hello(verb)
    }

    /// Queues HELO (SMTP only): no extensions will be used.
    ///
    /// # Errors
    /// As [`ehlo`](Self::ehlo), plus `WrongDialect` in LMTP.
    pub fn helo(&mut self) -> Result<CommandId, UsageError> {
        if self.config().dialect == Dialect::Lmtp {
            return Err(UsageError::WrongDialect("HELO"));
        }
        self.state.check_session_command("HELO")?;
        self.state.queue_hello(HelloVerb::Helo)
    }

    /// Queues STARTTLS (RFC 3207). Watch for [`Event::StartTlsReady`] or
    /// [`Event::StartTlsRejected`]; no other command is accepted meanwhile.
    ///
    /// # Errors
    /// `TlsAlreadyActive`, `ExtensionNotAdvertised("STARTTLS")`,
    /// `NotAllowed` before a successful EHLO, `TransactionInProgress`,
    /// `AuthInProgress`, `Closed`.
    pub fn starttls(&mut self) -> Result<CommandId, UsageError> {
        if self.is_tls() {
            return Err(UsageError::TlsAlreadyActive);
        }
        self.state.check_session_command("STARTTLS")?;
        self.state.check_ready("STARTTLS")?;
        if !self.extensions().is_some_and(Extensions::starttls) {
            return Err(UsageError::ExtensionNotAdvertised("STARTTLS"));
        }
        self.state.queue_starttls()
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
        self.state.check_session_command("AUTH")?;
        self.state.check_ready("AUTH")?;
        let config = self.config();
        if !config.allow_unadvertised_auth {
            let ext = self.extensions();
            if !ext.is_some_and(|e| e.has("AUTH")) {
                return Err(UsageError::ExtensionNotAdvertised("AUTH"));
            }
            if !ext.is_some_and(|e| e.supports_auth(mechanism.as_str())) {
                return Err(UsageError::MechanismNotAdvertised(mechanism));
            }
        }
        if !self.is_tls() && !config.allow_plaintext_auth && crate::auth::reveals_secret(&mechanism)
        {
            return Err(UsageError::PlaintextAuthRefused(mechanism));
        }
        self.state.queue_auth(&Command::Auth {
            mechanism,
            initial_response,
        })
    }

    /// Answers the pending [`Event::AuthChallenge`] (raw bytes; the client
    /// base64-encodes them).
    ///
    /// # Errors
    /// `NoAuthChallenge`.
    pub fn auth_respond(&mut self, response: Secret<Vec<u8>>) -> Result<(), UsageError> {
        self.state
            .answer_challenge(&Command::AuthResponse(response), false)
    }

    /// Cancels the AUTH exchange with `*`; the server's reply ends it with
    /// [`Event::AuthFailed`].
    ///
    /// # Errors
    /// `NoAuthChallenge`.
    pub fn auth_cancel(&mut self) -> Result<(), UsageError> {
        self.state.answer_challenge(&Command::AuthCancel, true)
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
        self.state.check_open("RSET")?;
        self.state.queue_rset()
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
        self.state.check_open("QUIT")?;
        self.state.queue_quit()
    }

    /// NOOP, VRFY, EXPN, HELP or a raw line: its reply is reported
    /// as [`Event::Reply`].
    fn simple(&mut self, command: Command) -> Result<CommandId, UsageError> {
        self.state.check_open(command.verb())?;
        self.state.queue(
            |id| OpKind::Simple {
                id,
                internal: false,
            },
            &command,
        )
    }
}
