//! Errors: fatal [`Error`]s from the peer or the clock, and non-fatal
//! [`UsageError`]s from the caller.
//!
//! The split follows h11: a *remote* failure (the server broke the protocol,
//! went silent, or closed) ends the session and is sticky — every later
//! `handle_*` call returns it again. A *local* failure (the caller asked for
//! something the session cannot do now) changes nothing and is returned at
//! once, so the caller can correct course.
//!
//! Negative SMTP replies (4xx, 5xx) are neither: they are ordinary
//! [`Event`](crate::Event)s and results, because a refused recipient is a
//! normal outcome of mail delivery, not a broken conversation.

use std::time::Duration;

use crate::command::{CommandError, Mechanism};
use crate::reply::{Reply, ReplyError};
use crate::state::phase::Phase;

/// Where in the session a fatal error struck.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Waiting for the greeting.
    Greeting,
    /// Waiting for the reply to EHLO, HELO or LHLO.
    Hello,
    /// Waiting for the reply to STARTTLS.
    StartTls,
    /// In an AUTH exchange.
    Auth,
    /// Waiting for the reply to MAIL.
    Mail,
    /// Waiting for the reply to RCPT.
    Rcpt,
    /// Waiting for the 354 reply to DATA.
    DataInit,
    /// While the message body was being sent (no reply was expected).
    Body,
    /// Waiting for the reply to a non-final BDAT chunk.
    Bdat,
    /// After the end of the message data (final "." or BDAT LAST), waiting
    /// for its reply or, in LMTP, for one reply per accepted recipient.
    /// A failure here means the outcome of the message is unknown.
    DataEnd,
    /// Waiting for the reply to QUIT.
    Quit,
    /// Waiting for the reply to another command (RSET, NOOP, VRFY, …).
    Command,
    /// No command was outstanding.
    Idle,
}

/// A fatal error: the conversation can no longer be trusted.
///
/// Sticky: once a `handle_*` call has returned it, every later `handle_*`
/// call returns it again and commands return [`UsageError::Closed`].
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The server broke the protocol.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// A reply deadline passed.
    #[error("timed out at {stage:?}")]
    Timeout {
        /// What the client was waiting for.
        stage: Stage,
    },
    /// An overall deadline passed (see [`Deadline`]): the server kept
    /// answering, but too slowly for the whole to finish in time.
    #[error("{deadline} passed at {stage:?}")]
    DeadlineExceeded {
        /// Which deadline, and its length.
        deadline: Deadline,
        /// What the client was waiting for.
        stage: Stage,
    },
    /// The server closed the connection while the client still expected
    /// replies.
    #[error("connection closed by the server at {stage:?}")]
    PeerClosed {
        /// What the client was waiting for.
        stage: Stage,
    },
    /// The server replied 421: it is closing the transmission channel
    /// (RFC 5321 §3.8). A transient condition; try again later.
    #[error("server is closing the connection: {reply}")]
    ServiceClosing {
        /// The 421 reply.
        reply: Reply,
        /// What the client was waiting for when the 421 came.
        stage: Stage,
    },
    /// The body contained 8-bit bytes but the transaction was started without
    /// `BODY=8BITMIME` (the server did not offer it or the caller declared
    /// 7-bit content). A DATA body cannot be withdrawn halfway, so the
    /// session is abandoned rather than deliver a truncated or mislabelled
    /// message.
    #[error("8-bit byte in a body declared 7-bit")]
    Undeclared8Bit,
}

impl Error {
    /// The stage the error names, if any.
    pub fn stage(&self) -> Option<Stage> {
        match self {
            Error::Timeout { stage }
            | Error::DeadlineExceeded { stage, .. }
            | Error::PeerClosed { stage }
            | Error::ServiceClosing { stage, .. } => Some(*stage),
            _ => None,
        }
    }

    /// Whether the error struck after the end of message data and before its
    /// final reply: the message may or may not have been delivered.
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(
            self,
            Error::Timeout {
                stage: Stage::DataEnd
            } | Error::DeadlineExceeded {
                stage: Stage::DataEnd,
                ..
            } | Error::PeerClosed {
                stage: Stage::DataEnd
            }
        )
    }
}

/// An overall deadline: it bounds many replies together, where each
/// [`Timeouts`](crate::Timeouts) entry bounds one. A server that answers
/// every command just inside its own timeout, or drips one byte a second,
/// still cannot stretch the whole past it.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Deadline {
    /// One call of a session (connect, login, send, a whole batch…), from
    /// its start to its result.
    Call(Duration),
    /// One mail transaction, from its MAIL going on the wire to its last
    /// reply ([`Config::transaction_deadline`](crate::Config::transaction_deadline)).
    Transaction(Duration),
}

impl std::fmt::Display for Deadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (what, d) = match self {
            Deadline::Call(d) => ("the call's deadline", d),
            Deadline::Transaction(d) => ("the transaction's deadline", d),
        };
        write!(f, "{what} of {:.3} s", d.as_secs_f64())
    }
}

