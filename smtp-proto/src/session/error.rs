//! [`Error`]: smtplib's exception family as one Rust enum, plus the failures
//! a transport adds (I/O, TLS, deadlines) and the two states smtplib never
//! names: "the message may or may not have been delivered" and "this
//! connection can no longer be used".
//!
//! One type for every adapter: the IO and TLS failures an adapter meets are
//! carried as their source (`std::io::Error`, a boxed TLS library error), so
//! `smtp-blocking` and `smtp-tokio` re-export this enum instead of keeping
//! one each.
//!
//! smtplib's hierarchy maps onto variants like this:
//!
//! | smtplib exception          | variant                                     |
//! |----------------------------|---------------------------------------------|
//! | `SMTPException`            | [`Error`] itself                            |
//! | `SMTPNotSupportedError`    | [`Error::NotSupported`]                     |
//! | `SMTPServerDisconnected`   | [`Error::ServerDisconnected`], [`Error::ServiceClosing`] (421) |
//! | `SMTPResponseException`    | every variant with a reply: [`Error::reply`], [`Error::smtp_code`], [`Error::smtp_error`] |
//! | `SMTPSenderRefused`        | [`Error::SenderRefused`]                    |
//! | `SMTPRecipientsRefused`    | [`Error::RecipientsRefused`]                |
//! | `SMTPDataError`            | [`Error::DataError`]                        |
//! | `SMTPConnectError`         | [`Error::ConnectError`]                     |
//! | `SMTPHeloError`            | [`Error::HeloError`]                        |
//! | `SMTPAuthenticationError`  | [`Error::AuthenticationError`]              |
//! | `ValueError` (send_message)| [`Error::InvalidMessage`], [`Error::InvalidArgument`] |
//! | `socket.timeout`, `OSError`| [`Error::Timeout`], [`Error::Io`]           |
//! | `ssl.SSLError`             | [`Error::Tls`]                              |

use std::io;

use crate::error::{Error as EngineError, Stage};
use crate::reply::Reply;
pub use crate::smtplib::Refused;
use crate::smtplib::TxnFailure;

