//! Transcript tests of the operations layer ([`smtp_proto::session`]):
//! a scripted server, a virtual clock, and a tiny driver that feeds bodies
//! from memory. Each transcript runs whole and byte by byte.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::{Duration, Instant};

use smtp_proto::session::{Action, Error, FromOutput, Options, Session, TlsPolicy};
use smtp_proto::smtplib::Refused;
use smtp_proto::{Domain, Reply};

/// One step of a transcript.
enum Step {
    /// The server sends these bytes.
    S(&'static str),
    /// The client must have written exactly these bytes since the last check.
    C(&'static str),
}
use Step::{C, S};

struct Run {
    session: Session,
    now: Instant,
    wire: Vec<u8>,
    actions: Vec<Action>,
}

impl Run {
    fn new(options: &Options) -> Run {
        let now = Instant::now();
        let local = Domain::parse("client.test").unwrap();
        Run {
            session: Session::connect(options, local, false, now),
            now,
            wire: Vec::new(),
            actions: Vec::new(),
        }
    }

    /// Drives the running operation until it needs input or is done;
    /// bodies come from `body`.
    fn drive(&mut self, body: &mut &[u8]) -> Action {
        for _ in 0..10_000 {
            let action = self.session.poll_action(self.now);
            if self
                .session
                .poll_transmit(self.now, &mut self.wire)
                .is_some()
            {
                continue;
            }
            self.actions.push(action);
            match action {
                Action::Body { .. } => {
                    let n = body.len().min(7);
                    let (piece, rest) = body.split_at(n);
                    *body = rest;
                    self.session.push_body(piece, rest.is_empty());
                }
                Action::StartTls => self.session.tls_established(self.now),
                other => return other,
            }
        }
        panic!("no progress");
    }

    /// Runs `script` against the running operation; returns its output.
    fn script<T: FromOutput>(
        &mut self,
        script: &[Step],
        body: &[u8],
        bytewise: bool,
    ) -> Result<T, Error> {
        let mut body = body;
        for step in script {
            let _ = self.drive(&mut body);
            match step {
                S(text) => {
                    if bytewise {
                        for b in text.as_bytes() {
                            self.session.handle_input(self.now, std::slice::from_ref(b));
                        }
                    } else {
                        self.session.handle_input(self.now, text.as_bytes());
                    }
                }
                C(text) => {
                    let _ = self.drive(&mut body);
                    let got = String::from_utf8_lossy(&self.wire).into_owned();
                    assert_eq!(got, *text, "client bytes");
                    self.wire.clear();
                }
            }
        }
        assert_eq!(self.drive(&mut body), Action::Done, "operation not done");
        self.session.take_output()
    }
}

/// Plaintext options: these scripted servers offer no TLS (the default
/// policy requires it).
fn plain() -> Options {
    let mut options = Options::default();
    options.tls_policy = Some(TlsPolicy::Disabled);
    options
}

const OPEN: &[Step] = &[
    S("220 peer.test ESMTP\r\n"),
    C("EHLO client.test\r\n"),
    S("250-peer.test\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 STARTTLS\r\n"),
];

fn both(f: impl Fn(bool)) {
    f(false);
    f(true);
}

fn opened(options: &Options, bytewise: bool) -> Run {
    let mut run = Run::new(options);
    run.script::<()>(OPEN, b"", bytewise).unwrap();
    run
}

#[test]
fn open_then_noop_then_quit() {
    both(|bw| {
        let mut run = opened(&plain(), bw);
        run.session.noop(run.now);
        let r: Reply = run
            .script(&[C("NOOP\r\n"), S("250 ok\r\n")], b"", bw)
            .unwrap();
        assert_eq!(r.code().get(), 250);
        run.session.quit(run.now);
        let r: Reply = run
            .script(&[C("QUIT\r\n"), S("221 bye\r\n")], b"", bw)
            .unwrap();
        assert_eq!(r.code().get(), 221);
        assert!(!run.session.is_connected());
    });
}

#[test]
fn sendmail_with_bdat_lock_step() {
    both(|bw| {
        let mut options = plain();
        options.config.pipelining = false;
        let mut run = opened(&options, bw);
        let msg = b"Subject: x\r\n\r\nhi\r\n";
        run.session
            .sendmail(run.now, "a@x.test", &["b@x.test"], msg, &[], &[]);
        let refused: Refused = run
            .script(
                &[
                    C("MAIL FROM:<a@x.test>\r\n"),
                    S("250 ok\r\n"),
                    C("RCPT TO:<b@x.test>\r\n"),
                    S("250 ok\r\n"),
                    C("BDAT 18 LAST\r\nSubject: x\r\n\r\nhi\r\n"),
                    S("250 queued\r\n"),
                ],
                msg,
                bw,
            )
            .unwrap();
        assert!(refused.is_empty());
    });
}

#[test]
fn required_tls_refused_sends_only_quit() {
    both(|bw| {
        let mut options = Options::default();
        options.tls_policy = Some(TlsPolicy::Required);
        let mut run = Run::new(&options);
        let e = run
            .script::<()>(
                &[
                    S("220 peer.test ESMTP\r\n"),
                    C("EHLO client.test\r\n"),
                    S("250-peer.test\r\n250 STARTTLS\r\n"),
                    C("STARTTLS\r\n"),
                    S("454 4.7.0 not now\r\n"),
                    C("QUIT\r\n"),
                    S("221 bye\r\n"),
                ],
                b"",
                bw,
            )
            .unwrap_err();
        assert!(matches!(e, Error::TlsRequired { reply: Some(_) }), "{e:?}");
        assert!(!run.session.is_connected());
    });
}

#[test]
fn idle_wait_is_bounded() {
    let mut run = opened(&plain(), false);
    run.session.noop(run.now);
    let mut body: &[u8] = b"";
    assert_eq!(run.drive(&mut body), Action::Read);
    let deadline = run.session.poll_timeout().unwrap();
    run.now = deadline + Duration::from_millis(1);
    run.session.handle_timeout(run.now);
    assert_eq!(run.drive(&mut body), Action::Done);
    assert!(matches!(
        run.session.take_output::<Reply>(),
        Err(Error::Timeout { .. })
    ));
}

#[test]
fn sendmail_with_bdat_no_pipelining_advertised() {
    both(|bw| {
        let mut run = Run::new(&plain());
        let open = [
            S("220 peer.test ESMTP\r\n"),
            C("EHLO client.test\r\n"),
            S("250-peer.test\r\n250 CHUNKING\r\n"),
        ];
        run.script::<()>(&open, b"", bw).unwrap();
        let msg = b"Subject: x\r\n\r\nhi\r\n";
        run.session
            .sendmail(run.now, "a@x.test", &["b@x.test"], msg, &[], &[]);
        let e = run
            .script::<Refused>(
                &[
                    C("MAIL FROM:<a@x.test>\r\n"),
                    S("250 ok\r\n"),
                    C("RCPT TO:<b@x.test>\r\n"),
                    S("250 ok\r\n"),
                    C("BDAT 18 LAST\r\nSubject: x\r\n\r\nhi\r\n"),
                    S("552 5.3.4 too big\r\n"),
                ],
                msg,
                bw,
            )
            .unwrap_err();
        assert!(matches!(e, Error::DataError { .. }), "{e:?}");
    });
}

#[test]
fn a_body_that_stops_moving_times_out() {
    let mut run = opened(&plain(), false);
    run.session.send_report(
        run.now,
        &smtp_proto::Envelope::new(
            smtp_proto::ReversePath::parse("a@x.test").unwrap(),
            [smtp_proto::ForwardPath::parse("b@x.test").unwrap()],
        ),
        smtp_proto::BodyOptions::default().with_chunking(false),
    );
    let mut wire = Vec::new();
    let _ = run.session.poll_action(run.now);
    let _ = run.session.poll_transmit(run.now, &mut wire);
    run.session
        .handle_input(run.now, b"250 ok\r\n250 ok\r\n354 go\r\n");
    // The driver never manages to write the body (a server that stopped
    // reading): the session bounds it by the data-block timeout.
    assert_eq!(run.session.poll_action(run.now), Action::Body { index: 0 });
    let deadline = run.session.poll_timeout().unwrap();
    assert_eq!(
        deadline - run.now,
        Options::default().config.timeouts.data_block
    );
    run.now = deadline;
    run.session.handle_timeout(run.now);
    assert_eq!(run.session.poll_action(run.now), Action::Done);
    let e = run
        .session
        .take_output::<smtp_proto::TxnReport>()
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(!run.session.is_connected());
}

fn with_plaintext_auth() -> Options {
    let mut options = plain();
    options.config.allow_plaintext_auth = true;
    options
}

const OPEN_AUTH: &[Step] = &[
    S("220 peer.test ESMTP\r\n"),
    C("EHLO client.test\r\n"),
    S("250-peer.test\r\n250 AUTH CRAM-MD5 PLAIN LOGIN\r\n"),
];

#[test]
fn login_stops_at_the_first_refusal_of_the_credentials() {
    both(|bw| {
        let mut run = Run::new(&with_plaintext_auth());
        run.script::<()>(OPEN_AUTH, b"", bw).unwrap();
        run.session.login(run.now, "user", "wrong");
        let e = run
            .script::<Reply>(
                &[
                    // PLAIN before LOGIN and CRAM-MD5 (CRAM-MD5 is last: it
                    // is the weakest over TLS, whatever smtplib's order).
                    C("AUTH PLAIN AHVzZXIAd3Jvbmc=\r\n"),
                    // 535 judges the credentials: no LOGIN, no CRAM-MD5 after it.
                    S("535 5.7.8 Authentication credentials invalid\r\n"),
                ],
                b"",
                bw,
            )
            .unwrap_err();
        match e {
            Error::AuthenticationError { mechanism, reply } => {
                assert_eq!(mechanism, "PLAIN");
                assert_eq!(reply.code().get(), 535);
            }
            other => panic!("{other:?}"),
        }
        assert!(run.session.is_connected());
    });
}

#[test]
fn login_tries_the_next_mechanism_when_one_is_unavailable() {
    both(|bw| {
        let mut run = Run::new(&with_plaintext_auth());
        run.script::<()>(OPEN_AUTH, b"", bw).unwrap();
        run.session.login(run.now, "user", "pass");
        let r: Reply = run
            .script(
                &[
                    // The new order: PLAIN, LOGIN, then CRAM-MD5.
                    C("AUTH PLAIN AHVzZXIAcGFzcw==\r\n"),
                    S("504 5.5.4 Unrecognized authentication type\r\n"),
                    C("AUTH LOGIN\r\n"),
                    S("334 VXNlcm5hbWU6\r\n"),
                    C("dXNlcg==\r\n"),
                    S("334 UGFzc3dvcmQ6\r\n"),
                    C("cGFzcw==\r\n"),
                    S("235 2.7.0 ok\r\n"),
                ],
                b"",
                bw,
            )
            .unwrap();
        assert_eq!(r.code().get(), 235);
    });
}

#[test]
fn no_auth_of_any_mechanism_without_tls() {
    for offered in ["CRAM-MD5", "PLAIN", "CRAM-MD5 PLAIN LOGIN"] {
        let mut run = Run::new(&plain());
        let ehlo = format!("250-peer.test\r\n250 AUTH {offered}\r\n");
        let open = [
            S("220 peer.test ESMTP\r\n"),
            C("EHLO client.test\r\n"),
            S(Box::leak(ehlo.into_boxed_str())),
        ];
        run.script::<()>(&open, b"", false).unwrap();
        run.session.login(run.now, "user", "pass");
        let e = run.script::<Reply>(&[C("")], b"", false).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Usage(smtp_proto::UsageError::PlaintextAuthRefused(_))
            ),
            "{offered}: {e:?}"
        );
        // The caller's own mechanism is refused the same way.
        let m = smtp_proto::Mechanism::parse("CRAM-MD5").unwrap();
        run.session.auth(run.now, m, None);
        let e = run.script::<Reply>(&[C("")], b"", false).unwrap_err();
        assert!(matches!(e, Error::Usage(_)), "{e:?}");
        assert!(run.session.is_connected(), "a refusal changes nothing");
    }
}

