//! Commands as the queue holds them: what each one is ([`OpKind`], and so
//! what its reply means); their bytes are in the [`Queue`](super::queue::Queue). The pipelining
//! properties of each kind (rule 7 in [`state`](super)) live here too.

use std::time::Duration;

use crate::address::Domain;
use crate::command::Command;
use crate::config::Timeouts;
use crate::error::Stage;
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

/// The greeting command `verb` names, for the client name `domain`.
pub(crate) fn hello_command(verb: HelloVerb, domain: Domain) -> Command {
    match verb {
        HelloVerb::EhloOrHelo => Command::Ehlo(domain),
        HelloVerb::Helo => Command::Helo(domain),
        HelloVerb::Lhlo => Command::Lhlo(domain),
    }
}
