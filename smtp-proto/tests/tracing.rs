//! The `tracing` feature: a [`Session`] driven by script under a capturing
//! subscriber must open its spans, report commands, replies and the
//! transaction's outcome, and never show a secret: the AUTH secrets sweep's
//! needles (`smtp-testkit`'s `secrets_cases`, shared with the adapters'
//! wire-trace sweep) are searched in everything the subscriber saw.
//!
//! Runs only with the feature: `cargo test -p smtp-client-proto --features tracing
//! --test tracing` (scripts/test.sh does).
#![cfg(feature = "tracing")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use smtp_proto::auth::{Authenticator, Login, Plain};
use smtp_proto::session::{Action, Options, Session, TlsPolicy};
use smtp_proto::{BodyOptions, Domain, Envelope, ForwardPath, Mechanism, Reply, ReversePath};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// The needles and the scenarios of the adapters' secrets sweep (the file
/// is shared; this crate cannot depend on `smtp-testkit`, which depends on
/// it).
#[allow(dead_code, unreachable_pub)]
#[path = "../testkit/src/secrets_cases.rs"]
mod secrets_cases;

use secrets_cases::{
    ENDINGS, Ending, MECHS, Mech, PASSWORD, PASSWORD_B64, PLAIN_B64, USER, USER_B64,
};

// ----- a subscriber that writes everything into a string ------------------

/// Writes one line per span, record, event and close into `out`:
/// `span 3 smtp.session parent=- dialect="smtp" ...`,
/// `record 3 server="peer.test"`, `event DEBUG parent=3 message=sent
/// command="EHLO client.test"`, `close 3`.
#[derive(Clone, Default)]
struct Capture {
    out: Arc<Mutex<String>>,
    next: Arc<AtomicU64>,
}

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

fn id(id: Option<&Id>) -> String {
    id.map_or("-".to_owned(), |id| id.into_u64().to_string())
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let n = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let parent = if attrs.is_contextual() {
            "contextual".to_owned()
        } else {
            id(attrs.parent())
        };
        let mut line = format!(
            "span {n} {} {} parent={parent}",
            attrs.metadata().level(),
            attrs.metadata().name()
        );
        attrs.record(&mut Fields(&mut line));
        self.push(line);
        Id::from_u64(n)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut line = format!("record {}", span.into_u64());
        values.record(&mut Fields(&mut line));
        self.push(line);
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = format!(
            "event {} parent={} target={}",
            event.metadata().level(),
            id(event.parent()),
            event.metadata().target()
        );
        event.record(&mut Fields(&mut line));
        self.push(line);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}

    fn try_close(&self, span: Id) -> bool {
        self.push(format!("close {}", span.into_u64()));
        true
    }
}

impl Capture {
    fn push(&self, line: String) {
        let mut out = self.out.lock().unwrap();
        out.push_str(&line);
        out.push('\n');
    }

    fn text(&self) -> String {
        self.out.lock().unwrap().clone()
    }
}

/// Runs `f` with a fresh capturing subscriber; returns its result and the
/// captured text.
fn captured<T>(f: impl FnOnce() -> T) -> (T, String) {
    let capture = Capture::default();
    let r = tracing::subscriber::with_default(capture.clone(), f);
    (r, capture.text())
}

/// The captured lines matching every one of `parts`.
fn lines_with<'a>(text: &'a str, parts: &[&str]) -> Vec<&'a str> {
    text.lines()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .collect()
}

fn has(text: &str, parts: &[&str]) -> bool {
    !lines_with(text, parts).is_empty()
}

// ----- a scripted driver ----------------------------------------------------

struct Run {
    session: Session,
    now: Instant,
    wire: Vec<u8>,
    /// Every byte the client wrote.
    all: Vec<u8>,
    auth: Option<Box<dyn Authenticator + Send>>,
}

impl Run {
    fn new() -> Run {
        let mut options = Options::default();
        options.tls_policy = Some(TlsPolicy::Disabled);
        options.config.allow_plaintext_auth = true;
        let now = Instant::now();
        let local = Domain::parse("client.test").unwrap();
        let mut session = Session::connect(&options, local, false, now);
        session.set_peer("mx.test");
        Run {
            session,
            now,
            wire: Vec::new(),
            all: Vec::new(),
            auth: None,
        }
    }