#[test]
fn sendmail_accepts_display_names() {
    both(|bw| {
        let mut run = opened(&plain(), bw);
        let msg = b"Subject: x\r\n\r\nhi\r\n";
        let to = ["Bob <b@x.test>"];
        run.session
            .sendmail(run.now, "Alice <a@x.test>", &to, msg, &[], &[]);
        let refused: Refused = run
            .script(
                &[
                    // The connection's first message: the data waits
                    // for the envelope's replies.
                    C("MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n"),
                    S("250 ok\r\n250 ok\r\n"),
                    C("BDAT 18 LAST\r\nSubject: x\r\n\r\nhi\r\n"),
                    S("250 queued\r\n"),
                ],
                msg,
                bw,
            )
            .unwrap();
        assert!(refused.is_empty());
    });
}

#[test]
fn sendmail_takes_an_empty_list_without_annotations() {
    // smtplib's `to_addrs`: a bare string, a list, or an empty list (which
    // the server never sees: nobody to send to is a usage error).
    let mut run = opened(&plain(), false);
    run.session
        .sendmail(run.now, "a@x.test", &[], b"x\r\n", &[], &[]);
    let e = run.script::<Refused>(&[], b"", false).unwrap_err();
    assert!(matches!(e, Error::Usage(_)), "{e:?}");
    run.session
        .sendmail(run.now, "a@x.test", "b@x.test", b"x\r\n", &[], &[]);
    let refused: Refused = run
        .script(
            &[
                C("MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n"),
                S("250 ok\r\n250 ok\r\n"),
                C("BDAT 3 LAST\r\nx\r\n"),
                S("250 queued\r\n"),
            ],
            b"x\r\n",
            false,
        )
        .unwrap();
    assert!(refused.is_empty());
}

