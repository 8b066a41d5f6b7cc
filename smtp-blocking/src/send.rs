//! Sending mail: smtplib's `sendmail` and `send_message`, and the streaming
//! form under both, which reads the body from any `std::io::Read` in fixed
//! chunks (constant memory whatever the size); and smtplib's step-by-step
//! `mail`, `rcpt` and `data` over the engine's incremental envelope.

use std::io::{self, Read};

use smtp_proto::command::{MailParams, RcptParams};
use smtp_proto::message::{analyze, body_options, build_envelope, header_end, kept, pick_envelope};
use smtp_proto::{
    BodyOptions, Envelope, Event, ForwardPath, Reply, ReversePath, TxnId, TxnReport, UsageError,
};

use crate::debug::Sent;
use crate::message::{self, invalid_envelope, invalid_message};
use crate::{Error, Refused, SmtpClient};

/// Bytes read from the body source per `send_body` call.
const CHUNK: usize = 64 * 1024;

impl SmtpClient {
    /// smtplib's `sendmail(from_addr, to_addrs, msg, mail_options,
    /// rcpt_options)`: one transaction, EHLO first if needed.
    ///
    /// Line endings are normalised to CRLF and leading dots doubled by the
    /// engine; `SIZE=` is declared when offered, `BODY=8BITMIME` when the
    /// message has 8-bit bytes, `SMTPUTF8` when an address needs it. Options
    /// are `KEYWORD[=VALUE]` strings: `BODY=`, `SMTPUTF8` and `REQUIRETLS`
    /// are understood (and checked against the server's extensions); `SIZE`
    /// is ignored (the real size is declared); others are sent as given.
    ///
    /// Returns the refused recipients (empty when all were accepted): in
    /// LMTP, also those whose own final reply was negative.
    ///
    /// # Errors
    /// [`Error::SenderRefused`], [`Error::RecipientsRefused`] (nobody got
    /// it), [`Error::DataError`], [`Error::OutcomeUnknown`] (the message may
    /// have been delivered), [`Error::InvalidArgument`] for a bad address or
    /// option, and fatal errors.
    pub fn sendmail<S: AsRef<str>>(
        &mut self,
        from_addr: &str,
        to_addrs: &[S],
        msg: &[u8],
        mail_options: &[&str],
        rcpt_options: &[&str],
    ) -> Result<Refused, Error> {
        let to: Vec<&str> = to_addrs.iter().map(AsRef::as_ref).collect();
        let (envelope, content) =
            build_envelope(from_addr, &to, mail_options, rcpt_options).map_err(invalid_envelope)?;
        let mut options = BodyOptions::for_body(msg);
        if let Some(content) = content {
            options = options.with_content(content);
        }
        let report = self.send(&envelope, msg, options)?;
        Ok(report.smtplib_outcome(from_addr, &to, self.is_lmtp())?)
    }

    /// smtplib's `send_message(msg, from_addr, to_addrs)` for a raw RFC
    /// 5322 message: a missing sender or recipient list is taken from the
    /// headers, and `Bcc`/`Resent-Bcc` are never transmitted. The rules:
    /// exactly one `Resent-Date` selects the `Resent-` headers (more than
    /// one is [`Error::InvalidMessage`]); the sender is the first address
    /// of `Sender`, else `From`; the recipients are every address of `To`,
    /// `Cc` and `Bcc` (groups expanded, duplicates dropped). `SMTPUTF8` is
    /// requested when an address needs it. Headers are parsed with
    /// `mailparse`.
    ///
    /// # Errors
    /// As [`sendmail`](Self::sendmail), plus [`Error::InvalidMessage`] when
    /// the headers cannot give the envelope.
    pub fn send_message(
        &mut self,
        msg: &[u8],
        from_addr: Option<&str>,
        to_addrs: Option<&[&str]>,
    ) -> Result<Refused, Error> {
        let headers = analyze(msg).map_err(invalid_message)?;
        let (from, to) = pick_envelope(&headers, from_addr, to_addrs).map_err(invalid_message)?;
        let to: Vec<&str> = to.iter().map(String::as_str).collect();
        let (envelope, _) = build_envelope(&from, &to, &[], &[]).map_err(invalid_envelope)?;
        let parts = kept(msg, &headers.drop);
        let options = body_options(&parts);
        let reader = Parts { parts, at: 0 };
        let report = self.send(&envelope, reader, options)?;
        Ok(report.smtplib_outcome(&from, &to, self.is_lmtp())?)
    }

