//! Mail transactions: the caller's [`Envelope`] and [`BodyOptions`], and the
//! client's per-transaction bookkeeping that becomes a [`TxnReport`].

use crate::address::{ForwardPath, ReversePath};
use crate::body::BodyEncoder;
use crate::command::{MailParams, RcptParams};
use crate::event::{RcptId, RecipientReport, TxnId, TxnOutcome, TxnReport};
use crate::reply::Reply;

/// One recipient of an [`Envelope`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// RCPT TO path.
    pub to: ForwardPath,
    /// RCPT parameters (DSN NOTIFY/ORCPT, extras).
    pub params: RcptParams,
}

impl From<ForwardPath> for Recipient {
    fn from(to: ForwardPath) -> Self {
        Self {
            to,
            params: RcptParams::default(),
        }
    }
}

/// The envelope of one message: MAIL FROM and the RCPT TO list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// MAIL FROM path (`<>` for bounces).
    pub from: ReversePath,
    /// MAIL parameters. The client adds `SIZE=`, `BODY=` and `SMTPUTF8`
    /// itself when [`BodyOptions`] and the addresses call for them.
    pub params: MailParams,
    /// Recipients, in the order RCPT TO is sent.
    pub recipients: Vec<Recipient>,
}

impl Envelope {
    /// An envelope with default parameters.
    pub fn new(from: ReversePath, recipients: impl IntoIterator<Item = ForwardPath>) -> Self {
        Self {
            from,
            params: MailParams::default(),
            recipients: recipients.into_iter().map(Recipient::from).collect(),
        }
    }
}

/// What the caller knows about the body before sending it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BodyContent {
    /// Not known in advance (a streamed body). The client declares
    /// `BODY=8BITMIME` when the server offers it, so 8-bit bytes may follow;
    /// otherwise an 8-bit byte in the body is a fatal error.
    #[default]
    Unknown,
    /// Only 7-bit bytes (no `BODY=` parameter). An 8-bit byte in the body is
    /// a fatal error.
    SevenBit,
    /// 8-bit text: `BODY=8BITMIME` (RFC 6152), an error before MAIL when the
    /// server does not offer 8BITMIME.
    EightBit,
    /// Binary content: `BODY=BINARYMIME` sent with BDAT, bytes untouched
    /// (RFC 3030); an error before MAIL without BINARYMIME and CHUNKING.
    Binary,
}

/// Options for the body of one transaction.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyOptions {
    /// The message size after line-ending normalisation, when known
    /// ([`body::message_len`](crate::body::message_len)). Declared with
    /// `SIZE=` when the server offers SIZE, and checked against its limit
    /// before MAIL is queued.
    pub size: Option<u64>,
    /// What the body contains.
    pub content: BodyContent,
    /// Use BDAT when the server advertises CHUNKING (and
    /// [`Config::chunking`](crate::Config::chunking) is on). Default true.
    pub allow_chunking: bool,
}

impl Default for BodyOptions {
    fn default() -> Self {
        Self {
            size: None,
            content: BodyContent::Unknown,
            allow_chunking: true,
        }
    }
}

impl BodyOptions {
    /// Options for a body held in memory: its size and whether it has 8-bit
    /// bytes are computed from it.
    pub fn for_body(body: &[u8]) -> Self {
        Self {
            size: Some(crate::body::message_len(body)),
            content: if body.is_ascii() {
                BodyContent::SevenBit
            } else {
                BodyContent::EightBit
            },
            allow_chunking: true,
        }
    }

    /// Sets [`BodyOptions::size`].
    #[must_use]
    pub fn with_size(mut self, size: Option<u64>) -> Self {
        self.size = size;
        self
    }

    /// Sets [`BodyOptions::content`].
    #[must_use]
    pub fn with_content(mut self, content: BodyContent) -> Self {
        self.content = content;
        self
    }

    /// Sets [`BodyOptions::allow_chunking`].
    #[must_use]
    pub fn with_chunking(mut self, allow: bool) -> Self {
        self.allow_chunking = allow;
        self
    }
}

/// How the body goes on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyMode {
    /// DATA, 354, dot-stuffed body, ".".
    Data,
    /// BDAT chunks (RFC 3030).
    Bdat,
}

/// Where a transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TxnStage {
    /// MAIL/RCPT (and DATA) queued or in flight; the body is not open.
    Envelope,
    /// The caller may send body bytes.
    BodyOpen,
    /// `finish_body` was called; the end of data is queued or in flight.
    BodyDone,
}

