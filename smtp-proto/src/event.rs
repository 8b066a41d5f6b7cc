//! [`Event`]s the client reports, the identifiers that tie them to commands,
//! and the per-transaction [`TxnReport`].

use crate::address::ForwardPath;
use crate::ehlo::Extensions;
use crate::reply::Reply;
use crate::secret::Secret;

/// Identifies one command queued with a [`Client`](crate::Client) method.
///
/// Ids are not `#[must_use]`: the `Result` around them already is, and a
/// caller that follows events in order may not need the id at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandId(pub(crate) u64);

/// Identifies one mail transaction started with
/// [`Client::send_mail`](crate::Client::send_mail) or
/// [`Client::mail`](crate::Client::mail).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxnId(pub(crate) u64);

/// Identifies one recipient of a transaction: its index in the envelope's
/// recipient list (for [`Client::rcpt`](crate::Client::rcpt), in the order
/// of the calls).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RcptId(pub usize);

/// What a [`DeliveryReply`](Event::DeliveryReply) speaks for.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeliveryScope {
    /// SMTP: the one reply after the end of data covers every recipient that
    /// was accepted at RCPT.
    AllAccepted,
    /// LMTP (RFC 2033 §4.2) and SMTP with PRDR: the reply for this one
    /// accepted recipient; the replies come in RCPT order.
    Recipient(RcptId),
    /// PRDR: the message's own reply, after the per-recipient ones. When
    /// it is negative it also speaks for every recipient whose own reply
    /// was positive: the server did not keep the message.
    Message,
}

/// Something the caller learns from the session. Events are edge-triggered
/// and delivered exactly once, in the order they happened.
///
/// Each variant says what the caller must (or may) do next.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The server's greeting. If it is not 2xx the client has queued QUIT and
    /// will end with [`Event::Closed`]; nothing else may be sent. With
    /// `auto_ehlo`, a positive greeting is followed by EHLO/LHLO on its own.
    Greeting {
        /// The greeting reply.
        reply: Reply,
    },
    /// The final reply to EHLO, LHLO or HELO (after the automatic fallback
    /// from EHLO on 500/502). When positive, the session is ready for AUTH,
    /// STARTTLS and mail; `extensions` holds the capabilities (empty after
    /// HELO). When negative, the caller may retry or quit.
    Hello {
        /// The command (the automatic EHLO gets an id too).
        id: CommandId,
        /// The reply.
        reply: Reply,
        /// Whether the reply answered EHLO/LHLO (true) or HELO (false).
        esmtp: bool,
        /// The capabilities learned, when the reply was positive.
        extensions: Option<Extensions>,
    },
    /// The server answered STARTTLS with 220 and nothing followed it. The
    /// caller MUST now run the TLS handshake on the raw transport and call
    /// [`Client::tls_established`](crate::Client::tls_established). Until
    /// then the client accepts no input and produces no output.
    StartTlsReady {
        /// The STARTTLS command.
        id: CommandId,
        /// The 220 reply (smtplib's `starttls()` returns it).
        reply: Reply,
    },
    /// The server refused STARTTLS. The session continues in plaintext; the
    /// caller's TLS policy decides whether to go on or quit.
    StartTlsRejected {
        /// The STARTTLS command.
        id: CommandId,
        /// The refusal.
        reply: Reply,
    },
    /// A 334 challenge, already base64-decoded. The caller MUST answer with
    /// [`Client::auth_respond`](crate::Client::auth_respond) or
    /// [`Client::auth_cancel`](crate::Client::auth_cancel).
    AuthChallenge {
        /// The AUTH command.
        id: CommandId,
        /// The decoded challenge.
        challenge: Secret<Vec<u8>>,
    },
    /// AUTH succeeded (2xx).
    AuthSucceeded {
        /// The AUTH command.
        id: CommandId,
        /// The reply.
        reply: Reply,
    },
    /// AUTH failed: a negative reply, a cancelled exchange, or an invalid
    /// challenge the client cancelled with `*`. The session continues.
    AuthFailed {
        /// The AUTH command.
        id: CommandId,
        /// The final reply.
        reply: Reply,
    },
    /// The reply to MAIL FROM.
    MailReply {
        /// The transaction.
        txn: TxnId,
        /// The reply.
        reply: Reply,
    },
    /// The reply to one RCPT TO.
    RcptReply {
        /// The transaction.
        txn: TxnId,
        /// The recipient.
        rcpt: RcptId,
        /// The reply.
        reply: Reply,
    },
    /// The client accepts the message body now: call
    /// [`Client::send_body`](crate::Client::send_body) any number of times,
    /// then [`Client::finish_body`](crate::Client::finish_body).
    ReadyForBody {
        /// The transaction.
        txn: TxnId,
    },
    /// A final reply about the message after the end of data: one for SMTP,
    /// one per accepted recipient for LMTP.
    DeliveryReply {
        /// The transaction.
        txn: TxnId,
        /// Which recipients the reply speaks for.
        scope: DeliveryScope,
        /// The reply.
        reply: Reply,
    },
    /// The transaction is over; the report says what happened to every
    /// recipient. No more events name this transaction.
    TransactionFinished {
        /// The transaction.
        txn: TxnId,
        /// The full outcome.
        report: TxnReport,
    },
    /// The reply to RSET, NOOP, VRFY, EXPN, HELP, QUIT or a raw command.
    Reply {
        /// The command.
        id: CommandId,
        /// The reply.
        reply: Reply,
    },
    /// The session is over: after the reply to QUIT, after a refused
    /// greeting, or because the server closed the connection while nothing
    /// was outstanding. The caller should close the transport.
    Closed {
        /// The last reply (QUIT's or the greeting's), if there was one.
        reply: Option<Reply>,
    },
}

