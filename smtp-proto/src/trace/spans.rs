//! The `tracing` spans and events of one [`Session`](crate::session::Session)
//! (feature `tracing`); the design is in the [`trace`](super) module docs.
//!
//! Nothing here decides what may be shown of a client write: that is
//! [`for_each_shown`], the wire trace's own decision.

use tracing::{Level, Span, field};

use super::{Lines, MAX_PARTIAL, REDACTED, Sent, Shown, for_each_shown, printable};
use crate::event::{DeliveryScope, Event, TxnId, TxnOutcome, TxnReport};
use crate::reply::Reply;

/// The target of every span and event, so that `smtp_proto=debug` (or
/// `smtp_proto::session=debug`) selects them.
const TARGET: &str = "smtp_proto::session";

/// One session's spans, and the server reply being read (for one event per
/// reply).
#[derive(Debug)]
pub(crate) struct Spans {
    session: Span,
    /// The open transactions' spans, oldest first; a span closes when its
    /// transaction's report has been recorded and it is dropped here.
    txns: Vec<(TxnId, Span)>,
    lines: Lines,
    /// The printable lines of the reply being read.
    reply: Vec<String>,
    reply_len: usize,
}

impl Spans {
    /// The span of a new session, child of whatever span is current where
    /// the session is created (the application's, typically).
    pub(crate) fn new(lmtp: bool, local: &str, tls: bool) -> Self {
        let dialect = if lmtp { "lmtp" } else { "smtp" };
        let session = tracing::info_span!(
            target: TARGET,
            "smtp.session",
            dialect,
            local,
            tls,
            peer = field::Empty,
            server = field::Empty,
        );
        Self::with(session)
    }

    /// No span at all (a detached session).
    pub(crate) fn none() -> Self {
        Self::with(Span::none())
    }

    fn with(session: Span) -> Self {
        Self {
            session,
            txns: Vec::new(),
            lines: Lines::default(),
            reply: Vec::new(),
            reply_len: 0,
        }
    }

    /// Records the host the driver connected to.
    pub(crate) fn peer(&self, peer: &str) {
        self.session.record("peer", printable(peer.as_bytes()));
    }

    /// One client write marked `kind`: a DEBUG event per command line (AUTH
    /// payloads redacted as in the wire trace), one for an AUTH answer
    /// (`<redacted>`), a TRACE event with the size of message data.
    pub(crate) fn sent(&self, bytes: &[u8], kind: Sent) {
        if kind == Sent::Body {
            if !tracing::enabled!(target: TARGET, Level::TRACE) {
                return;
            }
        } else if !tracing::enabled!(target: TARGET, Level::DEBUG) {
            return;
        }
        let parent = &self.session;
        for_each_shown(bytes, kind, |shown| match shown {
            Shown::Line(line) => {
                let command = printable(&line);
                tracing::debug!(target: TARGET, parent: parent, command, "sent");
            }
            Shown::Secret => {
                tracing::debug!(target: TARGET, parent: parent, command = REDACTED, "sent");
            }
            Shown::Body(octets) => {
                tracing::trace!(target: TARGET, parent: parent, octets, "sent message data");
            }
        });
    }

    /// Server bytes: a DEBUG event per complete reply (its code and its
    /// lines, escaped, joined by `\n`).
    pub(crate) fn received(&mut self, bytes: &[u8]) {
        if !tracing::enabled!(target: TARGET, Level::DEBUG) {
            return;
        }
        let Self {
            session,
            lines,
            reply,
            reply_len,
            ..
        } = self;
        lines.push(bytes, |line| {
            let last = line.get(3) != Some(&b'-');
            let text = printable(line);
            *reply_len += text.len();
            reply.push(text);
            if last || *reply_len > MAX_PARTIAL {
                let code = line
                    .get(..3)
                    .and_then(|c| std::str::from_utf8(c).ok())
                    .and_then(|c| c.parse::<u16>().ok());
                let text = reply.join("\\n");
                reply.clear();
                *reply_len = 0;
                tracing::debug!(
                    target: TARGET,
                    parent: &*session,
                    code,
                    reply = text,
                    "received"
                );
            }
        });
    }

    /// A note of the session or the driver (TLS, end of connection).
    pub(crate) fn note(&self, text: &str) {
        tracing::debug!(target: TARGET, parent: &self.session, "{text}");
    }

