//! Mail transactions on the [`Client`]: [`Client::send_mail`] (the whole
//! envelope at once), or [`Client::mail`], [`Client::rcpt`] and
//! [`Client::data`] (smtplib's step-by-step envelope), then
//! [`Client::send_body`] and [`Client::finish_body`]. What the replies mean
//! lives in [`state`](crate::state); this file decides what goes on the wire
//! (`SIZE=`, `BODY=`, `SMTPUTF8`, DATA or BDAT) and feeds the body encoder.

use crate::address::{ForwardPath, ReversePath};
use crate::body::BodyEncoder;
use crate::client::Client;
use crate::command::{
    BodyType, Command, CommandError, MailParams, RcptParams, mail_line, rcpt_line,
};
use crate::config::Dialect;
use crate::error::UsageError;
#[cfg(doc)]
use crate::event::Event;
use crate::event::{RcptId, TxnId};
use crate::state::OpKind;
use crate::txn::{BodyContent, BodyMode, BodyOptions, Envelope, Finals, PrdrStep, Recipient, Txn};

impl Client {
    /// Starts a mail transaction: queues MAIL, one RCPT per recipient and,
    /// without CHUNKING, DATA. The client picks pipelining and BDAT from the
    /// extensions, and adds `SIZE=`, `BODY=` and `SMTPUTF8` as needed.
    ///
    /// Events follow: [`Event::MailReply`], [`Event::RcptReply`] per
    /// recipient, then [`Event::ReadyForBody`] (send the body) unless the
    /// transaction failed, and always [`Event::TransactionFinished`]. Several
    /// transactions may be queued; with PIPELINING the end of one message and
    /// the next envelope share a round trip. An envelope left open by
    /// [`mail`](Self::mail) without [`data`](Self::data) is closed first (as
    /// by [`rset`](Self::rset), but without sending RSET).
    ///
    /// # Errors
    /// `NotAllowed` before a successful EHLO/HELO, `NoRecipients`,
    /// `ExtensionNotAdvertised` for 8BITMIME, BINARYMIME, CHUNKING, SMTPUTF8,
    /// REQUIRETLS or DSN when needed and missing, `MessageTooLarge`,
    /// `InvalidCommand`, `StartTlsInProgress`, `AuthInProgress`, `Closed`.
    pub fn send_mail(
        &mut self,
        envelope: &Envelope,
        options: BodyOptions,
    ) -> Result<TxnId, UsageError> {
        self.send_parts(
            &envelope.from,
            &envelope.params,
            &envelope.recipients,
            options,
        )
    }

