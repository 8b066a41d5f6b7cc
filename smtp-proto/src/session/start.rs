//! Starting operations: one method per smtplib-level call. Each validates
//! its arguments, starts the operation, and returns at once; the driver
//! then runs the loop of the module docs until [`Action::Done`] and takes
//! the result with [`Session::take_output`] as the type named in each
//! method's docs. An argument that is invalid finishes the operation at
//! once with the error (nothing is sent).
//!
//! [`Action::Done`]: super::Action::Done

use std::time::Instant;

use crate::address::{ForwardPath, ReversePath};
use crate::auth::Authenticator;
use crate::command::{MailParams, Mechanism, RcptParams};
use crate::message::{analyze, body_options, build_envelope, header_end, kept, pick_envelope};
use crate::secret::Secret;
use crate::txn::{BodyOptions, Envelope};

use super::task::{Simple, Task, TxnMode};
use super::{BatchQueue, Error, QUIT_BUDGET, Session, Waiting};

impl Session {
    /// Finishes the next operation at once with `e` (a bad argument).
    fn refuse(&mut self, e: Error) {
        self.take_over();
        self.done = Some(Err(e));
    }

    /// EHLO (LHLO for LMTP); the extensions are learned again. Output:
    /// [`Reply`](crate::Reply); [`Error::HeloError`] when refused.
    pub fn ehlo(&mut self, now: Instant) {
        self.start(
            Task::Hello {
                esmtp: true,
                id: None,
            },
            now,
        );
    }

    /// HELO (SMTP only): no extensions will be used. Output:
    /// [`Reply`](crate::Reply).
    pub fn helo(&mut self, now: Instant) {
        self.start(
            Task::Hello {
                esmtp: false,
                id: None,
            },
            now,
        );
    }

    /// EHLO unless one succeeded in this session (and TLS phase). Output:
    /// `()`.
    pub fn ehlo_or_helo_if_needed(&mut self, now: Instant) {
        self.start(Task::HelloIfNeeded, now);
    }

    /// STARTTLS, the handshake ([`Action::StartTls`](super::Action)), and
    /// a fresh EHLO; everything learned before is forgotten (RFC 3207
    /// §4.2). When STARTTLS is missing or refused: under
    /// [`TlsPolicy::Opportunistic`](super::TlsPolicy) the session stays
    /// usable and the result is [`Error::TlsRequired`]; otherwise QUIT is
    /// sent and the connection closed first. Output:
    /// [`Reply`](crate::Reply), the 220 (read it as `Option<Reply>`: never
    /// `None` here).
    pub fn starttls(&mut self, now: Instant) {
        self.start(super::task::Task::starttls(true), now);
    }

    /// smtplib's `login`, with the strongest advertised mechanism first:
    /// SCRAM-SHA-256-PLUS (when the driver gave channel binding data),
    /// SCRAM-SHA-256, PLAIN, LOGIN, and CRAM-MD5 last (smtplib tries
    /// CRAM-MD5 first; over TLS it is the weakest). Nothing runs without
    /// TLS unless `allow_plaintext_auth`. A mechanism refused as unavailable
    /// (504, 534, 538) moves on to the next; stops at the first success, a
    /// refused password, a server SCRAM could not verify
    /// ([`Error::MutualAuthFailed`]), or a fatal error (421 included).
    /// Output: [`Reply`](crate::Reply).
    pub fn login(&mut self, now: Instant, user: &str, password: &str) {
        self.start(
            Task::Login {
                user: user.to_owned(),
                password: Secret::new(password.to_owned()),
                queue: Default::default(),
                current: None,
            },
            now,
        );
    }

    /// One AUTH exchange answered by the caller's authenticator: it is
    /// [prepared](Authenticator::prepare) with [`auth_context`](Self::auth_context),
    /// its initial response goes with the command, each challenge comes
    /// back as [`Action::AuthAnswer`](super::Action), and the end as
    /// [`Action::AuthFinish`](super::Action). Output:
    /// [`Reply`](crate::Reply); [`Error::AuthenticationError`] when refused,
    /// [`Error::MutualAuthFailed`] when the authenticator does not accept
    /// the server's side.
    pub fn authenticate(&mut self, now: Instant, auth: &mut dyn Authenticator) {
        auth.prepare(&self.auth_context());
        let mechanism = auth.mechanism();
        let initial = auth.initial_response();
        self.auth(now, mechanism, initial);
    }

