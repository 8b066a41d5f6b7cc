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
//!    buffer is empty afterwards (checked in `handle_input` below; bytes
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
//!    PRDR (MAIL carried `PRDR`): a 353, then one reply per accepted
//!    recipient in RCPT order, then the message's own reply, which, when
//!    negative, overrides every positive recipient reply; a reply other
//!    than 353 first speaks for every accepted recipient, as in SMTP. One
//!    data-end deadline, from the end of data, covers all the replies.
//!    Losing the connection or a deadline after the end of data leaves the
//!    outcome unknown: for the recipients whose own reply had not arrived,
//!    and for the transaction as a whole.
//! 7. **Pipelining** (RFC 2920 §3.1), only when advertised and configured: a
//!    command may join the commands in flight when none of those ends a group.
//!    MAIL, RCPT, RSET, the end of data and BDAT chunks (the last one too:
//!    RFC 3030 §2 has BDAT LAST complete the transaction whatever its reply,
//!    exactly as the final "." does) do not end a group; DATA, NOOP, VRFY,
//!    EXPN, HELP, QUIT and raw commands do. EHLO, STARTTLS and AUTH are
//!    always sent alone. The body blocks the queue until the caller finishes
//!    it; the next envelope may then follow the end of data in the same
//!    write. BDAT data follows unanswered MAIL/RCPT only once a transaction
//!    on this connection (since the last TLS handshake) has been delivered:
//!    before that, the body opens when the envelope's replies are in, as in
//!    lock-step, because a server refusing commands at a gate (530) may
//!    refuse the BDAT command unread and take its data for commands
//!    ([`ChunkGate`]).
//! 8. **421** from any command ends the session with
//!    [`Error::ServiceClosing`] after the reply has been reported to the
//!    command it answers.
//! 9. **Unexpected replies** (nothing outstanding, or during the body) are a
//!    protocol error; garbage is never skipped to re-align.
//! 10. **Errors are sticky.** After a fatal error nothing more is sent,
//!     unfinished transactions are reported (`Unknown` after the end of data,
//!     `Aborted` before it), and every `handle_*` returns the error again.
//!
//! # Layout
//!
//! [`State`] owns everything that changes during a session; the public
//! [`Client`](crate::Client) holds one and only validates and delegates.
//! This file holds the transitions that input, replies and the clock cause;
//! `state/caller.rs` holds what the caller's commands do to the queue (and
//! the checks of rules 3 and 4 that refuse them); `state/op.rs` says what
//! each queued command is and how it pipelines (rule 7); `state/queue.rs`
//! holds the queued commands' bytes, in one buffer.

mod caller;
mod op;
pub(crate) mod phase;
mod queue;

use std::collections::VecDeque;
use std::time::Instant;

use base64::Engine as _;

use crate::command::Command;
use crate::config::{Config, Dialect};
use crate::ehlo::Extensions;
use crate::error::{Deadline, Error, ProtocolError, Stage, UsageError};
use crate::event::{CommandId, DeliveryScope, Event, RcptId, TxnId, TxnOutcome};
use crate::reply::{Reply, ReplyCode, ReplyReader};
use crate::secret::Secret;
use crate::txn::{BodyMode, DataEnd, Finals, PrdrStep, Txn, TxnStage};

pub(crate) use op::{HelloVerb, OpKind, hello_command};
pub use phase::Phase;
pub(crate) use queue::Queue;