    /// [`send_mail`](Self::send_mail) for an envelope in parts, so that a
    /// batch can keep its envelopes' recipients in one list.
    pub(crate) fn send_parts(
        &mut self,
        sender: &ReversePath,
        mail_params: &MailParams,
        recipients: &[Recipient],
        options: BodyOptions,
    ) -> Result<TxnId, UsageError> {
        self.state.check_open("MAIL")?;
        self.state.check_ready("MAIL")?;
        if recipients.is_empty() {
            return Err(UsageError::NoRecipients);
        }
        let no_ext = crate::Extensions::default();
        let ext = self.state.extensions().unwrap_or(&no_ext);
        let mut params = mail_params.clone();

        // SIZE (RFC 1870): declare and check before anything is queued.
        if let Some(size) = options.size {
            if let Some(limit) = ext.size()
                && size > limit
            {
                return Err(UsageError::MessageTooLarge { size, limit });
            }
            if ext.has("SIZE") && params.size.is_none() {
                params.size = Some(size);
            }
        }

        // BODY= (RFC 6152, RFC 3030) and the body mode.
        let chunking = self.state.config().chunking && options.allow_chunking && ext.chunking();
        let (mode, encoder, eight_bit_ok) = match options.content {
            BodyContent::Binary => {
                if !ext.binary_mime() {
                    return Err(UsageError::ExtensionNotAdvertised("BINARYMIME"));
                }
                if !ext.chunking() {
                    return Err(UsageError::ExtensionNotAdvertised("CHUNKING"));
                }
                params.body = Some(BodyType::BinaryMime);
                (BodyMode::Bdat, BodyEncoder::raw(), true)
            }
            content => {
                let eight_bit = match content {
                    BodyContent::EightBit => {
                        if !ext.eight_bit_mime() {
                            return Err(UsageError::ExtensionNotAdvertised("8BITMIME"));
                        }
                        true
                    }
                    BodyContent::Unknown => ext.eight_bit_mime(),
                    _ => false,
                };
                if eight_bit && params.body.is_none() {
                    params.body = Some(BodyType::EightBitMime);
                }
                let ok = matches!(
                    params.body,
                    Some(BodyType::EightBitMime | BodyType::BinaryMime)
                );
                if chunking {
                    (BodyMode::Bdat, BodyEncoder::normalize(), ok)
                } else {
                    (BodyMode::Data, BodyEncoder::data(), ok)
                }
            }
        };
        if params.body == Some(BodyType::BinaryMime) && mode == BodyMode::Data {
            return Err(UsageError::ExtensionNotAdvertised("CHUNKING"));
        }

        // SMTPUTF8 (RFC 6531): declared for any non-ASCII address when the
        // server offers it. Without it, an address whose only non-ASCII
        // part is its domain goes with the domain in A-labels (IDNA); a
        // non-ASCII local part, or the caller's own `smtputf8`, cannot go.
        let needs_utf8 =
            sender.needs_smtputf8() || recipients.iter().any(|r| r.to.needs_smtputf8());
        let a_labels = needs_utf8 && !ext.smtputf8() && !params.smtputf8;
        if (needs_utf8 && !a_labels) || params.smtputf8 {
            if !ext.smtputf8() {
                return Err(UsageError::ExtensionNotAdvertised("SMTPUTF8"));
            }
            params.smtputf8 = true;
        }
        let from = match a_labels && sender.needs_smtputf8() {
            true => std::borrow::Cow::Owned(ascii_path(sender.to_ascii())?),
            false => std::borrow::Cow::Borrowed(sender),
        };

        // REQUIRETLS (RFC 8689) only over TLS and only when offered.
        if params.requiretls && !(ext.requiretls() && self.state.is_tls()) {
            return Err(UsageError::ExtensionNotAdvertised("REQUIRETLS"));
        }
        // DSN parameters (RFC 3461) only when offered.
        let dsn_used = params.ret.is_some()
            || params.envid.is_some()
            || recipients
                .iter()
                .any(|r| r.params.notify.is_some() || r.params.orcpt.is_some());
        if dsn_used && !ext.dsn() {
            return Err(UsageError::ExtensionNotAdvertised("DSN"));
        }
        if params.auth.is_some() && !ext.has("AUTH") {
            return Err(UsageError::ExtensionNotAdvertised("AUTH"));
        }
        let finals = self.finals(&mut params, ext, recipients.len())?;

        // Every line is queued or none (`open_txn` rolls back on error).
        let txn_id = self.state.next_txn_id();
        let txn = Txn::new(txn_id, recipients, mode, finals, encoder, eight_bit_ok);
        self.state.open_txn(txn, |queue| {
            // Lines are built from the borrowed envelope: no command
            // owns a copy of an address.
            let mail = OpKind::Mail { txn: txn_id };
            queue.push_line(mail, |line| mail_line(line, &from, &params))?;
            for (i, r) in recipients.iter().enumerate() {
                let kind = OpKind::Rcpt {
                    txn: txn_id,
                    rcpt: i,
                };
                if a_labels && r.to.needs_smtputf8() {
                    let to = ascii_path(r.to.to_ascii())?;
                    queue.push_line(kind, |line| rcpt_line(line, &to, &r.params))?;
                } else {
                    queue.push_line(kind, |line| rcpt_line(line, &r.to, &r.params))?;
                }
            }
            if mode == BodyMode::Data {
                queue.push(OpKind::Data { txn: txn_id }, &Command::Data)?;
            }
            queue.push_placeholder(OpKind::Body { txn: txn_id });
            Ok(())
        })?;
        Ok(txn_id)
    }

