//! [`SmtpClient`]: smtplib's `SMTP`, `SMTP_SSL` and `LMTP` classes as one
//! type, with smtplib's session methods.

use std::time::{Duration, Instant};

use smtp_proto::auth::{Authenticator, CramMd5, Login, Plain};
use smtp_proto::{Client, CommandId, Dialect, Domain, Event, Extensions, Mechanism, Reply};
use smtp_proto::{Secret, UsageError};

use crate::Error;
use crate::builder::Builder;
use crate::debug::Sent;
use crate::driver::Driver;
use crate::tls::TlsPolicy;

/// smtplib's `SMTP_PORT`.
pub const SMTP_PORT: u16 = 25;
/// smtplib's `SMTP_SSL_PORT` (implicit TLS, RFC 8314).
pub const SMTP_SSL_PORT: u16 = 465;
/// smtplib's `LMTP_PORT`.
pub const LMTP_PORT: u16 = 2003;

/// How long QUIT on drop may take: dropping must not block for the
/// engine's five-minute command deadline.
const DROP_QUIT_BUDGET: Duration = Duration::from_secs(5);

/// An SMTP or LMTP session over a blocking socket: smtplib's `SMTP`,
/// `SMTP_SSL` and `LMTP` in one type (the [`Builder`] picks which).
///
/// Connecting waits for the greeting and sends EHLO (LHLO) at once, so
/// [`esmtp_features`](Self::esmtp_features) is filled from the start, as
/// the engine's `auto_ehlo` does after every TLS handshake.
///
/// Dropping the client sends QUIT when the session is healthy and idle
/// (smtplib's `with` block), within a few seconds at most; the result is
/// ignored, so it can never hide the error that made the caller leave.
#[derive(Debug)]
pub struct SmtpClient {
    pub(crate) driver: Driver,
    greeting: Option<Reply>,
    ehlo_resp: Option<Reply>,
    helo_resp: Option<Reply>,
    does_esmtp: bool,
    /// A positive EHLO/HELO/LHLO in the current (TLS) phase.
    hello_ok: bool,
    policy: TlsPolicy,
    /// The envelope opened by [`mail`](Self::mail), until `data`, `rset`
    /// or the next MAIL.
    pub(crate) envelope: Option<crate::send::OpenEnvelope>,
}

impl SmtpClient {
    /// Waits for the greeting and the first EHLO, then runs STARTTLS as
    /// `policy` says (the builder's last step).
    pub(crate) fn open(driver: Driver, policy: TlsPolicy) -> Result<SmtpClient, Error> {
        let mut smtp = SmtpClient {
            driver,
            greeting: None,
            ehlo_resp: None,
            helo_resp: None,
            does_esmtp: false,
            hello_ok: false,
            policy,
            envelope: None,
        };
        smtp.await_greeting()?;
        match policy {
            TlsPolicy::Disabled => {}
            TlsPolicy::Required | TlsPolicy::Opportunistic if smtp.is_tls() => {}
            TlsPolicy::Required | TlsPolicy::Opportunistic => {
                smtp.starttls_checked(false)?;
            }
        }
        Ok(smtp)
    }

    /// Connects like smtplib's `SMTP(host)`: plain SMTP, port 25 unless
    /// `host` ends in `:port`.
    ///
    /// # Errors
    /// As [`Builder::connect`].
    pub fn connect(host: &str) -> Result<SmtpClient, Error> {
        Builder::new().connect(host)
    }

    /// Connects like smtplib's `SMTP_SSL(host)`: implicit TLS, port 465,
    /// certificate verified against the system roots.
    ///
    /// # Errors
    /// As [`Builder::connect`].
    pub fn connect_tls(host: &str) -> Result<SmtpClient, Error> {
        Builder::new().implicit_tls().connect(host)
    }

    /// Connects like smtplib's `LMTP(host)`: port 2003, or a Unix socket
    /// when `host` starts with `/`.
    ///
    /// # Errors
    /// As [`Builder::connect`].
    pub fn connect_lmtp(host: &str) -> Result<SmtpClient, Error> {
        Builder::new().lmtp().connect(host)
    }

    /// The options builder.
    pub fn builder() -> Builder {
        Builder::new()
    }

    // ----- attributes ----------------------------------------------------

    /// The server's greeting (what smtplib's `connect` returns).
    pub fn greeting(&self) -> Option<&Reply> {
        self.greeting.as_ref()
    }

    /// The last reply to EHLO/LHLO (smtplib's `ehlo_resp`).
    pub fn ehlo_resp(&self) -> Option<&Reply> {
        self.ehlo_resp.as_ref()
    }

