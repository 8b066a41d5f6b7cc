//! The caller's side of [`State`]: construction, what the getters read, the
//! checks that refuse a command now, and what each command puts on the
//! queue. Nothing here reads a reply: the transitions replies cause, and the
//! rules they follow, are in [`state`](super).

use std::collections::VecDeque;
use std::time::Instant;

use super::{
    AuthExchange, AuthStep, Barrier, ChunkGate, HelloVerb, OpKind, Phase, Queue, State,
    hello_command,
};
use crate::address::ForwardPath;
use crate::command::Command;
use crate::config::{Config, Dialect};
use crate::ehlo::Extensions;
use crate::error::{Error, Stage, UsageError};
use crate::event::{CommandId, Event, RcptId, RecipientReport, TxnId};
use crate::reply::ReplyReader;
use crate::txn::{BodyMode, DataEnd, Txn, TxnStage};

/// Printed as the [`Client`](crate::Client) it is the whole of. `out` (and
/// the queue's bytes) may hold an AUTH line or response: only lengths and
/// kinds are shown.
impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .field("phase", &self.phase)
            .field("error", &self.error)
            .field("reader", &self.reader)
            .field("out_len", &self.out.len())
            .field("events", &self.events)
            .field("pending", &self.pending)
            .field("inflight", &self.inflight)
            .field("deadline", &self.deadline)
            .field("rearm", &self.rearm)
            .field("extensions", &self.extensions)
            .field("tls", &self.tls)
            .field("auth", &self.auth)
            .field("txns", &self.txns)
            .field("barrier", &self.barrier)
            .field("chunks", &self.chunks)
            .field("next_id", &self.next_id)
            .finish_non_exhaustive()
    }
}

impl State {
    pub(crate) fn new(config: Config, now: Instant) -> Self {
        let deadline = now.checked_add(config.timeouts.greeting);
        Self {
            reader: ReplyReader::new(config.parser),
            config,
            phase: Phase::Greeting,
            error: None,
            out: Vec::new(),
            events: VecDeque::new(),
            pending: Queue::new(),
            hold: Vec::new(),
            inflight: VecDeque::new(),
            deadline,
            rearm: false,
            extensions: None,
            tls: false,
            auth: None,
            txns: VecDeque::new(),
            barrier: None,
            chunks: ChunkGate::AfterReplies,
            next_id: 0,
        }
    }

    // ----- getters -------------------------------------------------------

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    pub(crate) fn extensions(&self) -> Option<&Extensions> {
        self.extensions.as_ref()
    }

    pub(crate) fn is_tls(&self) -> bool {
        self.tls
    }

    pub(crate) fn set_tls(&mut self, tls: bool) {
        self.tls = tls;
    }

    pub(crate) fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    pub(crate) fn is_pipelining(&self) -> bool {
        self.config.pipelining && self.extensions.as_ref().is_some_and(Extensions::pipelining)
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.inflight.is_empty() && self.txns.is_empty()
    }

    /// What the client is waiting for now (see [`Client::stage`](crate::Client::stage)).
    pub(crate) fn stage(&self) -> Stage {
        if self.phase == Phase::Greeting {
            return Stage::Greeting;
        }
        if let Some(head) = self.inflight.front() {
            return head.stage();
        }
        if self.body_txn().is_some() {
            return Stage::Body;
        }
        Stage::Idle
    }