    /// smtplib's `mail(sender, options)`: queues MAIL FROM alone and opens
    /// an envelope that [`rcpt`](Self::rcpt) adds recipients to and
    /// [`data`](Self::data) closes. The parameters are sent as given: no
    /// `SIZE=` or `BODY=` is added (`SMTPUTF8` is, when an address or
    /// parameter needs it). The body always goes with DATA, never BDAT.
    ///
    /// Unlike [`send_mail`](Self::send_mail), nothing is skipped because of
    /// an earlier refusal: RCPT after a refused MAIL and DATA without an
    /// accepted recipient are sent, and the server's answer reported (as
    /// smtplib does). A 354 with no recipient accepted is still answered
    /// with a lone "." and a refused DATA still ends the transaction, with
    /// RSET when the server holds one.
    ///
    /// Events: [`Event::MailReply`], one [`Event::RcptReply`] per
    /// [`rcpt`](Self::rcpt), then as for [`send_mail`](Self::send_mail) once
    /// [`data`](Self::data) is called. The envelope is closed without DATA
    /// by [`rset`](Self::rset) or by a new `mail`/`send_mail` (the server
    /// will answer that MAIL with 503 if it still holds a transaction): its
    /// [`Event::TransactionFinished`] comes once its replies are in, with
    /// outcome `SenderRefused`, `AllRecipientsRefused` or `Aborted`.
    ///
    /// # Errors
    /// `NotAllowed` before a successful EHLO/HELO; `ExtensionNotAdvertised`
    /// for SMTPUTF8, 8BITMIME (`BODY=`), SIZE, REQUIRETLS (also without
    /// TLS), DSN (`RET=`, `ENVID=`) or AUTH (`AUTH=`) when used and not
    /// offered; `MessageTooLarge` when `SIZE=` exceeds the server's limit;
    /// `InvalidCommand` for `BODY=BINARYMIME` (it needs BDAT) or an
    /// unencodable line; `StartTlsInProgress`, `AuthInProgress`, `Closed`.
    pub fn mail(&mut self, from: ReversePath, mut params: MailParams) -> Result<TxnId, UsageError> {
        self.state.check_open("MAIL")?;
        self.state.check_ready("MAIL")?;
        let ext = self.state.extensions().cloned().unwrap_or_default();
        // As in `send_mail`: an internationalized domain alone goes in
        // A-labels to a server without SMTPUTF8.
        let from = if from.needs_smtputf8() && !ext.smtputf8() && !params.smtputf8 {
            ascii_path(from.to_ascii())?
        } else {
            from
        };
        if from.needs_smtputf8() || params.needs_smtputf8() || params.smtputf8 {
            if !ext.smtputf8() {
                return Err(UsageError::ExtensionNotAdvertised("SMTPUTF8"));
            }
            params.smtputf8 = true;
        }
        match params.body {
            Some(BodyType::BinaryMime) => {
                return Err(UsageError::InvalidCommand(CommandError::InvalidParameter {
                    keyword: "BODY".to_owned(),
                    reason: "BINARYMIME needs BDAT; use send_mail",
                }));
            }
            Some(_) if !ext.eight_bit_mime() => {
                return Err(UsageError::ExtensionNotAdvertised("8BITMIME"));
            }
            _ => {}
        }
        if let Some(size) = params.size {
            if !ext.has("SIZE") {
                return Err(UsageError::ExtensionNotAdvertised("SIZE"));
            }
            if let Some(limit) = ext.size()
                && size > limit
            {
                return Err(UsageError::MessageTooLarge { size, limit });
            }
        }
        if params.requiretls && !(ext.requiretls() && self.state.is_tls()) {
            return Err(UsageError::ExtensionNotAdvertised("REQUIRETLS"));
        }
        if (params.ret.is_some() || params.envid.is_some()) && !ext.dsn() {
            return Err(UsageError::ExtensionNotAdvertised("DSN"));
        }
        if params.auth.is_some() && !ext.has("AUTH") {
            return Err(UsageError::ExtensionNotAdvertised("AUTH"));
        }
        // The recipients are not known yet: PRDR only when the caller asks.
        let finals = self.finals(&mut params, &ext, 0)?;

        let txn_id = self.state.next_txn_id();
        let smtputf8 = params.smtputf8;
        let eight_bit_ok = params.body == Some(BodyType::EightBitMime);
        let txn = Txn::incremental(txn_id, finals, smtputf8, eight_bit_ok);
        let mail = Command::Mail { from, params };
        self.state
            .open_txn(txn, |queue| queue.push(OpKind::Mail { txn: txn_id }, &mail))?;
        Ok(txn_id)
    }

    /// smtplib's `rcpt(recip, options)`: queues one RCPT TO for the envelope
    /// opened by [`mail`](Self::mail). It is sent even when MAIL was
    /// refused. [`Event::RcptReply`] follows, with the returned id (the
    /// recipient's index in the transaction's report).
    ///
    /// # Errors
    /// `NoOpenEnvelope` unless `txn` is an envelope from [`mail`](Self::mail)
    /// not yet closed by [`data`](Self::data), [`rset`](Self::rset) or a new
    /// MAIL; `SmtpUtf8NotDeclared` for an internationalized address or
    /// parameter when MAIL did not declare SMTPUTF8; `ExtensionNotAdvertised`
    /// for DSN (`NOTIFY=`, `ORCPT=`) when not offered; `InvalidCommand`;
    /// `StartTlsInProgress`, `AuthInProgress`, `Closed`.
    pub fn rcpt(
        &mut self,
        txn: TxnId,
        to: ForwardPath,
        params: RcptParams,
    ) -> Result<RcptId, UsageError> {
        self.state.check_open("RCPT")?;
        self.state.check_ready("RCPT")?;
        let dsn = self.extensions().is_some_and(|e| e.dsn());
        let Some(t) = self.state.open_envelope(txn) else {
            return Err(UsageError::NoOpenEnvelope);
        };
        let to = if to.needs_smtputf8() && !t.smtputf8() {
            // An internationalized domain alone still goes, in A-labels.
            to.to_ascii().ok_or(UsageError::SmtpUtf8NotDeclared)?
        } else {
            to
        };
        if params.needs_smtputf8() && !t.smtputf8() {
            return Err(UsageError::SmtpUtf8NotDeclared);
        }
        if (params.notify.is_some() || params.orcpt.is_some()) && !dsn {
            return Err(UsageError::ExtensionNotAdvertised("DSN"));
        }
        let rcpt = RcptId(t.recipients.len());
        let command = Command::Rcpt {
            to: to.clone(),
            params,
        };
        self.state.add_rcpt(txn, rcpt, to, &command)?;
        Ok(rcpt)
    }

