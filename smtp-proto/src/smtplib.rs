//! smtplib's reading of a finished transaction, so that every adapter
//! turns a [`TxnReport`] into the same return value or exception: the
//! classification is protocol knowledge (which reply explains a failure,
//! when LMTP's per-recipient refusals count as "all recipients refused"),
//! and adapters only wrap the result in their own error type.

use std::collections::BTreeMap;

use crate::event::{TxnOutcome, TxnReport};
use crate::reply::Reply;

/// Refused recipients: each address, as the caller wrote it, with the reply
/// that refused it (its RCPT reply, or in LMTP its own negative final
/// reply). smtplib's `sendmail` return value and
/// `SMTPRecipientsRefused.recipients`.
pub type Refused = BTreeMap<String, Reply>;

/// Why smtplib would raise for a transaction. Each variant carries what
/// the exception of the same name carries, so an adapter's conversion is a
/// one-to-one rename.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnFailure {
    /// MAIL was refused (`SMTPSenderRefused`).
    SenderRefused {
        /// The reply to MAIL.
        reply: Reply,
        /// The sender address, as the caller wrote it.
        sender: String,
    },
    /// Nobody got the message (`SMTPRecipientsRefused`): every RCPT was
    /// refused, or in LMTP every final reply was negative.
    RecipientsRefused {
        /// Each recipient with its refusal.
        recipients: Refused,
    },
    /// DATA, a BDAT chunk or the end of data was refused
    /// (`SMTPDataError`).
    DataError {
        /// The negative reply.
        reply: Reply,
    },
    /// The connection failed after the end of data and before its final
    /// reply: the message may have been delivered.
    OutcomeUnknown,
    /// The transaction ended without a reply that explains it (the
    /// session failed before the end of data, or a reply the outcome needs
    /// never arrived): smtplib's `SMTPServerDisconnected`.
    Disconnected,
}

