//! [`SmtpClient`]: smtplib's `SMTP`, `SMTP_SSL` and `LMTP` classes as one
//! type, `async`. Each method starts an operation of the sans-IO
//! [`Session`] and drives it to its result; what the operation does
//! (EHLO first when needed, the TLS policy, the login order, how the body
//! is sent, what a refusal means) is documented on the session's method of
//! the same name.

use std::ops::Deref;
use std::time::Instant;

use smtp_proto::auth::Authenticator;
use smtp_proto::session::{Error, FromOutput, Session};
use smtp_proto::smtplib::Refused;
use smtp_proto::{Envelope, Mechanism, Reply, Secret, TxnReport};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::builder::Builder;
use crate::driver::{Bodies, Driver, Feed, NoBody, now};

/// An SMTP or LMTP session over a Tokio stream: smtplib's `SMTP`,
/// `SMTP_SSL` and `LMTP` in one type (the [`Builder`] picks which).
///
/// Connecting waits for the greeting and sends EHLO (LHLO) at once, so
/// [`esmtp_features`](Session::esmtp_features) is filled from the start.
/// smtplib's attributes (`ehlo_resp`, `does_esmtp`, `has_extn`, ...) are
/// the [`Session`]'s getters, reached through `Deref`.
///
/// # Cancellation
///
/// | methods | dropped before completion |
/// |---|---|
/// | [`Builder::connect`] and friends, [`SmtpClient::connect`], `connect_tls`, `connect_lmtp` | safe: the half-made connection is dropped |
/// | every other `async` method | the connection is **poisoned**: every later call returns [`Error::Poisoned`]; a message whose final "." was already written may have been delivered |
/// | `close`, getters, `set_debuglevel` | not `async` |
///
/// Dropping the client sends QUIT when the session is healthy and idle, in
/// one non-blocking write without waiting for the reply (an `async` drop
/// does not exist); call [`quit`](Self::quit) to wait for it.
#[derive(Debug)]
pub struct SmtpClient {
    pub(crate) driver: Driver,
}

impl Deref for SmtpClient {
    type Target = Session;

    /// The session: smtplib's attributes and the engine, read-only.
    fn deref(&self) -> &Session {
        &self.driver.session
    }
}

impl SmtpClient {
    /// Connects like smtplib's `SMTP(host)`: plain SMTP, port 25 unless
    /// `host` ends in `:port`.
    ///
    /// # Errors
    /// As [`Builder::connect`].
    pub async fn connect(host: &str) -> Result<SmtpClient, Error> {
        Builder::new().connect(host).await
    }

    /// Connects like smtplib's `SMTP_SSL(host)`: implicit TLS, port 465,
    /// certificate verified against the system roots.
    ///
    /// # Errors
    /// As [`Builder::connect`].
    pub async fn connect_tls(host: &str) -> Result<SmtpClient, Error> {
        Builder::new().implicit_tls().connect(host).await
    }

    /// Connects like smtplib's `LMTP(host)`: port 2003, or a Unix socket
    /// when `host` starts with `/`.
    ///
    /// # Errors
    /// As [`Builder::connect`].
    pub async fn connect_lmtp(host: &str) -> Result<SmtpClient, Error> {
        Builder::new().lmtp().connect(host).await
    }

    /// The options builder.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// A closed client with no connection (what a pooled client leaves
    /// behind when its connection goes back to the pool).
    pub(crate) fn detached() -> SmtpClient {
        SmtpClient {
            driver: Driver::detached(),
        }
    }

    /// smtplib's `set_debuglevel`: 0 off, 1 the wire conversation on
    /// stderr, 2 with timestamps. AUTH payloads are always redacted.
    pub fn set_debuglevel(&mut self, level: u8) {
        self.driver.trace.set_level(level);
    }

    /// Starts an operation with `start` and drives it to its result.
    async fn op<T: FromOutput>(
        &mut self,
        start: impl FnOnce(&mut Session, Instant),
    ) -> Result<T, Error> {
        self.op_fed(Feed::none(), start).await
    }

    async fn op_fed<T: FromOutput, R: AsyncRead + Unpin>(
        &mut self,
        feed: Feed<'_, R>,
        start: impl FnOnce(&mut Session, Instant),
    ) -> Result<T, Error> {
        start(&mut self.driver.session, now());
        self.driver.run(feed).await
    }

