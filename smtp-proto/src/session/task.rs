//! The operations as state machines: each [`Task`] queues its commands on
//! the engine when it begins, consumes the engine's events for them, says
//! what it needs from the driver ([`Action`]), and finishes with its
//! [`Output`] or [`Error`]. Every decision an smtplib-level call makes is
//! here: the login mechanism order and the plaintext rule, the TLS policy,
//! when the body is wanted, how a batch keeps its window full, and what a
//! failure means for each message.

use std::collections::VecDeque;
use std::time::Instant;

use crate::address::{ForwardPath, ReversePath};
use crate::auth::{CramMd5, Login as LoginAuth, MechanismError, Plain, ScramSha256};
use crate::command::{MailParams, Mechanism, RcptParams};
use crate::event::{CommandId, Event, RcptId, TxnId, TxnReport};
use crate::reply::Reply;
use crate::secret::Secret;
use crate::txn::{BodyOptions, Envelope};
use crate::{Client, UsageError};

use super::{
    Action, BatchQueue, Error, InFlight, Link, OpenEnvelope, Output, OwnedAuth, QUIT_BUDGET,
    Session, TlsPolicy, Waiting,
};

/// What handling an event did to a task.
pub(crate) enum Step {
    /// Still running.
    Continue,
    /// Finished with this result.
    Finish(Result<Output, Error>),
    /// Replaced by another task (which begins at once, EHLO first if it
    /// needs one).
    Then(Box<Task>),
}

/// A simple command: one line, one reply.
#[derive(Debug)]
pub(crate) enum Simple {
    Noop,
    Rset,
    Vrfy(String),
    Expn(String),
    Help(Option<String>),
    Raw(String),
}

/// What a mail transaction's report becomes.
#[derive(Debug)]
pub(crate) enum TxnMode {
    /// The report itself, whatever it says (`send_report`).
    Report,
    /// The report when every recipient got the message, else
    /// `Error::NotDelivered` carrying it (`send`).
    AllOrError,
    /// smtplib's refused map or exception (`sendmail`, `send_message`),
    /// with the caller's spelling of each address.
    Smtplib { sender: String, to: Vec<String> },
    /// smtplib's `data`: the final reply or the exception.
    Data(OpenEnvelope),
    /// The envelope with the report (`send_message_reader`); boxed so
    /// that the common modes keep the task small without a box of their
    /// own.
    WithEnvelope(Box<Envelope>),
}

/// Where a STARTTLS operation is.
#[derive(Debug)]
pub(crate) enum TlsStage {
    Waiting(CommandId),
    Handshake(Reply),
    Hello(Reply),
    /// STARTTLS unavailable under the required policy: QUIT, then this
    /// error.
    Quitting(Option<Reply>),
}

/// Where the connection's opening is.
#[derive(Debug)]
pub(crate) enum OpenStage {
    Greeting,
    Hello,
    /// A negative greeting: the engine queued QUIT; then this error.
    Refused(Reply),
}

/// One AUTH exchange.
#[derive(Debug)]
pub(crate) struct Auth {
    mechanism: Mechanism,
    id: Option<CommandId>,
    initial: Option<Secret<Vec<u8>>>,
    /// `None`: the caller's authenticator answers ([`Action::AuthAnswer`]).
    owned: Option<DebugAuth>,
    /// The server's final reply (and whether it was positive), waiting
    /// for the caller's authenticator's verdict ([`Action::AuthFinish`]).
    ended: Option<(Reply, bool)>,
}

/// An owned authenticator; its `Debug` shows only the mechanism.
pub(crate) struct DebugAuth(OwnedAuth);

impl std::fmt::Debug for DebugAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Authenticator({})", self.0.mechanism())
    }
}