/// The state of one session: the one owner of everything that changes.
pub(crate) struct State {
    config: Config,
    phase: Phase,
    /// The sticky fatal error, once there is one.
    error: Option<Error>,
    reader: ReplyReader,
    /// Bytes ready for the wire (commands and body), drained by
    /// `poll_transmit`.
    out: Vec<u8>,
    events: VecDeque<Event>,
    /// Commands queued and not yet on the wire, in order.
    pending: Queue,
    /// BDAT: the open body's encoded bytes not yet cut into a chunk (one
    /// body is open at a time; the buffer is reused by the next).
    hold: Vec<u8>,
    /// Commands on the wire awaiting their reply, in order.
    inflight: VecDeque<OpKind>,
    /// Deadline for whatever the client waits on (greeting or the head of
    /// `inflight`). `None` while nothing is expected from the server.
    deadline: Option<Instant>,
    /// Arm the head's deadline at the next `poll_transmit` (set by calls that
    /// resume waiting but have no `now`, such as `auth_respond`).
    rearm: bool,
    extensions: Option<Extensions>,
    tls: bool,
    /// An AUTH exchange is in progress.
    auth: Option<AuthExchange>,
    txns: VecDeque<Txn>,
    /// A queued command that admits no other after it.
    barrier: Option<Barrier>,
    /// Whether BDAT data may travel behind MAIL/RCPT whose replies are
    /// still out (rule 7).
    chunks: ChunkGate,
    next_id: u64,
}

/// When a BDAT chunk's data may be sent behind unanswered MAIL and RCPT
/// (rule 7). A server that refuses a pipelined MAIL at a command gate
/// ("530 Must issue a STARTTLS command first", "530 Authentication
/// required") may refuse the BDAT command the same way without knowing
/// it carries data, and then read the message as commands. So the data
/// waits for the envelope's replies until a transaction on this
/// connection has been delivered: the gates are then known to be open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChunkGate {
    /// No transaction delivered yet (on this TLS layer): the first chunk
    /// waits for the MAIL and RCPT replies, as in lock-step.
    AfterReplies,
    /// A transaction was delivered: chunks follow MAIL/RCPT at once.
    Pipelined,
}

/// A command that, once queued, refuses every later one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Barrier {
    /// STARTTLS is queued or in flight, or its 220 awaits the handshake
    /// (rule 3): the caller's TLS policy decides what comes next.
    StartTls,
    /// QUIT is queued: the session is ending.
    Quit,
}

/// State of an AUTH exchange.
#[derive(Debug)]
struct AuthExchange {
    rounds: u32,
    step: AuthStep,
}

/// Who the AUTH exchange waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AuthStep {
    /// The server's next reply.
    Server,
    /// A challenge was reported and the caller has not answered yet.
    Caller,
    /// `*` was sent: no further challenge reaches the caller.
    Cancelled,
}

const CODE_500: Option<ReplyCode> = ReplyCode::new(500);
const CODE_502: Option<ReplyCode> = ReplyCode::new(502);

impl State {
    fn check_failed(&self) -> Result<(), Error> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    // ----- input ---------------------------------------------------------

    /// Bytes from the server: every complete reply is dispatched (rule 3 is
    /// checked between replies).
    pub(crate) fn handle_input(&mut self, now: Instant, bytes: &[u8]) -> Result<(), Error> {
        self.check_failed()?;
        match self.phase {
            Phase::Closed => return Ok(()),
            Phase::AwaitingTls if !bytes.is_empty() => return self.data_after_starttls(),
            _ => {}
        }
        self.reader.push(bytes);
        loop {
            if matches!(self.phase, Phase::Closed | Phase::Failed) {
                break;
            }
            let reply = match self.reader.next_reply() {
                Ok(Some(reply)) => reply,
                Ok(None) => break,
                Err(e) => return self.fail(ProtocolError::MalformedReply(e).into()),
            };
            self.on_reply(now, reply)?;
            if self.phase == Phase::AwaitingTls {
                if self.reader.buffered_len() > 0 {
                    return self.data_after_starttls();
                }
                break;
            }
        }
        self.check_failed()
    }

    /// Bytes arrived between the 220 to STARTTLS and the handshake: a
    /// `StartTlsReady` not yet taken is withdrawn, since no handshake may
    /// follow (rule 3).
    fn data_after_starttls(&mut self) -> Result<(), Error> {
        self.events
            .retain(|e| !matches!(e, Event::StartTlsReady { .. }));
        self.fail(ProtocolError::DataAfterStartTls.into())
    }

