//! [`SmtpClient`] and its [`Builder`]: smtplib's `SMTP`, `SMTP_SSL` and
//! `LMTP` classes as one type, with smtplib's session methods.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use native_tls::{Certificate, TlsConnector};
use smtp_proto::auth::{Authenticator, CramMd5, Login, Plain};
use smtp_proto::{Client, CommandId, Config, Dialect, Domain, Event, Extensions, Mechanism, Reply};
use smtp_proto::{Secret, Timeouts, UsageError};

use crate::Error;
use crate::debug::{Sent, Trace};
use crate::driver::Driver;
use crate::tls::{TlsPolicy, TlsSettings};
use crate::transport::{self, Base, Stream, Target, Transport};

/// smtplib's `SMTP_PORT`.
pub const SMTP_PORT: u16 = 25;
/// smtplib's `SMTP_SSL_PORT` (implicit TLS, RFC 8314).
pub const SMTP_SSL_PORT: u16 = 465;
/// smtplib's `LMTP_PORT`.
pub const LMTP_PORT: u16 = 2003;

/// How long QUIT on drop may take: dropping must not block for the
/// engine's five-minute command deadline.
const DROP_QUIT_BUDGET: Duration = Duration::from_secs(5);
/// Default bound on establishing the TCP connection.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// Connection options: smtplib's constructor arguments (`local_hostname`,
/// `timeout`, `source_address`, `context`) plus what smtplib lacks (TLS
/// policy, TLS server name, engine configuration).
///
/// ```no_run
/// use smtp_blocking::{Builder, TlsPolicy};
/// # fn main() -> Result<(), smtp_blocking::Error> {
/// let mut smtp = Builder::new()
///     .starttls(TlsPolicy::Required)
///     .timeout(std::time::Duration::from_secs(30))
///     .connect("mail.example.org:587")?;
/// smtp.login("user", "password")?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct Builder {
    config: Config,
    implicit_tls: bool,
    policy: TlsPolicy,
    local_hostname: Option<Domain>,
    connect_timeout: Duration,
    source_address: Option<SocketAddr>,
    tls: TlsSettings,
    debuglevel: u8,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// SMTP on port 25, no TLS unless asked, RFC 5321 deadlines.
    pub fn new() -> Self {
        Self {
            config: Config::default(),
            implicit_tls: false,
            policy: TlsPolicy::Disabled,
            local_hostname: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            source_address: None,
            tls: TlsSettings::default(),
            debuglevel: 0,
        }
    }

    /// Speak LMTP (smtplib's `LMTP`): LHLO, default port 2003, a host
    /// starting with `/` is a Unix socket, one final reply per recipient.
    pub fn lmtp(mut self) -> Self {
        self.config.dialect = Dialect::Lmtp;
        self
    }

    /// TLS from the first byte (smtplib's `SMTP_SSL`), default port 465.
    pub fn implicit_tls(mut self) -> Self {
        self.implicit_tls = true;
        self
    }

    /// STARTTLS right after connecting, under `policy`; see [`TlsPolicy`].
    /// Also decides what a failed explicit [`SmtpClient::starttls`] does.
    pub fn starttls(mut self, policy: TlsPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The name sent with EHLO/HELO/LHLO (smtplib's `local_hostname`).
    /// Default: the host name if it has a dot, else `[local IP]`.
    pub fn local_hostname(mut self, name: Domain) -> Self {
        self.local_hostname = Some(name);
        self
    }

    /// smtplib's `timeout`: bounds the connection attempt and every reply
    /// and write.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self.config.timeouts = Timeouts::uniform(timeout);
        self
    }

    /// Bounds only the TCP connection attempt (default 60 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Per-phase reply deadlines (default: the RFC 5321 §4.5.3.2 values).
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.config.timeouts = timeouts;
        self
    }

    /// Binds the local end before connecting (smtplib's `source_address`).
    pub fn source_address(mut self, addr: SocketAddr) -> Self {
        self.source_address = Some(addr);
        self
    }

    /// Uses this TLS connector as is (smtplib's `context`); the other TLS
    /// options are then ignored, except the server name.
    pub fn tls_connector(mut self, connector: TlsConnector) -> Self {
        self.tls.connector = Some(connector);
        self
    }

    /// The name the server certificate must carry, when it differs from
    /// the host connected to (an IP address, an alias, a tunnel).
    pub fn tls_server_name(mut self, name: &str) -> Self {
        self.tls.server_name = Some(name.to_owned());
        self
    }

    /// Trusts `cert` as a root in addition to the system's.
    pub fn add_root_certificate(mut self, cert: Certificate) -> Self {
        self.tls.extra_roots.push(cert);
        self
    }

    /// **Dangerous**: accepts any certificate, so anyone on the path can
    /// read and change the session. For tests against throwaway servers.
    pub fn dangerous_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.tls.danger_accept_invalid_certs = accept;
        self
    }

    /// **Dangerous**: accepts a valid certificate issued to another name.
    pub fn dangerous_accept_invalid_hostnames(mut self, accept: bool) -> Self {
        self.tls.danger_accept_invalid_hostnames = accept;
        self
    }

    /// Permits PLAIN and LOGIN without TLS (off by default; the server's
    /// advertisement never turns it on).
    pub fn allow_plaintext_auth(mut self, allow: bool) -> Self {
        self.config.allow_plaintext_auth = allow;
        self
    }

    /// Pipelines commands when the server offers PIPELINING (default on).
    pub fn pipelining(mut self, on: bool) -> Self {
        self.config.pipelining = on;
        self
    }

    /// Sends bodies with BDAT when the server offers CHUNKING (default on).
    pub fn chunking(mut self, on: bool) -> Self {
        self.config.chunking = on;
        self
    }

    /// The whole engine configuration. Its `dialect` and `client_domain`
    /// are overridden by [`lmtp`](Self::lmtp) and the local host name.
    pub fn config(mut self, config: Config) -> Self {
        let dialect = self.config.dialect;
        self.config = config;
        if dialect == Dialect::Lmtp {
            self.config.dialect = dialect;
        }
        self
    }

    /// Starts with a wire trace on stderr (see
    /// [`SmtpClient::set_debuglevel`]), so the greeting is traced too.
    pub fn debuglevel(mut self, level: u8) -> Self {
        self.debuglevel = level;
        self
    }

    fn default_port(&self) -> u16 {
        if self.config.dialect == Dialect::Lmtp {
            LMTP_PORT
        } else if self.implicit_tls {
            SMTP_SSL_PORT
        } else {
            SMTP_PORT
        }
    }

    /// Connects to `host`, which may end in `:port` (smtplib's parsing;
    /// `[v6addr]:port` too) or, for LMTP, be a Unix socket path starting
    /// with `/`; waits for the greeting and the EHLO/LHLO reply; then runs
    /// STARTTLS as the policy says.
    ///
    /// # Errors
    /// [`Error::ConnectError`] for a refused greeting, [`Error::Io`],
    /// [`Error::Tls`], [`Error::Timeout`], [`Error::TlsRequired`], ...
    pub fn connect(&self, host: &str) -> Result<SmtpClient, Error> {
        self.connect_target(host, None)
    }

    /// Connects to `host` on `port` (no `:port` parsing).
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub fn connect_port(&self, host: &str, port: u16) -> Result<SmtpClient, Error> {
        self.connect_target(host, Some(port))
    }

    /// Runs the session over a stream the caller connected. Set
    /// [`tls_server_name`](Self::tls_server_name) for STARTTLS or implicit
    /// TLS (default `localhost`).
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub fn connect_stream<S: Stream + 'static>(&self, stream: S) -> Result<SmtpClient, Error> {
        self.start(Base::Custom(Box::new(stream)), "localhost")
    }

    fn connect_target(&self, host: &str, port: Option<u16>) -> Result<SmtpClient, Error> {
        let lmtp = self.config.dialect == Dialect::Lmtp;
        match transport::parse_target(host, port, self.default_port(), lmtp)? {
            Target::Unix(path) => {
                let base = transport::connect_unix(&path)?;
                self.start(base, "localhost")
            }
            Target::Tcp { host, port } => {
                let tcp = transport::connect_tcp(
                    &host,
                    port,
                    self.source_address,
                    self.connect_timeout,
                )?;
                self.start(Base::Tcp(tcp), &host)
            }
        }
    }

    fn start(&self, base: Base, host: &str) -> Result<SmtpClient, Error> {
        let local = self
            .local_hostname
            .clone()
            .unwrap_or_else(|| transport::default_local_hostname(base.local_ip()));
        let mut config = self.config.clone();
        config.client_domain = local;
        config.auto_ehlo = true;
        let server_name = self
            .tls
            .server_name
            .clone()
            .unwrap_or_else(|| host.to_owned());
        let mut trace = Trace::default();
        trace.level = self.debuglevel;
        let transport = if self.implicit_tls {
            trace.note(&format!("TLS handshake, verifying {server_name:?}"));
            let connector = self.tls.connector()?;
            crate::tls::handshake(&connector, &server_name, base, config.timeouts.greeting)?
        } else {
            Transport::Plain(base)
        };
        let mut client = Client::new(config, Instant::now());
        client.set_tls(self.implicit_tls);
        let driver = Driver::new(
            client,
            transport,
            Some((self.tls.clone(), server_name)),
            trace,
        )?;
        let mut smtp = SmtpClient {
            driver,
            greeting: None,
            ehlo_resp: None,
            helo_resp: None,
            does_esmtp: false,
            hello_ok: false,
            policy: self.policy,
        };
        smtp.await_greeting()?;
        match self.policy {
            TlsPolicy::Disabled => {}
            TlsPolicy::Required | TlsPolicy::Opportunistic if smtp.is_tls() => {}
            TlsPolicy::Required | TlsPolicy::Opportunistic => {
                smtp.starttls_checked(false)?;
            }
        }
        Ok(smtp)
    }
}

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
}