/// An operation in progress.
#[derive(Debug)]
pub(crate) enum Task {
    Open(OpenStage),
    /// Explicit EHLO (`esmtp`) or HELO.
    Hello {
        esmtp: bool,
        id: Option<CommandId>,
    },
    /// `ehlo_or_helo_if_needed`: the EHLO runs before any task that wants
    /// one; this one has nothing more to do.
    HelloIfNeeded,
    StartTls {
        explicit: bool,
        stage: Option<TlsStage>,
    },
    Login {
        user: String,
        password: Secret<String>,
        queue: VecDeque<Mechanism>,
        current: Option<Auth>,
    },
    Auth(Auth),
    Simple {
        command: Simple,
        id: Option<CommandId>,
    },
    Quit {
        id: Option<CommandId>,
        answer: Option<Reply>,
    },
    Mail {
        args: Option<(ReversePath, MailParams, String)>,
        txn: Option<TxnId>,
    },
    Rcpt {
        args: Option<(ForwardPath, RcptParams, String)>,
        at: Option<(TxnId, RcptId)>,
    },
    Txn {
        mode: TxnMode,
        message: Option<Box<(Envelope, BodyOptions)>>,
        txn: Option<TxnId>,
        streaming: bool,
    },
    Batch {
        batch: Box<BatchQueue>,
        /// The transaction whose body is wanted, and its message.
        body: Option<(TxnId, usize)>,
    },
}

impl Task {
    pub(crate) fn open() -> Task {
        Task::Open(OpenStage::Greeting)
    }

    pub(crate) fn starttls(explicit: bool) -> Task {
        Task::StartTls {
            explicit,
            stage: None,
        }
    }

    pub(crate) fn auth(mechanism: Mechanism, initial: Option<Secret<Vec<u8>>>) -> Task {
        Task::Auth(Auth {
            mechanism,
            id: None,
            initial,
            owned: None,
            ended: None,
        })
    }

    /// Whether EHLO must have succeeded before this task begins
    /// (smtplib's `ehlo_or_helo_if_needed` at the top of the call).
    pub(crate) fn wants_hello(&self) -> bool {
        matches!(
            self,
            Task::HelloIfNeeded
                | Task::StartTls { .. }
                | Task::Login { .. }
                | Task::Auth(_)
                | Task::Mail { .. }
                | Task::Batch { .. }
        ) || matches!(self, Task::Txn { mode, .. } if !matches!(mode, TxnMode::Data(_)))
    }

    pub(crate) fn is_streaming(&self) -> bool {
        match self {
            Task::Txn { streaming, .. } => *streaming,
            Task::Batch { body, .. } => body.is_some(),
            _ => false,
        }
    }

    /// What the driver must do for this task, if anything but reading.
    pub(crate) fn action(&self, client: &Client, challenge: bool) -> Option<Action> {
        match self {
            Task::StartTls {
                stage: Some(TlsStage::Handshake(_)),
                ..
            } => Some(Action::StartTls),
            Task::Auth(Auth { ended: Some(_), .. }) => Some(Action::AuthFinish),
            Task::Auth(_) | Task::Login { .. } if challenge => Some(Action::AuthAnswer),
            Task::Txn {
                streaming: true, ..
            } if client.can_send_body() => Some(Action::Body { index: 0 }),
            Task::Batch {
                body: Some((_, index)),
                ..
            } if client.can_send_body() => Some(Action::Body { index: *index }),
            _ => None,
        }
    }

    /// The caller's authenticator's verdict on the ended AUTH exchange.
    pub(crate) fn auth_finished(
        &mut self,
        s: &mut Session,
        verdict: Result<(), MechanismError>,
    ) -> Step {
        match self {
            Task::Auth(auth) => match auth.ended.take() {
                Some((reply, success)) => auth_outcome(s, &auth.mechanism, reply, success, verdict),
                None => Step::Continue,
            },
            _ => Step::Continue,
        }
    }

    pub(crate) fn handshake_done(&mut self) {
        if let Task::StartTls { stage, .. } = self
            && let Some(TlsStage::Handshake(reply)) = stage.take()
        {
            *stage = Some(TlsStage::Hello(reply));
        }
    }

    pub(crate) fn body_pushed(&mut self, last: bool) {
        match self {
            Task::Txn { streaming, .. } if last => *streaming = false,
            Task::Batch { body, .. } if last => *body = None,
            _ => {}
        }
    }

