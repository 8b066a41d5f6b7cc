//! The session's rules: every state transition of the engine lives here.
//!
//! # Rules
//!
//! 1. **Greeting.** Nothing is sent before the greeting. 2xx: the session is
//!    `Connected` and, with `auto_ehlo`, EHLO/LHLO goes first. 421: the
//!    session ends with [`Error::ServiceClosing`]. Other 4xx/5xx (e.g. 554):
//!    QUIT is queued and the session ends with [`Event::Closed`]. Any other
//!    code is a protocol error.
//! 2. **Hello.** A positive EHLO/LHLO reply yields the [`Extensions`] and the
//!    `Ready` phase; HELO yields empty extensions. EHLO falls back to HELO
//!    only on 500 or 502 (RFC 5321 §4.1.4), never in LMTP, never on 421.
//! 3. **STARTTLS.** Only a `220` means "start TLS", and only when the receive
//!    buffer is empty afterwards (checked in `Client::handle_input`; bytes
//!    there, or any input before `tls_established`, fail the session with
//!    `DataAfterStartTls` and withdraw a `StartTlsReady` not yet taken);
//!    anything else is a refusal reported to the caller. While STARTTLS is
//!    pending no other command may be queued. After the handshake every
//!    capability is forgotten and EHLO is sent again (RFC 3207 §4.2).
//! 4. **AUTH.** 334 is a challenge for the caller, at most
//!    `max_auth_rounds` times; an undecodable challenge, one round too many,
//!    or any challenge after a `*` is cancelled with `*` by the client
//!    itself. 2xx is success; anything else (including 503) is failure.
//! 5. **Transactions.** MAIL, RCPT and DATA replies are recorded per
//!    transaction. A refused MAIL makes the transaction "sender refused"
//!    whatever the pipelined RCPTs got. In lock-step, RCPTs after a refused
//!    MAIL are not sent, and DATA is not sent when no recipient was accepted
//!    (RSET instead) — except in an *incremental* envelope
//!    (`mail`/`rcpt`/`data`, smtplib's step-by-step calls), where every
//!    command the caller queued is sent and the server answers it. A 354
//!    with no accepted recipient (pipelined, or incremental) is answered
//!    with a lone "." (RFC 2920 §3.1). A refused DATA or BDAT chunk ends the
//!    transaction and, when the server still holds one (MAIL accepted, BDAT
//!    LAST not sent: LAST ends the transaction whatever its reply), queues RSET. An
//!    incremental envelope closed without DATA (by the caller's RSET or a
//!    new MAIL) ends once its last MAIL/RCPT reply is in.
//! 6. **End of data.** SMTP: one reply speaks for every accepted recipient.
//!    LMTP: one reply per accepted recipient, in RCPT order (RFC 2033 §4.2).
//!    Losing the connection or a deadline after the end of data leaves the
//!    outcome unknown.
//! 7. **Pipelining** (RFC 2920 §3.1), only when advertised and configured: a
//!    command may join the commands in flight when none of those ends a group.
//!    MAIL, RCPT, RSET, the end of data and BDAT chunks (the last one too:
//!    RFC 3030 §2 has BDAT LAST complete the transaction whatever its reply,
//!    exactly as the final "." does) do not end a group; DATA, NOOP, VRFY,
//!    EXPN, HELP, QUIT and raw commands do. EHLO, STARTTLS and AUTH are
//!    always sent alone. The body blocks the queue until the caller finishes
//!    it; the next envelope may then follow the end of data in the same
//!    write.
//! 8. **421** from any command ends the session with
//!    [`Error::ServiceClosing`] after the reply has been reported to the
//!    command it answers.
//! 9. **Unexpected replies** (nothing outstanding, or during the body) are a
//!    protocol error; garbage is never skipped to re-align.
//! 10. **Errors are sticky.** After a fatal error nothing more is sent,
//!     unfinished transactions are reported (`Unknown` after the end of data,
//!     `Aborted` before it), and every `handle_*` returns the error again.