    /// AUTH with `mechanism` and an initial response; challenges come back
    /// as [`Action::AuthAnswer`](super::Action), the end as
    /// [`Action::AuthFinish`](super::Action). A `-PLUS` mechanism fails
    /// with [`Error::NotSupported`] (nothing sent) without channel binding
    /// data. Output: as
    /// [`authenticate`](Self::authenticate).
    pub fn auth(&mut self, now: Instant, mechanism: Mechanism, initial: Option<Secret<Vec<u8>>>) {
        self.start(Task::auth(mechanism, initial), now);
    }

    /// NOOP. Output: [`Reply`](crate::Reply).
    pub fn noop(&mut self, now: Instant) {
        self.simple(Simple::Noop, now);
    }

    /// RSET; also closes an envelope opened by [`mail`](Self::mail).
    /// Output: [`Reply`](crate::Reply).
    pub fn rset(&mut self, now: Instant) {
        self.envelope = None;
        self.simple(Simple::Rset, now);
    }

    /// VRFY (smtplib's `verify`): the reply whatever its code. Output:
    /// [`Reply`](crate::Reply).
    pub fn verify(&mut self, now: Instant, address: &str) {
        self.simple(Simple::Vrfy(address.to_owned()), now);
    }

    /// EXPN: the reply whatever its code. Output: [`Reply`](crate::Reply).
    pub fn expn(&mut self, now: Instant, address: &str) {
        self.simple(Simple::Expn(address.to_owned()), now);
    }

    /// HELP with an optional topic. Output: [`Reply`](crate::Reply).
    pub fn help(&mut self, now: Instant, topic: Option<&str>) {
        self.simple(Simple::Help(topic.map(str::to_owned)), now);
    }

    /// smtplib's `docmd(cmd, args)`: one line, `cmd` and `args` joined by a
    /// space; no CR, LF or other controls. Output: [`Reply`](crate::Reply).
    pub fn docmd(&mut self, now: Instant, cmd: &str, args: &str) {
        let line = if args.is_empty() {
            cmd.to_owned()
        } else {
            format!("{cmd} {args}")
        };
        self.simple(Simple::Raw(line), now);
    }

    fn simple(&mut self, command: Simple, now: Instant) {
        self.start(Task::Simple { command, id: None }, now);
    }

    /// QUIT; the session is closed afterwards whatever happens. Output:
    /// [`Reply`](crate::Reply); [`Error::ServerDisconnected`] when the
    /// server closed without answering.
    pub fn quit(&mut self, now: Instant) {
        self.start(
            Task::Quit {
                id: None,
                answer: None,
            },
            now,
        );
    }

    /// QUIT within [`QUIT_BUDGET`], for a client being dropped; `false`
    /// (and nothing started) unless the session is healthy and idle (or
    /// holds only an envelope from [`mail`](Self::mail), whose replies are
    /// all in). Output: [`Reply`](crate::Reply).
    pub fn quit_on_drop(&mut self, now: Instant) -> bool {
        if !self.wants_quit_on_drop() {
            return false;
        }
        self.quit(now);
        self.cap = now.checked_add(QUIT_BUDGET);
        true
    }

    /// The QUIT line to write without waiting for its reply, for a driver
    /// that cannot wait as it is dropped (an async client); `None` unless
    /// the session is healthy and idle. The session is closed either way.
    pub fn quit_now(&mut self, now: Instant) -> Option<Vec<u8>> {
        let wanted = self.wants_quit_on_drop();
        let mut line = Vec::new();
        if wanted && self.client.quit().is_ok() {
            let _ = self.poll_transmit(now, &mut line);
        }
        self.close();
        (!line.is_empty()).then_some(line)
    }

    fn wants_quit_on_drop(&self) -> bool {
        self.is_connected() && (self.client.is_idle() || self.envelope.is_some())
    }