    /// Queues the task's commands.
    pub(crate) fn begin(&mut self, s: &mut Session, now: Instant) -> Step {
        match self {
            Task::Open(_) => Step::Continue,
            Task::Hello { esmtp, id } => {
                let queued = if *esmtp {
                    s.client.ehlo()
                } else {
                    s.client.helo()
                };
                queued_then(queued, |i| *id = Some(i))
            }
            Task::HelloIfNeeded => Step::Finish(Ok(Output::Unit)),
            Task::StartTls { explicit, stage } => {
                if s.client.is_tls() {
                    return Step::Finish(Err(UsageError::TlsAlreadyActive.into()));
                }
                if !s.has_extn("STARTTLS") {
                    return tls_unavailable(s, stage, *explicit, None, now);
                }
                queued_then(s.client.starttls(), |i| *stage = Some(TlsStage::Waiting(i)))
            }
            Task::Login {
                user,
                password,
                queue,
                current,
            } => {
                match login_order(s) {
                    Ok(order) => *queue = order.into(),
                    Err(e) => return Step::Finish(Err(e)),
                }
                next_mechanism(s, user, password, queue, current, None)
            }
            Task::Auth(auth) => auth.begin(s),
            Task::Simple { command, id } => {
                let c = &mut s.client;
                let queued = match command {
                    Simple::Noop => c.noop(),
                    Simple::Rset => c.rset(),
                    Simple::Vrfy(a) => c.vrfy(a),
                    Simple::Expn(a) => c.expn(a),
                    Simple::Help(t) => c.help(t.as_deref()),
                    Simple::Raw(l) => c.raw(l),
                };
                queued_then(queued, |i| *id = Some(i))
            }
            Task::Quit { id, .. } => queued_then(s.client.quit(), |i| *id = Some(i)),
            Task::Mail { args, txn } => {
                let Some((from, params, sender)) = args.take() else {
                    return Step::Finish(Err(UsageError::NoOpenEnvelope.into()));
                };
                match s.client.mail(from, params) {
                    Ok(t) => {
                        *txn = Some(t);
                        s.envelope = Some(OpenEnvelope {
                            txn: t,
                            sender,
                            recipients: Vec::new(),
                        });
                        Step::Continue
                    }
                    Err(e) => Step::Finish(Err(e.into())),
                }
            }
            Task::Rcpt { args, at } => {
                let Some(txn) = s.envelope.as_ref().map(|e| e.txn) else {
                    return Step::Finish(Err(UsageError::NoOpenEnvelope.into()));
                };
                let Some((to, params, recip)) = args.take() else {
                    return Step::Finish(Err(UsageError::NoOpenEnvelope.into()));
                };
                match s.client.rcpt(txn, to, params) {
                    Ok(r) => {
                        *at = Some((txn, r));
                        if let Some(env) = s.envelope.as_mut() {
                            env.recipients.push(recip);
                        }
                        Step::Continue
                    }
                    Err(e) => Step::Finish(Err(e.into())),
                }
            }
            Task::Txn {
                txn: Some(_),
                message: None,
                ..
            } => Step::Continue,
            Task::Txn {
                mode, message, txn, ..
            } => {
                let queued = match (&*mode, message.take().map(|m| *m)) {
                    (TxnMode::Data(env), _) => s.client.data(env.txn).map(|()| env.txn),
                    (_, Some((envelope, options))) => {
                        let r = s.client.send_mail(&envelope, options);
                        // The engine closed any envelope `mail` left open.
                        s.envelope = None;
                        r
                    }
                    (_, None) => Err(UsageError::NoBodyExpected),
                };
                match queued {
                    Ok(t) => {
                        *txn = Some(t);
                        s.transactions = s.transactions.saturating_add(1);
                        Step::Continue
                    }
                    Err(e) => Step::Finish(Err(e.into())),
                }
            }
            Task::Batch { batch, .. } => {
                refill(s, batch);
                batch_done(batch)
            }
        }
    }

    /// One engine event.
    /// Whether [`on_event`](Self::on_event) would only answer `Continue`:
    /// a transaction or a batch acts on bodies and ends only, and the
    /// replies to MAIL and RCPT it leaves to its report. The session then
    /// keeps the task where it is instead of taking it out for nothing.
    pub(crate) fn ignores(&self, event: &Event) -> bool {
        matches!(self, Task::Txn { .. } | Task::Batch { .. })
            && !matches!(
                event,
                Event::ReadyForBody { .. } | Event::TransactionFinished { .. }
            )
    }

