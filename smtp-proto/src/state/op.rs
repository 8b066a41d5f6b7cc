//! Commands as the queue holds them: what each one is ([`OpKind`], and so
//! what its reply means) and its encoded bytes ([`Op`]). The pipelining
//! properties of each kind (rule 7 in [`state`](super)) live here too.

use std::time::Duration;

use crate::address::Domain;
use crate::command::Command;
use crate::config::Timeouts;
use crate::error::{Stage, UsageError};
use crate::event::{CommandId, TxnId};

/// Which greeting command an operation sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HelloVerb {
    /// EHLO, with HELO as fallback on 500/502.
    EhloOrHelo,
    /// HELO.
    Helo,
    /// LHLO (LMTP).
    Lhlo,
}

/// What a queued or in-flight command is, and so what its reply means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpKind {
    Hello {
        id: CommandId,
        verb: HelloVerb,
    },
    StartTls {
        id: CommandId,
    },
    Auth {
        id: CommandId,
    },
    Mail {
        txn: TxnId,
    },
    Rcpt {
        txn: TxnId,
        rcpt: usize,
    },
    Data {
        txn: TxnId,
    },
    /// Placeholder for the message body: never on the wire, it holds the
    /// queue until the caller finishes the body.
    Body {
        txn: TxnId,
    },
    /// The final "." after a DATA body.
    BodyEnd {
        txn: TxnId,
    },
    Bdat {
        txn: TxnId,
        last: bool,
    },
    /// RSET, NOOP, VRFY, EXPN, HELP or a raw command; `internal` ones (the
    /// client's own RSET) report no event.
    Simple {
        id: CommandId,
        internal: bool,
    },
    /// The caller's RSET: like `Simple`, but it does not end a group.
    Rset {
        id: CommandId,
    },
    Quit {
        id: CommandId,
    },
}

impl OpKind {
    /// The transaction the operation belongs to.
    pub(crate) fn txn(self) -> Option<TxnId> {
        match self {
            OpKind::Mail { txn }
            | OpKind::Rcpt { txn, .. }
            | OpKind::Data { txn }
            | OpKind::Body { txn }
            | OpKind::BodyEnd { txn }
            | OpKind::Bdat { txn, .. } => Some(txn),
            _ => None,
        }
    }

    /// Whether a later command must wait for this one's reply even when
    /// pipelining (RFC 2920 §3.1: "can only appear as the last command in
    /// a group").
    pub(super) fn ends_group(self) -> bool {
        !matches!(
            self,
            OpKind::Mail { .. }
                | OpKind::Rcpt { .. }
                | OpKind::BodyEnd { .. }
                | OpKind::Bdat { .. }
                | OpKind::Simple { internal: true, .. }
                | OpKind::Rset { .. }
        )
    }

    /// Whether the command may join a group already in flight. EHLO,
    /// STARTTLS and AUTH change what the session may do next, so they wait
    /// for every earlier reply.
    pub(super) fn may_join_group(self) -> bool {
        !matches!(
            self,
            OpKind::Hello { .. } | OpKind::StartTls { .. } | OpKind::Auth { .. }
        )
    }

    pub(crate) fn stage(self) -> Stage {
        match self {
            OpKind::Hello { .. } => Stage::Hello,
            OpKind::StartTls { .. } => Stage::StartTls,
            OpKind::Auth { .. } => Stage::Auth,
            OpKind::Mail { .. } => Stage::Mail,
            OpKind::Rcpt { .. } => Stage::Rcpt,
            OpKind::Data { .. } => Stage::DataInit,
            OpKind::Body { .. } => Stage::Body,
            OpKind::BodyEnd { .. } | OpKind::Bdat { last: true, .. } => Stage::DataEnd,
            OpKind::Bdat { last: false, .. } => Stage::Bdat,
            OpKind::Simple { .. } | OpKind::Rset { .. } => Stage::Command,
            OpKind::Quit { .. } => Stage::Quit,
        }
    }

    pub(super) fn timeout(self, t: &Timeouts) -> Duration {
        match self {
            OpKind::Mail { .. } => t.mail,
            OpKind::Rcpt { .. } => t.rcpt,
            OpKind::Data { .. } => t.data_init,
            OpKind::BodyEnd { .. } | OpKind::Bdat { last: true, .. } => t.data_end,
            _ => t.command,
        }
    }
}

/// A command ready for the wire: its kind and its encoded bytes.
#[derive(Clone)]
pub(crate) struct Op {
    pub(crate) kind: OpKind,
    pub(crate) bytes: Vec<u8>,
}

/// Shows the length only: the bytes may be an AUTH line.
impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Op")
            .field("kind", &self.kind)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// Room for a typical command line (MAIL with a few parameters), so that
/// encoding one allocates once.
const LINE_CAPACITY: usize = 128;

impl Op {
    pub(crate) fn encode(kind: OpKind, command: &Command) -> Result<Op, UsageError> {
        Op::encode_with(kind, command, 0)
    }

    /// Encodes `command` into a buffer with room for `extra` more bytes.
    fn encode_with(kind: OpKind, command: &Command, extra: usize) -> Result<Op, UsageError> {
        let bytes = command.encode_owned(LINE_CAPACITY.saturating_add(extra))?;
        Ok(Op { kind, bytes })
    }

    pub(crate) fn placeholder(kind: OpKind) -> Op {
        Op {
            kind,
            bytes: Vec::new(),
        }
    }

    pub(crate) fn raw(kind: OpKind, bytes: Vec<u8>) -> Op {
        Op { kind, bytes }
    }

    /// `BDAT n [LAST]` followed by the chunk's bytes, verbatim.
    pub(crate) fn bdat(txn: TxnId, data: Vec<u8>, last: bool) -> Result<Op, UsageError> {
        let size = u64::try_from(data.len()).unwrap_or(u64::MAX);
        let command = Command::Bdat { size, last };
        let mut op = Op::encode_with(OpKind::Bdat { txn, last }, &command, data.len())?;
        op.bytes.extend_from_slice(&data);
        Ok(op)
    }

    pub(crate) fn hello(id: CommandId, verb: HelloVerb, domain: Domain) -> Result<Op, UsageError> {
        let command = match verb {
            HelloVerb::EhloOrHelo => Command::Ehlo(domain),
            HelloVerb::Helo => Command::Helo(domain),
            HelloVerb::Lhlo => Command::Lhlo(domain),
        };
        Op::encode(OpKind::Hello { id, verb }, &command)
    }
}