#[test]
fn a_greeting_that_never_comes_says_what_is_likely_wrong() {
    let mut run = Run::new(&plain());
    let mut body: &[u8] = b"";
    assert_eq!(run.drive(&mut body), Action::Read);
    run.now = run.session.poll_timeout().unwrap();
    run.session.handle_timeout(run.now);
    assert_eq!(run.drive(&mut body), Action::Done);
    let e = run.session.take_output::<()>().unwrap_err();
    assert!(matches!(e, Error::NoGreeting { .. }), "{e:?}");
    assert!(e.to_string().contains("implicit TLS"), "{e}");
    // A server that said something (but not a whole greeting) is a plain
    // timeout.
    let mut run = Run::new(&plain());
    run.session.handle_input(run.now, b"220 still typ");
    assert_eq!(run.drive(&mut body), Action::Read);
    run.now = run.session.poll_timeout().unwrap();
    run.session.handle_timeout(run.now);
    assert_eq!(run.drive(&mut body), Action::Done);
    let e = run.session.take_output::<()>().unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
}

#[test]
fn default_deadlines_suit_submission() {
    let t = Options::default().config.timeouts;
    assert_eq!(t.greeting, Duration::from_secs(30));
    assert_eq!(t.command, Duration::from_secs(60));
    // The end of data keeps RFC 5321's ten minutes.
    assert_eq!(t.data_end, Duration::from_secs(600));
    assert_eq!(
        smtp_proto::Timeouts::rfc5321().greeting,
        Duration::from_secs(300)
    );
}