    /// Drives the operation until it needs input or is done.
    fn drive(&mut self, mut body: &[u8]) -> Action {
        for _ in 0..10_000 {
            let action = self.session.poll_action(self.now);
            let before = self.wire.len();
            if self
                .session
                .poll_transmit(self.now, &mut self.wire)
                .is_some()
            {
                self.all.extend_from_slice(&self.wire[before..]);
                continue;
            }
            match action {
                Action::Body { .. } => self.session.push_slice(&mut body),
                Action::AuthAnswer => {
                    let challenge = self.session.auth_challenge().unwrap().to_vec();
                    let answer = self.auth.as_mut().unwrap().respond(&challenge);
                    self.session.answer_auth(answer);
                }
                Action::AuthFinish => {
                    let verdict = self.auth.as_mut().map_or(Ok(()), |a| a.finish());
                    self.session.auth_finished(verdict);
                }
                other => return other,
            }
        }
        panic!("no progress");
    }

    fn server(&mut self, text: &str) {
        self.session.handle_input(self.now, text.as_bytes());
    }

    /// What the client wrote since the last call, once it waits.
    fn client(&mut self) -> String {
        let _ = self.drive(b"");
        String::from_utf8(std::mem::take(&mut self.wire)).unwrap()
    }

    fn done<T: smtp_proto::session::FromOutput>(&mut self, body: &[u8]) -> T {
        assert_eq!(self.drive(body), Action::Done);
        self.session.take_output().unwrap()
    }
}

// ----- the tests --------------------------------------------------------------