/// Everything that can go wrong; smtplib's exceptions plus the transport's.
///
/// Variants carrying a [`Reply`] give smtplib's `smtp_code` and `smtp_error`
/// through [`Error::smtp_code`] and [`Error::smtp_error`], and the RFC 3463
/// enhanced code through [`Error::enhanced_code`].
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server does not offer what was asked for (smtplib's
    /// `SMTPNotSupportedError`): STARTTLS, AUTH or a usable mechanism,
    /// SMTPUTF8 for an internationalized address, and so on.
    #[error("not supported by the server: {0}")]
    NotSupported(String),
    /// The connection is closed: the server closed it, or the client was
    /// used after `quit`/`close` (smtplib's `SMTPServerDisconnected`).
    #[error("server disconnected{}", stage_suffix(.stage))]
    ServerDisconnected {
        /// What the client was waiting for when the server closed, if it
        /// was waiting at all.
        stage: Option<Stage>,
    },
    /// The server answered 421: it is closing the connection (RFC 5321
    /// §3.8). Transient: try again later. The connection is gone.
    #[error("server is closing the connection at {stage:?}: {reply}")]
    ServiceClosing {
        /// The 421 reply.
        reply: Reply,
        /// What the 421 answered.
        stage: Stage,
    },
    /// MAIL FROM was refused (smtplib's `SMTPSenderRefused`).
    #[error("sender {sender} refused: {reply}")]
    SenderRefused {
        /// The reply to MAIL.
        reply: Reply,
        /// The sender address, as given.
        sender: String,
    },
    /// Every recipient was refused; nobody got the message (smtplib's
    /// `SMTPRecipientsRefused`).
    #[error("all recipients refused: {}", refused_list(.recipients))]
    RecipientsRefused {
        /// Each recipient with its refusal.
        recipients: Refused,
    },
    /// The message data was refused: DATA, a BDAT chunk or the end of data
    /// got a negative reply (smtplib's `SMTPDataError`).
    #[error("message data refused: {reply}")]
    DataError {
        /// The negative reply.
        reply: Reply,
    },
    /// [`send`](super::Session::send) could not deliver to every
    /// recipient: the sender, some or all recipients, or the message data
    /// were refused. The report says who got it and who did not (with
    /// each reply); some recipients may have got the message.
    #[error("message not delivered to every recipient: {}", .report.summary())]
    NotDelivered {
        /// Every recipient's outcome.
        report: Box<crate::TxnReport>,
    },
    /// The greeting was not positive (smtplib's `SMTPConnectError`).
    #[error("connection refused by the server: {reply}")]
    ConnectError {
        /// The greeting.
        reply: Reply,
    },
    /// EHLO and HELO were refused (smtplib's `SMTPHeloError`).
    #[error("HELO/EHLO refused: {reply}")]
    HeloError {
        /// The last reply.
        reply: Reply,
    },
    /// Authentication failed (smtplib's `SMTPAuthenticationError`): the
    /// reply of the last mechanism tried.
    #[error("authentication with {mechanism} failed: {reply}")]
    AuthenticationError {
        /// The mechanism whose reply this is.
        mechanism: String,
        /// The server's final reply to AUTH.
        reply: Reply,
    },
    /// The client's mechanism could not verify the server: SCRAM's server
    /// signature was wrong or never came (a 235 without it is **not** a
    /// success), or the server sent what the mechanism must refuse (a
    /// nonce not extending the client's, an iteration count out of
    /// bounds). The peer may be an impostor, so the connection is closed
    /// without QUIT and nothing more is sent; `login` does not fall back to
    /// another mechanism (that could hand the impostor the password).
    #[error(
        "authentication with {mechanism} not trusted: {reason} (server's final reply: {reply})"
    )]
    MutualAuthFailed {
        /// The mechanism.
        mechanism: String,
        /// What the mechanism found wrong.
        reason: crate::auth::MechanismError,
        /// The server's final reply to AUTH (a 235 when it claimed
        /// success).
        reply: Reply,
    },
    /// TLS was required and STARTTLS was not offered or was refused. QUIT
    /// was sent and the connection closed: nothing else went over
    /// plaintext.
    #[error("TLS required but STARTTLS {}", match .reply { Some(r) => format!("was refused: {r}"), None => "is not offered".to_owned() })]
    TlsRequired {
        /// The refusal, or `None` when STARTTLS was not advertised.
        reply: Option<Reply>,
    },
    /// The connection was lost, or a deadline passed, after the end of the
    /// message data and before its final reply: the message **may have been
    /// delivered**. Do not blindly resend.
    #[error("outcome unknown: {cause}")]
    OutcomeUnknown {
        /// What happened.
        cause: Box<Error>,
    },
    /// A deadline passed: a reply did not arrive in time, or a write could
    /// not complete. The connection is unusable.
    #[error("timed out{}", stage_suffix(.stage))]
    Timeout {
        /// What the client was waiting for, when known.
        stage: Option<Stage>,
    },
    /// An overall deadline passed: a whole call, or one transaction, took
    /// longer than allowed even though each reply came within its own
    /// timeout. The connection is unusable; after the end of data this
    /// comes wrapped in [`Error::OutcomeUnknown`].
    #[error("{deadline} passed{}", stage_suffix(.stage))]
    DeadlineExceeded {
        /// Which deadline, and its length.
        deadline: crate::Deadline,
        /// What the client was waiting for, when known.
        stage: Option<Stage>,
    },
    /// The server sent nothing at all before the greeting deadline. A
    /// server that waits for the client to speak first is most often a TLS
    /// server (implicit TLS, as on port 465) reached without TLS, or no
    /// SMTP server at all. The connection is gone.
    #[error(
        "no greeting within {} s; does this port expect implicit TLS (as port 465 does)? If so, connect with implicit TLS",
        .waited.as_secs()
    )]
    NoGreeting {
        /// The greeting deadline that passed.
        waited: std::time::Duration,
    },
    /// A socket error.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The TLS handshake failed (certificate verification included) or the
    /// TLS connector could not be built. The source is the TLS library's
    /// own error (`native_tls::Error` in the adapters of this project).
    #[error("TLS error: {0}")]
    Tls(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The server broke the protocol (malformed reply, bytes after the
    /// STARTTLS 220, ...). The connection is unusable.
    #[error("{error} ({})", phase(.stage))]
    Protocol {
        /// What was wrong.
        error: EngineError,
        /// What the client was doing when it happened.
        stage: Stage,
    },
    /// The session cannot do this now, or an argument is invalid; nothing
    /// was sent.
    #[error(transparent)]
    Usage(#[from] crate::UsageError),
    /// An address or option could not be used (invalid syntax, forbidden
    /// byte); nothing was sent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// `send_message` could not take the envelope from the headers (more
    /// than one Resent- block, no sender, no recipients, unparsable
    /// header); smtplib raises `ValueError`.
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// An earlier fatal error left the connection unusable; it says what
    /// that error was. Connect again.
    #[error("connection unusable after an earlier error: {cause}")]
    Poisoned {
        /// The earlier error, as text.
        cause: String,
    },
}

impl Error {
    /// The server reply this error carries, if any (smtplib's
    /// `SMTPResponseException`).
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Error::ServiceClosing { reply, .. }
            | Error::SenderRefused { reply, .. }
            | Error::DataError { reply }
            | Error::ConnectError { reply }
            | Error::HeloError { reply }
            | Error::AuthenticationError { reply, .. } => Some(reply),
            Error::TlsRequired { reply } => reply.as_ref(),
            Error::OutcomeUnknown { cause } => cause.reply(),
            _ => None,
        }
    }

    /// smtplib's `smtp_code`: the reply code, if a reply is carried.
    pub fn smtp_code(&self) -> Option<u16> {
        self.reply().map(|r| r.code().get())
    }

    /// smtplib's `smtp_error`: the reply text, lines joined with `\n`.
    pub fn smtp_error(&self) -> Option<String> {
        self.reply().map(Reply::text_lossy)
    }

    /// The RFC 3463 enhanced status code of the carried reply, if any.
    pub fn enhanced_code(&self) -> Option<crate::EnhancedStatusCode> {
        self.reply().and_then(Reply::enhanced_code)
    }

    /// Whether the message may have been delivered although this error
    /// was returned (see [`Error::OutcomeUnknown`]).
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(self, Error::OutcomeUnknown { .. })
    }

    /// Whether the connection can still be used after this error. Negative
    /// replies and usage errors leave it usable; transport failures,
    /// timeouts, protocol errors, 421 and closed connections do not.
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            Error::NotSupported(_)
                | Error::SenderRefused { .. }
                | Error::RecipientsRefused { .. }
                | Error::DataError { .. }
                | Error::NotDelivered { .. }
                | Error::HeloError { .. }
                | Error::AuthenticationError { .. }
                | Error::Usage(_)
                | Error::InvalidArgument(_)
                | Error::InvalidMessage(_)
        )
    }

    /// A failed connection attempt to `target` (`host:port` or a socket
    /// path), as [`Error::Io`] whose message names the target: "connecting
    /// to mail.example.org:587: Connection refused".
    pub fn connect_failed(target: &str, e: io::Error) -> Error {
        Error::Io(io::Error::new(
            e.kind(),
            format!("connecting to {target}: {e}"),
        ))
    }

    /// A TLS library's error, boxed.
    pub fn tls(e: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::Tls(Box::new(e))
    }

    /// Converts a fatal engine error that happened at `stage`. A failure
    /// after the end of data is wrapped in [`Error::OutcomeUnknown`].
    pub fn from_engine(e: EngineError, stage: Stage) -> Error {
        let unknown = e.is_outcome_unknown();
        let mapped = match e {
            EngineError::Timeout { stage } => Error::Timeout { stage: Some(stage) },
            EngineError::DeadlineExceeded { deadline, stage } => Error::DeadlineExceeded {
                deadline,
                stage: Some(stage),
            },
            EngineError::PeerClosed { stage } => Error::ServerDisconnected { stage: Some(stage) },
            EngineError::ServiceClosing { reply, stage } => Error::ServiceClosing { reply, stage },
            error => Error::Protocol { error, stage },
        };
        if unknown {
            Error::OutcomeUnknown {
                cause: Box::new(mapped),
            }
        } else {
            mapped
        }
    }
}