    /// The server closed the connection: normal when idle or after QUIT,
    /// [`Error::PeerClosed`] while replies are expected.
    pub(crate) fn handle_eof(&mut self) -> Result<(), Error> {
        self.check_failed()?;
        if self.phase == Phase::Closed {
            return Ok(());
        }
        let quit_head = matches!(self.inflight.front(), Some(OpKind::Quit { .. }));
        let partial = self.reader.buffered_len() > 0;
        if quit_head && !partial {
            self.close(None);
            return Ok(());
        }
        if self.phase != Phase::Greeting
            && self.inflight.is_empty()
            && self.body_txn().is_none()
            && !partial
        {
            // Nothing was expected from the server: an ordinary close. Any
            // transaction still queued never started.
            self.abort_txns();
            self.close(None);
            return Ok(());
        }
        let stage = self.stage();
        self.fail(Error::PeerClosed { stage })
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        self.check_failed()?;
        if self.deadline.is_some_and(|d| now >= d) {
            let stage = self.stage();
            return self.fail(Error::Timeout { stage });
        }
        let overdue = self
            .txns
            .iter()
            .any(|t| t.deadline.is_some_and(|d| now >= d));
        match self.config.transaction_deadline {
            Some(limit) if overdue => self.deadline_passed(Deadline::Transaction(limit)),
            _ => Ok(()),
        }
    }

    /// An overall deadline passed: the session fails, naming it and what
    /// the client was waiting for (rule 10).
    pub(crate) fn deadline_passed(&mut self, deadline: Deadline) -> Result<(), Error> {
        self.check_failed()?;
        if self.phase == Phase::Closed {
            return Ok(());
        }
        let stage = self.stage();
        self.fail(Error::DeadlineExceeded { deadline, stage })
    }

    /// The TLS handshake succeeded: everything learned before is forgotten
    /// (rule 3).
    pub(crate) fn tls_established(&mut self) -> Result<(), UsageError> {
        if self.phase != Phase::AwaitingTls {
            return Err(UsageError::NotAllowed {
                command: "TLS handshake",
                phase: self.phase,
            });
        }
        self.tls = true;
        self.barrier = None;
        self.chunks = ChunkGate::AfterReplies;
        self.extensions = None;
        self.phase = Phase::Connected;
        if self.config.auto_ehlo {
            self.queue_hello_front();
        }
        Ok(())
    }