/// The client's record of one transaction.
#[derive(Debug)]
pub(crate) struct Txn {
    pub(crate) id: TxnId,
    pub(crate) mode: BodyMode,
    pub(crate) stage: TxnStage,
    pub(crate) encoder: BodyEncoder,
    /// 8-bit bytes may be sent (BODY=8BITMIME or BINARYMIME declared).
    pub(crate) eight_bit_ok: bool,
    pub(crate) mail_reply: Option<Reply>,
    pub(crate) recipients: Vec<RecipientReport>,
    pub(crate) data_reply: Option<Reply>,
    /// A negative reply ended the transaction early (DATA, BDAT chunk).
    pub(crate) failed: bool,
    /// The end of data ("." or BDAT LAST) is on the wire: failures from now
    /// on leave the outcome unknown.
    pub(crate) end_sent: bool,
    /// Final replies still expected after the end of data (LMTP counts one
    /// per accepted recipient); computed when the first one arrives.
    pub(crate) final_left: Option<usize>,
    /// Next accepted recipient (index into `recipients`) an LMTP final
    /// reply speaks for.
    pub(crate) next_final: usize,
    /// BDAT: encoded bytes not yet cut into a chunk.
    pub(crate) hold: Vec<u8>,
    /// The lone "." was sent because no recipient was accepted.
    pub(crate) lone_dot: bool,
    /// Started with [`Client::mail`](crate::Client::mail): recipients and
    /// DATA come one call at a time, and the lock-step skip rules do not
    /// apply (the caller sees the server's answer to what it asked for).
    pub(crate) incremental: bool,
    /// Incremental only: no more RCPT or DATA may be added (DATA is queued,
    /// or the envelope was abandoned).
    pub(crate) envelope_closed: bool,
    /// Incremental only: closed without DATA (by RSET or a new MAIL); the
    /// transaction ends once none of its commands is queued or in flight.
    pub(crate) abandoned: bool,
    /// MAIL declared `SMTPUTF8`: internationalized RCPTs may follow.
    pub(crate) smtputf8: bool,
}

impl Txn {
    pub(crate) fn new(
        id: TxnId,
        envelope: &Envelope,
        mode: BodyMode,
        encoder: BodyEncoder,
    ) -> Self {
        Self {
            id,
            mode,
            stage: TxnStage::Envelope,
            encoder,
            eight_bit_ok: false,
            mail_reply: None,
            recipients: envelope
                .recipients
                .iter()
                .enumerate()
                .map(|(i, r)| RecipientReport {
                    rcpt: RcptId(i),
                    address: r.to.clone(),
                    rcpt_reply: None,
                    delivery_reply: None,
                })
                .collect(),
            data_reply: None,
            failed: false,
            end_sent: false,
            final_left: None,
            next_final: 0,
            hold: Vec::new(),
            lone_dot: false,
            incremental: false,
            envelope_closed: false,
            abandoned: false,
            smtputf8: false,
        }
    }

    /// An incremental envelope still accepts RCPT and DATA.
    pub(crate) fn is_open_envelope(&self) -> bool {
        self.incremental && !self.envelope_closed
    }

    /// MAIL was answered negatively.
    pub(crate) fn sender_refused(&self) -> bool {
        self.mail_reply
            .as_ref()
            .is_some_and(|r| !r.code().is_positive_completion())
    }

    /// MAIL was answered positively (the server holds a transaction).
    pub(crate) fn sender_accepted(&self) -> bool {
        self.mail_reply
            .as_ref()
            .is_some_and(|r| r.code().is_positive_completion())
    }

    pub(crate) fn accepted_count(&self) -> usize {
        self.recipients.iter().filter(|r| r.accepted()).count()
    }

    /// Every RCPT has been answered and none positively.
    pub(crate) fn all_refused(&self) -> bool {
        self.recipients.iter().all(|r| r.rcpt_reply.is_some()) && self.accepted_count() == 0
    }

    /// The outcome of a transaction that ends before its end of data.
    pub(crate) fn early_outcome(&self) -> TxnOutcome {
        if self.sender_refused() {
            TxnOutcome::SenderRefused
        } else if !self.recipients.is_empty()
            && self.accepted_count() == 0
            && self.recipients.iter().all(|r| r.rcpt_reply.is_some())
        {
            TxnOutcome::AllRecipientsRefused
        } else if self.data_reply.is_some() {
            TxnOutcome::DataRefused
        } else {
            TxnOutcome::Aborted
        }
    }

    /// The outcome once every final reply has arrived.
    pub(crate) fn final_outcome(&self) -> TxnOutcome {
        if self.lone_dot {
            return self.early_outcome();
        }
        if self.recipients.iter().any(|r| r.delivered()) {
            TxnOutcome::Delivered
        } else {
            TxnOutcome::MessageRefused
        }
    }

    pub(crate) fn report(self, outcome: TxnOutcome) -> TxnReport {
        TxnReport {
            txn: self.id,
            outcome,
            mail_reply: self.mail_reply,
            recipients: self.recipients,
            data_reply: self.data_reply,
        }
    }
}
