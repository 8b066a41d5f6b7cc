//! The public methods of an adapter's client, written once.
//!
//! Both adapters offer the same smtplib-shaped methods; each one starts a
//! [`Session`](super::Session) operation and drives it with the adapter's
//! driver. [`client_methods!`](crate::client_methods) generates them, with
//! their documentation, for a blocking adapter (no `async`, no `.await`)
//! and for an async one, so the two can never drift apart. What it needs
//! from the adapter crate:
//!
//! - `crate::Builder` with `new`, `implicit_tls`, `lmtp` and `connect`;
//! - the client type has a field `driver` with `session: Session`,
//!   `run(feed)`, `shutdown()`
//!   and `close()`;
//! - `crate::driver::now()` (the driver's clock) and `crate::driver::Feed`,
//!   an alias of [`Feed`](super::Feed) whose source type defaults to the
//!   adapter's "no body" reader;
//! - `crate::message::read_header_block(&mut reader)` and
//!   `crate::message::head_then(parts, reader)`, the header block of a
//!   streamed message and the body source that replays it.
//! - a Cargo feature `builder` that turns on `smtp-proto/builder`, for
//!   `send_built`.
//!
//! [`builder!`](crate::builder) does the same for the builder: the
//! struct, its shared settings, and its connection methods. It needs:
//!
//! - `crate::transport::{connect_tcp, connect_unix, custom, Base,
//!   Transport, host_name}`: the sockets;
//! - `crate::tls::{Plan, handshake}`: the TLS library (`Plan::prepare`
//!   builds its connector ahead of time), and
//!   `Transport::channel_binding()`, the connection's
//!   `tls-server-end-point` data (native-tls's, or `smtp-tls`'s from the
//!   certificate under rustls);
//! - `crate::driver::Driver::new(session, transport, tls)`.