    /// The last reply to HELO (smtplib's `helo_resp`).
    pub fn helo_resp(&self) -> Option<&Reply> {
        self.helo_resp.as_ref()
    }

    /// Whether the server answered EHLO/LHLO positively (smtplib's
    /// `does_esmtp`).
    pub fn does_esmtp(&self) -> bool {
        self.does_esmtp
    }

    /// The advertised extensions, keys case-insensitive (smtplib's
    /// `esmtp_features`); `None` before a successful EHLO and right after
    /// TLS until the new EHLO.
    pub fn esmtp_features(&self) -> Option<&Extensions> {
        self.driver.client.extensions()
    }

    /// Whether `name` was advertised, ignoring case (smtplib's `has_extn`).
    pub fn has_extn(&self, name: &str) -> bool {
        self.esmtp_features().is_some_and(|e| e.has(name))
    }

    /// Whether the connection is TLS-protected.
    pub fn is_tls(&self) -> bool {
        self.driver.client.is_tls()
    }

    /// Whether this is an LMTP session.
    pub fn is_lmtp(&self) -> bool {
        self.driver.client.config().dialect == Dialect::Lmtp
    }

    /// The name sent with EHLO (smtplib's `local_hostname`).
    pub fn local_hostname(&self) -> &Domain {
        &self.driver.client.config().client_domain
    }

    /// The engine, read-only: phase, configuration, extensions.
    pub fn engine(&self) -> &Client {
        &self.driver.client
    }

    /// Whether the session can still be used: connected, not closed, no
    /// fatal error.
    pub fn is_connected(&self) -> bool {
        self.driver.is_open()
    }

    /// smtplib's `set_debuglevel`: 0 off, 1 the wire conversation on
    /// stderr, 2 with timestamps. AUTH payloads are always redacted.
    pub fn set_debuglevel(&mut self, level: u8) {
        self.driver.trace.set_level(level);
    }

    // ----- hello ---------------------------------------------------------

    /// Sends EHLO (LHLO for LMTP) and relearns the extensions; falls back to
    /// HELO on 500/502 as smtplib's `ehlo_or_helo_if_needed` does. The name
    /// is the builder's `local_hostname`.
    ///
    /// # Errors
    /// [`Error::HeloError`] when refused; fatal errors.
    pub fn ehlo(&mut self) -> Result<Reply, Error> {
        self.driver.check_usable()?;
        let id = self.driver.client.ehlo()?;
        self.await_hello(id)
    }

    /// Sends HELO: no extensions will be used (SMTP only).
    ///
    /// # Errors
    /// As [`ehlo`](Self::ehlo); [`Error::Usage`] in LMTP.
    pub fn helo(&mut self) -> Result<Reply, Error> {
        self.driver.check_usable()?;
        let id = self.driver.client.helo()?;
        self.await_hello(id)
    }

    /// EHLO (or HELO) unless one succeeded already in this session.
    ///
    /// # Errors
    /// As [`ehlo`](Self::ehlo).
    pub fn ehlo_or_helo_if_needed(&mut self) -> Result<(), Error> {
        self.driver.check_usable()?;
        if !self.hello_ok || self.esmtp_features().is_none() {
            self.ehlo()?;
        }
        Ok(())
    }

    // ----- STARTTLS and AUTH ---------------------------------------------

    /// STARTTLS, the handshake (verifying the server name), and a fresh
    /// EHLO; everything learned before is forgotten (RFC 3207 §4.2).
    ///
    /// When STARTTLS is not offered or is refused, the session is ended with
    /// QUIT and [`Error::TlsRequired`] returned, unless the builder's policy
    /// is [`TlsPolicy::Opportunistic`], in which case the session stays
    /// usable in plaintext and the error is still returned.
    ///
    /// Returns the server's 220 reply, as smtplib's `starttls()` does.
    ///
    /// # Errors
    /// [`Error::TlsRequired`], [`Error::Tls`] (handshake or verification
    /// failure: the connection is gone), [`Error::Usage`] when TLS is
    /// already active.
    pub fn starttls(&mut self) -> Result<Reply, Error> {
        explicit_reply(self.starttls_checked(true))
    }