impl TxnReport {
    /// smtplib's `sendmail` result for this transaction: the refused map
    /// when at least one recipient got the message, the exception
    /// otherwise. `recipients` holds the caller's spelling of each
    /// address, in envelope order; `lmtp` makes a message refused by every
    /// recipient's final reply a [`TxnFailure::RecipientsRefused`], since
    /// LMTP refuses per recipient.
    ///
    /// # Errors
    /// The [`TxnFailure`] smtplib would raise.
    pub fn smtplib_outcome(
        &self,
        sender: &str,
        recipients: &[&str],
        lmtp: bool,
    ) -> Result<Refused, TxnFailure> {
        let refused = || -> Refused {
            self.recipients
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    let name = recipients
                        .get(i)
                        .map_or_else(String::new, |s| (*s).to_owned());
                    r.refusal().map(|reply| (name, reply.clone()))
                })
                .collect()
        };
        match self.outcome {
            TxnOutcome::Delivered => Ok(refused()),
            TxnOutcome::SenderRefused => match &self.mail_reply {
                Some(reply) => Err(TxnFailure::SenderRefused {
                    reply: reply.clone(),
                    sender: sender.to_owned(),
                }),
                None => Err(TxnFailure::Disconnected),
            },
            TxnOutcome::AllRecipientsRefused => Err(TxnFailure::RecipientsRefused {
                recipients: refused(),
            }),
            TxnOutcome::MessageRefused if lmtp => Err(TxnFailure::RecipientsRefused {
                recipients: refused(),
            }),
            TxnOutcome::DataRefused | TxnOutcome::MessageRefused => {
                let reply = self.data_reply.clone().or_else(|| {
                    self.recipients
                        .iter()
                        .find_map(|r| r.delivery_reply.clone())
                });
                match reply {
                    Some(reply) => Err(TxnFailure::DataError { reply }),
                    None => Err(TxnFailure::Disconnected),
                }
            }
            TxnOutcome::Unknown => Err(TxnFailure::OutcomeUnknown),
            TxnOutcome::Aborted => Err(TxnFailure::Disconnected),
        }
    }

    /// smtplib's `data` result for an incremental transaction: the final
    /// reply (in LMTP, the first accepted recipient's), or the exception.
    /// A refused DATA or chunk is a [`TxnFailure::DataError`] even when
    /// recipients were accepted; otherwise it fails as
    /// [`smtplib_outcome`](Self::smtplib_outcome) does.
    ///
    /// # Errors
    /// The [`TxnFailure`] smtplib would raise.
    pub fn smtplib_data_reply(
        &self,
        sender: &str,
        recipients: &[&str],
        lmtp: bool,
    ) -> Result<Reply, TxnFailure> {
        if let Some(reply) = &self.data_reply {
            return Err(TxnFailure::DataError {
                reply: reply.clone(),
            });
        }
        if matches!(
            self.outcome,
            TxnOutcome::Delivered | TxnOutcome::MessageRefused
        ) && let Some(reply) = self
            .recipients
            .iter()
            .find(|r| r.accepted())
            .and_then(|r| r.delivery_reply.clone())
        {
            return Ok(reply);
        }
        self.smtplib_outcome(sender, recipients, lmtp)
            .and(Err(TxnFailure::Disconnected))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::ForwardPath;
    use crate::event::{RcptId, RecipientReport, TxnId};
    use crate::reply::ReplyCode;

    fn reply(code: u16) -> Reply {
        Reply::new(ReplyCode::new(code).unwrap(), vec![b"x".to_vec()])
    }

    fn rcpt(i: usize, rcpt: Option<u16>, delivery: Option<u16>) -> RecipientReport {
        RecipientReport {
            rcpt: RcptId(i),
            address: ForwardPath::parse("a@x.org").unwrap(),
            rcpt_reply: rcpt.map(reply),
            delivery_reply: delivery.map(reply),
        }
    }

    fn report(outcome: TxnOutcome, recipients: Vec<RecipientReport>) -> TxnReport {
        TxnReport {
            txn: TxnId(0),
            outcome,
            mail_reply: Some(reply(250)),
            recipients,
            data_reply: None,
        }
    }

    const TO: &[&str] = &["A@x.org", "b@x.org"];

    #[test]
    fn delivered_returns_refused_map_in_caller_spelling() {
        let r = report(
            TxnOutcome::Delivered,
            vec![rcpt(0, Some(550), None), rcpt(1, Some(250), Some(250))],
        );
        let refused = r.smtplib_outcome("s@x.org", TO, false).unwrap();
        assert_eq!(refused.get("A@x.org"), Some(&reply(550)));
        assert_eq!(refused.len(), 1);
        assert_eq!(
            r.smtplib_data_reply("s@x.org", TO, false),
            Ok(reply(250)),
            "data() returns the accepted recipient's final reply"
        );
    }

    #[test]
    fn failures_map_to_smtplib_exceptions() {
        let mut r = report(TxnOutcome::SenderRefused, vec![]);
        r.mail_reply = Some(reply(550));
        assert_eq!(
            r.smtplib_outcome("s@x.org", TO, false),
            Err(TxnFailure::SenderRefused {
                reply: reply(550),
                sender: "s@x.org".to_owned()
            })
        );
        r.mail_reply = None;
        assert_eq!(
            r.smtplib_outcome("s@x.org", TO, false),
            Err(TxnFailure::Disconnected)
        );

        let all = vec![rcpt(0, Some(250), Some(554)), rcpt(1, Some(250), Some(554))];
        let r = report(TxnOutcome::MessageRefused, all);
        assert!(matches!(
            r.smtplib_outcome("s", TO, true),
            Err(TxnFailure::RecipientsRefused { recipients }) if recipients.len() == 2
        ));
        assert_eq!(
            r.smtplib_outcome("s", TO, false),
            Err(TxnFailure::DataError { reply: reply(554) })
        );

        let mut r = report(TxnOutcome::DataRefused, vec![rcpt(0, Some(250), None)]);
        r.data_reply = Some(reply(451));
        assert_eq!(
            r.smtplib_data_reply("s", TO, false),
            Err(TxnFailure::DataError { reply: reply(451) })
        );

        let r = report(TxnOutcome::Unknown, vec![rcpt(0, Some(250), None)]);
        assert_eq!(
            r.smtplib_outcome("s", TO, false),
            Err(TxnFailure::OutcomeUnknown)
        );
        let r = report(TxnOutcome::Aborted, vec![rcpt(0, Some(250), None)]);
        assert_eq!(
            r.smtplib_data_reply("s", TO, false),
            Err(TxnFailure::Disconnected)
        );
    }
}