/// How a mail transaction ended.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TxnOutcome {
    /// At least one recipient's final reply was positive. Refused recipients,
    /// if any, are in the report.
    Delivered,
    /// MAIL was refused (smtplib's `SMTPSenderRefused`).
    SenderRefused,
    /// Every RCPT was refused (smtplib's `SMTPRecipientsRefused`). No
    /// message data was sent, or only a lone "." when the server had
    /// already answered a pipelined DATA with 354.
    AllRecipientsRefused,
    /// DATA or a BDAT chunk was refused before the end of the message
    /// (smtplib's `SMTPDataError`).
    DataRefused,
    /// The end of data was answered negatively for every recipient.
    MessageRefused,
    /// The session failed after the end of data and before the final
    /// reply: the message may or may not have been delivered.
    Unknown,
    /// The session failed before the end of data: nothing was delivered.
    Aborted,
}

/// What happened to one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecipientReport {
    /// Its id (index in the envelope).
    pub rcpt: RcptId,
    /// Its address.
    pub address: ForwardPath,
    /// The reply to its RCPT, if one arrived.
    pub rcpt_reply: Option<Reply>,
    /// The final reply that speaks for it after the end of data: the shared
    /// reply in SMTP, its own in LMTP.
    pub delivery_reply: Option<Reply>,
}

impl RecipientReport {
    /// Accepted at RCPT (2xx).
    pub fn accepted(&self) -> bool {
        self.rcpt_reply
            .as_ref()
            .is_some_and(|r| r.code().is_positive_completion())
    }

    /// Delivered: accepted and its final reply is positive.
    pub fn delivered(&self) -> bool {
        self.accepted()
            && self
                .delivery_reply
                .as_ref()
                .is_some_and(|r| r.code().is_positive_completion())
    }

    /// The reply that refused this recipient, if one did: its negative
    /// RCPT reply, or, once accepted, its negative final reply (in LMTP
    /// each recipient has its own). `None` when it was accepted and not
    /// refused afterwards, or when no RCPT reply arrived (the session
    /// ended first: nothing refused it). This is how smtplib fills its
    /// "refused recipients" map.
    pub fn refusal(&self) -> Option<&Reply> {
        match (&self.rcpt_reply, &self.delivery_reply) {
            (Some(rr), _) if !rr.code().is_positive_completion() => Some(rr),
            (Some(_), Some(d)) if !d.code().is_positive_completion() => Some(d),
            _ => None,
        }
    }
}