    /// `explicit`: the caller asked, so a missing STARTTLS is an error even
    /// under the opportunistic policy (the session stays open then).
    fn starttls_checked(&mut self, explicit: bool) -> Result<Option<Reply>, Error> {
        self.ehlo_or_helo_if_needed()?;
        if self.is_tls() {
            return Err(UsageError::TlsAlreadyActive.into());
        }
        if !self.has_extn("STARTTLS") {
            return self.tls_unavailable(None, explicit).map(|()| None);
        }
        let id = self.driver.client.starttls()?;
        let ready;
        loop {
            match self.driver.step()? {
                Event::StartTlsReady { id: got, reply } if got == id => {
                    ready = reply;
                    break;
                }
                Event::StartTlsRejected { id: got, reply } if got == id => {
                    return self.tls_unavailable(Some(reply), explicit).map(|()| None);
                }
                _ => {}
            }
        }
        self.hello_ok = false;
        self.does_esmtp = false;
        self.ehlo_resp = None;
        self.helo_resp = None;
        // The engine queued the fresh EHLO itself (auto_ehlo).
        self.await_any_hello()?;
        Ok(Some(ready))
    }

    fn tls_unavailable(&mut self, reply: Option<Reply>, explicit: bool) -> Result<(), Error> {
        let error = Error::TlsRequired { reply };
        if self.policy == TlsPolicy::Opportunistic {
            return if explicit { Err(error) } else { Ok(()) };
        }
        // Nothing but QUIT may follow (DESIGN §8.2).
        let _ = self.quit_bounded(DROP_QUIT_BUDGET);
        self.driver.close();
        Err(error)
    }

    /// smtplib's `login`: tries CRAM-MD5, PLAIN, LOGIN in that order among
    /// the advertised mechanisms, skipping those that would reveal the
    /// password without TLS (unless allowed); stops at the first success,
    /// and at once on a fatal error (421 included).
    ///
    /// # Errors
    /// [`Error::NotSupported`] without AUTH or a usable mechanism,
    /// [`Error::Usage`] (`PlaintextAuthRefused`) when only password
    /// mechanisms are offered without TLS, [`Error::AuthenticationError`]
    /// with the last refusal.
    pub fn login(&mut self, user: &str, password: &str) -> Result<Reply, Error> {
        self.ehlo_or_helo_if_needed()?;
        let offered: Vec<String> = match self.esmtp_features() {
            Some(e) if e.has("AUTH") => e.auth_mechanisms().to_vec(),
            _ => {
                return Err(Error::NotSupported(
                    "SMTP AUTH extension not supported by server".to_owned(),
                ));
            }
        };
        let order = [Mechanism::CRAM_MD5, Mechanism::PLAIN, Mechanism::LOGIN];
        let candidates: Vec<Mechanism> = order
            .into_iter()
            .filter(|m| offered.iter().any(|o| o == m.as_str()))
            .collect();
        let plaintext_ok = self.is_tls() || self.driver.client.config().allow_plaintext_auth;
        let usable: Vec<&Mechanism> = candidates
            .iter()
            .filter(|m| plaintext_ok || !smtp_proto::auth::reveals_secret(m))
            .collect();
        if usable.is_empty() {
            return match candidates.into_iter().next() {
                Some(m) => Err(UsageError::PlaintextAuthRefused(m).into()),
                None => Err(Error::NotSupported(format!(
                    "no suitable authentication method among {offered:?}"
                ))),
            };
        }
        let mut last = None;
        for mech in usable {
            let result = match mech.as_str() {
                "CRAM-MD5" => self.authenticate(&mut CramMd5::new(user, password)),
                "PLAIN" => self.authenticate(&mut Plain::new(user, password)),
                _ => self.authenticate(&mut Login::new(user, password)),
            };
            match result {
                Err(e @ Error::AuthenticationError { .. }) => last = Some(e),
                other => return other,
            }
        }
        Err(last.unwrap_or_else(|| Error::NotSupported("no mechanism tried".to_owned())))
    }

    /// smtplib's `auth(mechanism, authobject)`: `authobject(None)` gives the
    /// initial response (or `None` for none); `authobject(Some(challenge))`
    /// answers each decoded 334 challenge, `None` cancelling the exchange.
    ///
    /// # Errors
    /// [`Error::AuthenticationError`] when refused; [`Error::Usage`] for a
    /// mechanism not advertised or revealing the password without TLS.
    pub fn auth<F>(&mut self, mechanism: &str, authobject: F) -> Result<Reply, Error>
    where
        F: FnMut(Option<&[u8]>) -> Option<Vec<u8>>,
    {
        let mechanism = Mechanism::parse(mechanism)?;
        self.authenticate(&mut FnAuth {
            mechanism,
            f: authobject,
        })
    }

