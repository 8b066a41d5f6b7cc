//! Sending mail: smtplib's `sendmail` and `send_message`, the streaming
//! form under both (the body read from any `AsyncRead` in fixed chunks,
//! constant memory whatever the size), and [`SmtpClient::send_many`],
//! which pipelines a batch of messages on one connection.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use smtp_proto::message::{analyze, body_options, build_envelope, header_end, kept, pick_envelope};
use smtp_proto::{BodyOptions, Envelope, Event, Reply, TxnId, TxnReport, UsageError};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use crate::client::guarded;
use crate::debug::Sent;
use crate::message::{self, invalid_envelope, invalid_message};
use crate::{Error, Refused, SmtpClient};

/// Bytes read from the body source per `send_body` call.
const CHUNK: usize = 64 * 1024;
/// Transactions `send_many` keeps queued in the engine: the one whose body
/// is being sent and the next, whose MAIL/RCPT/DATA then share a round
/// trip with the previous end of data.
const WINDOW: usize = 2;

impl SmtpClient {
    /// smtplib's `sendmail(from_addr, to_addrs, msg, mail_options,
    /// rcpt_options)`: one transaction, EHLO first if needed.
    ///
    /// Line endings are normalised to CRLF and leading dots doubled by the
    /// engine; `SIZE=` is declared when offered, `BODY=8BITMIME` when the
    /// message has 8-bit bytes, `SMTPUTF8` when an address needs it.
    /// Options are `KEYWORD[=VALUE]` strings: `BODY=`, `SMTPUTF8` and
    /// `REQUIRETLS` are understood (and checked against the server's
    /// extensions); `SIZE` is ignored (the real size is declared); others
    /// are sent as given.
    ///
    /// Returns the refused recipients (empty when all were accepted): in
    /// LMTP, also those whose own final reply was negative.
    ///
    /// # Errors
    /// [`Error::SenderRefused`], [`Error::RecipientsRefused`] (nobody got
    /// it), [`Error::DataError`], [`Error::OutcomeUnknown`] (the message
    /// may have been delivered), [`Error::InvalidArgument`] for a bad
    /// address or option, and fatal errors.
    pub async fn sendmail<S: AsRef<str>>(
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
        let report = guarded!(self, self.send_in(&envelope, msg, options).await)?;
        Ok(report.smtplib_outcome(from_addr, &to, self.is_lmtp())?)
    }

    /// smtplib's `send_message(msg, from_addr, to_addrs)` for a raw RFC
    /// 5322 message: a missing sender or recipient list is taken from the
    /// headers (`Resent-*` when there is one such block, `Sender`/`From`,
    /// `To`+`Cc`+`Bcc`), and `Bcc`/`Resent-Bcc` are never transmitted.
    ///
    /// # Errors
    /// As [`sendmail`](Self::sendmail), plus [`Error::InvalidMessage`] when
    /// the headers cannot give the envelope.
    pub async fn send_message(
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
        let body = Parts::new(parts);
        let report = guarded!(self, self.send_in(&envelope, body, options).await)?;
        Ok(report.smtplib_outcome(&from, &to, self.is_lmtp())?)
    }

    /// [`send_message`](Self::send_message) for a message read from
    /// `reader`: only the header block (at most 1 MiB) is held in memory,
    /// the body is streamed. Returns the envelope used and the full report
    /// (see [`send`](Self::send)).
    ///
    /// # Errors
    /// As [`send`](Self::send), plus [`Error::InvalidMessage`].
    pub async fn send_message_reader<R: AsyncRead + Unpin + Send>(
        &mut self,
        mut reader: R,
        from_addr: Option<&str>,
        to_addrs: Option<&[&str]>,
    ) -> Result<(Envelope, TxnReport), Error> {
        let head = message::read_header_block(&mut reader).await?;
        let end = header_end(&head).unwrap_or(head.len());
        let headers = analyze(head.get(..end).unwrap_or_default()).map_err(invalid_message)?;
        let (from, to) = pick_envelope(&headers, from_addr, to_addrs).map_err(invalid_message)?;
        let to: Vec<&str> = to.iter().map(String::as_str).collect();
        let (envelope, _) = build_envelope(&from, &to, &[], &[]).map_err(invalid_envelope)?;
        let body = Parts::new(kept(&head, &headers.drop)).chain(reader);
        let report = guarded!(
            self,
            self.send_in(&envelope, body, BodyOptions::default()).await
        )?;
        Ok((envelope, report))
    }