    /// [`send_message`](Self::send_message) for a message read from
    /// `reader`: only the header block (at most 1 MiB) is held in memory,
    /// the body is streamed. Returns the full report (see
    /// [`send`](Self::send)) and the envelope used.
    ///
    /// # Errors
    /// As [`send`](Self::send), plus [`Error::InvalidMessage`].
    pub fn send_message_reader<R: Read>(
        &mut self,
        mut reader: R,
        from_addr: Option<&str>,
        to_addrs: Option<&[&str]>,
    ) -> Result<(Envelope, TxnReport), Error> {
        let head = message::read_header_block(&mut reader)?;
        let end = header_end(&head).unwrap_or(head.len());
        let headers = analyze(head.get(..end).unwrap_or_default()).map_err(invalid_message)?;
        let (from, to) = pick_envelope(&headers, from_addr, to_addrs).map_err(invalid_message)?;
        let to: Vec<&str> = to.iter().map(String::as_str).collect();
        let (envelope, _) = build_envelope(&from, &to, &[], &[]).map_err(invalid_envelope)?;
        let parts = kept(&head, &headers.drop);
        let source = Parts { parts, at: 0 }.chain(reader);
        let report = self.send(&envelope, source, BodyOptions::default())?;
        Ok((envelope, report))
    }

    /// Sends one message whose body is read from `body` in 64 KiB chunks,
    /// with the engine's full report: every recipient's RCPT reply and
    /// final reply (LMTP: its own). Negative outcomes (sender or all
    /// recipients refused, data refused) are in the report, not errors.
    ///
    /// With `BodyOptions::default()` the size is unknown and `BODY=8BITMIME`
    /// is declared when the server offers it (an 8-bit byte without it is a
    /// fatal error, since a started body cannot be withdrawn).
    ///
    /// # Errors
    /// [`Error::OutcomeUnknown`] when the connection fails after the end of
    /// data; [`Error::Io`] when `body` fails to read (the connection is then
    /// closed without ending the data, so nothing is delivered); usage and
    /// fatal errors.
    pub fn send<R: Read>(
        &mut self,
        envelope: &Envelope,
        body: R,
        options: BodyOptions,
    ) -> Result<TxnReport, Error> {
        self.ehlo_or_helo_if_needed()?;
        let txn = self.driver.client.send_mail(envelope, options)?;
        // The engine closed any envelope `mail` left open.
        self.envelope = None;
        self.run_txn(txn, body)
    }

