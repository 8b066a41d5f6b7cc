//! smtplib's step-by-step `mail`, `rcpt` and `data`, over the engine's
//! incremental envelope ([`smtp_proto::Client::mail`]). Their
//! smtplib-style `KEYWORD[=VALUE]` options are parsed by the engine
//! ([`MailParams::from_options`], [`RcptParams::from_options`]).
//!
//! As in smtplib, each step sends its command and returns the reply
//! whatever its code, and nothing is skipped: RCPT after a refused MAIL and
//! DATA with no accepted recipient go out, and the server's 503/554 comes
//! back. The engine still runs the transaction: it dot-stuffs the body,
//! answers a 354 with a lone "." when nobody was accepted, and closes the
//! envelope on [`SmtpClient::rset`] or the next MAIL.

use smtp_proto::command::{MailParams, RcptParams};
use smtp_proto::{Event, ForwardPath, Reply, ReversePath, TxnId, UsageError};

use crate::client::guarded;
use crate::{Error, SmtpClient};

/// The envelope opened by [`SmtpClient::mail`]: the engine's transaction
/// and the caller's spelling of each address, for errors.
#[derive(Debug)]
pub(crate) struct OpenEnvelope {
    txn: TxnId,
    sender: String,
    recipients: Vec<String>,
}

impl SmtpClient {
    /// smtplib's `mail(sender, options)`: MAIL FROM alone, and its reply
    /// whatever its code (a refusal is an answer, as in smtplib; the
    /// envelope stays open for [`rcpt`](Self::rcpt) and
    /// [`data`](Self::data), which are sent anyway and get the server's
    /// verdict). EHLO first if needed. Options are `KEYWORD[=VALUE]`
    /// strings, parsed like [`sendmail`](Self::sendmail)'s (`SIZE=n` is
    /// sent here, and checked against the server's limit; `BODY=8BITMIME`
    /// allows 8-bit bytes in [`data`](Self::data)). `SMTPUTF8` is added
    /// when the sender needs it. A previous envelope still open is
    /// abandoned, as smtplib would: the server answers this MAIL with 503
    /// until [`rset`](Self::rset).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a bad address or option;
    /// [`Error::Usage`] for an extension the server does not offer
    /// (SMTPUTF8, 8BITMIME, SIZE, DSN, REQUIRETLS), a `SIZE=` over its
    /// limit or `BODY=BINARYMIME` (use [`send`](Self::send)); fatal errors.
    pub async fn mail(&mut self, sender: &str, options: &[&str]) -> Result<Reply, Error> {
        guarded!(self, self.mail_in(sender, options).await)
    }

    async fn mail_in(&mut self, sender: &str, options: &[&str]) -> Result<Reply, Error> {
        self.hello_if_needed().await?;
        let from = ReversePath::parse(sender)
            .map_err(|e| Error::InvalidArgument(format!("sender {sender:?}: {e}")))?;
        let params = MailParams::from_options(options)?;
        let txn = self.driver.client.mail(from, params)?;
        self.envelope = Some(OpenEnvelope {
            txn,
            sender: sender.to_owned(),
            recipients: Vec::new(),
        });
        loop {
            if let Event::MailReply { txn: t, reply } = self.driver.step().await?
                && t == txn
            {
                return Ok(reply);
            }
        }
    }

    /// smtplib's `rcpt(recip, options)`: one RCPT TO in the envelope opened
    /// by [`mail`](Self::mail), and its reply whatever its code. Options
    /// are `KEYWORD[=VALUE]` strings sent as given (`NOTIFY=SUCCESS`, ...).
    ///
    /// # Errors
    /// [`Error::Usage`] (`NoOpenEnvelope`) without an open envelope (smtplib
    /// would send it and get 503), (`SmtpUtf8NotDeclared`) for an
    /// internationalized address when [`mail`](Self::mail) did not declare
    /// `SMTPUTF8`; [`Error::InvalidArgument`]; fatal errors.
    pub async fn rcpt(&mut self, recip: &str, options: &[&str]) -> Result<Reply, Error> {
        guarded!(self, self.rcpt_in(recip, options).await)
    }

    async fn rcpt_in(&mut self, recip: &str, options: &[&str]) -> Result<Reply, Error> {
        let Some(txn) = self.envelope.as_ref().map(|e| e.txn) else {
            return Err(UsageError::NoOpenEnvelope.into());
        };
        let to = ForwardPath::parse(recip)
            .map_err(|e| Error::InvalidArgument(format!("recipient {recip:?}: {e}")))?;
        let params = RcptParams::from_options(options)?;
        let rcpt = self.driver.client.rcpt(txn, to, params)?;
        if let Some(env) = self.envelope.as_mut() {
            env.recipients.push(recip.to_owned());
        }
        loop {
            if let Event::RcptReply {
                txn: t,
                rcpt: r,
                reply,
            } = self.driver.step().await?
                && t == txn
                && r == rcpt
            {
                return Ok(reply);
            }
        }
    }

    /// smtplib's `data(msg)`: DATA, then on 354 the message (line endings
    /// normalised to CRLF, leading dots doubled, the final "." added), and
    /// the final reply whatever its code. Closes the envelope.
    ///
    /// In LMTP the reply is the first accepted recipient's; every
    /// recipient's own reply is in the report of [`send`](Self::send) and
    /// in the refused map of [`sendmail`](Self::sendmail).
    ///
    /// # Errors
    /// [`Error::DataError`] when DATA is not answered with 354 (smtplib's
    /// `SMTPDataError`); if the server says 354 although MAIL or every RCPT
    /// was refused, only a lone "." is sent and the error is
    /// [`Error::SenderRefused`] or [`Error::RecipientsRefused`];
    /// [`Error::Usage`] (`NoOpenEnvelope`) without an envelope from
    /// [`mail`](Self::mail); [`Error::OutcomeUnknown`] when the connection
    /// fails after the end of data; fatal errors. An 8-bit byte without
    /// `BODY=8BITMIME` is a fatal error.
    pub async fn data(&mut self, msg: &[u8]) -> Result<Reply, Error> {
        guarded!(self, self.data_in(msg).await)
    }

    async fn data_in(&mut self, msg: &[u8]) -> Result<Reply, Error> {
        let Some(env) = self.envelope.take() else {
            return Err(UsageError::NoOpenEnvelope.into());
        };
        self.driver.client.data(env.txn)?;
        let report = self.run_txn(env.txn, msg).await?;
        let to: Vec<&str> = env.recipients.iter().map(String::as_str).collect();
        Ok(report.smtplib_data_reply(&env.sender, &to, self.is_lmtp())?)
    }
}