/// Greeting, EHLO, AUTH PLAIN refused, AUTH LOGIN accepted, one message
/// with a refused recipient, QUIT; the wire trace on at the same time.
#[test]
fn session_spans_commands_replies_and_outcome() {
    let (wire, text) = captured(|| {
        let mut run = Run::new();
        run.session
            .set_debuglevel(1, run.now, SystemTime::UNIX_EPOCH);
        run.server("220 peer.test ESMTP ready\r\n");
        assert_eq!(run.client(), "EHLO client.test\r\n");
        run.server("250-peer.test\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n");
        run.done::<()>(b"");

        let mut plain = Plain::new(USER, PASSWORD);
        run.session.authenticate(run.now, &mut plain);
        assert_eq!(run.client(), format!("AUTH PLAIN {PLAIN_B64}\r\n"));
        run.server("535 5.7.8 no\r\n");
        assert!(run.drive(b"") == Action::Done);
        assert!(run.session.take_output::<Reply>().is_err());

        run.auth = Some(Box::new(Login::new(USER, PASSWORD)));
        run.session.auth(run.now, Mechanism::LOGIN, None);
        assert_eq!(run.client(), "AUTH LOGIN\r\n");
        run.server("334 VXNlcm5hbWU6\r\n");
        assert_eq!(run.client(), format!("{USER_B64}\r\n"));
        run.server("334 UGFzc3dvcmQ6\r\n");
        assert_eq!(run.client(), format!("{PASSWORD_B64}\r\n"));
        run.server("235 2.7.0 ok\r\n");
        let _: Reply = run.done(b"");

        let envelope = Envelope::new(
            ReversePath::parse("a@x.test").unwrap(),
            ["b@x.test", "c@x.test"].map(|t| ForwardPath::parse(t).unwrap()),
        );
        let body = b"Subject: s\r\n\r\nconfidential-body-text\r\n";
        run.session
            .send(run.now, &envelope, BodyOptions::for_body(body));
        assert_eq!(
            run.client(),
            "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\nDATA\r\n"
        );
        run.server("250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n354 go\r\n");
        let _ = run.drive(body);
        let _ = std::mem::take(&mut run.wire);
        run.server("250 2.0.0 queued as X\r\n");
        let r = run.drive(body);
        assert_eq!(r, Action::Done);
        let report = run
            .session
            .take_output::<smtp_proto::TxnReport>()
            .unwrap_err();
        assert!(report.to_string().contains("c@x.test"), "{report}");

        run.session.quit(run.now);
        assert_eq!(run.client(), "QUIT\r\n");
        run.server("221 bye\r\n");
        let _: Reply = run.done(b"");

        // The wire trace still works, unchanged, beside the spans.
        let trace = String::from_utf8(run.session.take_trace().unwrap().to_vec()).unwrap();
        assert!(trace.contains("C: AUTH PLAIN <redacted>\n"), "{trace}");
        assert!(trace.contains("S: 550 5.1.1 no such user\n"), "{trace}");
        secrets_cases::assert_clean("wire trace", &trace);
        String::from_utf8(run.all).unwrap()
    });

    // The secrets went on the wire, and nowhere into the subscriber.
    assert!(wire.contains(PLAIN_B64) && wire.contains(PASSWORD_B64));
    secrets_cases::assert_clean("tracing output", &text);
    for answer in [USER_B64, "confidential-body-text"] {
        assert!(!text.contains(answer), "tracing shows {answer:?}:\n{text}");
    }

    // The session's span, named after the peer and the greeting.
    let session = lines_with(&text, &["span ", "INFO smtp.session"]);
    assert_eq!(session.len(), 1, "{text}");
    let sid = session[0].split(' ').nth(1).unwrap();
    assert!(session[0].contains("parent=contextual"), "{}", session[0]);
    assert!(session[0].contains("dialect=\"smtp\""), "{}", session[0]);
    assert!(has(&text, &[&format!("record {sid} "), "peer=\"mx.test\""]));
    assert!(has(
        &text,
        &[&format!("record {sid} "), "server=\"peer.test\""]
    ));

    // Commands and replies, with the wire trace's redaction.
    let child = format!("parent={sid} target=smtp_proto::session");
    for command in [
        "\"EHLO client.test\"",
        "\"AUTH PLAIN <redacted>\"",
        "\"AUTH LOGIN\"",
        "\"MAIL FROM:<a@x.test>\"",
        "\"RCPT TO:<c@x.test>\"",
        "\"QUIT\"",
    ] {
        let want = format!("command={command}");
        assert!(
            has(&text, &["event DEBUG", &child, &want]),
            "no {want}:\n{text}"
        );
    }
    let answers = lines_with(&text, &["event DEBUG", &child, "command=\"<redacted>\""]);
    assert_eq!(answers.len(), 2, "the two LOGIN answers:\n{text}");
    assert!(has(&text, &["event TRACE", &child, "octets="]), "{text}");
    assert!(has(
        &text,
        &[
            "event DEBUG",
            &child,
            "code=250",
            r#"reply="250-peer.test\\n250-PIPELINING\\n250 AUTH PLAIN LOGIN""#
        ]
    ));
    assert!(has(&text, &["event DEBUG", &child, "code=535"]), "{text}");
    assert!(has(&text, &["event DEBUG", &child, "code=550"]), "{text}");

    // The transaction's span, its recipient events and its outcome.
    let txn = lines_with(&text, &["span ", "INFO smtp.transaction"]);
    assert_eq!(txn.len(), 1, "{text}");
    assert!(txn[0].contains(&format!("parent={sid}")), "{}", txn[0]);
    assert!(txn[0].contains("recipients=2"), "{}", txn[0]);
    let tid = txn[0].split(' ').nth(1).unwrap();
    let in_txn = format!("parent={tid} ");
    assert!(has(
        &text,
        &[
            &in_txn,
            "RCPT answered",
            "rcpt=1",
            "code=550",
            "accepted=false"
        ]
    ));
    assert!(has(
        &text,
        &[&format!("record {tid} "), "outcome=\"delivered\""]
    ));
    assert!(has(&text, &[&format!("record {tid} "), "delivered=1"]));
    assert!(has(
        &text,
        &[
            "event INFO",
            &in_txn,
            "transaction finished",
            "outcome=\"delivered\"",
            "recipients=2",
            "accepted=1",
            "delivered=1"
        ]
    ));
    assert!(text.contains(&format!("close {tid}\n")), "{text}");
}