    /// smtplib's `mail(sender, options)`: MAIL FROM alone, and its reply
    /// whatever its code (a refusal is an answer, as in smtplib; the
    /// envelope stays open for [`rcpt`](Self::rcpt) and
    /// [`data`](Self::data), which are sent anyway and get the server's
    /// verdict). EHLO first if needed. Options are `KEYWORD[=VALUE]`
    /// strings sent as given, parsed like [`sendmail`](Self::sendmail)'s
    /// (`SIZE=n` is sent here, and checked against the server's limit;
    /// `BODY=8BITMIME` allows 8-bit bytes in [`data`](Self::data)).
    /// `SMTPUTF8` is added when the sender needs it. A previous envelope
    /// still open is abandoned, as smtplib would: the server answers this
    /// MAIL with 503 until [`rset`](Self::rset).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a bad address or option;
    /// [`Error::Usage`] for an extension the server does not offer
    /// (SMTPUTF8, 8BITMIME, SIZE, DSN, REQUIRETLS), a `SIZE=` over its
    /// limit or `BODY=BINARYMIME` (use [`send`](Self::send)); fatal errors.
    pub fn mail(&mut self, sender: &str, options: &[&str]) -> Result<Reply, Error> {
        self.ehlo_or_helo_if_needed()?;
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
            if let Event::MailReply { txn: t, reply } = self.driver.step()?
                && t == txn
            {
                return Ok(reply);
            }
        }
    }

    /// smtplib's `rcpt(recip, options)`: one RCPT TO in the envelope opened
    /// by [`mail`](Self::mail), and its reply whatever its code. Options
    /// are `KEYWORD[=VALUE]` strings sent as given (`NOTIFY=SUCCESS`, …).
    ///
    /// # Errors
    /// [`Error::Usage`] (`NoOpenEnvelope`) without an open envelope (smtplib
    /// would send it and get 503), (`SmtpUtf8NotDeclared`) for an
    /// internationalized address when [`mail`](Self::mail) did not declare
    /// `SMTPUTF8`; [`Error::InvalidArgument`]; fatal errors.
    pub fn rcpt(&mut self, recip: &str, options: &[&str]) -> Result<Reply, Error> {
        self.driver.check_usable()?;
        let Some(txn) = self.envelope.as_ref().map(|e| e.txn) else {
            return Err(UsageError::NoOpenEnvelope.into());
        };
        let to = ForwardPath::parse(recip)
            .map_err(|e| Error::InvalidArgument(format!("recipient {recip:?}: {e}")))?;
        let rcpt = self
            .driver
            .client
            .rcpt(txn, to, RcptParams::from_options(options)?)?;
        if let Some(env) = self.envelope.as_mut() {
            env.recipients.push(recip.to_owned());
        }
        loop {
            if let Event::RcptReply {
                txn: t,
                rcpt: r,
                reply,
            } = self.driver.step()?
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
    /// `SMTPDataError`); if the server says 354 although MAIL or every
    /// RCPT was refused, only a lone "." is sent and the error is
    /// [`Error::SenderRefused`] or [`Error::RecipientsRefused`];
    /// [`Error::Usage`] (`NoOpenEnvelope`) without an envelope from
    /// [`mail`](Self::mail); [`Error::OutcomeUnknown`] when the connection
    /// fails after the end of data; fatal errors. An 8-bit byte without
    /// `BODY=8BITMIME` is a fatal error.
    pub fn data(&mut self, msg: &[u8]) -> Result<Reply, Error> {
        self.driver.check_usable()?;
        let Some(env) = self.envelope.take() else {
            return Err(UsageError::NoOpenEnvelope.into());
        };
        self.driver.client.data(env.txn)?;
        let report = self.run_txn(env.txn, msg)?;
        let to: Vec<&str> = env.recipients.iter().map(String::as_str).collect();
        Ok(report.smtplib_data_reply(&env.sender, &to, self.is_lmtp())?)
    }

    /// Drives a queued transaction to its end, streaming `body` when the
    /// engine asks for it.
    fn run_txn<R: Read>(&mut self, txn: TxnId, mut body: R) -> Result<TxnReport, Error> {
        let mut chunk = vec![0u8; CHUNK];
        let mut streaming = false;
        loop {
            if streaming && self.driver.client.can_send_body() {
                let n = match read_full(&mut body, &mut chunk) {
                    Ok(n) => n,
                    // The body cannot be withdrawn: abandon the connection
                    // so that the server discards the partial message.
                    Err(e) => return self.driver.fail(Error::Io(e)),
                };
                self.driver.sending = Sent::Body;
                let queued = if n == 0 {
                    streaming = false;
                    self.driver.client.finish_body()
                } else {
                    let r = self
                        .driver
                        .client
                        .send_body(chunk.get(..n).unwrap_or_default());
                    // `read_full` comes up short only at end of file: end the body
                    // now, so the last chunk and "." leave in one write.
                    if r.is_ok() && n < chunk.len() {
                        streaming = false;
                        self.driver.client.finish_body()
                    } else {
                        r
                    }
                };
                match queued {
                    Ok(()) => {}
                    // The transaction ended meanwhile (a refused chunk):
                    // its report follows.
                    Err(smtp_proto::UsageError::NoBodyExpected) => streaming = false,
                    Err(e) => {
                        let err = match self.driver.client.error() {
                            Some(engine) => Error::from_engine(engine.clone()),
                            None => Error::Usage(e),
                        };
                        return self.driver.fail(err);
                    }
                }
                self.driver.flush()?;
                if !streaming {
                    self.driver.sending = Sent::Commands;
                }
                continue;
            }
            match self.driver.step()? {
                Event::ReadyForBody { txn: t } if t == txn => streaming = true,
                Event::TransactionFinished { txn: t, report } if t == txn => {
                    self.driver.sending = Sent::Commands;
                    return Ok(*report);
                }
                _ => {}
            }
        }
    }
}

/// The envelope opened by [`SmtpClient::mail`]: the engine's transaction
/// and the caller's spelling of each address, for errors.
#[derive(Debug)]
pub(crate) struct OpenEnvelope {
    txn: TxnId,
    sender: String,
    recipients: Vec<String>,
}

/// The reply that refused a recipient: its negative RCPT reply, or its
/// negative final reply. The same as
/// [`RecipientReport::refusal`](smtp_proto::RecipientReport::refusal).
pub fn refusal(r: &smtp_proto::RecipientReport) -> Option<&Reply> {
    r.refusal()
}

/// Reads until `buf` is full or the source ends.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        match r.read(rest) {
            Ok(0) => break,
            Ok(n) => filled = filled.saturating_add(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Slices read one after the other.
struct Parts<'a> {
    parts: Vec<&'a [u8]>,
    at: usize,
}

impl Read for Parts<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while let Some(part) = self.parts.get_mut(self.at) {
            if part.is_empty() {
                self.at = self.at.saturating_add(1);
                continue;
            }
            let n = part.read(buf)?;
            return Ok(n);
        }
        Ok(0)
    }
}