#[test]
fn send_is_ok_only_when_every_recipient_got_it() {
    both(|bw| {
        let mut run = opened(&plain(), bw);
        let env = smtp_proto::Envelope::new(
            smtp_proto::ReversePath::parse("a@x.test").unwrap(),
            ["b@x.test", "c@x.test"].map(|t| smtp_proto::ForwardPath::parse(t).unwrap()),
        );
        let options = smtp_proto::BodyOptions::for_body(b"x\r\n");
        run.session.send(run.now, &env, options);
        let e = run
            .script::<smtp_proto::TxnReport>(
                &[
                    C("MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\n"),
                    S("250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n"),
                    C("BDAT 3 LAST\r\nx\r\n"),
                    S("250 queued\r\n"),
                ],
                b"x\r\n",
                bw,
            )
            .unwrap_err();
        let Error::NotDelivered { report } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(report.refused().count(), 1);
        assert!(e.to_string().contains("c@x.test"), "{e}");
        run.session.send(run.now, &env, options);
        let report: smtp_proto::TxnReport = run
            .script(
                &[
                    C("MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\nBDAT 3 LAST\r\nx\r\n"),
                    S("250 ok\r\n250 ok\r\n250 ok\r\n250 queued\r\n"),
                ],
                b"x\r\n",
                bw,
            )
            .unwrap();
        assert!(report.all_delivered());
    });
}