    pub(crate) fn on_event(&mut self, s: &mut Session, event: Event, now: Instant) -> Step {
        match self {
            Task::Open(stage) => match (&*stage, event) {
                (OpenStage::Greeting, Event::Greeting { reply }) => {
                    if reply.code().is_positive_completion() {
                        *stage = OpenStage::Hello;
                    } else {
                        s.cap = now.checked_add(QUIT_BUDGET);
                        *stage = OpenStage::Refused(reply);
                    }
                    Step::Continue
                }
                (OpenStage::Hello, Event::Hello { .. }) => {
                    if s.policy != TlsPolicy::Disabled && !s.client.is_tls() {
                        Step::Then(Box::new(Task::starttls(false)))
                    } else {
                        Step::Finish(Ok(Output::Unit))
                    }
                }
                (OpenStage::Refused(reply), Event::Closed { .. }) => {
                    s.link = Link::Closed;
                    Step::Finish(Err(Error::ConnectError {
                        reply: reply.clone(),
                    }))
                }
                _ => Step::Continue,
            },
            Task::Hello { id, .. } => match event {
                Event::Hello {
                    id: got,
                    reply,
                    extensions,
                    ..
                } if Some(got) == *id => {
                    if extensions.is_some() && reply.code().is_positive_completion() {
                        Step::Finish(Ok(Output::Reply(reply)))
                    } else {
                        Step::Finish(Err(Error::HeloError { reply }))
                    }
                }
                _ => Step::Continue,
            },
            Task::HelloIfNeeded => Step::Continue,
            Task::StartTls { explicit, stage } => match (stage.take(), event) {
                (Some(TlsStage::Waiting(id)), Event::StartTlsReady { id: got, reply })
                    if got == id =>
                {
                    *stage = Some(TlsStage::Handshake(reply));
                    Step::Continue
                }
                (Some(TlsStage::Waiting(id)), Event::StartTlsRejected { id: got, reply })
                    if got == id =>
                {
                    tls_unavailable(s, stage, *explicit, Some(reply), now)
                }
                (Some(TlsStage::Hello(reply)), Event::Hello { .. }) => {
                    Step::Finish(Ok(tls_output(*explicit, Some(reply))))
                }
                (Some(TlsStage::Quitting(reply)), Event::Closed { .. }) => {
                    s.link = Link::Closed;
                    Step::Finish(Err(Error::TlsRequired { reply }))
                }
                (other, _) => {
                    *stage = other;
                    Step::Continue
                }
            },
            Task::Login {
                user,
                password,
                queue,
                current,
            } => {
                let Some(auth) = current.as_mut() else {
                    return Step::Continue;
                };
                match auth.on_event(s, event) {
                    Step::Finish(Err(e @ Error::AuthenticationError { .. }))
                        if mechanism_unavailable(&e) =>
                    {
                        next_mechanism(s, user, password, queue, current, Some(e))
                    }
                    other => other,
                }
            }
            Task::Auth(auth) => auth.on_event(s, event),
            Task::Simple { id, .. } => match event {
                Event::Reply { id: got, reply } if Some(got) == *id => {
                    Step::Finish(Ok(Output::Reply(reply)))
                }
                _ => Step::Continue,
            },
            Task::Quit { id, answer } => match event {
                Event::Reply { id: got, reply } if Some(got) == *id => {
                    *answer = Some(reply);
                    Step::Continue
                }
                Event::Closed { .. } => {
                    s.link = Link::Closed;
                    Step::Finish(answer.take().map(Output::Reply).ok_or(
                        Error::ServerDisconnected {
                            stage: Some(crate::Stage::Quit),
                        },
                    ))
                }
                _ => Step::Continue,
            },
            Task::Mail { txn, .. } => match event {
                Event::MailReply { txn: t, reply } if Some(t) == *txn => {
                    Step::Finish(Ok(Output::Reply(reply)))
                }
                _ => Step::Continue,
            },
            Task::Rcpt { at, .. } => match event {
                Event::RcptReply { txn, rcpt, reply } if Some((txn, rcpt)) == *at => {
                    Step::Finish(Ok(Output::Reply(reply)))
                }
                _ => Step::Continue,
            },
            Task::Txn {
                mode,
                txn,
                streaming,
                ..
            } => match event {
                Event::ReadyForBody { txn: t } if Some(t) == *txn => {
                    *streaming = true;
                    Step::Continue
                }
                Event::TransactionFinished { txn: t, report } if Some(t) == *txn => {
                    *streaming = false;
                    Step::Finish(txn_output(s, mode, report))
                }
                _ => Step::Continue,
            },
            Task::Batch { batch, body } => match event {
                Event::ReadyForBody { txn } => {
                    if let Some(m) = batch.queued.iter().find(|m| m.txn == txn) {
                        *body = Some((txn, m.index));
                    }
                    Step::Continue
                }
                Event::TransactionFinished { txn, report } => {
                    batch_finished(batch, txn, report);
                    if body.is_some_and(|(t, _)| t == txn) {
                        *body = None;
                    }
                    refill(s, batch);
                    batch_done(batch)
                }
                _ => Step::Continue,
            },
        }
    }