/// How the server broke the protocol.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A reply could not be parsed or exceeded a limit.
    #[error("malformed reply: {0}")]
    MalformedReply(#[from] ReplyError),
    /// A reply arrived while no command was outstanding (for instance during
    /// the message body, or more replies than commands).
    #[error("unexpected reply: {reply}")]
    UnexpectedReply {
        /// The reply, so that an early "552 too big" during a body can still
        /// be reported to the user.
        reply: Reply,
    },
    /// Bytes followed the 220 reply to STARTTLS before the TLS handshake.
    /// They would be read as if they had come over TLS (the CVE-2011-0411
    /// family); the session is abandoned instead.
    #[error("data received after the STARTTLS reply, before the TLS handshake")]
    DataAfterStartTls,
    /// The greeting had a code other than 2xx, 4xx or 5xx (e.g. `354`).
    #[error("nonsensical greeting: {reply}")]
    BadGreeting {
        /// The greeting.
        reply: Reply,
    },
}

/// A command or body call that the session cannot carry out now. Nothing was
/// queued and the session is unchanged.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    /// The command is not allowed in the current phase (for instance MAIL
    /// before a successful EHLO, or any command before the greeting).
    #[error("{command} is not allowed in phase {phase:?}")]
    NotAllowed {
        /// The command's verb.
        command: &'static str,
        /// The phase the session is in.
        phase: Phase,
    },
    /// The session has ended (QUIT, 421, EOF or a fatal error).
    #[error("the session is closed")]
    Closed,
    /// The command needs an extension the server did not advertise.
    #[error("the server does not advertise {0}")]
    ExtensionNotAdvertised(&'static str),
    /// AUTH with a mechanism the server did not advertise.
    #[error("the server does not advertise AUTH {0}")]
    MechanismNotAdvertised(Mechanism),
    /// AUTH was requested without TLS and
    /// [`Config::allow_plaintext_auth`](crate::Config::allow_plaintext_auth)
    /// is off: the engine refuses mechanisms that reveal the password
    /// (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER); the session's `login` and
    /// `auth` refuse every mechanism.
    #[error(
        "AUTH {0} refused: the connection has no TLS, so the credentials would cross the network unprotected (use STARTTLS or implicit TLS, or allow_plaintext_auth)"
    )]
    PlaintextAuthRefused(Mechanism),
    /// STARTTLS when TLS is already active.
    #[error("TLS is already active")]
    TlsAlreadyActive,
    /// A command while STARTTLS is outstanding or the handshake is pending.
    /// Nothing may be queued behind STARTTLS: if it is refused, the caller's
    /// TLS policy decides what happens next.
    #[error("STARTTLS is in progress")]
    StartTlsInProgress,
    /// `auth_respond`/`auth_cancel` without a pending challenge.
    #[error("no AUTH challenge is waiting for an answer")]
    NoAuthChallenge,
    /// A command while an AUTH exchange is in progress.
    #[error("an AUTH exchange is in progress")]
    AuthInProgress,
    /// STARTTLS, AUTH or EHLO while a mail transaction is in progress.
    #[error("a mail transaction is in progress")]
    TransactionInProgress,
    /// `send_body`/`finish_body` when no body is being accepted.
    #[error("no message body is expected now")]
    NoBodyExpected,
    /// `send_body` while the previous BDAT chunk still waits to be written
    /// (no PIPELINING): drive the connection until
    /// [`Client::can_send_body`](crate::Client::can_send_body) is true.
    #[error("the previous body chunk has not been sent yet")]
    WouldBlock,
    /// A transaction without recipients.
    #[error("a transaction needs at least one recipient")]
    NoRecipients,
    /// [`Client::rcpt`](crate::Client::rcpt) or
    /// [`Client::data`](crate::Client::data) for a transaction that is not
    /// an open envelope: unknown or finished, started with
    /// [`Client::send_mail`](crate::Client::send_mail), or already closed by
    /// `data`, `rset` or a new MAIL.
    #[error("no open envelope: start one with mail()")]
    NoOpenEnvelope,
    /// An internationalized recipient in a transaction whose MAIL did not
    /// declare `SMTPUTF8` (RFC 6531 §3.4): set
    /// [`MailParams::smtputf8`](crate::MailParams) when calling
    /// [`Client::mail`](crate::Client::mail).
    #[error("the recipient needs SMTPUTF8, which MAIL did not declare")]
    SmtpUtf8NotDeclared,
    /// The declared message size exceeds the server's SIZE limit (RFC 1870).
    #[error("message of {size} octets exceeds the server's limit of {limit}")]
    MessageTooLarge {
        /// Declared size.
        size: u64,
        /// Advertised limit.
        limit: u64,
    },
    /// The command is not part of this dialect (HELO in LMTP).
    #[error("{0} is not part of this dialect")]
    WrongDialect(&'static str),
    /// The command could not be encoded (invalid argument or forbidden byte).
    #[error(transparent)]
    InvalidCommand(#[from] CommandError),
}