    // ----- the wire ------------------------------------------------------

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
        while let Some(kind) = self.pending.front() {
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
            // (only in a whole envelope: in an incremental one the caller
            // asked for every command).
            if let Some(t) = kind
                .txn()
                .and_then(|id| self.txn(id))
                .filter(|t| t.stage == TxnStage::Envelope)
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
            if self.inflight.is_empty() {
                self.deadline = now.checked_add(kind.timeout(&self.config.timeouts));
            }
            if let OpKind::Mail { txn } = kind
                && let Some(limit) = self.config.transaction_deadline
                && let Some(t) = self.txn_mut(txn)
            {
                t.deadline = now.checked_add(limit);
            }
            if matches!(
                kind,
                OpKind::BodyEnd { .. } | OpKind::Bdat { last: true, .. }
            ) && let Some(t) = kind.txn().and_then(|id| self.txn_mut(id))
                && let TxnStage::Ending(end) = t.stage
            {
                t.stage = TxnStage::EndSent(end);
            }
            self.pending.pop_front_into(&mut self.out);
            self.inflight.push_back(kind);
        }
    }

    /// Only the newest command in flight can end a group: nothing is sent
    /// behind one until its reply, so looking at the back is enough.
    fn may_send(&self, kind: OpKind) -> bool {
        self.inflight.is_empty()
            || (self.is_pipelining()
                && kind.may_join_group()
                && !self.inflight.back().is_some_and(|k| k.ends_group()))
    }

    /// The body placeholder of `txn` is at the head of the queue. Opens the
    /// body for BDAT when allowed; returns true if the queue moved on.
    fn body_at_head(&mut self, id: TxnId) -> bool {
        let pipelining = self.is_pipelining();
        let gate = self.chunks;
        let idle = self.inflight.is_empty();
        let Some(t) = self.txn_mut(id) else {
            // The transaction is gone: drop its placeholder.
            self.pending.pop_front();
            return true;
        };
        if t.stage != TxnStage::Envelope || t.mode != BodyMode::Bdat {
            return false;
        }
        if pipelining && gate == ChunkGate::Pipelined {
            t.stage = TxnStage::BodyOpen;
            self.open_body(id);
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
        self.open_body(id);
        false
    }

    /// Tells the caller the body of `id` may come, with an empty hold:
    /// a body cut short by a failure may have left bytes there.
    fn open_body(&mut self, id: TxnId) {
        self.hold.clear();
        self.events.push_back(Event::ReadyForBody { txn: id });
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

    // ----- replies -------------------------------------------------------

    /// Dispatches one complete reply (rules 1–9).
    fn on_reply(&mut self, now: Instant, reply: Reply) -> Result<(), Error> {
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
        if self
            .auth
            .as_ref()
            .is_some_and(|a| a.step == AuthStep::Caller)
            && !closing
        {
            return self.fail(ProtocolError::UnexpectedReply { reply }.into());
        }
        let stage = head.stage();
        let closing_reply = closing.then(|| reply.clone());
        match head {
            OpKind::Hello { id, verb } => self.on_hello(now, id, verb, reply),
            OpKind::StartTls { id } => {
                self.complete_head(now);
                if reply.code() == ReplyCode::SERVICE_READY {
                    // The barrier stays until `tls_established`.
                    self.phase = Phase::AwaitingTls;
                    self.deadline = None;
                    self.events.push_back(Event::StartTlsReady { id, reply });
                } else {
                    self.barrier = None;
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
                    let rset = t.sender_accepted() && !t.end_sent();
                    t.data_reply = Some(reply);
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
            let _ = self.pending.push(OpKind::Quit { id }, &Command::Quit);
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
            let helo = hello_command(HelloVerb::Helo, self.config.client_domain.clone());
            let kind = OpKind::Hello {
                id,
                verb: HelloVerb::Helo,
            };
            if self.pending.push_front(kind, &helo).is_ok() {
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
            let challenge = Some(reply.first_line().trim_ascii())
                .and_then(|l| base64::engine::general_purpose::STANDARD.decode(l).ok());
            let Some(a) = self.auth.as_mut() else {
                return;
            };
            a.rounds = a.rounds.saturating_add(1);
            match challenge {
                Some(challenge) if a.rounds <= max && a.step != AuthStep::Cancelled => {
                    a.step = AuthStep::Caller;
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
                    a.step = AuthStep::Cancelled;
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
                t.stage = TxnStage::Ending(DataEnd::LoneDot);
                self.pending.push_raw(OpKind::BodyEnd { txn: id }, b".\r\n");
                self.replace_placeholder(id);
            } else {
                t.stage = TxnStage::BodyOpen;
                self.open_body(id);
            }
            return;
        }
        let rset = t.sender_accepted();
        t.data_reply = Some(reply);
        self.finish_early(id, rset);
    }

    /// A reply after the end of data (rule 6). The command stays at the
    /// head of `inflight` until its last reply, so its one deadline bounds
    /// all of them: a server cannot stretch the wait by answering one
    /// recipient at a time.
    fn on_final(&mut self, now: Instant, id: TxnId, reply: Reply) {
        let Some(t) = self.txn_mut(id) else {
            // The transaction already ended (a refused chunk); this is the
            // reply to its last chunk, still in flight.
            self.complete_head(now);
            return;
        };
        if t.lone_dot() || t.accepted_count() == 0 {
            if t.data_reply.is_none() && !t.lone_dot() {
                t.data_reply = Some(reply);
            }
            self.complete_head(now);
            let outcome = self.early_outcome(id);
            self.finish_txn(id, outcome);
            return;
        }
        match t.finals {
            Finals::Shared => self.shared_final(now, id, reply),
            Finals::PerRecipient => {
                if self.recipient_final(id, reply) {
                    self.complete_final(now, id);
                }
            }
            Finals::Prdr(PrdrStep::Start) => {
                if reply.code() == ReplyCode::PRDR_START {
                    t.finals = Finals::Prdr(PrdrStep::Recipients);
                } else {
                    // No per-recipient replies: this one speaks for all.
                    self.shared_final(now, id, reply);
                }
            }
            Finals::Prdr(PrdrStep::Recipients) => {
                if self.recipient_final(id, reply)
                    && let Some(t) = self.txn_mut(id)
                {
                    t.finals = Finals::Prdr(PrdrStep::Message);
                }
            }
            Finals::Prdr(PrdrStep::Message) => {
                if !reply.code().is_positive_completion() {
                    // The server did not keep the message: its refusal
                    // overrides every recipient's own acceptance.
                    for r in t.recipients.iter_mut().filter(|r| r.delivered()) {
                        r.delivery_reply = Some(reply.clone());
                    }
                }
                t.message_reply = Some(reply.clone());
                self.events.push_back(Event::DeliveryReply {
                    txn: id,
                    scope: DeliveryScope::Message,
                    reply,
                });
                self.complete_final(now, id);
            }
        }
    }

    /// One reply for every accepted recipient: SMTP's final reply, or
    /// PRDR's when the server did not start per-recipient replies.
    fn shared_final(&mut self, now: Instant, id: TxnId, reply: Reply) {
        if let Some(t) = self.txn_mut(id) {
            for r in t.recipients.iter_mut().filter(|r| r.accepted()) {
                r.delivery_reply = Some(reply.clone());
            }
        }
        self.events.push_back(Event::DeliveryReply {
            txn: id,
            scope: DeliveryScope::AllAccepted,
            reply,
        });
        self.complete_final(now, id);
    }

    /// The reply for the next accepted recipient, in RCPT order (LMTP, and
    /// PRDR after its 353). Returns true once every accepted recipient has
    /// had its reply.
    fn recipient_final(&mut self, id: TxnId, reply: Reply) -> bool {
        let Some(t) = self.txn_mut(id) else {
            return true;
        };
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
        done
    }

    /// The last reply after the end of data is in: the command is done and
    /// the transaction reported.
    fn complete_final(&mut self, now: Instant, id: TxnId) {
        self.complete_head(now);
        let outcome = self.txn(id).map_or(TxnOutcome::Unknown, Txn::final_outcome);
        self.finish_txn(id, outcome);
    }

    // ----- transactions and endings ---------------------------------------

    /// Where transaction `id` is in `txns`. Replies speak for the oldest
    /// transaction and new commands for the newest, so both ends are
    /// tried first; between them `txns` is in id order (ids only grow,
    /// and a transaction is appended when it gets its id), so a deep
    /// window is searched in logarithmic time.
    fn txn_index(&self, id: TxnId) -> Option<usize> {
        let last = self.txns.len().checked_sub(1)?;
        if self.txns.front().is_some_and(|t| t.id == id) {
            Some(0)
        } else if self.txns.back().is_some_and(|t| t.id == id) {
            Some(last)
        } else {
            self.txns.binary_search_by_key(&id, |t| t.id).ok()
        }
    }

    fn txn(&self, id: TxnId) -> Option<&Txn> {
        self.txns.get(self.txn_index(id)?)
    }

    fn txn_mut(&mut self, id: TxnId) -> Option<&mut Txn> {
        let at = self.txn_index(id)?;
        self.txns.get_mut(at)
    }

    /// Every unfinished transaction and its recipient count so far (for
    /// the `tracing` spans, opened when a transaction appears here).
    #[cfg(feature = "tracing")]
    pub(crate) fn txn_sizes(&self) -> impl Iterator<Item = (TxnId, usize)> + '_ {
        self.txns.iter().map(|t| (t.id, t.recipients.len()))
    }

    /// The transaction whose body is open.
    fn body_txn(&self) -> Option<&Txn> {
        self.txns.iter().find(|t| t.stage == TxnStage::BodyOpen)
    }

    /// The early outcome of `id`, or `Aborted` if it is gone.
    fn early_outcome(&self, id: TxnId) -> TxnOutcome {
        self.txn(id).map_or(TxnOutcome::Aborted, Txn::early_outcome)
    }

    /// Moves the command just queued to where the body placeholder of
    /// `id` is, in its place.
    fn replace_placeholder(&mut self, id: TxnId) {
        match self
            .pending
            .position(|k| matches!(k, OpKind::Body { txn } if txn == id))
        {
            Some(at) => {
                self.pending.move_last_to(at);
                self.pending.remove_empty(at.saturating_add(1));
            }
            // No placeholder (the transaction is being dropped): the
            // command must not go out.
            None => self.pending.pop_back(),
        }
    }

    /// Finishes each abandoned envelope once none of its commands is queued
    /// or in flight, so that its report holds every reply (rule 5).
    fn reap_abandoned(&mut self) {
        let done: Vec<TxnId> = self
            .txns
            .iter()
            .filter(|t| t.stage == TxnStage::Abandoned)
            .map(|t| t.id)
            .filter(|id| {
                !self.pending.kinds().any(|k| k.txn() == Some(*id))
                    && !self.inflight.iter().any(|k| k.txn() == Some(*id))
            })
            .collect();
        for id in done {
            let outcome = self.early_outcome(id);
            self.finish_txn(id, outcome);
        }
    }

    /// Ends a transaction before its end of data: drops its queued
    /// commands, reports it, and queues RSET first when the server still
    /// holds the transaction.
    fn finish_early(&mut self, id: TxnId, rset: bool) {
        let outcome = self.early_outcome(id);
        self.pending.retain(|k| k.txn() != Some(id));
        if rset {
            let rset_id = self.next_command_id();
            let kind = OpKind::Simple {
                id: rset_id,
                internal: true,
            };
            let _ = self.pending.push_front(kind, &Command::Rset);
        }
        self.finish_txn(id, outcome);
    }

    fn finish_txn(&mut self, id: TxnId, outcome: TxnOutcome) {
        if outcome == TxnOutcome::Delivered {
            self.chunks = ChunkGate::Pipelined;
        }
        if let Some(pos) = self.txn_index(id)
            && let Some(t) = self.txns.remove(pos)
        {
            self.events.push_back(Event::TransactionFinished {
                txn: id,
                report: t.report(outcome),
            });
        }
    }

    /// Reports every unfinished transaction: `Unknown` when its end of data
    /// was sent, `Aborted` otherwise.
    fn abort_txns(&mut self) {
        while let Some(t) = self.txns.pop_front() {
            let outcome = if t.end_sent() {
                TxnOutcome::Unknown
            } else {
                TxnOutcome::Aborted
            };
            self.events.push_back(Event::TransactionFinished {
                txn: t.id,
                report: t.report(outcome),
            });
        }
    }

    /// Ends the session normally.
    fn close(&mut self, reply: Option<Reply>) {
        self.abort_txns();
        self.pending.clear();
        self.inflight.clear();
        self.deadline = None;
        self.auth = None;
        self.phase = Phase::Closed;
        self.events.push_back(Event::Closed { reply });
    }

    /// Ends the session with a fatal error (rule 10) and returns it.
    fn fail(&mut self, error: Error) -> Result<(), Error> {
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