use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::address::Domain;
use crate::client::Client;
use crate::command::Command;
use crate::config::{Dialect, Timeouts};
use crate::ehlo::Extensions;
use crate::error::{Error, ProtocolError, Stage, UsageError};
use crate::event::{CommandId, DeliveryScope, Event, RcptId, TxnId, TxnOutcome};
use crate::reply::{Reply, ReplyCode};
use crate::secret::Secret;
use crate::txn::{Txn, TxnStage};

/// The phase of a session.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Waiting for the server's greeting.
    Greeting,
    /// Greeted; no successful EHLO/HELO yet (or since the TLS handshake).
    Connected,
    /// EHLO/HELO succeeded: AUTH, STARTTLS and mail may follow.
    Ready,
    /// STARTTLS was accepted; the caller must run the TLS handshake.
    AwaitingTls,
    /// The greeting was refused; only the automatic QUIT remains.
    Closing,
    /// The session ended normally.
    Closed,
    /// The session ended with a fatal error.
    Failed,
}

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
    fn ends_group(self) -> bool {
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
    fn may_join_group(self) -> bool {
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

    fn timeout(self, t: &Timeouts) -> Duration {
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

impl Op {
    pub(crate) fn encode(kind: OpKind, command: &Command) -> Result<Op, UsageError> {
        let mut bytes = Vec::new();
        command.encode(&mut bytes)?;
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
        let mut op = Op::encode(OpKind::Bdat { txn, last }, &Command::Bdat { size, last })?;
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

const CODE_500: Option<ReplyCode> = ReplyCode::new(500);
const CODE_502: Option<ReplyCode> = ReplyCode::new(502);

impl Client {
    /// Moves every command that may go on the wire now from `pending` to
    /// `inflight`, appending its bytes to the output (rule 7).
    pub(crate) fn pump(&mut self, now: Instant) {
        if self.rearm {
            self.rearm = false;
            self.arm_head(now);
        }
        if !matches!(self.phase, Phase::Connected | Phase::Ready | Phase::Closing) {
            return;
        }
        while let Some(op) = self.pending.front() {
            let kind = op.kind;
            if let OpKind::Body { txn } = kind {
                if self.body_at_head(txn) {
                    continue;
                }
                break;
            }
            if !self.may_send(kind) {
                break;
            }
            // Rule 5, lock-step: skip what a known refusal makes pointless
            // (never in an incremental envelope: the caller asked for it).
            if let Some(t) = kind
                .txn()
                .and_then(|id| self.txn(id))
                .filter(|t| !t.incremental)
            {
                let skip_rcpt = matches!(kind, OpKind::Rcpt { .. }) && t.sender_refused();
                let skip_data =
                    matches!(kind, OpKind::Data { .. }) && (t.sender_refused() || t.all_refused());
                if skip_rcpt {
                    self.pending.pop_front();
                    continue;
                }
                if skip_data {
                    let id = t.id;
                    let rset = t.sender_accepted();
                    self.finish_early(id, rset);
                    continue;
                }
            }
            let Some(op) = self.pending.pop_front() else {
                break;
            };
            if self.inflight.is_empty() {
                self.deadline = now.checked_add(kind.timeout(&self.config.timeouts));
            }
            if matches!(
                kind,
                OpKind::BodyEnd { .. } | OpKind::Bdat { last: true, .. }
            ) && let Some(t) = kind.txn().and_then(|id| self.txn_mut(id))
            {
                t.end_sent = true;
            }
            self.out.extend_from_slice(&op.bytes);
            self.inflight.push_back(kind);
        }
    }

    fn may_send(&self, kind: OpKind) -> bool {
        self.inflight.is_empty()
            || (self.is_pipelining()
                && kind.may_join_group()
                && self.inflight.iter().all(|k| !k.ends_group()))
    }

    /// The body placeholder of `txn` is at the head of the queue. Opens the
    /// body for BDAT when allowed; returns true if the queue moved on.
    fn body_at_head(&mut self, id: TxnId) -> bool {
        let pipelining = self.is_pipelining();
        let idle = self.inflight.is_empty();
        let Some(t) = self.txn_mut(id) else {
            // The transaction is gone: drop its placeholder.
            self.pending.pop_front();
            return true;
        };
        if t.stage != TxnStage::Envelope || t.mode != crate::txn::BodyMode::Bdat {
            return false;
        }
        if pipelining {
            t.stage = TxnStage::BodyOpen;
            self.events.push_back(Event::ReadyForBody { txn: id });
            return false;
        }
        if !idle {
            return false;
        }
        if t.sender_refused() || t.all_refused() {
            let rset = t.sender_accepted();
            self.finish_early(id, rset);
            return true;
        }
        t.stage = TxnStage::BodyOpen;
        self.events.push_back(Event::ReadyForBody { txn: id });
        false
    }

    /// Dispatches one complete reply (rules 1–9).
    pub(crate) fn on_reply(&mut self, now: Instant, reply: Reply) -> Result<(), Error> {
        let closing = reply.code() == ReplyCode::SERVICE_NOT_AVAILABLE;
        if self.phase == Phase::Greeting {
            return self.on_greeting(reply);
        }
        let Some(head) = self.inflight.front().copied() else {
            let stage = self.stage();
            if closing {
                return self.fail(Error::ServiceClosing { reply, stage });
            }
            return self.fail(ProtocolError::UnexpectedReply { reply }.into());
        };
        if self.auth.as_ref().is_some_and(|a| a.awaiting_caller) && !closing {
            return self.fail(ProtocolError::UnexpectedReply { reply }.into());
        }
        let stage = head.stage();
        let closing_reply = closing.then(|| reply.clone());
        match head {
            OpKind::Hello { id, verb } => self.on_hello(now, id, verb, reply),
            OpKind::StartTls { id } => {
                self.complete_head(now);
                self.starttls_pending = false;
                if reply.code() == ReplyCode::SERVICE_READY {
                    self.starttls_pending = true;
                    self.phase = Phase::AwaitingTls;
                    self.deadline = None;
                    self.events.push_back(Event::StartTlsReady { id, reply });
                } else {
                    self.events.push_back(Event::StartTlsRejected { id, reply });
                }
            }
            OpKind::Auth { id } => self.on_auth(now, id, reply),
            OpKind::Mail { txn } => {
                self.complete_head(now);
                if let Some(t) = self.txn_mut(txn) {
                    t.mail_reply = Some(reply.clone());
                    self.events.push_back(Event::MailReply { txn, reply });
                }
                self.reap_abandoned();
            }
            OpKind::Rcpt { txn, rcpt } => {
                self.complete_head(now);
                if let Some(t) = self.txn_mut(txn) {
                    if let Some(r) = t.recipients.get_mut(rcpt) {
                        r.rcpt_reply = Some(reply.clone());
                    }
                    self.events.push_back(Event::RcptReply {
                        txn,
                        rcpt: RcptId(rcpt),
                        reply,
                    });
                }
                self.reap_abandoned();
            }
            OpKind::Data { txn } => {
                self.complete_head(now);
                self.on_data(txn, reply);
            }
            OpKind::BodyEnd { txn } | OpKind::Bdat { txn, last: true } => {
                self.on_final(now, txn, reply);
            }
            OpKind::Bdat { txn, last: false } => {
                self.complete_head(now);
                if !reply.code().is_positive_completion()
                    && let Some(t) = self.txn_mut(txn)
                {
                    // RSET only if BDAT LAST never left: LAST completes the
                    // transaction on the server whatever its reply, and the
                    // next envelope may already be in flight behind it, where
                    // an RSET would reset the wrong transaction.
                    let rset = t.sender_accepted() && !t.end_sent;
                    t.data_reply = Some(reply);
                    t.failed = true;
                    self.finish_early(txn, rset);
                }
            }
            OpKind::Body { .. } => {
                // Never in flight; keep the invariant visible.
                return self.fail(ProtocolError::UnexpectedReply { reply }.into());
            }
            OpKind::Simple { id, internal } => {
                self.complete_head(now);
                if !internal {
                    self.events.push_back(Event::Reply { id, reply });
                }
            }
            OpKind::Rset { id } => {
                self.complete_head(now);
                self.events.push_back(Event::Reply { id, reply });
            }
            OpKind::Quit { id } => {
                self.complete_head(now);
                self.events.push_back(Event::Reply {
                    id,
                    reply: reply.clone(),
                });
                self.close(Some(reply));
                return Ok(());
            }
        }
        match closing_reply {
            Some(reply) => self.fail(Error::ServiceClosing { reply, stage }),
            None => Ok(()),
        }
    }

    fn on_greeting(&mut self, reply: Reply) -> Result<(), Error> {
        let code = reply.code();
        self.deadline = None;
        if code.is_positive_completion() {
            self.events.push_back(Event::Greeting { reply });
            self.phase = Phase::Connected;
            if self.config.auto_ehlo {
                self.queue_hello_front();
            }
            Ok(())
        } else if code == ReplyCode::SERVICE_NOT_AVAILABLE {
            self.events.push_back(Event::Greeting {
                reply: reply.clone(),
            });
            self.fail(Error::ServiceClosing {
                reply,
                stage: Stage::Greeting,
            })
        } else if code.is_transient_negative() || code.is_permanent_negative() {
            self.events.push_back(Event::Greeting { reply });
            self.phase = Phase::Closing;
            let id = self.next_command_id();
            if let Ok(op) = Op::encode(OpKind::Quit { id }, &Command::Quit) {
                self.pending.push_back(op);
            }
            Ok(())
        } else {
            self.fail(ProtocolError::BadGreeting { reply }.into())
        }
    }

    fn on_hello(&mut self, now: Instant, id: CommandId, verb: HelloVerb, reply: Reply) {
        self.complete_head(now);
        let code = reply.code();
        if code.is_positive_completion() {
            let esmtp = verb != HelloVerb::Helo;
            let ext = if esmtp {
                Extensions::from_reply(&reply)
            } else {
                Extensions::default()
            };
            self.extensions = Some(ext.clone());
            self.phase = Phase::Ready;
            self.events.push_back(Event::Hello {
                id,
                reply,
                esmtp,
                extensions: Some(ext),
            });
            return;
        }
        let fallback = verb == HelloVerb::EhloOrHelo
            && self.config.dialect == Dialect::Smtp
            && (Some(code) == CODE_500 || Some(code) == CODE_502);
        if fallback {
            let domain = self.config.client_domain.clone();
            if let Ok(op) = Op::hello(id, HelloVerb::Helo, domain) {
                self.pending.push_front(op);
                return;
            }
        }
        self.extensions = None;
        self.phase = Phase::Connected;
        self.events.push_back(Event::Hello {
            id,
            reply,
            esmtp: verb != HelloVerb::Helo,
            extensions: None,
        });
    }

    fn on_auth(&mut self, now: Instant, id: CommandId, reply: Reply) {
        if reply.code() == ReplyCode::AUTH_CONTINUE {
            let max = self.config.max_auth_rounds;
            let challenge = reply
                .lines()
                .first()
                .map(|l| l.trim_ascii())
                .and_then(|l| base64::engine::general_purpose::STANDARD.decode(l).ok());
            let Some(a) = self.auth.as_mut() else {
                return;
            };
            a.rounds = a.rounds.saturating_add(1);
            match challenge {
                Some(challenge) if a.rounds <= max && !a.cancelled => {
                    a.awaiting_caller = true;
                    self.deadline = None;
                    self.events.push_back(Event::AuthChallenge {
                        id,
                        challenge: Secret::new(challenge),
                    });
                }
                _ => {
                    // Undecodable challenge, too many rounds, or a challenge
                    // after `*`: cancel (RFC 4954 §4) and wait for the
                    // server's verdict.
                    a.cancelled = true;
                    let _ = Command::AuthCancel.encode(&mut self.out);
                    self.arm_head(now);
                }
            }
            return;
        }
        self.complete_head(now);
        self.auth = None;
        if reply.code().is_positive_completion() {
            self.events.push_back(Event::AuthSucceeded { id, reply });
        } else {
            self.events.push_back(Event::AuthFailed { id, reply });
        }
    }

    fn on_data(&mut self, id: TxnId, reply: Reply) {
        let Some(t) = self.txn_mut(id) else {
            return;
        };
        if reply.code() == ReplyCode::START_MAIL_INPUT {
            if t.sender_refused() || t.accepted_count() == 0 {
                // RFC 2920 §3.1: nothing may be delivered; end the data at once.
                t.lone_dot = true;
                t.stage = TxnStage::BodyDone;
                let end = Op::raw(OpKind::BodyEnd { txn: id }, b".\r\n".to_vec());
                self.replace_placeholder(id, end);
            } else {
                t.stage = TxnStage::BodyOpen;
                self.events.push_back(Event::ReadyForBody { txn: id });
            }
            return;
        }
        let rset = t.sender_accepted();
        t.data_reply = Some(reply);
        t.failed = true;
        self.finish_early(id, rset);
    }

    /// A reply after the end of data (rule 6).
    fn on_final(&mut self, now: Instant, id: TxnId, reply: Reply) {
        let lmtp = self.config.dialect == Dialect::Lmtp;
        let Some(t) = self.txn_mut(id) else {
            // The transaction already ended (a refused chunk); this is the
            // reply to its last chunk, still in flight.
            self.complete_head(now);
            return;
        };
        if t.lone_dot || t.accepted_count() == 0 {
            if t.data_reply.is_none() && !t.lone_dot {
                t.data_reply = Some(reply);
            }
            self.complete_head(now);
            let outcome = t_early(self, id);
            self.finish_txn(id, outcome);
            return;
        }
        if !lmtp {
            for r in t.recipients.iter_mut().filter(|r| r.accepted()) {
                r.delivery_reply = Some(reply.clone());
            }
            self.events.push_back(Event::DeliveryReply {
                txn: id,
                scope: DeliveryScope::AllAccepted,
                reply,
            });
            self.complete_head(now);
            let outcome = self.txn(id).map_or(TxnOutcome::Unknown, Txn::final_outcome);
            self.finish_txn(id, outcome);
            return;
        }
        let accepted = t.accepted_count();
        let left = t.final_left.get_or_insert(accepted);
        *left = left.saturating_sub(1);
        let done = *left == 0;
        let start = t.next_final;
        let slot = t
            .recipients
            .iter_mut()
            .enumerate()
            .skip(start)
            .find(|(_, r)| r.accepted());
        if let Some((i, r)) = slot {
            r.delivery_reply = Some(reply.clone());
            t.next_final = i.saturating_add(1);
            self.events.push_back(Event::DeliveryReply {
                txn: id,
                scope: DeliveryScope::Recipient(RcptId(i)),
                reply,
            });
        }
        if done {
            self.complete_head(now);
            let outcome = self.txn(id).map_or(TxnOutcome::Unknown, Txn::final_outcome);
            self.finish_txn(id, outcome);
        }
    }

    /// Pops the head of `inflight` and starts the next one's deadline.
    fn complete_head(&mut self, now: Instant) {
        self.inflight.pop_front();
        self.arm_head(now);
    }

    fn arm_head(&mut self, now: Instant) {
        self.deadline = self
            .inflight
            .front()
            .and_then(|k| now.checked_add(k.timeout(&self.config.timeouts)));
    }

    pub(crate) fn txn(&self, id: TxnId) -> Option<&Txn> {
        self.txns.iter().find(|t| t.id == id)
    }

    pub(crate) fn txn_mut(&mut self, id: TxnId) -> Option<&mut Txn> {
        self.txns.iter_mut().find(|t| t.id == id)
    }

    fn replace_placeholder(&mut self, id: TxnId, op: Op) {
        if let Some(slot) = self
            .pending
            .iter_mut()
            .find(|o| matches!(o.kind, OpKind::Body { txn } if txn == id))
        {
            *slot = op;
        }
    }

    /// Closes every incremental envelope that has not queued DATA (rule 5):
    /// RSET or a new MAIL ends it on the server.
    pub(crate) fn abandon_open_envelopes(&mut self) {
        for t in self.txns.iter_mut().filter(|t| t.is_open_envelope()) {
            t.envelope_closed = true;
            t.abandoned = true;
        }
        self.reap_abandoned();
    }

    /// Finishes each abandoned envelope once none of its commands is queued
    /// or in flight, so that its report holds every reply.
    pub(crate) fn reap_abandoned(&mut self) {
        let done: Vec<TxnId> = self
            .txns
            .iter()
            .filter(|t| t.abandoned)
            .map(|t| t.id)
            .filter(|id| {
                !self.pending.iter().any(|o| o.kind.txn() == Some(*id))
                    && !self.inflight.iter().any(|k| k.txn() == Some(*id))
            })
            .collect();
        for id in done {
            let outcome = t_early(self, id);
            self.finish_txn(id, outcome);
        }
    }

    /// Ends a transaction before its end of data: drops its queued
    /// commands, reports it, and queues RSET first when the server still
    /// holds the transaction.
    pub(crate) fn finish_early(&mut self, id: TxnId, rset: bool) {
        let outcome = t_early(self, id);
        self.pending.retain(|o| o.kind.txn() != Some(id));
        if rset {
            let rset_id = self.next_command_id();
            if let Ok(op) = Op::encode(
                OpKind::Simple {
                    id: rset_id,
                    internal: true,
                },
                &Command::Rset,
            ) {
                self.pending.push_front(op);
            }
        }
        self.finish_txn(id, outcome);
    }

    fn finish_txn(&mut self, id: TxnId, outcome: TxnOutcome) {
        if let Some(pos) = self.txns.iter().position(|t| t.id == id)
            && let Some(t) = self.txns.remove(pos)
        {
            self.events.push_back(Event::TransactionFinished {
                txn: id,
                report: Box::new(t.report(outcome)),
            });
        }
    }

    /// Reports every unfinished transaction: `Unknown` when its end of data
    /// was sent, `Aborted` otherwise.
    pub(crate) fn abort_txns(&mut self) {
        while let Some(t) = self.txns.pop_front() {
            let outcome = if t.end_sent {
                TxnOutcome::Unknown
            } else {
                TxnOutcome::Aborted
            };
            self.events.push_back(Event::TransactionFinished {
                txn: t.id,
                report: Box::new(t.report(outcome)),
            });
        }
    }

    /// Ends the session normally.
    pub(crate) fn close(&mut self, reply: Option<Reply>) {
        self.abort_txns();
        self.pending.clear();
        self.inflight.clear();
        self.deadline = None;
        self.auth = None;
        self.phase = Phase::Closed;
        self.events.push_back(Event::Closed { reply });
    }

    /// Ends the session with a fatal error (rule 10) and returns it.
    pub(crate) fn fail(&mut self, error: Error) -> Result<(), Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        self.abort_txns();
        self.pending.clear();
        self.inflight.clear();
        self.out.clear();
        self.deadline = None;
        self.auth = None;
        self.phase = Phase::Failed;
        self.error = Some(error.clone());
        Err(error)
    }
}

/// The early outcome of `id`, or `Aborted` if it is gone.
fn t_early(client: &Client, id: TxnId) -> TxnOutcome {
    client
        .txn(id)
        .map_or(TxnOutcome::Aborted, Txn::early_outcome)
}