/// Generates an adapter client's public methods; see the
/// [`session::surface`](crate::session::surface) docs. `async` and `await`
/// are empty for a blocking adapter (`[async]` and `[.await]` for an async
/// one), `send` adds `+ Send` bounds, `read` is the body source bound.
#[macro_export]
// `crate::` here is deliberate: it names the adapter's own items (its
// `Builder`, `driver` and `message` modules), as the module docs list.
#[allow(clippy::crate_in_macro_def)]
macro_rules! client_methods {
    (
        async: [$($async:ident)?],
        await: [$($await:tt)*],
        send: [$($send:tt)*],
        read: [$($read:tt)*] $(,)?
    ) => {
            /// Connects like smtplib's `SMTP(host)`: **plaintext** SMTP, port
            /// 25 unless `host` ends in `:port`, with no TLS unless you call
            /// [`starttls`](Self::starttls), exactly as smtplib starts. For
            /// TLS by default use [`Builder::new`] (STARTTLS required,
            /// implicit TLS on port 465).
            ///
            /// # Errors
            /// As [`Builder::connect`].
            pub $($async)? fn connect(host: &str) -> ::std::result::Result<Self, $crate::session::Error> {
                crate::Builder::new().insecure_plaintext().connect(host) $($await)*
            }

            /// Connects like smtplib's `SMTP_SSL(host)`: implicit TLS, port 465,
            /// certificate verified against the system roots.
            ///
            /// # Errors
            /// As [`Builder::connect`].
            pub $($async)? fn connect_tls(host: &str) -> ::std::result::Result<Self, $crate::session::Error> {
                crate::Builder::new().implicit_tls().connect(host) $($await)*
            }

            /// Connects like smtplib's `LMTP(host)`: port 2003, or a Unix socket
            /// when `host` starts with `/`; plaintext, as smtplib starts.
            ///
            /// # Errors
            /// As [`Builder::connect`].
            pub $($async)? fn connect_lmtp(host: &str) -> ::std::result::Result<Self, $crate::session::Error> {
                crate::Builder::new().lmtp().insecure_plaintext().connect(host) $($await)*
            }

            /// The options builder.
            pub fn builder() -> crate::Builder {
                crate::Builder::new()
            }

            /// smtplib's `set_debuglevel`: 0 off, 1 the wire conversation on
            /// stderr, 2 with timestamps. AUTH payloads are always redacted.
            pub fn set_debuglevel(&mut self, level: u8) {
                let now = crate::driver::now();
                let wall = ::std::time::SystemTime::now();
                self.driver.session.set_debuglevel(level, now, wall);
            }

            /// Starts an operation with `start` and drives it to its result.
            $($async)? fn op<T: $crate::session::FromOutput>(&mut self, start: impl FnOnce(&mut $crate::session::Session, ::std::time::Instant)) -> ::std::result::Result<T, $crate::session::Error> {
                self.op_fed(<crate::driver::Feed<'_>>::none(), start) $($await)*
            }

            $($async)? fn op_fed<T: $crate::session::FromOutput, R: $($read)*>(
                &mut self,
                feed: crate::driver::Feed<'_, R>,
                start: impl FnOnce(&mut $crate::session::Session, ::std::time::Instant),
            ) -> ::std::result::Result<T, $crate::session::Error> {
                start(&mut self.driver.session, crate::driver::now());
                self.driver.run(feed) $($await)*
            }

            /// EHLO (LHLO for LMTP) and the extensions learned again; see
            /// [`Session::ehlo`].
            ///
            /// # Errors
            /// [`Error::HeloError`]($crate::session::Error::HeloError) when refused; fatal errors.
            pub $($async)? fn ehlo(&mut self) -> ::std::result::Result<$crate::Reply, $crate::session::Error> {
                self.op($crate::session::Session::ehlo) $($await)*
            }

            /// HELO: no extensions will be used (SMTP only).
            ///
            /// # Errors
            /// As [`ehlo`](Self::ehlo); [`Error::Usage`]($crate::session::Error::Usage) in LMTP.
            pub $($async)? fn helo(&mut self) -> ::std::result::Result<$crate::Reply, $crate::session::Error> {
                self.op($crate::session::Session::helo) $($await)*
            }

            /// EHLO (or HELO) unless one succeeded already in this session.
            ///
            /// # Errors
            /// As [`ehlo`](Self::ehlo).
            pub $($async)? fn ehlo_or_helo_if_needed(&mut self) -> ::std::result::Result<(), $crate::session::Error> {
                self.op($crate::session::Session::ehlo_or_helo_if_needed) $($await)*
            }

            /// STARTTLS, the handshake (verifying the server name) and a fresh
            /// EHLO; returns the server's 220 reply, as smtplib's `starttls()`
            /// does. See [`Session::starttls`] for the TLS policy.
            ///
            /// # Errors
            /// [`Error::TlsRequired`]($crate::session::Error::TlsRequired), [`Error::Tls`]($crate::session::Error::Tls) (handshake or verification
            /// failure: the connection is gone), [`Error::Usage`]($crate::session::Error::Usage) when TLS is
            /// already active.
            pub $($async)? fn starttls(&mut self) -> ::std::result::Result<$crate::Reply, $crate::session::Error> {
                let reply: Option<$crate::Reply> = self.op($crate::session::Session::starttls) $($await)*?;
                reply.ok_or($crate::session::Error::TlsRequired { reply: None })
            }

            /// smtplib's `login`; see [`Session::login`] for the mechanism order
            /// and the plaintext rule.
            ///
            /// # Errors
            /// [`Error::NotSupported`]($crate::session::Error::NotSupported) without AUTH or a usable mechanism,
            /// [`Error::Usage`]($crate::session::Error::Usage) (`PlaintextAuthRefused`) when only password
            /// mechanisms are offered without TLS, [`Error::AuthenticationError`]($crate::session::Error::AuthenticationError)
            /// with the last refusal.
            pub $($async)? fn login(&mut self, user: &str, password: &str) -> ::std::result::Result<$crate::Reply, $crate::session::Error> {
                self.op(|s, now| s.login(now, user, password)) $($await)*
            }

            /// smtplib's `auth(mechanism, authobject)`: `authobject(None)` gives the
            /// initial response (or `None` for none); `authobject(Some(challenge))`
            /// answers each decoded 334 challenge, `None` cancelling the exchange.
            ///
            /// # Errors
            /// [`Error::AuthenticationError`]($crate::session::Error::AuthenticationError) when refused; [`Error::Usage`]($crate::session::Error::Usage) for a
            /// mechanism not advertised or revealing the password without TLS.
            pub $($async)? fn auth<F>(&mut self, mechanism: &str, mut authobject: F) -> ::std::result::Result<$crate::Reply, $crate::session::Error>
            where
                F: FnMut(Option<&[u8]>) -> Option<Vec<u8>> $($send)*,
            {
                let mechanism = $crate::Mechanism::parse(mechanism)?;
                let initial = authobject(None).map($crate::Secret::new);
                let mut answer = $crate::auth::FnAuthenticator::new(mechanism.clone(), |c| {
                    authobject(Some(c)).map($crate::Secret::new)
                });
                let feed = <crate::driver::Feed<'_>>::auth(&mut answer);
                self.op_fed(feed, |s, now| s.auth(now, mechanism, initial)) $($await)*
            }

            /// Runs one AUTH exchange with an [`Authenticator`] from
            /// [`smtp_proto::auth`] (e.g. `ScramSha256`) or your own. The
            /// authenticator is first given the connection's TLS channel
            /// binding data ([`Authenticator::prepare`]), so `ScramSha256::plus`
            /// needs nothing more; at the end its [`Authenticator::finish`]
            /// decides whether a 235 counts (SCRAM checks the server's
            /// signature).
            ///
            /// # Errors
            /// As [`auth`](Self::auth); [`Error::MutualAuthFailed`]($crate::session::Error::MutualAuthFailed)
            /// when the server did not prove its identity (the connection is then
            /// closed); [`Error::NotSupported`]($crate::session::Error::NotSupported)
            /// for a `-PLUS` mechanism without channel binding data.
            pub $($async)? fn authenticate(&mut self, auth: &mut (dyn $crate::auth::Authenticator $($send)*),
            ) -> ::std::result::Result<$crate::Reply, $crate::session::Error> {
                auth.prepare(&self.driver.session.auth_context());
                let mechanism = auth.mechanism();
                let initial = auth.initial_response();
                let feed = <crate::driver::Feed<'_>>::auth(auth);
                self.op_fed(feed, |s, now| s.auth(now, mechanism, initial)) $($await)*
            }

            /// VRFY (smtplib's `verify`): the reply whatever its code (252 and 550
            /// are answers, not failures).
            ///
            /// # Errors
            /// Fatal errors; [`Error::Usage`]($crate::session::Error::Usage) for a forbidden byte.
            pub $($async)? fn verify(&mut self, address: &str) -> ::std::result::Result<$crate::Reply, $crate::session::Error> {
                self.op(|s, now| s.verify(now, address)) $($await)*
            }

            /// EXPN (smtplib's `expn`): the reply whatever its code.
            ///
            /// # Errors
            /// As [`verify`](Self::verify).
            pub $($async)? fn expn(&mut self, address: &str) -> ::std::result::Result<$crate::Reply, $crate::session::Error> {
                self.op(|s, now| s.expn(now, address)) $($await)*
            }

            /// HELP with an optional topic (smtplib's `help`).
            ///
            /// # Errors
            /// As [`verify`](Self::verify).
            pub $($async)? fn help(&mut self, topic: Option<&str>) -> ::std::result::Result<$crate::Reply, $crate::session::Error> {
                self.op(|s, now| s.help(now, topic)) $($await)*
            }

            /// NOOP (smtplib's `noop`).
            ///
            /// # Errors
            /// Fatal errors.
            pub $($async)? fn noop(&mut self) -> ::std::result::Result<$crate::Reply, $crate::session::Error> {
                self.op($crate::session::Session::noop) $($await)*
            }

            /// RSET (smtplib's `rset`). Also closes an envelope opened by
            /// [`mail`](Self::mail).
            ///
            /// # Errors
            /// Fatal errors.
            pub $($async)? fn rset(&mut self) -> ::std::result::Result<$crate::Reply, $crate::session::Error> {
                self.op($crate::session::Session::rset) $($await)*
            }

            /// smtplib's `docmd(cmd, args)`; see [`Session::docmd`]. Commands that
            /// change the session (STARTTLS, AUTH, MAIL, DATA, BDAT) desynchronise
            /// the engine's view of the session and must not be sent this way.
            ///
            /// # Errors
            /// As [`verify`](Self::verify).
            pub $($async)? fn docmd(&mut self, cmd: &str, args: &str) -> ::std::result::Result<$crate::Reply, $crate::session::Error> {
                self.op(|s, now| s.docmd(now, cmd, args)) $($await)*
            }

            /// QUIT and close (smtplib's `quit`): the server's reply. Afterwards
            /// every call fails with [`Error::ServerDisconnected`]($crate::session::Error::ServerDisconnected).
            ///
            /// # Errors
            /// Fatal errors; [`Error::ServerDisconnected`]($crate::session::Error::ServerDisconnected) when the server closed
            /// without answering.
            pub $($async)? fn quit(&mut self) -> ::std::result::Result<$crate::Reply, $crate::session::Error> {
                let result = self.op($crate::session::Session::quit) $($await)*;
                self.driver.shutdown() $($await)*;
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
            /// [`Error::SenderRefused`]($crate::session::Error::SenderRefused), [`Error::RecipientsRefused`]($crate::session::Error::RecipientsRefused) (nobody got
            /// it), [`Error::DataError`]($crate::session::Error::DataError), [`Error::OutcomeUnknown`]($crate::session::Error::OutcomeUnknown) (the message may
            /// have been delivered), [`Error::InvalidArgument`]($crate::session::Error::InvalidArgument) for a bad address or
            /// option, and fatal errors.
            pub $($async)? fn sendmail(
                &mut self,
                from_addr: &str,
                to_addrs: &(impl $crate::smtplib::ToAddrs + ?Sized),
                msg: &[u8],
                mail_options: &[&str],
                rcpt_options: &[&str],
            ) -> ::std::result::Result<$crate::smtplib::Refused, $crate::session::Error> {
                let feed = <crate::driver::Feed<'_>>::parts([msg]);
                self.op_fed(feed, |s, now| {
                    s.sendmail(now, from_addr, to_addrs, msg, mail_options, rcpt_options);
                }) $($await)*
            }

            /// smtplib's `send_message(msg, from_addr, to_addrs)` for a raw RFC
            /// 5322 message; see [`Session::send_message`] for the header rules
            /// (`Bcc` and `Resent-Bcc` are never transmitted).
            ///
            /// # Errors
            /// As [`sendmail`](Self::sendmail), plus [`Error::InvalidMessage`]($crate::session::Error::InvalidMessage) when
            /// the headers cannot give the envelope.
            pub $($async)? fn send_message(
                &mut self,
                msg: &[u8],
                from_addr: Option<&str>,
                to_addrs: Option<&[&str]>,
            ) -> ::std::result::Result<$crate::smtplib::Refused, $crate::session::Error> {
                let parts = self
                    .driver
                    .session
                    .send_message(crate::driver::now(), msg, from_addr, to_addrs);
                self.driver.run(<crate::driver::Feed<'_>>::parts(parts)) $($await)*
            }

            /// [`send_message`](Self::send_message) with the full report
            /// and the envelope taken from the headers (see
            /// [`send_report`](Self::send_report)), for a message in memory:
            /// `SIZE=` is declared.
            ///
            /// # Errors
            /// As [`send_report`](Self::send_report), plus
            /// [`Error::InvalidMessage`]($crate::session::Error::InvalidMessage).
            pub $($async)? fn send_message_report(
                &mut self,
                msg: &[u8],
                from_addr: Option<&str>,
                to_addrs: Option<&[&str]>,
            ) -> ::std::result::Result<($crate::Envelope, $crate::TxnReport), $crate::session::Error> {
                let parts = self
                    .driver
                    .session
                    .send_message_report(crate::driver::now(), msg, from_addr, to_addrs);
                self.driver.run(<crate::driver::Feed<'_>>::parts(parts)) $($await)*
            }

            /// Sends a message composed with
            /// [`MessageBuilder`]($crate::compose::MessageBuilder) (feature
            /// `builder`): `Date` and `Message-ID` are added when `stamp`
            /// asks (see [`compose::to_bytes`]($crate::compose::to_bytes);
            /// `Date` is now), and the [`send_message`](Self::send_message)
            /// header rules apply to what it built: the envelope comes from
            /// `Sender`/`From` and `To`/`Cc`/`Bcc`, and `Bcc` is not
            /// transmitted. `SIZE=` is declared. `Ok` means **every**
            /// recipient got it, as for [`send`](Self::send).
            ///
            /// # Errors
            /// [`Error::InvalidMessage`]($crate::session::Error::InvalidMessage)
            /// when the message cannot be written or gives no envelope;
            /// [`Error::NotDelivered`]($crate::session::Error::NotDelivered);
            /// and as [`send_report`](Self::send_report).
            #[cfg(feature = "builder")]
            pub $($async)? fn send_built(
                &mut self,
                message: $crate::compose::MessageBuilder<'_>,
                stamp: $crate::compose::Stamp,
            ) -> ::std::result::Result<$crate::TxnReport, $crate::session::Error> {
                let wall = ::std::time::SystemTime::now();
                let msg = $crate::compose::to_bytes(message, &stamp, wall)?;
                let parts = self.driver.session.send_built(crate::driver::now(), &msg);
                self.driver.run(<crate::driver::Feed<'_>>::parts(parts)) $($await)*
            }

            /// [`send_message`](Self::send_message) for a message read from
            /// `reader`: only the header block (at most 1 MiB) is held in memory,
            /// the body is streamed. Returns the envelope used and the full report
            /// (see [`send`](Self::send)).
            ///
            /// # Errors
            /// As [`send`](Self::send), plus [`Error::InvalidMessage`]($crate::session::Error::InvalidMessage).
            pub $($async)? fn send_message_reader<R: $($read)* $($send)*>(
                &mut self,
                reader: R,
                from_addr: Option<&str>,
                to_addrs: Option<&[&str]>,
            ) -> ::std::result::Result<($crate::Envelope, $crate::TxnReport), $crate::session::Error> {
                self.send_message_measured(reader, from_addr, to_addrs, None) $($await)*
            }

            /// [`send_message_reader`](Self::send_message_reader) for a
            /// message whose size and content were measured beforehand
            /// (`measured`, e.g. `BodyOptions::for_body` of a spooled copy):
            /// `SIZE=` is declared for what is sent (the header fields left
            /// out do not count) and `BODY=8BITMIME` only when needed.
            ///
            /// # Errors
            /// As [`send_message_reader`](Self::send_message_reader).
            pub $($async)? fn send_message_measured<R: $($read)* $($send)*>(
                &mut self,
                mut reader: R,
                from_addr: Option<&str>,
                to_addrs: Option<&[&str]>,
                measured: Option<$crate::BodyOptions>,
            ) -> ::std::result::Result<($crate::Envelope, $crate::TxnReport), $crate::session::Error> {
                let head = crate::message::read_header_block(&mut reader) $($await)*?;
                let now = crate::driver::now();
                let session = &mut self.driver.session;
                let parts = session.send_message_head(now, &head, from_addr, to_addrs, measured);
                let mut source = crate::message::head_then(parts, reader);
                self.driver.run(crate::driver::Feed::reader(&mut source)) $($await)*
            }

            /// Sends one message whose body is read from `body` in 64 KiB
            /// chunks, in constant memory. `Ok` means **every** recipient got
            /// it, and the report has each one's replies; a sender, recipient
            /// or message refusal is [`Error::NotDelivered`]($crate::session::Error::NotDelivered),
            /// which carries the same report (some recipients may have got
            /// it). `SIZE=` is not declared (the size is unknown);
            /// `BODY=8BITMIME` is, when offered.
            ///
            /// # Errors
            /// [`Error::NotDelivered`]($crate::session::Error::NotDelivered);
            /// and as [`send_report`](Self::send_report).
            pub $($async)? fn send<R: $($read)*>(
                &mut self,
                envelope: &$crate::Envelope,
                mut body: R,
            ) -> ::std::result::Result<$crate::TxnReport, $crate::session::Error> {
                let feed = crate::driver::Feed::reader(&mut body);
                let options = $crate::BodyOptions::default();
                self.op_fed(feed, |s, now| s.send(now, envelope, options)) $($await)*
            }

            /// [`send`](Self::send) with body options and the report
            /// whatever it says: negative outcomes (refused sender, refused
            /// recipients, refused data) are in the report, not errors. For
            /// callers that handle partial delivery themselves.
            ///
            /// # Errors
            /// [`Error::OutcomeUnknown`]($crate::session::Error::OutcomeUnknown) when the connection fails after the end of
            /// data; [`Error::Io`]($crate::session::Error::Io) when `body` fails to read (the connection is then
            /// closed without ending the data, so nothing is delivered); usage and
            /// fatal errors.
            pub $($async)? fn send_report<R: $($read)*>(
                &mut self,
                envelope: &$crate::Envelope,
                mut body: R,
                options: $crate::BodyOptions,
            ) -> ::std::result::Result<$crate::TxnReport, $crate::session::Error> {
                let feed = crate::driver::Feed::reader(&mut body);
                self.op_fed(feed, |s, now| s.send_report(now, envelope, options)) $($await)*
            }

            /// A batch pipelined across messages on this connection: with
            /// PIPELINING, the end of one message and the next envelope share a
            /// round trip. One result per message, in order; see
            /// [`Session::send_many`].
            pub $($async)? fn send_many<B: AsRef<[u8]>>(
                &mut self,
                messages: &[($crate::Envelope, B)],
            ) -> Vec<::std::result::Result<$crate::TxnReport, $crate::session::Error>> {
                let bodies = messages.iter().map(|(_, b)| b.as_ref()).collect();
                let batch = self.op_fed(<crate::driver::Feed<'_>>::many(bodies), |s, now| {
                    s.send_many(now, messages);
                }) $($await)*;
                batch.unwrap_or_else(|e| $crate::session::batch_failed(e, messages.len()))
            }

            /// smtplib's `mail(sender, options)`: MAIL FROM alone, and its reply
            /// whatever its code; see [`Session::mail`].
            ///
            /// # Errors
            /// [`Error::InvalidArgument`]($crate::session::Error::InvalidArgument) for a bad address or option;
            /// [`Error::Usage`]($crate::session::Error::Usage) for an extension the server does not offer, a
            /// `SIZE=` over its limit or `BODY=BINARYMIME`; fatal errors.
            pub $($async)? fn mail(&mut self, sender: &str, options: &[&str]) -> ::std::result::Result<$crate::Reply, $crate::session::Error> {
                self.op(|s, now| s.mail(now, sender, options)) $($await)*
            }

            /// smtplib's `rcpt(recip, options)`: one RCPT TO in the envelope opened
            /// by [`mail`](Self::mail), and its reply whatever its code.
            ///
            /// # Errors
            /// [`Error::Usage`]($crate::session::Error::Usage) (`NoOpenEnvelope`) without an open envelope,
            /// (`SmtpUtf8NotDeclared`) for an internationalized address when
            /// [`mail`](Self::mail) did not declare `SMTPUTF8`;
            /// [`Error::InvalidArgument`]($crate::session::Error::InvalidArgument); fatal errors.
            pub $($async)? fn rcpt(&mut self, recip: &str, options: &[&str]) -> ::std::result::Result<$crate::Reply, $crate::session::Error> {
                self.op(|s, now| s.rcpt(now, recip, options)) $($await)*
            }

            /// smtplib's `data(msg)`: DATA, then on 354 the message, and the final
            /// reply whatever its code; see [`Session::data`].
            ///
            /// # Errors
            /// [`Error::DataError`]($crate::session::Error::DataError) when DATA is not answered with 354; if the
            /// server says 354 although MAIL or every RCPT was refused, only a lone
            /// "." is sent and the error is [`Error::SenderRefused`]($crate::session::Error::SenderRefused) or
            /// [`Error::RecipientsRefused`]($crate::session::Error::RecipientsRefused); [`Error::Usage`]($crate::session::Error::Usage) (`NoOpenEnvelope`);
            /// [`Error::OutcomeUnknown`]($crate::session::Error::OutcomeUnknown); fatal errors.
            pub $($async)? fn data(&mut self, msg: &[u8]) -> ::std::result::Result<$crate::Reply, $crate::session::Error> {
                let feed = <crate::driver::Feed<'_>>::parts([msg]);
                self.op_fed(feed, $crate::session::Session::data) $($await)*
            }
    };
}

/// Generates an adapter's `Builder`: the struct (its documentation is the
/// attributes given first), the shared settings ([`Options`] through
/// [`option_setters!`](crate::option_setters)), the TLS library's setters,
/// and the connection methods: TCP or Unix socket, implicit TLS, greeting,
/// EHLO and the TLS policy. See the
/// [`session::surface`](crate::session::surface) docs.
///
/// [`Options`]: crate::session::Options
#[macro_export]
#[allow(clippy::crate_in_macro_def)]
macro_rules! builder {
    (
        $(#[$meta:meta])*
        async: [$($async:ident)?],
        await: [$($await:tt)*],
        connector: [$connector:ty],
        certificate: [$certificate:ty] $(,)?
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default)]
        #[must_use]
        pub struct Builder {
            options: $crate::session::Options,
            source_address: Option<::std::net::SocketAddr>,
            tls: $crate::session::TlsSetup<$connector, $certificate>,
        }

        impl Builder {
        /// SMTP with TLS required (STARTTLS; implicit TLS on port 465),
        /// port 25 unless the address names one, and deadlines for
        /// submission ([`Timeouts::submission`]($crate::Timeouts::submission)).
        pub fn new() -> Self {
            Self::default()
        }

        $crate::option_setters!(options);

        /// Binds the local end before connecting (smtplib's
        /// `source_address`).
        pub fn source_address(mut self, addr: ::std::net::SocketAddr) -> Self {
            self.source_address = Some(addr);
            self
        }

        /// Uses this TLS connector as is (smtplib's `context`): a
        /// `native_tls::TlsConnector` or a rustls `ClientConfig`, which
        /// also picks that backend. The other TLS options are then
        /// ignored, except the server name. A client certificate goes
        /// here, in the connector.
        pub fn tls_connector(mut self, connector: impl Into<$connector>) -> Self {
            self.tls.connector = Some(connector.into());
            self
        }

        /// Trusts `cert` as a root in addition to the backend's own roots
        /// (the system's; with rustls, those its root features name).
        pub fn add_root_certificate(mut self, cert: impl Into<$certificate>) -> Self {
            self.tls.roots.push(cert.into());
            self
        }

        /// The TLS library to use when the crate was built with more than
        /// one (see the crate docs for the rule without this call). A
        /// backend that was not compiled in fails at connect time with
        /// [`Error::Tls`]($crate::session::Error::Tls).
        pub fn tls_backend(mut self, backend: $crate::session::TlsBackend) -> Self {
            self.tls.backend = Some(backend);
            self
        }

        /// Connects to `host`, which may end in `:port` (smtplib's parsing;
        /// `[v6addr]:port` too) or, for LMTP, be a Unix socket path
        /// starting with `/`; waits for the greeting and the EHLO/LHLO
        /// reply; then runs STARTTLS as the policy says. Dropping an async
        /// connect drops the half-made connection.
        ///
        /// # Errors
        /// `ConnectError` for a refused greeting, `Io`, `Tls`, `Timeout`,
        /// `TlsRequired`, ...
        pub $($async)? fn connect(
            &self,
            host: &str,
        ) -> ::std::result::Result<crate::SmtpClient, $crate::session::Error> {
            self.connect_target(host, None) $($await)*
        }

        /// Connects to `host` on `port` (no `:port` parsing).
        ///
        /// # Errors
        /// As [`connect`](Self::connect).
        pub $($async)? fn connect_port(
            &self,
            host: &str,
            port: u16,
        ) -> ::std::result::Result<crate::SmtpClient, $crate::session::Error> {
            self.connect_target(host, Some(port)) $($await)*
        }

        /// Runs the session over a stream the caller connected. Set
        /// [`tls_server_name`](Self::tls_server_name) for STARTTLS or
        /// implicit TLS (default `localhost`).
        ///
        /// # Errors
        /// As [`connect`](Self::connect).
        pub $($async)? fn connect_stream<S: crate::Stream + 'static>(
            &self,
            stream: S,
        ) -> ::std::result::Result<crate::SmtpClient, $crate::session::Error> {
            let base = crate::transport::custom(stream)?;
            self.start_with(base, "localhost", self.options.implicit_tls) $($await)*
        }

        $($async)? fn connect_target(
            &self,
            host: &str,
            port: Option<u16>,
        ) -> ::std::result::Result<crate::SmtpClient, $crate::session::Error> {
            let o = &self.options;
            match o.target(host, port)? {
                $crate::smtplib::Target::Unix(path) => {
                    let base = crate::transport::connect_unix(&path, o.connect_timeout) $($await)*
                        .map_err(|e| $crate::session::Error::connect_failed(&path, e))?;
                    self.start_with(base, "localhost", o.implicit_tls) $($await)*
                }
                $crate::smtplib::Target::Tcp { host, port } => {
                    let (source, timeout) = (self.source_address, o.connect_timeout);
                    let implicit = o.implicit_tls_on(port);
                    let tcp = crate::transport::connect_tcp(&host, port, source, timeout) $($await)*
                        .map_err(|e| {
                            let target = format!("{host}:{port}");
                            $crate::session::Error::connect_failed(&target, e)
                        })?;
                    let base = crate::transport::Base::Tcp(tcp);
                    self.start_with(base, &host, implicit) $($await)*
                }
                other => Err($crate::session::Error::NotSupported(format!(
                    "no transport for {other:?}"
                ))),
            }
        }

        $($async)? fn start_with(
            &self,
            base: crate::transport::Base,
            host: &str,
            implicit: bool,
        ) -> ::std::result::Result<crate::SmtpClient, $crate::session::Error> {
            let o = &self.options;
            let local = match &o.local_hostname {
                Some(name) => name.clone(),
                None => {
                    let name = crate::transport::host_name();
                    $crate::smtplib::local_hostname(name.as_deref(), base.local_ip())
                }
            };
            let plan = crate::tls::Plan {
                setup: self.tls.clone(),
                checks: o.tls.clone(),
                name: o.tls_name(host),
            };
            // Build the connector now when TLS will be needed: a missing
            // backend or a bad root fails before a byte is sent.
            let tls_needed = implicit
                || o.effective_tls_policy() != $crate::session::TlsPolicy::Disabled;
            let plan = plan.prepare(tls_needed)?;
            let transport = if implicit {
                let limit = o.config.timeouts.greeting;
                crate::tls::handshake(&plan, base, limit) $($await)* ?
            } else {
                crate::transport::Transport::Plain(base)
            };
            let now = crate::driver::now();
            let mut session = $crate::session::Session::connect(o, local, implicit, now);
            // Implicit TLS: the binding data of this connection (SCRAM -PLUS).
            session.set_channel_binding(transport.channel_binding());
            session.set_peer(host);
            session.set_debuglevel(o.debuglevel, now, ::std::time::SystemTime::now());
            if implicit {
                let note = format!("implicit TLS established, verified {:?}", plan.name);
                session.trace_note(&note, now);
            }
            let mut driver = crate::driver::Driver::new(session, transport, plan)?;
            driver.run::<(), _>(<crate::driver::Feed<'_>>::none()) $($await)* ?;
            Ok(crate::SmtpClient { driver })
        }
        }
    };
}