    /// EHLO (LHLO for LMTP) and the extensions learned again; see
    /// [`Session::ehlo`].
    ///
    /// # Errors
    /// [`Error::HeloError`] when refused; fatal errors.
    pub async fn ehlo(&mut self) -> Result<Reply, Error> {
        self.op(Session::ehlo).await
    }

    /// HELO: no extensions will be used (SMTP only).
    ///
    /// # Errors
    /// As [`ehlo`](Self::ehlo); [`Error::Usage`] in LMTP.
    pub async fn helo(&mut self) -> Result<Reply, Error> {
        self.op(Session::helo).await
    }

    /// EHLO (or HELO) unless one succeeded already in this session.
    ///
    /// # Errors
    /// As [`ehlo`](Self::ehlo).
    pub async fn ehlo_or_helo_if_needed(&mut self) -> Result<(), Error> {
        self.op(Session::ehlo_or_helo_if_needed).await
    }

    /// STARTTLS, the handshake (verifying the server name) and a fresh
    /// EHLO; returns the server's 220 reply, as smtplib's `starttls()`
    /// does. See [`Session::starttls`] for the TLS policy.
    ///
    /// # Errors
    /// [`Error::TlsRequired`], [`Error::Tls`] (handshake or verification
    /// failure: the connection is gone), [`Error::Usage`] when TLS is
    /// already active.
    pub async fn starttls(&mut self) -> Result<Reply, Error> {
        let reply: Option<Reply> = self.op(Session::starttls).await?;
        reply.ok_or(Error::TlsRequired { reply: None })
    }

    /// smtplib's `login`; see [`Session::login`] for the mechanism order
    /// and the plaintext rule.
    ///
    /// # Errors
    /// [`Error::NotSupported`] without AUTH or a usable mechanism,
    /// [`Error::Usage`] (`PlaintextAuthRefused`) when only password
    /// mechanisms are offered without TLS, [`Error::AuthenticationError`]
    /// with the last refusal.
    pub async fn login(&mut self, user: &str, password: &str) -> Result<Reply, Error> {
        self.op(|s, now| s.login(now, user, password)).await
    }