    /// An event the engine queued as the session failed (the reports of
    /// the transactions it aborted).
    pub(crate) fn on_leftover(&mut self, _s: &mut Session, event: Event) {
        if let (Task::Batch { batch, .. }, Event::TransactionFinished { txn, report }) =
            (self, event)
        {
            batch_finished(batch, txn, report);
        }
    }

    /// The task's result when the session failed with `e` (or could not
    /// start it).
    pub(crate) fn on_fail(self, s: &mut Session, e: Error) -> Result<Output, Error> {
        match self {
            Task::Open(OpenStage::Refused(reply)) => {
                s.link = Link::Closed;
                Err(Error::ConnectError { reply })
            }
            Task::Open(OpenStage::Greeting) => match e {
                Error::ServiceClosing { reply, .. } => Err(Error::ConnectError { reply }),
                Error::Timeout {
                    stage: Some(crate::Stage::Greeting),
                } if !s.heard => Err(Error::NoGreeting {
                    waited: s.client.config().timeouts.greeting,
                }),
                e => Err(e),
            },
            Task::StartTls {
                stage: Some(TlsStage::Quitting(reply)),
                ..
            } => {
                s.link = Link::Closed;
                Err(Error::TlsRequired { reply })
            }
            Task::Quit {
                answer: Some(reply),
                ..
            } if matches!(e, Error::ServerDisconnected { .. }) => Ok(Output::Reply(reply)),
            Task::Batch { batch, .. } => {
                let mut batch = *batch;
                let cause = e.to_string();
                let mut first = Some(e);
                for slot in batch.results.iter_mut().filter(|r| r.is_none()) {
                    let e = first.take().unwrap_or_else(|| Error::Poisoned {
                        cause: cause.clone(),
                    });
                    *slot = Some(Err(e));
                }
                Ok(Output::Batch(collect(batch)))
            }
            _ => Err(e),
        }
    }
}

impl Auth {
    fn begin(&mut self, s: &mut Session) -> Step {
        if !auth_allowed(s) {
            let refused = UsageError::PlaintextAuthRefused(self.mechanism.clone());
            return Step::Finish(Err(refused.into()));
        }
        if self.mechanism.as_str().ends_with("-PLUS") && s.channel_binding().is_none() {
            // Nothing is sent: without the binding data the exchange can
            // only fail, and a caller who asked for -PLUS wants the binding.
            return Step::Finish(Err(Error::NotSupported(format!(
                "{} needs TLS channel binding data (tls-server-end-point), \
                 which this connection does not have",
                self.mechanism
            ))));
        }
        let initial = match self.owned.as_mut() {
            Some(owned) => owned.0.initial_response(),
            None => self.initial.take(),
        };
        match s.client.auth(self.mechanism.clone(), initial) {
            Ok(id) => {
                self.id = Some(id);
                Step::Continue
            }
            Err(e) => Step::Finish(Err(e.into())),
        }
    }