    /// Sends one message whose body is read from `body` in 64 KiB chunks
    /// (each written before the next is read: constant memory), with the
    /// engine's full report: every recipient's RCPT reply and final reply
    /// (LMTP: its own). Negative outcomes (sender or all recipients
    /// refused, data refused) are in the report, not errors.
    ///
    /// With `BodyOptions::default()` the size is unknown and
    /// `BODY=8BITMIME` is declared when the server offers it (an 8-bit
    /// byte without it is a fatal error, since a started body cannot be
    /// withdrawn).
    ///
    /// # Errors
    /// [`Error::OutcomeUnknown`] when the connection fails after the end of
    /// data; [`Error::Io`] when `body` fails to read (the connection is
    /// then dropped without ending the data, so nothing is delivered);
    /// usage and fatal errors.
    pub async fn send<R: AsyncRead + Unpin>(
        &mut self,
        envelope: &Envelope,
        body: R,
        options: BodyOptions,
    ) -> Result<TxnReport, Error> {
        guarded!(self, self.send_in(envelope, body, options).await)
    }

    /// Sends a batch of in-memory messages on this connection, pipelined
    /// across messages when the server offers PIPELINING: the end of one
    /// message and the next MAIL, RCPT and DATA share one round trip.
    ///
    /// Returns one result per message, in order. `Ok` holds the engine's
    /// report, whatever its outcome; after a connection failure the
    /// messages in progress are reported with outcome `Aborted` (nothing
    /// delivered, safe to resend) or `Unknown` (the final "." was sent: it
    /// may have been delivered). `Err` means the message was never started:
    /// its own usage error (too large, extension missing), or the failure
    /// that stopped the connection (the first such message gets the error
    /// itself, later ones [`Error::Poisoned`]).
    pub async fn send_many<B: AsRef<[u8]>>(
        &mut self,
        messages: &[(Envelope, B)],
    ) -> Vec<Result<TxnReport, Error>> {
        let mut results: Vec<Option<Result<TxnReport, Error>>> =
            messages.iter().map(|_| None).collect();
        let failure = match self.driver.enter() {
            Ok(()) => {
                let r = self.send_many_in(messages, &mut results).await;
                self.driver.leave();
                r.err()
            }
            Err(e) => Some(e),
        };
        if let Some(e) = failure {
            let cause = e.to_string();
            let mut first = Some(e);
            for slot in results.iter_mut().filter(|r| r.is_none()) {
                let e = first.take().unwrap_or_else(|| Error::Poisoned {
                    cause: cause.clone(),
                });
                *slot = Some(Err(e));
            }
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(Error::Poisoned {
                        cause: "no report".to_owned(),
                    })
                })
            })
            .collect()
    }

    async fn send_many_in<B: AsRef<[u8]>>(
        &mut self,
        messages: &[(Envelope, B)],
        results: &mut [Option<Result<TxnReport, Error>>],
    ) -> Result<(), Error> {
        self.hello_if_needed().await?;
        let mut queued: Vec<(TxnId, usize)> = Vec::new();
        let mut next = 0usize;
        let mut body: Option<(TxnId, &[u8])> = None;
        let mut chunk = vec![0u8; CHUNK];
        let outcome = loop {
            while queued.len() < WINDOW
                && let Some((envelope, bytes)) = messages.get(next)
            {
                let options = BodyOptions::for_body(bytes.as_ref());
                match self.driver.client.send_mail(envelope, options) {
                    Ok(txn) => {
                        self.envelope = None;
                        self.transactions = self.transactions.saturating_add(1);
                        queued.push((txn, next));
                    }
                    Err(e) => set(results, next, Err(e.into())),
                }
                next = next.saturating_add(1);
            }
            if queued.is_empty() {
                break Ok(());
            }
            if let Some((_, source)) = body.as_mut()
                && self.driver.client.can_send_body()
                && !self.driver.write_pending()
            {
                match self.push_chunk(source, &mut chunk).await {
                    Ok(true) => {}
                    Ok(false) => body = None,
                    Err(e) => break Err(e),
                }
                continue;
            }
            match self.driver.ready_event().await {
                Ok(Some(Event::ReadyForBody { txn })) => {
                    if let Some(&(_, i)) = queued.iter().find(|(t, _)| *t == txn)
                        && let Some((_, bytes)) = messages.get(i)
                    {
                        body = Some((txn, bytes.as_ref()));
                    }
                }
                Ok(Some(Event::TransactionFinished { txn, report })) => {
                    finish(&mut queued, results, txn, *report);
                    if body.is_some_and(|(t, _)| t == txn) {
                        body = None;
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => {
                    if let Err(e) = self.driver.turn().await {
                        break Err(e);
                    }
                }
                Err(e) => break Err(e),
            }
        };
        self.driver.sending = Sent::Commands;
        if outcome.is_err() {
            // The reports the engine queued when the session failed.
            while let Some(event) = self.driver.leftover_event() {
                if let Event::TransactionFinished { txn, report } = event {
                    finish(&mut queued, results, txn, *report);
                }
            }
        }
        outcome
    }

    pub(crate) async fn send_in<R: AsyncRead + Unpin>(
        &mut self,
        envelope: &Envelope,
        body: R,
        options: BodyOptions,
    ) -> Result<TxnReport, Error> {
        self.hello_if_needed().await?;
        let txn = self.driver.client.send_mail(envelope, options)?;
        // The engine closed any envelope `mail` left open.
        self.envelope = None;
        self.run_txn(txn, body).await
    }

    /// Drives a queued transaction to its end, streaming `body` when the
    /// engine asks for it.
    pub(crate) async fn run_txn<R: AsyncRead + Unpin>(
        &mut self,
        txn: TxnId,
        mut body: R,
    ) -> Result<TxnReport, Error> {
        self.transactions = self.transactions.saturating_add(1);
        let mut chunk = vec![0u8; CHUNK];
        let mut streaming = false;
        loop {
            if streaming && self.driver.client.can_send_body() && !self.driver.write_pending() {
                streaming = self.push_chunk(&mut body, &mut chunk).await?;
                continue;
            }
            match self.driver.ready_event().await? {
                Some(Event::ReadyForBody { txn: t }) if t == txn => streaming = true,
                Some(Event::TransactionFinished { txn: t, report }) if t == txn => {
                    self.driver.sending = Sent::Commands;
                    return Ok(*report);
                }
                Some(_) => {}
                None => self.driver.turn().await?,
            }
        }
    }

    /// Reads one chunk of the body source, hands it to the engine (or ends
    /// the body at end of file) and writes it. Returns whether the body
    /// continues.
    async fn push_chunk<R: AsyncRead + Unpin>(
        &mut self,
        source: &mut R,
        chunk: &mut [u8],
    ) -> Result<bool, Error> {
        let n = match read_full(source, chunk).await {
            Ok(n) => n,
            // The body cannot be withdrawn: drop the connection so that the
            // server discards the partial message.
            Err(e) => return Err(self.driver.fail(Error::Io(e))),
        };
        self.driver.sending = Sent::Body;
        let mut more = n > 0;
        // `read_full` comes up short only at end of file: end the body in
        // the same drain, so the last chunk, "." and any pipelined next
        // commands leave in one write.
        let last = n < chunk.len();
        let queued = if more {
            let r = self
                .driver
                .client
                .send_body(chunk.get(..n).unwrap_or_default());
            if r.is_ok() && last {
                more = false;
                self.driver.client.finish_body()
            } else {
                r
            }
        } else {
            self.driver.client.finish_body()
        };
        match queued {
            Ok(()) => {}
            // The transaction ended meanwhile (a refused chunk): its report
            // follows.
            Err(UsageError::NoBodyExpected) => more = false,
            Err(e) => {
                let err = match self.driver.client.error() {
                    Some(engine) => Error::from_engine(engine.clone()),
                    None => Error::Usage(e),
                };
                return Err(self.driver.fail(err));
            }
        }
        self.driver.flush().await?;
        if !more {
            self.driver.sending = Sent::Commands;
        }
        Ok(more)
    }
}

fn set(results: &mut [Option<Result<TxnReport, Error>>], i: usize, r: Result<TxnReport, Error>) {
    if let Some(slot) = results.get_mut(i) {
        *slot = Some(r);
    }
}

fn finish(
    queued: &mut Vec<(TxnId, usize)>,
    results: &mut [Option<Result<TxnReport, Error>>],
    txn: TxnId,
    report: TxnReport,
) {
    if let Some(pos) = queued.iter().position(|(t, _)| *t == txn) {
        let (_, i) = queued.remove(pos);
        set(results, i, Ok(report));
    }
}

/// The reply that refused a recipient: its negative RCPT reply, or its
/// negative final reply (LMTP). The same as
/// [`RecipientReport::refusal`](smtp_proto::RecipientReport::refusal).
pub fn refusal(r: &smtp_proto::RecipientReport) -> Option<&Reply> {
    r.refusal()
}

/// Reads until `buf` is full or the source ends.
async fn read_full<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0usize;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        match r.read(rest).await {
            Ok(0) => break,
            Ok(n) => filled = filled.saturating_add(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Slices read one after the other, as one `AsyncRead`.
struct Parts<'a> {
    parts: std::collections::VecDeque<&'a [u8]>,
}

impl<'a> Parts<'a> {
    fn new(parts: Vec<&'a [u8]>) -> Self {
        Parts {
            parts: parts.into(),
        }
    }
}

impl AsyncRead for Parts<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while let Some(part) = this.parts.front_mut() {
            if part.is_empty() {
                this.parts.pop_front();
                continue;
            }
            let n = part.len().min(buf.remaining());
            let (head, tail) = part.split_at(n);
            buf.put_slice(head);
            *part = tail;
            break;
        }
        Poll::Ready(Ok(()))
    }
}