    /// The earliest of the reply deadline and the transactions'
    /// deadlines.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        if self.error.is_some() || self.phase == Phase::Closed {
            return None;
        }
        let txns = self.txns.iter().filter_map(|t| t.deadline).min();
        [self.deadline, txns].into_iter().flatten().min()
    }

    /// Whether a reply is awaited (its deadline is armed).
    pub(crate) fn is_awaiting_reply(&self) -> bool {
        self.error.is_none() && self.phase != Phase::Closed && self.deadline.is_some()
    }

    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub(crate) fn poll_transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> usize {
        self.pump(now);
        let n = self.out.len();
        out.append(&mut self.out);
        n
    }

    /// Whether `send_body` would accept a chunk now.
    pub(crate) fn can_send_body(&self) -> bool {
        match self.body_txn() {
            Some(t) => !(t.mode == BodyMode::Bdat && self.chunk_waiting()),
            None => false,
        }
    }

    // ----- checks --------------------------------------------------------

    /// The session accepts new commands at all (rules 3 and 4: nothing
    /// behind STARTTLS, nothing during AUTH).
    pub(crate) fn check_open(&self, command: &'static str) -> Result<(), UsageError> {
        if self.error.is_some() || self.barrier == Some(Barrier::Quit) {
            return Err(UsageError::Closed);
        }
        match self.phase {
            Phase::Closed | Phase::Failed | Phase::Closing => Err(UsageError::Closed),
            Phase::Greeting => Err(UsageError::NotAllowed {
                command,
                phase: self.phase,
            }),
            Phase::AwaitingTls => Err(UsageError::StartTlsInProgress),
            Phase::Connected | Phase::Ready => {
                if self.barrier == Some(Barrier::StartTls) {
                    Err(UsageError::StartTlsInProgress)
                } else if self.auth.is_some() {
                    Err(UsageError::AuthInProgress)
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Commands that change the session (EHLO, STARTTLS, AUTH) may not
    /// interleave with a transaction.
    pub(crate) fn check_session_command(&self, command: &'static str) -> Result<(), UsageError> {
        self.check_open(command)?;
        if !self.txns.is_empty() {
            return Err(UsageError::TransactionInProgress);
        }
        Ok(())
    }

    /// A successful EHLO/HELO is needed (extensions known).
    pub(crate) fn check_ready(&self, command: &'static str) -> Result<(), UsageError> {
        if self.phase == Phase::Ready && self.extensions.is_some() {
            Ok(())
        } else {
            Err(UsageError::NotAllowed {
                command,
                phase: self.phase,
            })
        }
    }

    // ----- commands ------------------------------------------------------

    /// Commands and transactions share one counter.
    fn bump_id(&mut self) -> u64 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }

    pub(super) fn next_command_id(&mut self) -> CommandId {
        CommandId(self.bump_id())
    }

    pub(crate) fn next_txn_id(&mut self) -> TxnId {
        TxnId(self.bump_id())
    }

    /// Encodes `command` under a new id and queues it; nothing is queued on
    /// error (the id is spent either way).
    pub(crate) fn queue(
        &mut self,
        kind: impl FnOnce(CommandId) -> OpKind,
        command: &Command,
    ) -> Result<CommandId, UsageError> {
        let id = self.next_command_id();
        self.pending.push(kind(id), command)?;
        Ok(id)
    }

    /// Queues EHLO, HELO or LHLO with the configured client name.
    pub(crate) fn queue_hello(&mut self, verb: HelloVerb) -> Result<CommandId, UsageError> {
        let id = self.next_command_id();
        let command = hello_command(verb, self.config.client_domain.clone());
        self.pending.push(OpKind::Hello { id, verb }, &command)?;
        Ok(id)
    }

    /// Queues the automatic EHLO/LHLO ahead of everything else. The client
    /// name is a validated [`Domain`](crate::Domain), so encoding cannot
    /// fail; if it ever did, no EHLO would go out and the caller would see
    /// no `Hello` event rather than a malformed line.
    pub(super) fn queue_hello_front(&mut self) {
        let verb = match self.config.dialect {
            Dialect::Smtp => HelloVerb::EhloOrHelo,
            Dialect::Lmtp => HelloVerb::Lhlo,
        };
        let id = self.next_command_id();
        let command = hello_command(verb, self.config.client_domain.clone());
        let _ = self
            .pending
            .push_front(OpKind::Hello { id, verb }, &command);
    }

    /// Queues STARTTLS; no other command may follow it (rule 3).
    pub(crate) fn queue_starttls(&mut self) -> Result<CommandId, UsageError> {
        let id = self.queue(|id| OpKind::StartTls { id }, &Command::StartTls)?;
        self.barrier = Some(Barrier::StartTls);
        Ok(id)
    }

    /// Queues AUTH and opens the exchange (rule 4).
    pub(crate) fn queue_auth(&mut self, command: &Command) -> Result<CommandId, UsageError> {
        let id = self.queue(|id| OpKind::Auth { id }, command)?;
        self.auth = Some(AuthExchange {
            rounds: 0,
            step: AuthStep::Server,
        });
        Ok(id)
    }

    /// Answers the challenge the caller was shown, with a response or with
    /// `*`; the answer goes out ahead of any queued command.
    pub(crate) fn answer_challenge(
        &mut self,
        command: &Command,
        cancel: bool,
    ) -> Result<(), UsageError> {
        if self.error.is_some() {
            return Err(UsageError::Closed);
        }
        match &mut self.auth {
            Some(a) if a.step == AuthStep::Caller => a.step = AuthStep::Server,
            _ => return Err(UsageError::NoAuthChallenge),
        }
        command.encode(&mut self.out)?;
        self.rearm = true;
        if cancel && let Some(a) = self.auth.as_mut() {
            a.step = AuthStep::Cancelled;
        }
        Ok(())
    }

    /// Queues the caller's RSET, which closes every open envelope (rule 5).
    pub(crate) fn queue_rset(&mut self) -> Result<CommandId, UsageError> {
        let id = self.queue(|id| OpKind::Rset { id }, &Command::Rset)?;
        self.abandon_open_envelopes();
        Ok(id)
    }

    /// Queues QUIT; no other command may follow it.
    pub(crate) fn queue_quit(&mut self) -> Result<CommandId, UsageError> {
        let id = self.queue(|id| OpKind::Quit { id }, &Command::Quit)?;
        self.barrier = Some(Barrier::Quit);
        Ok(id)
    }

    // ----- transactions --------------------------------------------------

    /// Starts `txn`: `queue` queues its commands, all or none; then any
    /// envelope still open is closed (a new MAIL ends it on the server).
    pub(crate) fn open_txn(
        &mut self,
        txn: Txn,
        queue: impl FnOnce(&mut Queue) -> Result<(), UsageError>,
    ) -> Result<(), UsageError> {
        let mark = self.pending.mark();
        if let Err(e) = queue(&mut self.pending) {
            self.pending.rollback(mark);
            return Err(e);
        }
        self.abandon_open_envelopes();
        self.txns.push_back(txn);
        Ok(())
    }

    /// The envelope `id` if it still accepts RCPT and DATA.
    pub(crate) fn open_envelope(&self, id: TxnId) -> Option<&Txn> {
        self.txn(id).filter(|t| t.is_open_envelope())
    }

    /// Adds recipient `rcpt` (its RCPT `command`) to an open envelope.
    pub(crate) fn add_rcpt(
        &mut self,
        id: TxnId,
        rcpt: RcptId,
        address: ForwardPath,
        command: &Command,
    ) -> Result<(), UsageError> {
        let kind = OpKind::Rcpt {
            txn: id,
            rcpt: rcpt.0,
        };
        self.pending.push(kind, command)?;
        if let Some(t) = self.txn_mut(id) {
            t.recipients.push(RecipientReport {
                rcpt,
                address,
                rcpt_reply: None,
                delivery_reply: None,
            });
        }
        Ok(())
    }

    /// Closes an open envelope with DATA; the body placeholder follows it.
    pub(crate) fn close_envelope(&mut self, id: TxnId) -> Result<(), UsageError> {
        self.pending
            .push(OpKind::Data { txn: id }, &Command::Data)?;
        self.pending.push_placeholder(OpKind::Body { txn: id });
        if let Some(t) = self.txn_mut(id) {
            t.stage = TxnStage::Closed;
        }
        Ok(())
    }

    /// Closes every incremental envelope that has not queued DATA (rule 5):
    /// RSET or a new MAIL ends it on the server.
    fn abandon_open_envelopes(&mut self) {
        for t in self.txns.iter_mut().filter(|t| t.is_open_envelope()) {
            t.stage = TxnStage::Abandoned;
        }
        self.reap_abandoned();
    }

    /// Encodes a piece of the open body: straight to the output for DATA,
    /// in chunks for BDAT.
    pub(crate) fn send_body(&mut self, chunk: &[u8]) -> Result<(), UsageError> {
        if self.error.is_some() {
            return Err(UsageError::Closed);
        }
        let chunk_waiting = self.chunk_waiting();
        let chunk_size = self.config.bdat_chunk_size.max(1);
        // Borrow only `txns`, so the output buffer stays usable.
        let Some(txn) = self.txns.iter_mut().find(|t| t.stage == TxnStage::BodyOpen) else {
            return Err(UsageError::NoBodyExpected);
        };
        if !txn.eight_bit_ok && !chunk.is_ascii() {
            let _ = self.fail(Error::Undeclared8Bit);
            return Err(UsageError::Closed);
        }
        match txn.mode {
            BodyMode::Data => {
                txn.encoder.encode(chunk, &mut self.out);
                Ok(())
            }
            BodyMode::Bdat => {
                if chunk_waiting {
                    return Err(UsageError::WouldBlock);
                }
                let id = txn.id;
                txn.encoder.encode(chunk, &mut self.hold);
                self.queue_full_chunks(id, chunk_size)
            }
        }
    }

    /// Ends the open body: the final "." (DATA) or the last BDAT chunk
    /// takes the place of the body placeholder.
    pub(crate) fn finish_body(&mut self) -> Result<(), UsageError> {
        if self.error.is_some() {
            return Err(UsageError::Closed);
        }
        let Some(txn) = self.txns.iter_mut().find(|t| t.stage == TxnStage::BodyOpen) else {
            return Err(UsageError::NoBodyExpected);
        };
        txn.stage = TxnStage::Ending(DataEnd::Body);
        let id = txn.id;
        match txn.mode {
            BodyMode::Data => {
                // The hold is idle with DATA: it takes the end of data.
                self.hold.clear();
                txn.encoder.finish(&mut self.hold);
                self.pending
                    .push_raw(OpKind::BodyEnd { txn: id }, &self.hold);
                self.hold.clear();
            }
            BodyMode::Bdat => {
                txn.encoder.finish(&mut self.hold);
                let kind = OpKind::Bdat {
                    txn: id,
                    last: true,
                };
                let queued = self.pending.push_bdat(kind, &self.hold);
                self.hold.clear();
                queued?;
            }
        }
        self.replace_placeholder(id);
        Ok(())
    }

    /// A BDAT chunk is queued ahead of the body placeholder, not yet sent.
    fn chunk_waiting(&self) -> bool {
        matches!(self.pending.front(), Some(OpKind::Bdat { .. }))
    }

    /// Cuts every full chunk of `chunk_size` bytes off the hold and queues
    /// each as a non-final BDAT just ahead of the transaction's body
    /// placeholder (which is at the front of `pending`); the rest waits
    /// for more body or for the end.
    fn queue_full_chunks(&mut self, txn: TxnId, chunk_size: usize) -> Result<(), UsageError> {
        let mut cut: usize = 0;
        let mut result = Ok(());
        while let Some(data) = self.hold.get(cut..cut.saturating_add(chunk_size))
            && data.len() == chunk_size
        {
            let at = self
                .pending
                .position(|k| matches!(k, OpKind::Body { txn: t } if t == txn))
                .unwrap_or(0);
            result = self
                .pending
                .push_bdat(OpKind::Bdat { txn, last: false }, data);
            if result.is_err() {
                break;
            }
            self.pending.move_last_to(at);
            cut = cut.saturating_add(chunk_size);
        }
        self.hold.drain(..cut.min(self.hold.len()));
        result
    }
}