/// The full outcome of a transaction, delivered with
/// [`Event::TransactionFinished`]: what happened to every recipient. Do
/// not drop it unread: a refused recipient is only reported here.
#[must_use = "the report says which recipients got the message"]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnReport {
    /// The transaction.
    pub txn: TxnId,
    /// Summary.
    pub outcome: TxnOutcome,
    /// The reply to MAIL, if one arrived.
    pub mail_reply: Option<Reply>,
    /// One entry per envelope recipient, in envelope order.
    pub recipients: Vec<RecipientReport>,
    /// The negative reply to DATA or to a BDAT chunk, when that ended the
    /// transaction.
    pub data_reply: Option<Reply>,
    /// PRDR: the message's own reply after the per-recipient ones (each
    /// recipient's reply is its `delivery_reply`). `None` without PRDR, or
    /// when the server answered the end of data with one reply for all.
    pub message_reply: Option<Reply>,
}

impl TxnReport {
    /// Whether every recipient got the message (each accepted and each
    /// final reply positive).
    pub fn all_delivered(&self) -> bool {
        self.outcome == TxnOutcome::Delivered
            && !self.recipients.is_empty()
            && self.recipients.iter().all(RecipientReport::delivered)
    }

    /// One line for an error message: the outcome and each refusal.
    pub fn summary(&self) -> String {
        let refused: Vec<String> = self
            .refused()
            .map(|(to, reply)| format!("{to} ({reply})"))
            .collect();
        let what = match self.outcome {
            TxnOutcome::Delivered => "delivered to some recipients only",
            TxnOutcome::SenderRefused => "sender refused",
            TxnOutcome::AllRecipientsRefused => "every recipient refused",
            TxnOutcome::DataRefused => "message data refused",
            TxnOutcome::MessageRefused => "message refused",
            TxnOutcome::Unknown => "outcome unknown",
            TxnOutcome::Aborted => "not sent",
        };
        let mut line = what.to_owned();
        if let (TxnOutcome::SenderRefused, Some(r)) = (self.outcome, &self.mail_reply) {
            line.push_str(&format!(": {r}"));
        }
        if let Some(r) = &self.data_reply {
            line.push_str(&format!(": {r}"));
        }
        if !refused.is_empty() {
            line.push_str("; refused: ");
            line.push_str(&refused.join(", "));
        }
        line
    }

    /// Recipients that did not get the message, each with the reply that
    /// said so (RCPT refusal or negative final reply); smtplib's
    /// "refused recipients" map.
    pub fn refused(&self) -> impl Iterator<Item = (&ForwardPath, &Reply)> {
        self.recipients
            .iter()
            .filter_map(|r| r.refusal().map(|reply| (&r.address, reply)))
    }

    /// Recipients whose final reply was positive.
    pub fn delivered(&self) -> impl Iterator<Item = &ForwardPath> {
        self.recipients
            .iter()
            .filter(|r| r.delivered())
            .map(|r| &r.address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::ReplyCode;

    fn reply(code: u16) -> Reply {
        Reply::new(ReplyCode::new(code).unwrap(), vec![b"x".to_vec()])
    }

    fn report(rcpt: Option<u16>, delivery: Option<u16>) -> RecipientReport {
        RecipientReport {
            rcpt: RcptId(0),
            address: ForwardPath::parse("a@x.org").unwrap(),
            rcpt_reply: rcpt.map(reply),
            delivery_reply: delivery.map(reply),
        }
    }

    #[test]
    fn refusal_is_the_rcpt_refusal_or_the_final_one() {
        assert_eq!(report(Some(550), None).refusal(), Some(&reply(550)));
        assert_eq!(report(Some(550), Some(250)).refusal(), Some(&reply(550)));
        assert_eq!(report(Some(250), Some(452)).refusal(), Some(&reply(452)));
        assert_eq!(report(Some(250), Some(250)).refusal(), None);
        assert_eq!(report(Some(250), None).refusal(), None);
        // No RCPT reply: nothing refused it (the session ended first).
        assert_eq!(report(None, Some(550)).refusal(), None);
        assert_eq!(report(None, None).refusal(), None);
    }
}