#[test]
fn protocol_errors_say_where_they_happened() {
    let mut run = opened(&plain(), false);
    run.session.noop(run.now);
    let e = run
        .script::<Reply>(&[C("NOOP\r\n"), S("25x nonsense\r\n")], b"", false)
        .unwrap_err();
    assert!(matches!(e, Error::Protocol { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.starts_with("protocol error: "), "{text}");
    assert!(text.ends_with("(in the reply to a command)"), "{text}");
    assert_eq!(text.matches("protocol error").count(), 1, "{text}");
}

#[test]
fn a_measured_streamed_message_declares_the_size_it_sends() {
    both(|bw| {
        let mut run = Run::new(&plain());
        let open = [
            S("220 peer.test ESMTP\r\n"),
            C("EHLO client.test\r\n"),
            S("250-peer.test\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SIZE 1000\r\n"),
        ];
        run.script::<()>(&open, b"", bw).unwrap();
        let whole = b"From: a@x.test\r\nTo: b@x.test\r\nBcc: c@x.test\r\n\r\nhi\r\n";
        let measured = smtp_proto::BodyOptions::for_body(whole);
        let parts = run
            .session
            .send_message_head(run.now, whole, None, None, Some(measured));
        let kept: Vec<u8> = parts.concat();
        assert_eq!(kept, b"From: a@x.test\r\nTo: b@x.test\r\n\r\nhi\r\n");
        // The Bcc field is not sent, so it is not counted: 51 - 15 = 36.
        let (_, report): (smtp_proto::Envelope, smtp_proto::TxnReport) = run
            .script(
                &[
                    C("MAIL FROM:<a@x.test> SIZE=36\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\n"),
                    S("250 ok\r\n250 ok\r\n250 ok\r\n"),
                    C("BDAT 36 LAST\r\nFrom: a@x.test\r\nTo: b@x.test\r\n\r\nhi\r\n"),
                    S("250 queued\r\n"),
                ],
                &kept,
                bw,
            )
            .unwrap();
        assert!(report.all_delivered());
    });
}

// ----- deep pipelining across messages ------------------------------------

/// A batch in flight: drives `send_many`, handing each message's body when
/// its index is asked for, and checks what the client wrote.
struct Batch<'a> {
    run: Run,
    bodies: Vec<&'a [u8]>,
}

impl Batch<'_> {
    fn drive(&mut self) -> Action {
        for _ in 0..10_000 {
            let action = self.run.session.poll_action(self.run.now);
            if self
                .run
                .session
                .poll_transmit(self.run.now, &mut self.run.wire)
                .is_some()
            {
                continue;
            }
            match action {
                Action::Body { index } => self.run.session.push_slice(&mut self.bodies[index]),
                other => return other,
            }
        }
        panic!("no progress");
    }

    fn client(&mut self, expected: &str) {
        assert_eq!(self.drive(), Action::Read);
        let got = String::from_utf8_lossy(&self.run.wire).into_owned();
        assert_eq!(got, expected, "client bytes");
        self.run.wire.clear();
    }

    fn server(&mut self, text: &str) {
        self.run.session.handle_input(self.run.now, text.as_bytes());
    }

    fn results(mut self) -> Vec<Result<smtp_proto::TxnReport, Error>> {
        assert_eq!(self.drive(), Action::Done);
        self.run.session.take_output().unwrap()
    }
}