    fn on_event(&mut self, s: &mut Session, event: Event) -> Step {
        match event {
            Event::AuthChallenge { id, challenge } if Some(id) == self.id => {
                match self.owned.as_mut() {
                    Some(owned) => {
                        let answer = owned.0.respond(challenge.expose());
                        s.respond(answer);
                    }
                    None => s.challenge = Some(challenge),
                }
                Step::Continue
            }
            Event::AuthSucceeded { id, reply } if Some(id) == self.id => self.ended(s, reply, true),
            Event::AuthFailed { id, reply } if Some(id) == self.id => self.ended(s, reply, false),
            _ => Step::Continue,
        }
    }
}

impl Auth {
    /// The server ended the exchange with `reply`: an owned authenticator
    /// judges it now, the caller's through [`Action::AuthFinish`].
    fn ended(&mut self, s: &mut Session, reply: Reply, success: bool) -> Step {
        match self.owned.as_mut() {
            Some(owned) => {
                let verdict = owned.0.finish();
                auth_outcome(s, &self.mechanism, reply, success, verdict)
            }
            None => {
                self.ended = Some((reply, success));
                Step::Continue
            }
        }
    }
}

/// What an ended AUTH exchange means. A 235 is a success only when the
/// mechanism accepts it: SCRAM must have seen the server's signature
/// (mutual authentication), and a 235 without it is the server claiming
/// what it did not prove. A refusal after the mechanism cancelled because
/// of what the server sent says so rather than blaming the credentials.
/// Either distrust closes the connection without QUIT: the peer may be an
/// impostor, and nothing more (no other mechanism, no message) goes to it.
fn auth_outcome(
    s: &mut Session,
    mechanism: &Mechanism,
    reply: Reply,
    success: bool,
    verdict: Result<(), MechanismError>,
) -> Step {
    let distrust = match (success, verdict) {
        (true, Ok(())) => return Step::Finish(Ok(Output::Reply(reply))),
        (true, Err(reason)) => reason,
        (false, Err(reason)) if reason.distrusts_server() => reason,
        (false, _) => {
            return Step::Finish(Err(Error::AuthenticationError {
                mechanism: mechanism.to_string(),
                reply,
            }));
        }
    };
    let e = Error::MutualAuthFailed {
        mechanism: mechanism.to_string(),
        reason: distrust,
        reply,
    };
    s.poison(e.to_string());
    Step::Finish(Err(e))
}

/// `Continue` after recording the queued command's id, or the usage error.
fn queued_then(queued: Result<CommandId, UsageError>, record: impl FnOnce(CommandId)) -> Step {
    match queued {
        Ok(id) => {
            record(id);
            Step::Continue
        }
        Err(e) => Step::Finish(Err(e.into())),
    }
}

/// STARTTLS not offered or refused: carry on under the opportunistic
/// policy (an explicit call still reports it), otherwise QUIT and fail:
/// nothing but QUIT may follow.
fn tls_unavailable(
    s: &mut Session,
    stage: &mut Option<TlsStage>,
    explicit: bool,
    reply: Option<Reply>,
    now: Instant,
) -> Step {
    if s.policy == TlsPolicy::Opportunistic {
        return if explicit {
            Step::Finish(Err(Error::TlsRequired { reply }))
        } else {
            Step::Finish(Ok(tls_output(explicit, None)))
        };
    }
    match s.client.quit() {
        Ok(_) => {
            s.cap = now.checked_add(QUIT_BUDGET);
            *stage = Some(TlsStage::Quitting(reply));
            Step::Continue
        }
        Err(_) => {
            s.link = Link::Closed;
            Step::Finish(Err(Error::TlsRequired { reply }))
        }
    }
}

/// What STARTTLS produces: the 220 (or `None`) for an explicit call,
/// nothing when it ran as part of opening the connection.
fn tls_output(explicit: bool, reply: Option<Reply>) -> Output {
    if explicit {
        Output::MaybeReply(reply)
    } else {
        Output::Unit
    }
}