impl From<TxnFailure> for Error {
    /// smtplib's exception for a transaction the engine classified.
    fn from(f: TxnFailure) -> Self {
        match f {
            TxnFailure::SenderRefused { reply, sender } => Error::SenderRefused { reply, sender },
            TxnFailure::RecipientsRefused { recipients } => Error::RecipientsRefused { recipients },
            TxnFailure::DataError { reply } => Error::DataError { reply },
            TxnFailure::OutcomeUnknown => Error::OutcomeUnknown {
                cause: Box::new(Error::ServerDisconnected {
                    stage: Some(Stage::DataEnd),
                }),
            },
            _ => Error::ServerDisconnected { stage: None },
        }
    }
}

impl From<crate::command::CommandError> for Error {
    fn from(e: crate::command::CommandError) -> Self {
        Error::InvalidArgument(e.to_string())
    }
}

impl From<crate::address::AddressError> for Error {
    fn from(e: crate::address::AddressError) -> Self {
        Error::InvalidArgument(e.to_string())
    }
}

impl From<Error> for io::Error {
    /// For callers inside `io::Result` code (quinn does the same). I/O
    /// errors come back unchanged; timeouts become `TimedOut`, closed
    /// connections `ConnectionAborted`, everything else `Other`.
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io(io) => io,
            Error::Timeout { .. } | Error::DeadlineExceeded { .. } | Error::NoGreeting { .. } => {
                io::Error::new(io::ErrorKind::TimedOut, e)
            }
            Error::ServerDisconnected { .. } | Error::ServiceClosing { .. } => {
                io::Error::new(io::ErrorKind::ConnectionAborted, e)
            }
            other => io::Error::other(other),
        }
    }
}