const ENVELOPE: &str = "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n";

/// Five messages on a fresh connection: the first one's data waits for its
/// envelope's replies, the second one's for the first delivery; from then
/// on every message of the window leaves in one write, ahead of all
/// replies.
fn five_in_flight(options: &Options) -> Batch<'static> {
    const BODIES: [&[u8]; 5] = [b"m0\r\n", b"m1\r\n", b"m2\r\n", b"m3\r\n", b"m4\r\n"];
    let run = opened(options, false);
    let env = smtp_proto::Envelope::new(
        smtp_proto::ReversePath::parse("a@x.test").unwrap(),
        [smtp_proto::ForwardPath::parse("b@x.test").unwrap()],
    );
    let messages: Vec<_> = BODIES.iter().map(|b| (env.clone(), *b)).collect();
    let mut batch = Batch {
        run,
        bodies: BODIES.to_vec(),
    };
    batch.run.session.send_many(batch.run.now, &messages);
    batch.client(ENVELOPE);
    batch.server("250 ok\r\n250 ok\r\n");
    batch.client(&format!("BDAT 4 LAST\r\nm0\r\n{ENVELOPE}"));
    batch.server("250 queued m0\r\n250 ok\r\n250 ok\r\n");
    batch.client(&format!(
        "BDAT 4 LAST\r\nm1\r\n{ENVELOPE}BDAT 4 LAST\r\nm2\r\n{ENVELOPE}BDAT 4 LAST\r\nm3\r\n{ENVELOPE}BDAT 4 LAST\r\nm4\r\n"
    ));
    batch
}

fn outcomes(results: &[Result<smtp_proto::TxnReport, Error>]) -> Vec<smtp_proto::TxnOutcome> {
    results
        .iter()
        .map(|r| r.as_ref().unwrap().outcome)
        .collect()
}

#[test]
fn a_batch_sends_its_window_ahead_of_the_replies() {
    let mut batch = five_in_flight(&plain());
    batch.server("250 queued m1\r\n250 ok\r\n250 ok\r\n250 queued m2\r\n");
    batch.server("250 ok\r\n250 ok\r\n250 queued m3\r\n250 ok\r\n250 ok\r\n");
    batch.server("250 queued m4\r\n");
    let results = batch.results();
    use smtp_proto::TxnOutcome::Delivered;
    assert_eq!(outcomes(&results), [Delivered; 5]);
    let last = results[4].as_ref().unwrap();
    assert_eq!(
        last.recipients[0]
            .delivery_reply
            .as_ref()
            .unwrap()
            .to_string(),
        "250 queued m4"
    );
}