/// `login`'s order among the advertised mechanisms, strongest first:
///
/// 1. SCRAM-SHA-256-PLUS, only when the driver gave the TLS channel
///    binding data: the password never crosses the wire, the server proves
///    it knows it too, and the exchange is tied to this TLS connection, so
///    a man in the middle with another certificate cannot relay it.
/// 2. SCRAM-SHA-256: the same without the binding to the TLS connection.
/// 3. PLAIN: the password itself, protected by TLS alone.
/// 4. LOGIN: the same in two steps, for servers without PLAIN.
/// 5. CRAM-MD5 last: MD5, a stored-plaintext-equivalent secret on the
///    server, an answer an eavesdropper can crack offline, and no server
///    authentication; used only when nothing better is offered.
///
/// smtplib puts CRAM-MD5 first because it predates TLS everywhere; over
/// TLS it is the weakest of the five. A mechanism refused as unavailable
/// (504, 534, 538) moves on to the next; a refused password stops.
///
/// Without TLS none is used unless `allow_plaintext_auth`: PLAIN and LOGIN
/// would show the password; CRAM-MD5 and SCRAM show the user name and an
/// offline-crackable proof, and a STARTTLS-stripping attacker can offer
/// SCRAM with a low iteration count (or CRAM-MD5) to get a cheap one. The
/// server's advertisement never widens that rule.
fn login_order(s: &Session) -> Result<Vec<Mechanism>, Error> {
    let offered: Vec<String> = match s.esmtp_features() {
        Some(e) if e.has("AUTH") => e.auth_mechanisms().to_vec(),
        _ => {
            return Err(Error::NotSupported(
                "SMTP AUTH extension not supported by server".to_owned(),
            ));
        }
    };
    let bound = s.channel_binding().is_some();
    let order = [
        Mechanism::SCRAM_SHA_256_PLUS,
        Mechanism::SCRAM_SHA_256,
        Mechanism::PLAIN,
        Mechanism::LOGIN,
        Mechanism::CRAM_MD5,
    ];
    let candidates: Vec<Mechanism> = order
        .into_iter()
        .filter(|m| bound || *m != Mechanism::SCRAM_SHA_256_PLUS)
        .filter(|m| offered.iter().any(|o| o.eq_ignore_ascii_case(m.as_str())))
        .collect();
    match candidates.first() {
        None => Err(Error::NotSupported(format!(
            "no suitable authentication method among {offered:?}"
        ))),
        Some(m) if !auth_allowed(s) => Err(UsageError::PlaintextAuthRefused(m.clone()).into()),
        Some(_) => Ok(candidates),
    }
}

/// Whether AUTH (any mechanism) may run on this connection: over TLS, or
/// when the caller allowed it without.
fn auth_allowed(s: &Session) -> bool {
    s.client.is_tls() || s.client.config().allow_plaintext_auth
}

/// Whether a refusal of AUTH says the mechanism itself is unavailable
/// (RFC 4954: 504 unrecognised, 534 too weak, 538 needs encryption), so
/// another mechanism may be tried. Any other refusal (535 bad credentials
/// above all) judges the credentials: trying them again with another
/// mechanism only adds attempts towards an account lock-out.
fn mechanism_unavailable(e: &Error) -> bool {
    e.smtp_code()
        .is_some_and(|code| matches!(code, 504 | 534 | 538))
}

/// Starts the next mechanism of `login`, or finishes with the last
/// refusal.
fn next_mechanism(
    s: &mut Session,
    user: &str,
    password: &Secret<String>,
    queue: &mut VecDeque<Mechanism>,
    current: &mut Option<Auth>,
    last: Option<Error>,
) -> Step {
    let mut last = last;
    let pass = password.expose();
    let (mechanism, mut owned) = loop {
        let Some(mechanism) = queue.pop_front() else {
            *current = None;
            return Step::Finish(Err(
                last.unwrap_or_else(|| Error::NotSupported("no mechanism tried".to_owned()))
            ));
        };
        let owned: OwnedAuth = match mechanism.as_str() {
            "SCRAM-SHA-256" | "SCRAM-SHA-256-PLUS" => {
                let plus = mechanism == Mechanism::SCRAM_SHA_256_PLUS;
                match ScramSha256::new(user, pass) {
                    Ok(scram) => Box::new(scram.with_plus(plus)),
                    // SASLprep refuses the password (or no randomness):
                    // SCRAM cannot run, the next mechanism may.
                    Err(e) => {
                        last = Some(Error::InvalidArgument(format!("{mechanism}: {e}")));
                        continue;
                    }
                }
            }
            "CRAM-MD5" => Box::new(CramMd5::new(user, pass)),
            "PLAIN" => Box::new(Plain::new(user, pass)),
            _ => Box::new(LoginAuth::new(user, pass)),
        };
        break (mechanism, owned);
    };
    owned.prepare(&s.auth_context());
    let mut auth = Auth {
        mechanism,
        id: None,
        initial: None,
        owned: Some(DebugAuth(owned)),
        ended: None,
    };
    let step = auth.begin(s);
    *current = Some(auth);
    step
}

