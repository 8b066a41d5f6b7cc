//! Mail transactions: the caller's [`Envelope`] and [`BodyOptions`], and the
//! client's per-transaction bookkeeping that becomes a [`TxnReport`].

use std::time::Instant;

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
#[non_exhaustive]
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

/// What ended the message data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DataEnd {
    /// The caller finished the body.
    Body,
    /// The 354 came with nobody to deliver to: a lone "." ends the data at
    /// once (RFC 2920 §3.1), and the outcome is the envelope's.
    LoneDot,
}

/// How the replies after the end of data speak for the recipients
/// (rule 6 in `state.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Finals {
    /// SMTP: one reply for every accepted recipient.
    Shared,
    /// LMTP (RFC 2033 §4.2): one reply per accepted recipient, in RCPT
    /// order.
    PerRecipient,
    /// SMTP with `MAIL FROM:<..> PRDR` (draft-hall-prdr-00): 353, then one
    /// reply per accepted recipient in RCPT order, then the message's own
    /// reply; or a single reply instead of the 353, which then speaks for
    /// every accepted recipient.
    Prdr(PrdrStep),
}

/// Which PRDR reply comes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PrdrStep {
    /// The first reply: 353, or a single reply for the whole message.
    Start,
    /// After the 353: the per-recipient replies.
    Recipients,
    /// After the last per-recipient reply: the message's reply.
    Message,
}

/// Where a transaction is. One value rather than a set of flags, so that
/// no combination can say two things at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TxnStage {
    /// Started with [`Client::send_mail`](crate::Client::send_mail):
    /// MAIL/RCPT (and DATA) queued or in flight; the lock-step skip rules
    /// apply.
    Envelope,
    /// Started with [`Client::mail`](crate::Client::mail): recipients and
    /// DATA come one call at a time. `smtputf8`: MAIL declared `SMTPUTF8`,
    /// so internationalized RCPTs may follow.
    Open { smtputf8: bool },
    /// An envelope from `mail` closed by `data`: DATA is queued or in
    /// flight. Nothing is skipped: the caller sees the server's answer to
    /// what it asked for.
    Closed,
    /// An envelope from `mail` closed without DATA (by RSET or a new MAIL):
    /// it ends once none of its commands is queued or in flight.
    Abandoned,
    /// The caller may send body bytes.
    BodyOpen,
    /// The end of data ("." or BDAT LAST) is queued.
    Ending(DataEnd),
    /// The end of data is on the wire: failures from now on leave the
    /// outcome unknown.
    EndSent(DataEnd),
}

/// The client's record of one transaction.
#[derive(Debug)]
pub(crate) struct Txn {
    pub(crate) id: TxnId,
    pub(crate) mode: BodyMode,
    pub(crate) stage: TxnStage,
    /// How the replies after the end of data are read.
    pub(crate) finals: Finals,
    pub(crate) encoder: BodyEncoder,
    /// 8-bit bytes may be sent (BODY=8BITMIME or BINARYMIME declared).
    pub(crate) eight_bit_ok: bool,
    pub(crate) mail_reply: Option<Reply>,
    pub(crate) recipients: Vec<RecipientReport>,
    pub(crate) data_reply: Option<Reply>,
    /// Per-recipient replies still expected after the end of data (LMTP
    /// and PRDR count one per accepted recipient); computed when the first
    /// one arrives.
    pub(crate) final_left: Option<usize>,
    /// Next accepted recipient (index into `recipients`) a per-recipient
    /// reply speaks for.
    pub(crate) next_final: usize,
    /// PRDR: the message's own reply after the per-recipient ones.
    pub(crate) message_reply: Option<Reply>,
    /// When [`Config::transaction_deadline`](crate::Config::transaction_deadline)
    /// runs out for it: set when its MAIL goes on the wire.
    pub(crate) deadline: Option<Instant>,
}

impl Txn {
    /// A transaction from [`Client::send_mail`](crate::Client::send_mail):
    /// the whole envelope at once.
    pub(crate) fn new(
        id: TxnId,
        recipients: &[Recipient],
        mode: BodyMode,
        finals: Finals,
        encoder: BodyEncoder,
        eight_bit_ok: bool,
    ) -> Self {
        Self {
            id,
            mode,
            stage: TxnStage::Envelope,
            finals,
            encoder,
            eight_bit_ok,
            mail_reply: None,
            recipients: recipients
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
            final_left: None,
            next_final: 0,
            message_reply: None,
            deadline: None,
        }
    }

    /// An open envelope from [`Client::mail`](crate::Client::mail): no
    /// recipient yet, and the body always goes with DATA.
    pub(crate) fn incremental(
        id: TxnId,
        finals: Finals,
        smtputf8: bool,
        eight_bit_ok: bool,
    ) -> Self {
        let mut txn = Self::new(
            id,
            &[],
            BodyMode::Data,
            finals,
            BodyEncoder::data(),
            eight_bit_ok,
        );
        txn.stage = TxnStage::Open { smtputf8 };
        txn
    }

    /// An incremental envelope still accepts RCPT and DATA.
    pub(crate) fn is_open_envelope(&self) -> bool {
        matches!(self.stage, TxnStage::Open { .. })
    }

    /// An open envelope whose MAIL declared `SMTPUTF8`.
    pub(crate) fn smtputf8(&self) -> bool {
        matches!(self.stage, TxnStage::Open { smtputf8: true })
    }

    /// The end of data is on the wire.
    pub(crate) fn end_sent(&self) -> bool {
        matches!(self.stage, TxnStage::EndSent(_))
    }

    /// The data was ended by a lone "." rather than a body.
    pub(crate) fn lone_dot(&self) -> bool {
        matches!(
            self.stage,
            TxnStage::Ending(DataEnd::LoneDot) | TxnStage::EndSent(DataEnd::LoneDot)
        )
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
        if self.lone_dot() {
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
            message_reply: self.message_reply,
        }
    }
}