    /// Sends one message whose body the driver streams
    /// ([`Action::Body`](super::Action)). `Ok` means **every** recipient
    /// got it; anything less is [`Error::NotDelivered`], which carries the
    /// full report. Output: [`TxnReport`](crate::TxnReport).
    pub fn send(&mut self, now: Instant, envelope: &Envelope, options: BodyOptions) {
        self.start_txn_ref(TxnMode::AllOrError, envelope, options, now);
    }

    /// [`send`](Self::send) with the report whatever it says: every
    /// recipient's RCPT reply and final reply (LMTP: its own); negative
    /// outcomes are in the report, not errors. For callers that handle
    /// partial delivery themselves (queue runners). Output:
    /// [`TxnReport`](crate::TxnReport).
    pub fn send_report(&mut self, now: Instant, envelope: &Envelope, options: BodyOptions) {
        self.start_txn_ref(TxnMode::Report, envelope, options, now);
    }

    /// smtplib's `sendmail(from_addr, to_addrs, msg, mail_options,
    /// rcpt_options)`; the driver streams `msg` as the body. `SIZE=` is
    /// declared when offered, `BODY=8BITMIME` when the message has 8-bit
    /// bytes, `SMTPUTF8` when an address needs it. Output:
    /// [`Refused`](crate::smtplib::Refused), the recipients refused while
    /// others got it; the smtplib exceptions otherwise.
    pub fn sendmail(
        &mut self,
        now: Instant,
        from_addr: &str,
        to_addrs: &(impl crate::smtplib::ToAddrs + ?Sized),
        msg: &[u8],
        mail_options: &[&str],
        rcpt_options: &[&str],
    ) {
        let to = to_addrs.to_addrs();
        let (envelope, content) = match build_envelope(from_addr, &to, mail_options, rcpt_options) {
            Ok(built) => built,
            Err(e) => return self.refuse(e.into()),
        };
        let mut options = BodyOptions::for_body(msg);
        if let Some(content) = content {
            options = options.with_content(content);
        }
        let mode = TxnMode::Smtplib {
            sender: from_addr.to_owned(),
            to: to.iter().map(|s| (*s).to_owned()).collect(),
        };
        self.start_txn(mode, envelope, options, now);
    }

