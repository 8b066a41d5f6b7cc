//! `smtp-blocking` is a blocking SMTP/LMTP client. It is a driver for the
//! sans-IO [`smtp_proto::session::Session`]: it moves bytes between `std`
//! sockets (under native-tls or rustls) and the session, applies the session's
//! deadlines to the socket, performs the TLS handshake when asked, and
//! reads message bodies from your `Read`. Every protocol and policy
//! decision (pipelining, STARTTLS checks and policy, the login order, AUTH
//! choreography, dot-stuffing, LMTP replies, what a failure means for a
//! message) is the session's; `smtp-tokio` drives the same session, so
//! both behave alike.
//!
//! ```no_run
//! use smtp_blocking::smtp_proto::{Envelope, ForwardPath, ReversePath};
//! use smtp_blocking::{Builder, Error};
//! # fn main() -> Result<(), Error> {
//! // TLS is required by default (STARTTLS here; implicit TLS on port 465).
//! let mut smtp = Builder::new().connect("mail.example.org:587")?;
//! smtp.login("user", "password")?;
//! let envelope = Envelope::new(
//!     ReversePath::parse("me@example.org")?,
//!     [ForwardPath::parse("you@example.org")?],
//! );
//! let message = &b"Subject: hi\r\n\r\nHello.\r\n"[..];
//! match smtp.send(&envelope, message) {
//!     // Ok: every recipient got it.
//!     Ok(report) => println!("delivered to {}", report.delivered().count()),
//!     // Anything less is an error that carries the per-recipient report.
//!     Err(Error::NotDelivered { report }) => {
//!         for (to, reply) in report.refused() {
//!             eprintln!("{to}: {reply}");
//!         }
//!     }
//!     Err(e) => return Err(e),
//! }
//! smtp.quit()?;
//! # Ok(()) }
//! ```
//!
//! LMTP gives each recipient its own final reply; [`SmtpClient::send_report`]
//! returns them all, whatever they say:
//!
//! ```no_run
//! # use smtp_blocking::smtp_proto::{BodyOptions, Envelope, ForwardPath, ReversePath};
//! # fn main() -> Result<(), smtp_blocking::Error> {
//! # let envelope = Envelope::new(ReversePath::null(), [ForwardPath::parse("a@b.c")?]);
//! let mut lmtp = smtp_blocking::Builder::new().lmtp().connect("/run/dovecot/lmtp")?;
//! let report = lmtp.send_report(&envelope, &b"Subject: x\r\n\r\nx\r\n"[..], BodyOptions::default())?;
//! for r in &report.recipients {
//!     match r.refusal() {
//!         None if r.delivered() => println!("{}: delivered", r.address),
//!         None => println!("{}: no final reply", r.address),
//!         Some(reply) => println!("{}: refused: {reply}", r.address),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! SMTP servers that offer PRDR (Exim does) give the same per-recipient
//! replies after the data: the client asks for them by itself when a
//! message has more than one recipient ([`Builder::prdr`] turns that off),
//! and each recipient's own reply is its `delivery_reply`.
//!
//! Each reply has its own timeout ([`Builder::timeout`]);
//! [`Builder::call_deadline`] and [`Builder::transaction_deadline`] bound a
//! whole call and a whole message however the server paces its replies,
//! failing with [`Error::DeadlineExceeded`].
//!
//! [`SmtpClient::login`] picks the strongest mechanism the server offers:
//! SCRAM-SHA-256-PLUS (bound to this TLS connection through its
//! `tls-server-end-point` data), SCRAM-SHA-256, PLAIN, LOGIN, and
//! CRAM-MD5 only when nothing better is offered; never without TLS unless
//! allowed. SCRAM checks the server's signature too: a server that cannot
//! prove it knows the password fails the login with
//! [`Error::MutualAuthFailed`] and the connection is closed.
//!
//! # Composing a message
//!
//! With the `builder` feature (on by default), [`SmtpClient::send_built`]
//! sends a message built with
//! [`MessageBuilder`](smtp_proto::compose::MessageBuilder) (the
//! `mail-builder` crate, re-exported): the envelope comes from its From,
//! To, Cc and Bcc, the Bcc is not transmitted, and `Date` and `Message-ID`
//! are added when the [`Stamp`](smtp_proto::compose::Stamp) asks.
//! `examples/compose.rs` is a complete program.
//!
//! ```no_run
//! # #[cfg(feature = "builder")]
//! # fn main() -> Result<(), smtp_blocking::Error> {
//! use smtp_blocking::smtp_proto::compose::{MessageBuilder, Stamp};
//!
//! let message = MessageBuilder::new()
//!     .from(("Me", "me@example.org"))
//!     .to("you@example.org")
//!     .subject("Figures")
//!     .text_body("Attached.")
//!     .html_body("<p>Attached.</p>")
//!     .attachment("text/csv", "q1.csv", &b"a,b\r\n1,2\r\n"[..]);
//! let mut smtp = smtp_blocking::Builder::new().connect("mail.example.org:587")?;
//! let report = smtp.send_built(message, Stamp::new().date().message_id())?;
//! # Ok(()) }
//! # #[cfg(not(feature = "builder"))]
//! # fn main() {}
//! ```
//!
//! The smtplib-shaped calls ([`SmtpClient::sendmail`] and friends) are
//! the compatibility layer, with smtplib's semantics: `sendmail` returns
//! `Ok` with the map of refused recipients when at least one got the
//! message. The table below maps smtplib to this crate; the Rust-first
//! calls are [`SmtpClient::send`] (all or an error with the report),
//! [`SmtpClient::send_report`] (the report whatever it says) and
//! [`SmtpClient::send_many`] (a pipelined batch).
//!
//! # From smtplib
//!
//! | smtplib                                   | here                                                  |
//! |-------------------------------------------|-------------------------------------------------------|
//! | `SMTP(host, port, local_hostname, timeout, source_address)` | [`SmtpClient::connect`], [`Builder`] ([`Builder::connect_port`], [`Builder::local_hostname`], [`Builder::timeout`], [`Builder::source_address`]) |
//! | `SMTP_SSL(..., context)`                  | [`SmtpClient::connect_tls`], [`Builder::implicit_tls`], [`Builder::tls_connector`] |
//! | `SMTP_SSL(keyfile, certfile)`             | a connector with a client identity (a `native_tls::TlsConnector`, or a rustls `ClientConfig` with `with_client_auth_cert`), via [`Builder::tls_connector`] |
//! | `LMTP(host, port)`                        | [`SmtpClient::connect_lmtp`], [`Builder::lmtp`]        |
//! | `SMTP_PORT`, `SMTP_SSL_PORT`, `LMTP_PORT` | [`SMTP_PORT`], [`SMTP_SSL_PORT`], [`LMTP_PORT`]        |
//! | `connect(host, port)`                     | [`Builder::connect`] / [`Builder::connect_port`]; the greeting is [`SmtpClient::greeting`](smtp_proto::session::Session::greeting) |
//! | `_get_socket` override                    | [`Builder::connect_stream`] with any [`Stream`]       |
//! | `set_debuglevel(level)`                   | [`SmtpClient::set_debuglevel`], [`Builder::debuglevel`] (AUTH redacted); the `tracing` feature adds spans and events with the same redaction (see README.md) |
//! | `docmd(cmd, args)`                        | [`SmtpClient::docmd`]                                  |
//! | `putcmd`, `getreply`, `send`              | none: the engine writes and reads; [`SmtpClient::docmd`] is the raw door |
//! | `helo(name)`, `ehlo(name)`                | [`SmtpClient::helo`], [`SmtpClient::ehlo`] (the name is the builder's) |
//! | `ehlo_or_helo_if_needed()`                | [`SmtpClient::ehlo_or_helo_if_needed`]                 |
//! | `has_extn(name)`                          | [`SmtpClient::has_extn`](smtp_proto::session::Session::has_extn)                               |
//! | `esmtp_features`, `does_esmtp`            | [`SmtpClient::esmtp_features`](smtp_proto::session::Session::esmtp_features), [`SmtpClient::does_esmtp`](smtp_proto::session::Session::does_esmtp) |
//! | `ehlo_resp`, `helo_resp`                  | [`SmtpClient::ehlo_resp`](smtp_proto::session::Session::ehlo_resp), [`SmtpClient::helo_resp`](smtp_proto::session::Session::helo_resp)   |
//! | `local_hostname`                          | [`SmtpClient::local_hostname`](smtp_proto::session::Session::local_hostname)                         |
//! | `timeout`, `source_address`               | builder settings                                       |
//! | `verify`, `vrfy`, `expn`, `help`, `noop`, `rset` | [`SmtpClient::verify`], [`SmtpClient::expn`], [`SmtpClient::help`], [`SmtpClient::noop`], [`SmtpClient::rset`] |
//! | `starttls(context)`                       | [`SmtpClient::starttls`] (+ [`TlsPolicy`])             |
//! | `login(user, password)`                   | [`SmtpClient::login`]                                  |
//! | `auth(mechanism, authobject)`             | [`SmtpClient::auth`], [`SmtpClient::authenticate`]    |
//! | `auth_cram_md5`, `auth_plain`, `auth_login`, `user`, `password` | [`smtp_proto::auth`] builders (`CramMd5`, `Plain`, `Login`) |
//! | `mail(sender, options)`, `rcpt(recip, options)`, `data(msg)` | [`SmtpClient::mail`], [`SmtpClient::rcpt`], [`SmtpClient::data`] (see below) |
//! | `sendmail(from, to, msg, mail_options, rcpt_options)` | [`SmtpClient::sendmail`] (returns [`Refused`]) |
//! | `send_message(msg, from, to)`             | [`SmtpClient::send_message`], [`SmtpClient::send_message_reader`] |
//! | `quit()`, `close()`                       | [`SmtpClient::quit`], [`SmtpClient::close`]            |
//! | `with SMTP(...) as s:`                    | [`Drop`]: QUIT when healthy and idle, errors ignored   |
//! | `file`, `sock`, `command_encoding`, `debuglevel` | internal; the engine encodes (UTF-8 only with SMTPUTF8) |
//! | `SMTPException` and subclasses            | [`Error`] (table in its module docs)                   |
//! | `quotedata`, `quoteaddr`, `_fix_eols`, `CRLF` | the engine's body encoder and address types        |
//! | `_MAXLINE`, `_MAXCHALLENGE`, `OLDSTYLE_AUTH` | the engine's `ParserConfig` limits, `Config::max_auth_rounds`, `Extensions` (merges `AUTH=`) |
//! | `default_port`, `ehlo_msg`                | the port constants; the engine picks EHLO/LHLO by dialect |
//!
//! **`mail`, `rcpt`, `data`.** As in smtplib, each sends its command and
//! returns the reply whatever its code, and nothing is skipped: RCPT after
//! a refused MAIL and DATA with no accepted recipient go out, and the
//! server's 503/554 comes back. `data` raises [`Error::DataError`] when
//! DATA is not answered with 354 and otherwise returns the final reply
//! (in LMTP the first accepted recipient's; [`SmtpClient::send`] and
//! [`SmtpClient::sendmail`] give every recipient's). The engine still
//! runs the transaction ([`smtp_proto::Client::mail`]): it dot-stuffs the
//! body, answers a 354 with a lone "." when nobody was accepted, and
//! closes the envelope on [`SmtpClient::rset`] or the next MAIL. Unlike
//! smtplib, `rcpt` and `data` without an open envelope are usage errors
//! rather than commands the server refuses. For a whole message,
//! [`SmtpClient::sendmail`] is one round trip with PIPELINING where these
//! are one per command, and [`SmtpClient::send`] takes an
//! [`Envelope`](smtp_proto::Envelope) with per-recipient parameters.
//!
//! # TLS backends
//!
//! The Cargo features choose the TLS library: `native-tls` (the default:
//! the platform's library, OpenSSL on Linux), `rustls` (rustls with the
//! `ring` provider, trusting the system's roots),
//! `rustls-native-roots` (the same) and `rustls-webpki-roots` (Mozilla's
//! roots, compiled in). Everything else is the same under both: extra roots
//! ([`Builder::add_root_certificate`] with a [`Certificate`], e.g. from
//! [`load_pem_certificates`]), the dangerous switches, [`Error::Tls`] for a
//! failed handshake, the handshake's deadline, SCRAM-SHA-256-PLUS. A client
//! certificate goes in a connector of your own ([`Builder::tls_connector`]
//! takes a [`Connector`]: a `native_tls::TlsConnector` or a rustls
//! `ClientConfig`).
//!
//! The features are additive, so both backends may be compiled in (Cargo
//! unifies features across a build, and docs.rs builds with all of them).
//! A connection then uses the backend of the caller's connector, else the
//! one [`Builder::tls_backend`] names, else rustls: nobody turns rustls on
//! by accident, while native-tls is on whenever any crate in the build
//! keeps this crate's default features. Built with neither, a connection
//! that needs TLS fails before its first byte with [`Error::Tls`] carrying
//! a [`BackendUnavailable`]. The workspace README's "TLS backends" section
//! has the details.
//!
//! # Security defaults
//!
//! [`Builder`] requires TLS: STARTTLS under [`TlsPolicy::Required`], or
//! implicit TLS when asked or on port 465; only
//! [`Builder::insecure_plaintext`] turns it off (LMTP, which delivers
//! within a site, does not require it). [`SmtpClient::connect`] and
//! [`SmtpClient::connect_lmtp`] start in plaintext as smtplib does.
//! Certificates and host names are verified (turning that off takes
//! [`Builder::dangerous_accept_invalid_certs`]); under
//! [`TlsPolicy::Required`] nothing but QUIT follows a missing or refused
//! STARTTLS; no AUTH of any mechanism runs without TLS unless
//! [`Builder::allow_plaintext_auth`], and a refused password is not tried
//! again with another mechanism; the trace never shows AUTH payloads.
//! A connection lost after the final "." is [`Error::OutcomeUnknown`],
//! never a plain failure. After a fatal error every call returns
//! [`Error::Poisoned`].

#![forbid(unsafe_code)]
// docs.rs (`--cfg docsrs`, nightly): mark items that need a feature.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod builder;
mod client;
mod driver;
mod message;
mod tls;
mod transport;

pub use builder::Builder;
pub use client::SmtpClient;
pub use smtp_proto;
pub use smtp_proto::session::{
    Error, LMTP_PORT, Options, SMTP_PORT, SMTP_SSL_PORT, TlsBackend, TlsPolicy, Window,
};
pub use smtp_proto::smtplib::Refused;
#[cfg(feature = "native-tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "native-tls")))]
pub use smtp_tls::native_tls;
#[cfg(any(feature = "rustls-native-roots", feature = "rustls-webpki-roots"))]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub use smtp_tls::rustls;
pub use smtp_tls::{BackendUnavailable, Certificate, Connector, load_pem_certificates};
pub use transport::Stream;

pub use smtp_proto::session::error;
pub use smtp_proto::smtplib::refusal;

// The README's example, compiled by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme_doctest {}