    /// Runs one AUTH exchange with an [`Authenticator`] from
    /// [`smtp_proto::auth`] (or your own, e.g. SCRAM).
    ///
    /// # Errors
    /// As [`auth`](Self::auth).
    pub fn authenticate(&mut self, auth: &mut dyn Authenticator) -> Result<Reply, Error> {
        self.ehlo_or_helo_if_needed()?;
        let mechanism = auth.mechanism();
        let initial = auth.initial_response();
        let id = self.driver.client.auth(mechanism.clone(), initial)?;
        loop {
            match self.driver.step()? {
                Event::AuthChallenge { id: got, challenge } if got == id => {
                    match auth.respond(challenge.expose()) {
                        Some(answer) => {
                            self.driver.client.auth_respond(answer)?;
                            self.driver.sending = Sent::Secret;
                        }
                        None => self.driver.client.auth_cancel()?,
                    }
                }
                Event::AuthSucceeded { id: got, reply } if got == id => return Ok(reply),
                Event::AuthFailed { id: got, reply } if got == id => {
                    return Err(Error::AuthenticationError {
                        mechanism: mechanism.to_string(),
                        reply,
                    });
                }
                _ => {}
            }
        }
    }

    // ----- simple commands -----------------------------------------------

    /// VRFY (smtplib's `verify`): the reply whatever its code (252 and 550
    /// are answers, not failures).
    ///
    /// # Errors
    /// Fatal errors; [`Error::Usage`] for a forbidden byte.
    pub fn verify(&mut self, address: &str) -> Result<Reply, Error> {
        self.simple(|c| c.vrfy(address))
    }

    /// EXPN (smtplib's `expn`): the reply whatever its code.
    ///
    /// # Errors
    /// As [`verify`](Self::verify).
    pub fn expn(&mut self, address: &str) -> Result<Reply, Error> {
        self.simple(|c| c.expn(address))
    }

    /// HELP with an optional topic (smtplib's `help`).
    ///
    /// # Errors
    /// As [`verify`](Self::verify).
    pub fn help(&mut self, topic: Option<&str>) -> Result<Reply, Error> {
        self.simple(|c| c.help(topic))
    }

    /// NOOP (smtplib's `noop`).
    ///
    /// # Errors
    /// Fatal errors.
    pub fn noop(&mut self) -> Result<Reply, Error> {
        self.simple(Client::noop)
    }

    /// RSET (smtplib's `rset`). Also closes an envelope opened by
    /// [`mail`](Self::mail).
    ///
    /// # Errors
    /// Fatal errors.
    pub fn rset(&mut self) -> Result<Reply, Error> {
        let reply = self.simple(Client::rset);
        self.envelope = None;
        reply
    }

    /// smtplib's `docmd(cmd, args)`: one line, `cmd` and `args` joined by a
    /// space, and its reply whatever its code. The line may not contain CR,
    /// LF or other controls. Commands that change the session (STARTTLS,
    /// AUTH, MAIL, DATA, BDAT) desynchronise the engine's view of the
    /// session and must not be sent this way.
    ///
    /// # Errors
    /// As [`verify`](Self::verify).
    pub fn docmd(&mut self, cmd: &str, args: &str) -> Result<Reply, Error> {
        let line = if args.is_empty() {
            cmd.to_owned()
        } else {
            format!("{cmd} {args}")
        };
        self.simple(|c| c.raw(&line))
    }

    /// QUIT and close (smtplib's `quit`): the server's reply. Afterwards
    /// every call fails with [`Error::ServerDisconnected`].
    ///
    /// # Errors
    /// Fatal errors; [`Error::ServerDisconnected`] when the server closed
    /// without answering.
    pub fn quit(&mut self) -> Result<Reply, Error> {
        self.driver.check_usable()?;
        let result = self.quit_inner();
        self.driver.close();
        result
    }

    /// Closes the connection without QUIT (smtplib's `close`).
    pub fn close(&mut self) {
        self.driver.close();
    }

    // ----- internals -----------------------------------------------------

    fn quit_inner(&mut self) -> Result<Reply, Error> {
        let id = self.driver.client.quit()?;
        let mut answer = None;
        loop {
            match self.driver.step() {
                Ok(Event::Reply { id: got, reply }) if got == id => answer = Some(reply),
                Ok(Event::Closed { .. }) => break,
                Ok(_) => {}
                Err(Error::ServerDisconnected { .. }) if answer.is_some() => break,
                Err(e) => return Err(e),
            }
        }
        answer.ok_or(Error::ServerDisconnected {
            stage: Some(smtp_proto::Stage::Quit),
        })
    }