    /// smtplib's `auth(mechanism, authobject)`: `authobject(None)` gives the
    /// initial response (or `None` for none); `authobject(Some(challenge))`
    /// answers each decoded 334 challenge, `None` cancelling the exchange.
    ///
    /// # Errors
    /// [`Error::AuthenticationError`] when refused; [`Error::Usage`] for a
    /// mechanism not advertised or revealing the password without TLS.
    pub async fn auth<F>(&mut self, mechanism: &str, mut authobject: F) -> Result<Reply, Error>
    where
        F: FnMut(Option<&[u8]>) -> Option<Vec<u8>> + Send,
    {
        let mechanism = Mechanism::parse(mechanism)?;
        let initial = authobject(None).map(Secret::new);
        let mut answer = smtp_proto::auth::FnAuthenticator::new(mechanism.clone(), |c| {
            authobject(Some(c)).map(Secret::new)
        });
        let feed: Feed<'_, NoBody> = Feed {
            bodies: Bodies::None,
            auth: Some(&mut answer),
        };
        self.op_fed(feed, |s, now| s.auth(now, mechanism, initial))
            .await
    }

    /// Runs one AUTH exchange with an [`Authenticator`] from
    /// [`smtp_proto::auth`] (or your own, e.g. SCRAM).
    ///
    /// # Errors
    /// As [`auth`](Self::auth).
    pub async fn authenticate(
        &mut self,
        auth: &mut (dyn Authenticator + Send),
    ) -> Result<Reply, Error> {
        let mechanism = auth.mechanism();
        let initial = auth.initial_response();
        let feed: Feed<'_, NoBody> = Feed {
            bodies: Bodies::None,
            auth: Some(auth),
        };
        self.op_fed(feed, |s, now| s.auth(now, mechanism, initial))
            .await
    }

    /// VRFY (smtplib's `verify`): the reply whatever its code (252 and 550
    /// are answers, not failures).
    ///
    /// # Errors
    /// Fatal errors; [`Error::Usage`] for a forbidden byte.
    pub async fn verify(&mut self, address: &str) -> Result<Reply, Error> {
        self.op(|s, now| s.verify(now, address)).await
    }

    /// EXPN (smtplib's `expn`): the reply whatever its code.
    ///
    /// # Errors
    /// As [`verify`](Self::verify).
    pub async fn expn(&mut self, address: &str) -> Result<Reply, Error> {
        self.op(|s, now| s.expn(now, address)).await
    }

    /// HELP with an optional topic (smtplib's `help`).
    ///
    /// # Errors
    /// As [`verify`](Self::verify).
    pub async fn help(&mut self, topic: Option<&str>) -> Result<Reply, Error> {
        self.op(|s, now| s.help(now, topic)).await
    }

    /// NOOP (smtplib's `noop`).
    ///
    /// # Errors
    /// Fatal errors.
    pub async fn noop(&mut self) -> Result<Reply, Error> {
        self.op(Session::noop).await
    }

    /// RSET (smtplib's `rset`). Also closes an envelope opened by
    /// [`mail`](Self::mail).
    ///
    /// # Errors
    /// Fatal errors.
    pub async fn rset(&mut self) -> Result<Reply, Error> {
        self.op(Session::rset).await
    }

    /// smtplib's `docmd(cmd, args)`; see [`Session::docmd`]. Commands that
    /// change the session (STARTTLS, AUTH, MAIL, DATA, BDAT) desynchronise
    /// the engine's view of the session and must not be sent this way.
    ///
    /// # Errors
    /// As [`verify`](Self::verify).
    pub async fn docmd(&mut self, cmd: &str, args: &str) -> Result<Reply, Error> {
        self.op(|s, now| s.docmd(now, cmd, args)).await
    }

    /// QUIT and close (smtplib's `quit`): the server's reply. Afterwards
    /// every call fails with [`Error::ServerDisconnected`].
    ///
    /// # Errors
    /// Fatal errors; [`Error::ServerDisconnected`] when the server closed
    /// without answering.
    pub async fn quit(&mut self) -> Result<Reply, Error> {
        let result = self.op(Session::quit).await;
        self.driver.shutdown().await;
        result
    }

    /// Closes the connection without QUIT (smtplib's `close`).
    pub fn close(&mut self) {
        self.driver.close();
    }

    /// smtplib's `sendmail(from_addr, to_addrs, msg, mail_options,
    /// rcpt_options)`; see [`Session::sendmail`]. Returns the refused
    /// recipients (empty when all were accepted): in LMTP, also those whose
    /// own final reply was negative.
    ///
    /// # Errors
    /// [`Error::SenderRefused`], [`Error::RecipientsRefused`] (nobody got
    /// it), [`Error::DataError`], [`Error::OutcomeUnknown`] (the message may
    /// have been delivered), [`Error::InvalidArgument`] for a bad address or
    /// option, and fatal errors.
    pub async fn sendmail<S: AsRef<str>>(
        &mut self,
        from_addr: &str,
        to_addrs: &[S],
        msg: &[u8],
        mail_options: &[&str],
        rcpt_options: &[&str],
    ) -> Result<Refused, Error> {
        let feed = Feed::parts([msg]);
        self.op_fed(feed, |s, now| {
            s.sendmail(now, from_addr, to_addrs, msg, mail_options, rcpt_options);
        })
        .await
    }

    /// smtplib's `send_message(msg, from_addr, to_addrs)` for a raw RFC
    /// 5322 message; see [`Session::send_message`] for the header rules
    /// (`Bcc` and `Resent-Bcc` are never transmitted).
    ///
    /// # Errors
    /// As [`sendmail`](Self::sendmail), plus [`Error::InvalidMessage`] when
    /// the headers cannot give the envelope.
    pub async fn send_message(
        &mut self,
        msg: &[u8],
        from_addr: Option<&str>,
        to_addrs: Option<&[&str]>,
    ) -> Result<Refused, Error> {
        let parts = self
            .driver
            .session
            .send_message(now(), msg, from_addr, to_addrs);
        self.driver.run(Feed::parts(parts)).await
    }

    /// [`send_message`](Self::send_message) for a message read from
    /// `reader`: only the header block (at most 1 MiB) is held in memory,
    /// the body is streamed. Returns the envelope used and the full report
    /// (see [`send`](Self::send)).
    ///
    /// # Errors
    /// As [`send`](Self::send), plus [`Error::InvalidMessage`].
    pub async fn send_message_reader<R: AsyncRead + Unpin + Send>(
        &mut self,
        mut reader: R,
        from_addr: Option<&str>,
        to_addrs: Option<&[&str]>,
    ) -> Result<(Envelope, TxnReport), Error> {
        let head = crate::message::read_header_block(&mut reader).await?;
        let parts = self
            .driver
            .session
            .send_message_head(now(), &head, from_addr, to_addrs);
        let mut source = parts
            .into_iter()
            .fold(
                Box::new(tokio::io::empty()) as Box<dyn AsyncRead + Unpin + Send>,
                |acc, p| Box::new(acc.chain(p)),
            )
            .chain(reader);
        self.driver
            .run(Feed::body(Bodies::Reader(&mut source)))
            .await
    }

    /// Sends one message whose body is read from `body` in 64 KiB chunks,
    /// with the full report; see [`Session::send`].
    ///
    /// # Errors
    /// [`Error::OutcomeUnknown`] when the connection fails after the end of
    /// data; [`Error::Io`] when `body` fails to read (the connection is then
    /// closed without ending the data, so nothing is delivered); usage and
    /// fatal errors.
    pub async fn send<R: AsyncRead + Unpin>(
        &mut self,
        envelope: &Envelope,
        mut body: R,
        options: smtp_proto::BodyOptions,
    ) -> Result<TxnReport, Error> {
        let feed = Feed::body(Bodies::Reader(&mut body));
        self.op_fed(feed, |s, now| s.send(now, envelope, options))
            .await
    }

    /// A batch pipelined across messages on this connection: with
    /// PIPELINING, the end of one message and the next envelope share a
    /// round trip. One result per message, in order; see
    /// [`Session::send_many`].
    pub async fn send_many<B: AsRef<[u8]>>(
        &mut self,
        messages: &[(Envelope, B)],
    ) -> Vec<Result<TxnReport, Error>> {
        let bodies = messages.iter().map(|(_, b)| b.as_ref()).collect();
        let batch = self.op_fed(Feed::many(bodies), |s, now| {
            s.send_many(now, messages);
        });
        batch
            .await
            .unwrap_or_else(|e| smtp_proto::session::batch_failed(e, messages.len()))
    }

    /// smtplib's `mail(sender, options)`: MAIL FROM alone, and its reply
    /// whatever its code; see [`Session::mail`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a bad address or option;
    /// [`Error::Usage`] for an extension the server does not offer, a
    /// `SIZE=` over its limit or `BODY=BINARYMIME`; fatal errors.
    pub async fn mail(&mut self, sender: &str, options: &[&str]) -> Result<Reply, Error> {
        self.op(|s, now| s.mail(now, sender, options)).await
    }

    /// smtplib's `rcpt(recip, options)`: one RCPT TO in the envelope opened
    /// by [`mail`](Self::mail), and its reply whatever its code.
    ///
    /// # Errors
    /// [`Error::Usage`] (`NoOpenEnvelope`) without an open envelope,
    /// (`SmtpUtf8NotDeclared`) for an internationalized address when
    /// [`mail`](Self::mail) did not declare `SMTPUTF8`;
    /// [`Error::InvalidArgument`]; fatal errors.
    pub async fn rcpt(&mut self, recip: &str, options: &[&str]) -> Result<Reply, Error> {
        self.op(|s, now| s.rcpt(now, recip, options)).await
    }

    /// smtplib's `data(msg)`: DATA, then on 354 the message, and the final
    /// reply whatever its code; see [`Session::data`].
    ///
    /// # Errors
    /// [`Error::DataError`] when DATA is not answered with 354; if the
    /// server says 354 although MAIL or every RCPT was refused, only a lone
    /// "." is sent and the error is [`Error::SenderRefused`] or
    /// [`Error::RecipientsRefused`]; [`Error::Usage`] (`NoOpenEnvelope`);
    /// [`Error::OutcomeUnknown`]; fatal errors.
    pub async fn data(&mut self, msg: &[u8]) -> Result<Reply, Error> {
        let feed = Feed::parts([msg]);
        self.op_fed(feed, Session::data).await
    }
}

impl Drop for SmtpClient {
    fn drop(&mut self) {
        self.driver.quit_nowait();
    }
}