    /// The session failed for good: a WARN event with the cause.
    pub(crate) fn failed(&self, cause: &str) {
        tracing::warn!(
            target: TARGET,
            parent: &self.session,
            error = cause,
            "session failed"
        );
    }

    /// Opens a span for each transaction the engine holds and has none yet
    /// (called before its MAIL is traced).
    pub(crate) fn open_txns(&mut self, txns: impl Iterator<Item = (TxnId, usize)>) {
        for (txn, recipients) in txns {
            let _ = self.txn(txn, Some(recipients));
        }
    }

    fn txn(&mut self, txn: TxnId, recipients: Option<usize>) -> &Span {
        let at = match self.txns.iter().position(|(id, _)| *id == txn) {
            Some(at) => at,
            None => {
                let span = tracing::info_span!(
                    target: TARGET,
                    parent: &self.session,
                    "smtp.transaction",
                    txn = txn.0,
                    recipients,
                    outcome = field::Empty,
                    accepted = field::Empty,
                    delivered = field::Empty,
                );
                self.txns.push((txn, span));
                self.txns.len() - 1
            }
        };
        match self.txns.get(at) {
            Some((_, span)) => span,
            None => &self.session,
        }
    }

    /// An engine event: the greeting names the server; transaction events
    /// go to their transaction's span, the report closes it.
    pub(crate) fn event(&mut self, event: &Event) {
        match event {
            Event::Greeting { reply } => {
                let server = reply.first_line().split(u8::is_ascii_whitespace).next();
                if let Some(server) = server.filter(|s| !s.is_empty()) {
                    self.session.record("server", printable(server));
                }
            }
            Event::MailReply { txn, reply } => {
                let span = self.txn(*txn, None);
                let code = code(reply);
                tracing::debug!(target: TARGET, parent: span, code, "MAIL answered");
            }
            Event::RcptReply { txn, rcpt, reply } => {
                let span = self.txn(*txn, None);
                let (code, accepted) = (code(reply), reply.code().is_positive_completion());
                let rcpt = rcpt.0;
                tracing::debug!(
                    target: TARGET,
                    parent: span,
                    rcpt,
                    code,
                    accepted,
                    "RCPT answered"
                );
            }
            Event::ReadyForBody { txn } => {
                let span = self.txn(*txn, None);
                tracing::debug!(target: TARGET, parent: span, "ready for the message data");
            }
            Event::DeliveryReply { txn, scope, reply } => {
                let span = self.txn(*txn, None);
                let code = code(reply);
                let rcpt = match scope {
                    DeliveryScope::Recipient(r) => Some(r.0),
                    _ => None,
                };
                tracing::debug!(
                    target: TARGET,
                    parent: span,
                    code,
                    rcpt,
                    "end of data answered"
                );
            }
            Event::TransactionFinished { txn, report } => self.finished(*txn, report),
            _ => {}
        }
    }

    /// Records the outcome on the transaction's span, emits it as an INFO
    /// event, and closes the span.
    fn finished(&mut self, txn: TxnId, report: &TxnReport) {
        let recipients = report.recipients.len();
        let accepted = report.recipients.iter().filter(|r| r.accepted()).count();
        let delivered = report.recipients.iter().filter(|r| r.delivered()).count();
        let outcome = outcome_name(report.outcome);
        let span = self.txn(txn, None);
        span.record("recipients", recipients);
        span.record("outcome", outcome);
        span.record("accepted", accepted);
        span.record("delivered", delivered);
        tracing::info!(
            target: TARGET,
            parent: span,
            outcome,
            recipients,
            accepted,
            delivered,
            "transaction finished"
        );
        self.txns.retain(|(id, _)| *id != txn);
    }
}

fn code(reply: &Reply) -> u16 {
    reply.code().get()
}

/// A stable name for each outcome (the field's value).
fn outcome_name(outcome: TxnOutcome) -> &'static str {
    match outcome {
        TxnOutcome::Delivered => "delivered",
        TxnOutcome::SenderRefused => "sender_refused",
        TxnOutcome::AllRecipientsRefused => "all_recipients_refused",
        TxnOutcome::DataRefused => "data_refused",
        TxnOutcome::MessageRefused => "message_refused",
        TxnOutcome::Unknown => "unknown",
        TxnOutcome::Aborted => "aborted",
    }
}