    /// smtplib's `data(msg)`, first half: queues DATA for the envelope
    /// opened by [`mail`](Self::mail) and closes it. It is sent even when
    /// MAIL or every RCPT was refused. On 354 [`Event::ReadyForBody`]
    /// follows: send the body with [`send_body`](Self::send_body) and
    /// [`finish_body`](Self::finish_body); then [`Event::DeliveryReply`]
    /// (one, or in LMTP one per accepted recipient) and
    /// [`Event::TransactionFinished`]. A refused DATA ends the transaction
    /// at once (`DataRefused`, or `SenderRefused`/`AllRecipientsRefused`
    /// when that is why; the DATA reply is the report's `data_reply`).
    ///
    /// # Errors
    /// `NoOpenEnvelope` as for [`rcpt`](Self::rcpt); `StartTlsInProgress`,
    /// `AuthInProgress`, `Closed`.
    pub fn data(&mut self, txn: TxnId) -> Result<(), UsageError> {
        self.state.check_open("DATA")?;
        self.state.check_ready("DATA")?;
        if self.state.open_envelope(txn).is_none() {
            return Err(UsageError::NoOpenEnvelope);
        }
        self.state.close_envelope(txn)
    }

    /// Sends a piece of the message body of the transaction that reported
    /// [`Event::ReadyForBody`]. Any chunking works: line endings are
    /// normalised to CRLF and (for DATA) leading dots doubled across chunk
    /// boundaries.
    ///
    /// # Errors
    /// `NoBodyExpected` when no body is open (also after the transaction
    /// failed, e.g. a refused BDAT chunk: stop sending); `WouldBlock` when a
    /// BDAT chunk still waits for the wire without PIPELINING; `Closed`.
    /// An 8-bit byte in a body declared 7-bit fails the whole session with
    /// [`Error::Undeclared8Bit`](crate::Error::Undeclared8Bit) and returns `Closed`.
    pub fn send_body(&mut self, chunk: &[u8]) -> Result<(), UsageError> {
        self.state.send_body(chunk)
    }

    /// Ends the message body: queues the final "." (DATA) or the last BDAT
    /// chunk. [`Event::DeliveryReply`] and [`Event::TransactionFinished`]
    /// follow.
    ///
    /// # Errors
    /// `NoBodyExpected` when no body is open; `Closed`.
    pub fn finish_body(&mut self) -> Result<(), UsageError> {
        self.state.finish_body()
    }

    /// How the replies after the end of data will speak for the
    /// recipients, and `PRDR` on MAIL when they are to be per recipient.
    /// LMTP always answers per recipient. In SMTP the client asks for PRDR
    /// itself when the server offers it, [`Config::prdr`](crate::Config::prdr)
    /// is on and there is more than one recipient (with one, the message's
    /// reply already is the recipient's); the caller may also set
    /// [`MailParams::prdr`], which needs the extension.
    fn finals(
        &self,
        params: &mut MailParams,
        ext: &crate::Extensions,
        recipients: usize,
    ) -> Result<Finals, UsageError> {
        let offered = ext.has("PRDR");
        if params.prdr && !offered {
            return Err(UsageError::ExtensionNotAdvertised("PRDR"));
        }
        let config = self.state.config();
        if config.dialect == Dialect::Lmtp {
            return Ok(Finals::PerRecipient);
        }
        if config.prdr && offered && recipients > 1 {
            params.prdr = true;
        }
        Ok(match params.prdr {
            true => Finals::Prdr(PrdrStep::Start),
            false => Finals::Shared,
        })
    }
}

/// An address converted for a server without SMTPUTF8, or the refusal:
/// its local part is not ASCII (or its domain has no A-label form).
fn ascii_path<P>(converted: Option<P>) -> Result<P, UsageError> {
    converted.ok_or(UsageError::ExtensionNotAdvertised("SMTPUTF8"))
}