impl SmtpClient {
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
        self.driver.trace.level = level;
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
    /// # Errors
    /// [`Error::TlsRequired`], [`Error::Tls`] (handshake or verification
    /// failure: the connection is gone), [`Error::Usage`] when TLS is
    /// already active.
    pub fn starttls(&mut self) -> Result<(), Error> {
        self.starttls_checked(true)
    }

    /// `explicit`: the caller asked, so a missing STARTTLS is an error even
    /// under the opportunistic policy (the session stays open then).
    fn starttls_checked(&mut self, explicit: bool) -> Result<(), Error> {
        self.ehlo_or_helo_if_needed()?;
        if self.is_tls() {
            return Err(UsageError::TlsAlreadyActive.into());
        }
        if !self.has_extn("STARTTLS") {
            return self.tls_unavailable(None, explicit);
        }
        let id = self.driver.client.starttls()?;
        loop {
            match self.driver.step()? {
                Event::StartTlsReady { id: got } if got == id => break,
                Event::StartTlsRejected { id: got, reply } if got == id => {
                    return self.tls_unavailable(Some(reply), explicit);
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
        Ok(())
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

    /// RSET (smtplib's `rset`).
    ///
    /// # Errors
    /// Fatal errors.
    pub fn rset(&mut self) -> Result<Reply, Error> {
        self.simple(Client::rset)
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
        if self.driver.is_open() && self.driver.client.is_idle() {
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