    /// QUIT within `budget`, for drop and for refused TLS.
    fn quit_bounded(&mut self, budget: Duration) -> Result<Reply, Error> {
        self.driver.cap = Instant::now().checked_add(budget);
        let result = self.quit_inner();
        self.driver.cap = None;
        result
    }

    fn simple(
        &mut self,
        queue: impl FnOnce(&mut Client) -> Result<CommandId, UsageError>,
    ) -> Result<Reply, Error> {
        self.driver.check_usable()?;
        let id = queue(&mut self.driver.client)?;
        loop {
            if let Event::Reply { id: got, reply } = self.driver.step()?
                && got == id
            {
                return Ok(reply);
            }
        }
    }

    fn await_greeting(&mut self) -> Result<(), Error> {
        loop {
            match self.driver.step() {
                Ok(Event::Greeting { reply }) => {
                    let positive = reply.code().is_positive_completion();
                    self.greeting = Some(reply.clone());
                    if positive {
                        break;
                    }
                    // The engine queued QUIT; let it go out, then report.
                    let cap = Instant::now().checked_add(DROP_QUIT_BUDGET);
                    self.driver.cap = cap;
                    while let Ok(ev) = self.driver.step() {
                        if matches!(ev, Event::Closed { .. }) {
                            break;
                        }
                    }
                    self.driver.close();
                    return Err(Error::ConnectError { reply });
                }
                Ok(_) => {}
                Err(Error::ServiceClosing { reply, .. }) if self.greeting.is_none() => {
                    return Err(Error::ConnectError { reply });
                }
                Err(e) => return Err(e),
            }
        }
        self.await_any_hello()
    }

    /// Waits for the engine's automatic EHLO/LHLO reply. A refusal is
    /// recorded, not returned: smtplib's constructor does not EHLO, and
    /// `ehlo_or_helo_if_needed` reports it when it matters.
    fn await_any_hello(&mut self) -> Result<(), Error> {
        loop {
            if let Event::Hello {
                reply,
                esmtp,
                extensions,
                ..
            } = self.driver.step()?
            {
                self.record_hello(reply, esmtp, extensions.is_some());
                return Ok(());
            }
        }
    }

    fn await_hello(&mut self, id: CommandId) -> Result<Reply, Error> {
        loop {
            if let Event::Hello {
                id: got,
                reply,
                esmtp,
                extensions,
            } = self.driver.step()?
                && got == id
            {
                let ok = extensions.is_some() && reply.code().is_positive_completion();
                self.record_hello(reply.clone(), esmtp, ok);
                return if ok {
                    Ok(reply)
                } else {
                    Err(Error::HeloError { reply })
                };
            }
        }
    }

    fn record_hello(&mut self, reply: Reply, esmtp: bool, ok: bool) {
        let ok = ok && reply.code().is_positive_completion();
        self.hello_ok = ok;
        if esmtp {
            self.does_esmtp = ok;
            self.ehlo_resp = Some(reply);
        } else {
            self.does_esmtp = false;
            self.helo_resp = Some(reply);
        }
    }
}

impl Drop for SmtpClient {
    fn drop(&mut self) {
        // An open envelope from `mail`/`rcpt` has every reply in (those
        // calls return only then): QUIT ends it on the server too.
        let idle = self.driver.client.is_idle() || self.envelope.is_some();
        if self.driver.is_open() && idle {
            let _ = self.quit_bounded(DROP_QUIT_BUDGET);
        }
        self.driver.close();
    }
}

/// smtplib's `authobject` callable as an [`Authenticator`].
struct FnAuth<F> {
    mechanism: Mechanism,
    f: F,
}

impl<F: FnMut(Option<&[u8]>) -> Option<Vec<u8>>> Authenticator for FnAuth<F> {
    fn mechanism(&self) -> Mechanism {
        self.mechanism.clone()
    }

    fn initial_response(&mut self) -> Option<Secret<Vec<u8>>> {
        (self.f)(None).map(Secret::new)
    }

    fn respond(&mut self, challenge: &[u8]) -> Option<Secret<Vec<u8>>> {
        (self.f)(Some(challenge)).map(Secret::new)
    }
}

/// An explicit STARTTLS either succeeds with the 220 reply or fails: a
/// missing or refused STARTTLS is an error whatever the policy when the
/// caller asked for it.
fn explicit_reply(r: Result<Option<Reply>, Error>) -> Result<Reply, Error> {
    r?.ok_or(Error::TlsRequired { reply: None })
}