fn stage_suffix(stage: &Option<Stage>) -> String {
    match stage {
        Some(s) => format!(" at {s:?}"),
        None => String::new(),
    }
}

fn refused_list(recipients: &Refused) -> String {
    let parts: Vec<String> = recipients
        .iter()
        .map(|(addr, reply)| format!("{addr} ({reply})"))
        .collect();
    parts.join(", ")
}

impl From<crate::message::MessageError> for Error {
    /// The reason the headers give no envelope, as smtplib's `ValueError`.
    fn from(e: crate::message::MessageError) -> Self {
        Error::InvalidMessage(e.to_string())
    }
}

impl From<crate::message::EnvelopeError> for Error {
    /// The reason smtplib-style strings make no envelope.
    fn from(e: crate::message::EnvelopeError) -> Self {
        Error::InvalidArgument(e.to_string())
    }
}

/// What the client was doing at `stage`, for error messages.
fn phase(stage: &Stage) -> &'static str {
    match stage {
        Stage::Greeting => "waiting for the greeting",
        Stage::Hello => "in the reply to EHLO/HELO",
        Stage::StartTls => "in the reply to STARTTLS",
        Stage::Auth => "in the AUTH exchange",
        Stage::Mail => "in the reply to MAIL",
        Stage::Rcpt => "in the reply to RCPT",
        Stage::DataInit => "in the reply to DATA",
        Stage::Body => "while sending the message body",
        Stage::Bdat => "in the reply to BDAT",
        Stage::DataEnd => "in the reply to the end of data",
        Stage::Quit => "in the reply to QUIT",
        Stage::Command => "in the reply to a command",
        _ => "with no command outstanding",
    }
}