    /// smtplib's `send_message(msg, from_addr, to_addrs)` for a raw RFC
    /// 5322 message: a missing sender or recipient list is taken from the
    /// headers (one `Resent-` block at most; `Sender`, else `From`; `To`,
    /// `Cc`, `Bcc`), and `Bcc`/`Resent-Bcc` are never transmitted. Returns
    /// the pieces of `msg` the driver must stream as the body, in order.
    /// Output: as [`sendmail`](Self::sendmail).
    pub fn send_message<'m>(
        &mut self,
        now: Instant,
        msg: &'m [u8],
        from_addr: Option<&str>,
        to_addrs: Option<&[&str]>,
    ) -> Vec<&'m [u8]> {
        let (envelope, from, to, parts) = match message_envelope(msg, msg, from_addr, to_addrs) {
            Ok(prepared) => prepared,
            Err(e) => {
                self.refuse(e);
                return Vec::new();
            }
        };
        let options = body_options(&parts);
        self.start_txn(
            TxnMode::Smtplib { sender: from, to },
            envelope,
            options,
            now,
        );
        parts
    }

    /// [`send_message`](Self::send_message) with the full report and the
    /// envelope taken from the headers, for a message held in memory
    /// (`SIZE=` declared). Returns the pieces of `msg` to stream. Output:
    /// `(Envelope, TxnReport)`.
    pub fn send_message_report<'m>(
        &mut self,
        now: Instant,
        msg: &'m [u8],
        from_addr: Option<&str>,
        to_addrs: Option<&[&str]>,
    ) -> Vec<&'m [u8]> {
        // The whole message is at hand: it is its own measurement.
        let measured = Some(BodyOptions::for_body(msg));
        self.send_message_head(now, msg, from_addr, to_addrs, measured)
    }

    /// [`send_message`](Self::send_message) for a streamed message whose
    /// header block (and possibly the start of its body) is `head`: the
    /// driver streams the returned pieces of `head`, then the rest of its
    /// source. `measured` is the size and content of the whole message
    /// when the driver knows them (it spooled the message): `SIZE=` is
    /// then declared, less the header fields left out. Output:
    /// `(Envelope, TxnReport)`.
    pub fn send_message_head<'m>(
        &mut self,
        now: Instant,
        head: &'m [u8],
        from_addr: Option<&str>,
        to_addrs: Option<&[&str]>,
        measured: Option<BodyOptions>,
    ) -> Vec<&'m [u8]> {
        let end = header_end(head).unwrap_or(head.len());
        let headers = head.get(..end).unwrap_or_default();
        match message_envelope(head, headers, from_addr, to_addrs) {
            Ok((envelope, _, _, parts)) => {
                // The whole message was measured (the driver spooled it):
                // what is sent is that less the header fields left out.
                let options = match measured {
                    Some(whole) => {
                        let kept_head: u64 =
                            parts.iter().map(|p| crate::body::message_len(p)).sum();
                        let head_len = crate::body::message_len(head);
                        let dropped = head_len.saturating_sub(kept_head);
                        whole.with_size(whole.size.map(|n| n.saturating_sub(dropped)))
                    }
                    None => BodyOptions::default(),
                };
                let mode = TxnMode::WithEnvelope(Box::new(envelope.clone()));
                self.start_txn(mode, envelope, options, now);
                parts
            }
            Err(e) => {
                self.refuse(e);
                Vec::new()
            }
        }
    }

    /// A message held in memory (for instance composed with the `builder`
    /// feature: the adapters' `send_built`) under
    /// [`send_message`](Self::send_message)'s header rules, with
    /// [`send`](Self::send)'s outcome: the envelope comes from the headers,
    /// `Bcc` and `Resent-Bcc` are not transmitted, `SIZE=` is declared and
    /// `BODY=8BITMIME` when the message needs it. Returns the pieces of
    /// `msg` to stream. Output: [`TxnReport`](crate::TxnReport) when every
    /// recipient got the message, else [`Error::NotDelivered`] carrying it;
    /// [`Error::InvalidMessage`] when the headers give no envelope.
    pub fn send_built<'m>(&mut self, now: Instant, msg: &'m [u8]) -> Vec<&'m [u8]> {
        match message_envelope(msg, msg, None, None) {
            Ok((envelope, _, _, parts)) => {
                let options = body_options(&parts);
                self.start_txn(TxnMode::AllOrError, envelope, options, now);
                parts
            }
            Err(e) => {
                self.refuse(e);
                Vec::new()
            }
        }
    }

    /// smtplib's `mail(sender, options)`: MAIL FROM alone, and its reply
    /// whatever its code; the envelope stays open for [`rcpt`](Self::rcpt)
    /// and [`data`](Self::data). Options are `KEYWORD[=VALUE]` strings.
    /// Output: [`Reply`](crate::Reply).
    pub fn mail(&mut self, now: Instant, sender: &str, options: &[&str]) {
        let from = match ReversePath::parse_name_addr(sender) {
            Ok(from) => from,
            Err(e) => {
                return self.refuse(Error::InvalidArgument(format!("sender {sender:?}: {e}")));
            }
        };
        let params = match MailParams::from_options(options) {
            Ok(p) => p,
            Err(e) => return self.refuse(e.into()),
        };
        let args = Some((from, params, sender.to_owned()));
        self.start(Task::Mail { args, txn: None }, now);
    }

    /// smtplib's `rcpt(recip, options)`: one RCPT TO in the envelope opened
    /// by [`mail`](Self::mail), and its reply whatever its code. Output:
    /// [`Reply`](crate::Reply).
    pub fn rcpt(&mut self, now: Instant, recip: &str, options: &[&str]) {
        let to = match ForwardPath::parse_name_addr(recip) {
            Ok(to) => to,
            Err(e) => {
                return self.refuse(Error::InvalidArgument(format!("recipient {recip:?}: {e}")));
            }
        };
        let params = match RcptParams::from_options(options) {
            Ok(p) => p,
            Err(e) => return self.refuse(e.into()),
        };
        let args = Some((to, params, recip.to_owned()));
        self.start(Task::Rcpt { args, at: None }, now);
    }

    /// smtplib's `data(msg)`: DATA, then on 354 the body the driver streams
    /// (`msg`), and the final reply whatever its code (LMTP: the first
    /// accepted recipient's). Closes the envelope. Output:
    /// [`Reply`](crate::Reply); [`Error::DataError`] when DATA is not
    /// answered with 354.
    pub fn data(&mut self, now: Instant) {
        let Some(env) = self.envelope.take() else {
            return self.refuse(crate::UsageError::NoOpenEnvelope.into());
        };
        self.start(
            Task::Txn {
                mode: TxnMode::Data(env),
                message: None,
                txn: None,
                streaming: false,
            },
            now,
        );
    }

    /// A batch pipelined across messages on one connection, up to the
    /// [`Window`](super::Window) of [`Options::window`](super::Options):
    /// each message's body is asked for by its index
    /// ([`Action::Body`](super::Action)). Every message ends with exactly
    /// one result: its report (delivered, refused, `Aborted` when the
    /// connection failed before its end of data, `Unknown` when it failed
    /// after it), or an error when it could not be started. Output:
    /// `Vec<Result<TxnReport, Error>>`.
    pub fn send_many<B: AsRef<[u8]>>(&mut self, now: Instant, messages: &[(Envelope, B)]) {
        let mut recipients = Vec::with_capacity(
            messages
                .iter()
                .map(|(e, _)| e.recipients.len())
                .fold(0, usize::saturating_add),
        );
        let waiting = messages
            .iter()
            .enumerate()
            .map(|(index, (envelope, body))| {
                let first = recipients.len();
                recipients.extend(envelope.recipients.iter().cloned());
                Waiting {
                    index,
                    from: envelope.from.clone(),
                    params: envelope.params.clone(),
                    recipients: first..recipients.len(),
                    options: BodyOptions::for_body(body.as_ref()),
                }
            })
            .collect();
        let batch = BatchQueue {
            waiting,
            recipients,
            queued: std::collections::VecDeque::new(),
            queued_bytes: 0,
            results: messages.iter().map(|_| None).collect(),
        };
        let batch = Box::new(batch);
        self.start(Task::Batch { batch, body: None }, now);
    }

    /// [`start_txn`](Self::start_txn) for a borrowed envelope: on a
    /// usable connection that needs no EHLO first (every message after the
    /// first), the transaction is queued from the borrow at once, so the
    /// envelope is not copied for each message.
    fn start_txn_ref(
        &mut self,
        mode: TxnMode,
        envelope: &Envelope,
        options: BodyOptions,
        now: Instant,
    ) {
        let ready = self.task.is_none()
            && self.hello_first.is_none()
            && self.check_usable().is_ok()
            && !self.needs_hello();
        if !ready {
            return self.start_txn(mode, envelope.clone(), options, now);
        }
        self.take_over();
        self.arm_call(now);
        match self.client.send_mail(envelope, options) {
            Ok(txn) => {
                // The engine closed any envelope `mail` left open.
                self.envelope = None;
                self.transactions = self.transactions.saturating_add(1);
                let task = Task::Txn {
                    mode,
                    message: None,
                    txn: Some(txn),
                    streaming: false,
                };
                self.launch(task, now);
            }
            Err(e) => self.refuse(e.into()),
        }
    }

    fn start_txn(&mut self, mode: TxnMode, envelope: Envelope, options: BodyOptions, now: Instant) {
        self.start(
            Task::Txn {
                mode,
                message: Some(Box::new((envelope, options))),
                txn: None,
                streaming: false,
            },
            now,
        );
    }
}

/// The envelope of `msg` (its header block is `headers`): the sender and
/// recipients as text, and the pieces of `msg` to transmit.
#[allow(clippy::type_complexity)]
fn message_envelope<'m>(
    msg: &'m [u8],
    headers: &[u8],
    from_addr: Option<&str>,
    to_addrs: Option<&[&str]>,
) -> Result<(Envelope, String, Vec<String>, Vec<&'m [u8]>), Error> {
    let analyzed = analyze(headers)?;
    let (from, to) = pick_envelope(&analyzed, from_addr, to_addrs)?;
    let to_refs: Vec<&str> = to.iter().map(String::as_str).collect();
    let (envelope, _) = build_envelope(&from, &to_refs, &[], &[])?;
    let parts = kept(msg, &analyzed.drop);
    Ok((envelope, from, to, parts))
}