/// The transaction's report as its operation returns it.
/// (`report` arrives boxed from the engine's event and leaves in the same
/// box.)
fn txn_output(s: &Session, mode: &TxnMode, report: TxnReport) -> Result<Output, Error> {
    let lmtp = s.is_lmtp();
    match mode {
        TxnMode::Report => Ok(Output::Report(report)),
        TxnMode::AllOrError if report.all_delivered() => Ok(Output::Report(report)),
        TxnMode::AllOrError if report.outcome == crate::TxnOutcome::Unknown => {
            Err(Error::OutcomeUnknown {
                cause: Box::new(Error::ServerDisconnected {
                    stage: Some(crate::Stage::DataEnd),
                }),
            })
        }
        TxnMode::AllOrError => Err(Error::NotDelivered {
            report: Box::new(report),
        }),
        TxnMode::Smtplib { sender, to } => {
            let to: Vec<&str> = to.iter().map(String::as_str).collect();
            Ok(Output::Refused(report.smtplib_outcome(sender, &to, lmtp)?))
        }
        TxnMode::Data(env) => {
            let to: Vec<&str> = env.recipients.iter().map(String::as_str).collect();
            Ok(Output::Reply(report.smtplib_data_reply(
                &env.sender,
                &to,
                lmtp,
            )?))
        }
        TxnMode::WithEnvelope(envelope) => {
            Ok(Output::Sent(Box::new(((**envelope).clone(), report))))
        }
    }
}

/// Queues messages until the window is full (see
/// [`Window`](super::Window)): the engine sends each as far as the protocol
/// allows, so with PIPELINING and CHUNKING the whole window travels ahead
/// of the replies.
fn refill(s: &mut Session, batch: &mut BatchQueue) {
    while let Some(next) = batch.waiting.front() {
        let bytes = next.options.size.unwrap_or(0);
        let full = !batch.queued.is_empty()
            && (batch.queued.len() >= s.window.messages
                || batch.queued_bytes.saturating_add(bytes) > s.window.bytes);
        if full {
            break;
        }
        let Some(Waiting {
            index,
            from,
            params,
            recipients,
            options,
        }) = batch.waiting.pop_front()
        else {
            break;
        };
        let recipients = batch.recipients.get(recipients).unwrap_or_default();
        match s.client.send_parts(&from, &params, recipients, options) {
            Ok(txn) => {
                s.envelope = None;
                s.transactions = s.transactions.saturating_add(1);
                batch.queued.push_back(InFlight { txn, index, bytes });
                batch.queued_bytes = batch.queued_bytes.saturating_add(bytes);
            }
            Err(e) => set(batch, index, Err(e.into())),
        }
    }
}

fn batch_finished(batch: &mut BatchQueue, txn: TxnId, report: TxnReport) {
    // Transactions usually finish in order: this is then the front.
    if let Some(pos) = batch.queued.iter().position(|m| m.txn == txn)
        && let Some(m) = batch.queued.remove(pos)
    {
        batch.queued_bytes = batch.queued_bytes.saturating_sub(m.bytes);
        set(batch, m.index, Ok(report));
    }
}

fn batch_done(batch: &mut BatchQueue) -> Step {
    if batch.queued.is_empty() && batch.waiting.is_empty() {
        Step::Finish(Ok(Output::Batch(collect(std::mem::take(&mut *batch)))))
    } else {
        Step::Continue
    }
}

fn set(batch: &mut BatchQueue, i: usize, r: Result<TxnReport, Error>) {
    if let Some(slot) = batch.results.get_mut(i) {
        *slot = Some(r);
    }
}

fn collect(batch: BatchQueue) -> Vec<Result<TxnReport, Error>> {
    batch
        .results
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
