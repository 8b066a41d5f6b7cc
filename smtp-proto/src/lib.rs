//! `smtp-proto` contains the complete SMTP and LMTP client logic: framing,
//! sequencing, pipelining (also across messages), per-recipient replies
//! (LMTP, and PRDR in SMTP), reply timeouts and overall deadlines, STARTTLS
//! and AUTH choreography, and body encoding. It reads no clock, opens no socket, spawns nothing and links no
//! TLS library.
//!
//! # The run-loop contract
//!
//! One [`Client`] holds a session. Input goes in through `handle_*`, commands
//! are methods named after SMTP verbs, and output comes out through `poll_*`:
//!
//! 1. Connect the transport yourself and create the client with
//!    [`Client::new(config, now)`](Client::new).
//! 2. After **any** `handle_*` call or command:
//!    - drain [`Client::poll_transmit`] and write every byte it gave you;
//!    - drain [`Client::poll_event`] until it returns `None`, and act on the
//!      events (each variant of [`Event`] says what you must do next);
//!    - read [`Client::poll_timeout`].
//! 3. Wait for the earliest of: the transport is readable, the deadline
//!    passes, or your application has a new command. Then call
//!    [`Client::handle_input`] with the bytes read (or
//!    [`Client::handle_eof`] when the read returned 0),
//!    [`Client::handle_timeout`], or the command, and go back to 2.
//!
//! Time is an [`Instant`](std::time::Instant) you pass in; the client never
//! reads a clock, so tests drive it with `start + Duration` values.
//! Events are edge-triggered and delivered exactly once.
//!
//! Negative replies (4xx/5xx) are events and reports, never errors. An
//! [`Error`] means the conversation can no longer be trusted; it is sticky.
//! A [`UsageError`] means the caller asked for something the session
//! cannot do now; it changes nothing.
//!
//! `examples/tcp_loop.rs` drives a `std::net::TcpStream` through this loop
//! by hand, in about a hundred lines.
//!
//! # The client written once: [`session`]
//!
//! Above the engine, [`session::Session`] runs smtplib-level operations
//! (connect with a TLS policy, `login`, `sendmail`, `send_many`, ...) and
//! tells its driver what to do next. `smtp-blocking` and `smtp-tokio` are
//! drivers of it; the [`session`] docs say what a third driver must do, and
//! `examples/many_sessions.rs` is one (many sessions on one thread, `mio`).
//!
//! # Method categories
//!
//! - Getters: [`Client::phase`], [`Client::extensions`], [`Client::is_tls`],
//!   [`Client::is_closed`], [`Client::config`], [`Client::can_send_body`].
//! - Input: [`Client::handle_input`], [`Client::handle_eof`],
//!   [`Client::handle_timeout`], [`Client::tls_established`].
//! - Commands: [`Client::ehlo`], [`Client::helo`], [`Client::starttls`],
//!   [`Client::auth`] (+ [`Client::auth_respond`], [`Client::auth_cancel`]),
//!   [`Client::send_mail`] or [`Client::mail`] + [`Client::rcpt`] +
//!   [`Client::data`] (+ [`Client::send_body`],
//!   [`Client::finish_body`]), [`Client::rset`], [`Client::noop`],
//!   [`Client::vrfy`], [`Client::expn`], [`Client::help`], [`Client::raw`],
//!   [`Client::quit`].
//! - Output: [`Client::poll_transmit`], [`Client::poll_event`],
//!   [`Client::poll_timeout`].
//!
//! # Building blocks
//!
//! The pieces the client is made of are public modules, usable on their own:
//! [`reply`] (the bounded incremental reply parser), [`ehlo`]
//! ([`Extensions`]), [`address`] and [`command`] (validated arguments and the
//! one encoding choke point), [`body`] (the streaming DATA/BDAT encoder),
//! [`auth`] (SASL response builders), [`secret`] ([`Secret`], never
//! printed), [`pem`] (certificate bundles split for a TLS library), and
//! [`smtplib`] (a transaction report read as smtplib's return value or
//! exception). The [`manual`] explains the design and security decisions.
//!
//! # Composing messages (feature `builder`)
//!
//! `compose` (with the `builder` feature, which both adapters turn on by
//! default) turns a `mail_builder::MessageBuilder` into the bytes of a
//! message, adding `Date` and `Message-ID` only when asked; the adapters'
//! `send_built` sends it under the `send_message` header rules
//! (envelope from the headers, `Bcc` never transmitted).

#![forbid(unsafe_code)]
// docs.rs (`--cfg docsrs`, nightly): mark items that need a feature.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod address;
pub mod auth;
pub mod body;
pub mod command;
#[cfg(feature = "builder")]
pub mod compose;
pub mod ehlo;
pub mod manual;
pub mod message;
pub mod pem;
pub mod reply;
pub mod secret;
pub mod session;
pub mod smtplib;
pub mod trace;

mod client;
mod config;
mod error;
mod event;
mod mail;
mod state;
mod txn;

pub use address::{Domain, ForwardPath, Mailbox, ReversePath};
pub use client::Client;
pub use command::{BodyType, Command, MailParams, Mechanism, RcptParams};
pub use config::{Config, Dialect, Timeouts};
pub use ehlo::Extensions;
pub use error::{Deadline, Error, ProtocolError, Stage, UsageError};
pub use event::{
    CommandId, DeliveryScope, Event, RcptId, RecipientReport, TxnId, TxnOutcome, TxnReport,
};
pub use reply::{
    EnhancedStatusCode, ParserConfig, Reply, ReplyCode, ReplyError, ReplyReader, parse_reply,
};
pub use secret::Secret;
pub use state::Phase;
pub use txn::{BodyContent, BodyOptions, Envelope, Recipient};

// The README's example, compiled and run by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme_doctest {}