#[test]
fn the_window_bounds_the_messages_in_flight() {
    let mut options = plain();
    options.window = smtp_proto::session::Window::new(2, 1 << 20);
    let mut batch = Batch {
        run: opened(&options, false),
        bodies: vec![b"m0\r\n", b"m1\r\n", b"m2\r\n", b"m3\r\n"],
    };
    let env = smtp_proto::Envelope::new(
        smtp_proto::ReversePath::parse("a@x.test").unwrap(),
        [smtp_proto::ForwardPath::parse("b@x.test").unwrap()],
    );
    let messages: Vec<_> = batch.bodies.iter().map(|b| (env.clone(), *b)).collect();
    batch.run.session.send_many(batch.run.now, &messages);
    batch.client(ENVELOPE);
    batch.server("250 ok\r\n250 ok\r\n");
    batch.client(&format!("BDAT 4 LAST\r\nm0\r\n{ENVELOPE}"));
    batch.server("250 queued m0\r\n250 ok\r\n250 ok\r\n");
    // m0 is done: m1 and m2 are the two in flight, and m3 waits for m1.
    batch.client(&format!(
        "BDAT 4 LAST\r\nm1\r\n{ENVELOPE}BDAT 4 LAST\r\nm2\r\n"
    ));
    batch.server("250 queued m1\r\n");
    batch.client(&format!("{ENVELOPE}BDAT 4 LAST\r\nm3\r\n"));
    batch.server("250 ok\r\n250 ok\r\n250 queued m2\r\n250 ok\r\n250 ok\r\n250 queued m3\r\n");
    use smtp_proto::TxnOutcome::Delivered;
    assert_eq!(outcomes(&batch.results()), [Delivered; 4]);
}

/// A 421 with three messages in flight: the two answered before it are
/// delivered; the ones whose end of data got no reply are unknown.
#[test]
fn service_closing_with_messages_in_flight() {
    let mut batch = five_in_flight(&plain());
    batch.server("250 queued m1\r\n250 ok\r\n250 ok\r\n250 queued m2\r\n");
    batch.server("421 4.3.2 shutting down\r\n");
    let results = batch.results();
    use smtp_proto::TxnOutcome::{Delivered, Unknown};
    assert_eq!(
        outcomes(&results),
        [Delivered, Delivered, Delivered, Unknown, Unknown]
    );
}

#[test]
fn end_of_file_with_messages_in_flight() {
    let mut batch = five_in_flight(&plain());
    batch.server("250 queued m1\r\n250 ok\r\n250 ok\r\n");
    batch.run.session.handle_eof(batch.run.now);
    let results = batch.results();
    use smtp_proto::TxnOutcome::{Delivered, Unknown};
    assert_eq!(
        outcomes(&results),
        [Delivered, Delivered, Unknown, Unknown, Unknown]
    );
}

#[test]
fn a_deadline_with_messages_in_flight() {
    let mut batch = five_in_flight(&plain());
    batch.server("250 queued m1\r\n250 ok\r\n250 ok\r\n250 queued m2\r\n250 ok\r\n");
    let at = batch.run.session.poll_timeout().unwrap();
    batch.run.now = at;
    batch.run.session.handle_timeout(at);
    let results = batch.results();
    use smtp_proto::TxnOutcome::{Delivered, Unknown};
    assert_eq!(
        outcomes(&results),
        [Delivered, Delivered, Delivered, Unknown, Unknown]
    );
}

/// Advances the clock to the session's next deadline and reports it.
fn expire(run: &mut Run) {
    let deadline = run.session.poll_timeout().expect("a deadline is armed");
    run.now = run.now.max(deadline);
    run.session.handle_timeout(run.now);
}