/// Every mechanism and ending of the adapters' secrets sweep, run through
/// a session under the subscriber: no needle in its output, the AUTH
/// line and the verdict in it, a failed session reported as WARN.
#[test]
fn secrets_sweep_through_tracing() {
    for mech in MECHS {
        for ending in ENDINGS {
            let what = format!("{mech:?}/{ending:?}");
            let (outcome, text) = captured(|| scenario(mech, ending));
            secrets_cases::check_outcome(&what, ending, &outcome);
            secrets_cases::assert_clean(&format!("tracing output of {what}"), &text);
            let auth_line = secrets_cases::trace_auth_line(mech).trim_start_matches("C: ");
            let auth_line = match mech {
                Mech::Plain | Mech::PlainFn | Mech::XOAuth2 => format!("{auth_line} <redacted>"),
                _ => auth_line.to_owned(),
            };
            assert!(
                has(&text, &["event DEBUG", &format!("command=\"{auth_line}\"")]),
                "{what}: no {auth_line:?}:\n{text}"
            );
            let verdict = match ending {
                Ending::Accepted => has(&text, &["event DEBUG", "code=235"]),
                Ending::Refused => has(&text, &["event DEBUG", "code=535"]),
                Ending::Eof => has(&text, &["event WARN", "session failed"]),
            };
            assert!(verdict, "{what}: no verdict:\n{text}");
            if matches!(mech, Mech::Login | Mech::CramMd5) {
                assert!(
                    has(&text, &["command=\"<redacted>\""]),
                    "{what}: answer not redacted:\n{text}"
                );
            }
        }
    }
}

/// Plays `secrets_cases::scenario(mech, ending)` against a session (the
/// hostile server's script read as a transcript); returns the AUTH
/// operation's result.
fn scenario(mech: Mech, ending: Ending) -> Result<Reply, smtp_proto::session::Error> {
    let mut run = Run::new();
    let mut pending = String::new();
    let mut auth_started = false;
    let mut result = None;
    for line in secrets_cases::scenario(mech, ending).lines() {
        let (step, rest) = line.split_at(line.find(' ').unwrap_or(line.len()));
        let rest = rest.trim_start();
        match step {
            "S+" => pending.push_str(&format!("{rest}\r\n")),
            "S:" => {
                pending.push_str(&format!("{rest}\r\n"));
                run.server(&std::mem::take(&mut pending));
            }
            "C:" => {
                if !auth_started && run.drive(b"") == Action::Done {
                    run.session.take_output::<()>().unwrap();
                    start_auth(&mut run, mech);
                    auth_started = true;
                }
                assert_eq!(run.client(), format!("{rest}\r\n"), "{mech:?}");
            }
            "BYE" => {
                assert_eq!(run.drive(b""), Action::Done);
                result = Some(run.session.take_output::<Reply>());
                run.session.quit(run.now);
                assert_eq!(run.client(), "QUIT\r\n");
                run.server("221 bye\r\n");
                let _: Reply = run.done(b"");
            }
            "CLOSE" => {
                run.session.handle_eof(run.now);
                assert_eq!(run.drive(b""), Action::Done);
                result = Some(run.session.take_output::<Reply>());
            }
            other => panic!("step {other:?} not understood"),
        }
    }
    result.unwrap()
}

fn start_auth(run: &mut Run, mech: Mech) {
    match secrets_cases::authenticator(mech) {
        Some(mut auth) => {
            let mechanism = auth.mechanism();
            let initial = auth.initial_response();
            run.auth = Some(Box::new(SweptBox(auth)));
            run.session.auth(run.now, mechanism, initial);
        }
        None => {
            let initial = secrets_cases::plain_fn(None).map(smtp_proto::Secret::new);
            run.session.auth(run.now, Mechanism::PLAIN, initial);
        }
    }
}

/// A boxed sweep authenticator as the driver's `Authenticator`.
struct SweptBox(Box<dyn secrets_cases::SweptAuth>);

impl Authenticator for SweptBox {
    fn mechanism(&self) -> Mechanism {
        self.0.mechanism()
    }

    fn initial_response(&mut self) -> Option<smtp_proto::Secret<Vec<u8>>> {
        self.0.initial_response()
    }

    fn respond(&mut self, challenge: &[u8]) -> Option<smtp_proto::Secret<Vec<u8>>> {
        self.0.respond(challenge)
    }
}
