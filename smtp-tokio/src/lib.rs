//! `smtp-tokio` is the async SMTP/LMTP client over Tokio and
//! tokio-native-tls or tokio-rustls. It is a driver for the sans-IO
//! [`smtp_proto::session::Session`]: it moves bytes between a Tokio stream
//! and the session, applies the session's deadlines with `tokio::time`,
//! performs the TLS handshake when asked, and reads message bodies from
//! your `AsyncRead`. Every protocol and policy decision is the session's,
//! the same one `smtp-blocking` drives, so both behave alike.
//!
//! The API is `smtp-blocking`'s, method for method and error for error, so
//! code moves between the two by adding or removing `.await`:
//!
//! ```no_run
//! use smtp_tokio::smtp_proto::{Envelope, ForwardPath, ReversePath};
//! use smtp_tokio::{Builder, Error};
//! # async fn f() -> Result<(), Error> {
//! // TLS is required by default (STARTTLS here; implicit TLS on port 465).
//! let mut smtp = Builder::new().connect("mail.example.org:587").await?;
//! smtp.login("user", "password").await?;
//! let envelope = Envelope::new(
//!     ReversePath::parse("me@example.org")?,
//!     [ForwardPath::parse("you@example.org")?],
//! );
//! let message = &b"Subject: hi\r\n\r\nHello.\r\n"[..];
//! match smtp.send(&envelope, message).await {
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
//! smtp.quit().await?;
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
//! The smtplib-shaped calls (`sendmail` and friends) are the compatibility
//! layer, with smtplib's semantics; [`SmtpClient::send`] (all or an error
//! with the report), [`SmtpClient::send_report`] (the report whatever it
//! says) and [`SmtpClient::send_many`] are the Rust-first calls.
//!
//! What this crate adds to the blocking one: [`SmtpClient::send_many`]
//! (a batch pipelined across messages on one connection) and the
//! connection [`Pool`].
//!
//! # Composing a message
//!
//! With the `builder` feature (on by default), [`SmtpClient::send_built`]
//! sends a message built with
//! [`MessageBuilder`](smtp_proto::compose::MessageBuilder) (the
//! `mail-builder` crate, re-exported): the envelope comes from its From,
//! To, Cc and Bcc, the Bcc is not transmitted, and `Date` and `Message-ID`
//! are added when the [`Stamp`](smtp_proto::compose::Stamp) asks.
//! `examples/compose.rs` (`compose-async`) is a complete program.
//!
//! ```no_run
//! # #[cfg(feature = "builder")]
//! # async fn f() -> Result<(), smtp_tokio::Error> {
//! use smtp_tokio::smtp_proto::compose::{MessageBuilder, Stamp};
//!
//! let message = MessageBuilder::new()
//!     .from(("Me", "me@example.org"))
//!     .to("you@example.org")
//!     .subject("Figures")
//!     .text_body("Attached.")
//!     .html_body("<p>Attached.</p>")
//!     .attachment("text/csv", "q1.csv", &b"a,b\r\n1,2\r\n"[..]);
//! let mut smtp = smtp_tokio::Builder::new().connect("mail.example.org:587").await?;
//! let report = smtp.send_built(message, Stamp::new().date().message_id()).await?;
//! # Ok(()) }
//! # #[cfg(not(feature = "builder"))]
//! # async fn f() {}
//! ```
//!
//! # From smtplib
//!
//! | smtplib | here (add `.await`) |
//! |---|---|
//! | `SMTP(host)`, `SMTP_SSL(host)`, `LMTP(host)` | [`SmtpClient::connect`], [`SmtpClient::connect_tls`], [`SmtpClient::connect_lmtp`]; options on [`Builder`] |
//! | `local_hostname`, `timeout`, `source_address`, `context` | [`Builder::local_hostname`], [`Builder::timeout`], [`Builder::source_address`], [`Builder::tls_connector`] |
//! | `_get_socket` override | [`Builder::connect_stream`] with any [`Stream`] |
//! | `set_debuglevel` | [`SmtpClient::set_debuglevel`], [`Builder::debuglevel`] (AUTH redacted); the `tracing` feature adds spans and events with the same redaction (see README.md) |
//! | `helo`, `ehlo`, `ehlo_or_helo_if_needed`, `has_extn` | the same names |
//! | `ehlo_resp`, `helo_resp`, `does_esmtp`, `esmtp_features` | the same names, as methods |
//! | `starttls`, `login`, `auth` | [`SmtpClient::starttls`] (+ [`TlsPolicy`]), [`SmtpClient::login`], [`SmtpClient::auth`], [`SmtpClient::authenticate`] |
//! | `mail`, `rcpt`, `data` | [`SmtpClient::mail`], [`SmtpClient::rcpt`], [`SmtpClient::data`] |
//! | `sendmail`, `send_message` | [`SmtpClient::sendmail`] (returns [`Refused`]), [`SmtpClient::send_message`], [`SmtpClient::send_message_reader`], [`SmtpClient::send`] (streams any `AsyncRead`) |
//! | `verify`, `expn`, `help`, `noop`, `rset`, `docmd` | the same names |
//! | `quit`, `close`, `with` block | [`SmtpClient::quit`], [`SmtpClient::close`]; dropping sends QUIT without waiting |
//! | `SMTPException` and subclasses | [`Error`] (table in [`error`]) |
//!
//! # The driver
//!
//! One task-free loop per connection reads and writes at the same time: a
//! `tokio::select!` waits for the stream to be readable, for it to be
//! writable while output is pending, and for the engine's deadline. A
//! large pipelined write therefore never deadlocks against a server that
//! answers before it reads. Writes that make no progress for
//! `Timeouts::data_block` fail the connection; the engine's per-phase
//! reply deadlines are applied as they are. TCP_NODELAY is set on every
//! TCP socket.
//!
//! The runtime must have I/O and time enabled (`tokio::main` does both);
//! the client spawns no task and works on current-thread and
//! multi-threaded runtimes alike. Its futures are `Send`.
//!
//! # Cancellation
//!
//! Dropping a future in the middle of a command (losing a `select!`, a
//! `tokio::time::timeout` firing) cannot leave a half-written command to be
//! continued by the next call. Instead the connection is **poisoned**: the
//! next call returns [`Error::Poisoned`], [`SmtpClient::is_connected`](smtp_proto::session::Session::is_connected) is
//! false, and a [`Pool`] never hands it out again.
//!
//! | operation | cancellation-safe? |
//! |---|---|
//! | [`Builder::connect`], [`Builder::connect_port`], [`Builder::connect_stream`], [`SmtpClient::connect`], [`SmtpClient::connect_tls`], [`SmtpClient::connect_lmtp`] | yes: the half-made connection is dropped |
//! | [`Pool::get`] | yes: a connection under its health check is discarded |
//! | [`Pool::close`] | yes: the connections not yet closed are dropped |
//! | every other `async` method of [`SmtpClient`], [`Pool::sendmail`], [`Pool::send`], [`Pool::send_many`] | no: the connection is poisoned (and discarded by the pool); a message whose final "." was written may have been delivered |
//!
//! # TLS backends
//!
//! The Cargo features choose the TLS library: `native-tls` (the default:
//! the platform's library, OpenSSL on Linux), `rustls` (rustls with the
//! `ring` provider over tokio-rustls, trusting the system's roots),
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
//! [`Builder::dangerous_accept_invalid_certs`]); the TLS server name can
//! differ from the address ([`Builder::tls_server_name`]); under
//! [`TlsPolicy::Required`] nothing but QUIT follows a missing or refused
//! STARTTLS; no AUTH of any mechanism runs without TLS unless
//! [`Builder::allow_plaintext_auth`], and a refused password is not tried
//! again with another mechanism; the trace never shows AUTH payloads.
//! A connection lost after the final "." is [`Error::OutcomeUnknown`],
//! never a plain failure.

#![forbid(unsafe_code)]
// docs.rs (`--cfg docsrs`, nightly): mark items that need a feature.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod builder;
mod client;
mod driver;
mod message;
mod pool;
mod tls;
mod transport;

pub use builder::Builder;
pub use client::SmtpClient;
pub use pool::{HealthCheck, Pool, PoolConfig, PoolStats, PooledClient};
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
#[cfg(feature = "native-tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "native-tls")))]
pub use tokio_native_tls;
#[cfg(any(feature = "rustls-native-roots", feature = "rustls-webpki-roots"))]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub use tokio_rustls;
pub use transport::Stream;

pub use smtp_proto::session::error;
pub use smtp_proto::smtplib::refusal;

// The README's example, compiled by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme_doctest {}