#[test]
fn a_call_deadline_bounds_a_server_that_answers_just_in_time() {
    let mut options = plain();
    options.call_deadline = Some(Duration::from_secs(90));
    let mut run = Run::new(&options);
    let open = [
        S("220 peer.test ESMTP\r\n"),
        C("EHLO client.test\r\n"),
        S("250 peer.test\r\n"),
    ];
    run.script::<()>(&open, b"", false).unwrap();
    let msg = b"Subject: x\r\n\r\nhi\r\n";
    run.session
        .sendmail(run.now, "a@x.test", &["b@x.test"], msg, &[], &[]);
    let mut body: &[u8] = msg;
    let start = run.now;
    // Each reply comes 50 s after its command: inside the 60 s reply
    // timeout, but MAIL and RCPT together pass the call's 90 s.
    assert_eq!(run.drive(&mut body), Action::Read);
    assert_eq!(run.wire, b"MAIL FROM:<a@x.test>\r\n");
    run.wire.clear();
    run.now += Duration::from_secs(50);
    run.session.handle_input(run.now, b"250 ok\r\n");
    assert_eq!(run.drive(&mut body), Action::Read);
    assert_eq!(run.wire, b"RCPT TO:<b@x.test>\r\n");
    assert_eq!(
        run.session.poll_timeout(),
        Some(start + Duration::from_secs(90))
    );
    expire(&mut run);
    assert_eq!(run.drive(&mut body), Action::Done);
    let e = run.session.take_output::<Refused>().unwrap_err();
    assert!(
        matches!(
            e,
            Error::DeadlineExceeded {
                deadline: smtp_proto::Deadline::Call(d),
                stage: Some(smtp_proto::Stage::Rcpt),
            } if d == Duration::from_secs(90)
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("call's deadline"), "{e}");
    assert!(!run.session.is_connected());
}

#[test]
fn a_call_deadline_after_the_end_of_data_leaves_the_outcome_unknown() {
    let mut options = plain();
    options.call_deadline = Some(Duration::from_secs(30));
    let mut run = opened(&options, false);
    run.session.send_report(
        run.now,
        &smtp_proto::Envelope::new(
            smtp_proto::ReversePath::parse("a@x.test").unwrap(),
            [smtp_proto::ForwardPath::parse("b@x.test").unwrap()],
        ),
        smtp_proto::BodyOptions::default().with_chunking(false),
    );
    let mut body: &[u8] = b"hi\r\n";
    let _ = run.drive(&mut body);
    run.session
        .handle_input(run.now, b"250 ok\r\n250 ok\r\n354 go\r\n");
    assert_eq!(run.drive(&mut body), Action::Read);
    assert!(run.wire.ends_with(b"hi\r\n.\r\n"));
    expire(&mut run);
    assert_eq!(run.drive(&mut body), Action::Done);
    let e = run
        .session
        .take_output::<smtp_proto::TxnReport>()
        .unwrap_err();
    assert!(e.is_outcome_unknown(), "{e:?}");
    assert!(e.to_string().contains("call's deadline"), "{e}");
}

#[test]
fn each_call_gets_its_own_deadline() {
    let mut options = plain();
    options.call_deadline = Some(Duration::from_secs(30));
    let mut run = opened(&options, false);
    for _ in 0..3 {
        // 20 s per NOOP: three of them pass 30 s, none of them alone.
        run.session.noop(run.now);
        let mut body: &[u8] = b"";
        assert_eq!(run.drive(&mut body), Action::Read);
        run.now += Duration::from_secs(20);
        run.session.handle_input(run.now, b"250 ok\r\n");
        assert_eq!(run.drive(&mut body), Action::Done);
        run.session.take_output::<Reply>().unwrap();
        assert_eq!(run.session.poll_timeout(), None, "idle between calls");
    }
}

#[test]
fn the_handshake_gets_what_is_left_of_the_call() {
    let mut options = plain();
    options.call_deadline = Some(Duration::from_secs(40));
    let run = Run::new(&options);
    let left = run
        .session
        .handshake_timeout(run.now + Duration::from_secs(15));
    assert_eq!(left, Duration::from_secs(25));
    let left = run
        .session
        .handshake_timeout(run.now + Duration::from_secs(99));
    assert_eq!(left, Duration::from_millis(1));
    let mut endless = plain();
    endless.call_deadline = Some(Duration::MAX);
    let run = Run::new(&endless);
    assert_eq!(
        run.session.handshake_timeout(run.now),
        endless.config.timeouts.command
    );
}
