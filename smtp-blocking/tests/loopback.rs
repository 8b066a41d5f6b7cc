//! Scripted byte-level peers for what real servers will not do: closing at
//! each phase, 421 at each phase, stalls, and bytes after the STARTTLS 220.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::{Duration, Instant};

use common::{Peer, Step, expect, loopback_builder, send};
use smtp_blocking::smtp_proto::{ProtocolError, Stage, UsageError};
use smtp_blocking::{Error, SmtpClient, TlsPolicy};

const T: Duration = Duration::from_secs(5);
const GREETING: &str = "220 peer.test ESMTP\r\n";
const EHLO: &str = "EHLO client.test\r\n";
/// No PIPELINING: the client works in lock-step, one command per reply.
const EHLO_OK: &str = "250-peer.test\r\n250 8BITMIME\r\n";
const MSG: &[u8] = b"Subject: x\r\n\r\nhi\r\n";

/// The steps up to a ready session.
fn hello() -> Vec<Step> {
    vec![send(GREETING), expect(EHLO), send(EHLO_OK)]
}

fn connect(peer: &Peer) -> Result<SmtpClient, Error> {
    loopback_builder(T).connect_port("127.0.0.1", peer.addr.port())
}

fn sendmail(c: &mut SmtpClient) -> Result<smtp_blocking::Refused, Error> {
    c.sendmail("a@x.test", &["b@x.test"], MSG, &[], &[])
}

/// The steps of one lock-step transaction, cut after `upto` steps.
fn txn(upto: usize) -> Vec<Step> {
    let all = [
        expect("MAIL FROM:<a@x.test>\r\n"),
        send("250 2.1.0 Ok\r\n"),
        expect("RCPT TO:<b@x.test>\r\n"),
        send("250 2.1.5 Ok\r\n"),
        expect("DATA\r\n"),
        send("354 go\r\n"),
        expect("Subject: x\r\n\r\nhi\r\n.\r\n"),
    ];
    all[..upto].to_vec()
}

fn assert_poisoned(c: &mut SmtpClient) {
    assert!(
        matches!(c.noop(), Err(Error::Poisoned { .. })),
        "not poisoned"
    );
    assert!(
        matches!(c.noop(), Err(Error::Poisoned { .. })),
        "not sticky"
    );
}

#[test]
fn happy_path_lock_step_exact_bytes_and_quit() {
    let mut steps = hello();
    steps.extend(txn(7));
    steps.extend([
        send("250 2.0.0 queued\r\n"),
        expect("QUIT\r\n"),
        send("221 2.0.0 bye\r\n"),
        Step::Close,
    ]);
    let peer = Peer::start(steps);
    let mut c = connect(&peer).unwrap();
    assert_eq!(c.greeting().unwrap().code().get(), 220);
    assert!(c.does_esmtp());
    assert!(c.has_extn("8bitmime"));
    assert!(sendmail(&mut c).unwrap().is_empty());
    assert_eq!(c.quit().unwrap().code().get(), 221);
    assert!(matches!(c.noop(), Err(Error::ServerDisconnected { .. })));
    peer.finish();
}

#[test]
fn drop_sends_quit_when_idle() {
    let mut steps = hello();
    steps.extend([expect("QUIT\r\n"), send("221 bye\r\n"), Step::Close]);
    let peer = Peer::start(steps);
    drop(connect(&peer).unwrap());
    peer.finish();
}

#[test]
fn disconnect_at_greeting_and_hello() {
    let peer = Peer::start(vec![Step::Close]);
    let e = connect(&peer).unwrap_err();
    assert!(
        matches!(
            e,
            Error::ServerDisconnected {
                stage: Some(Stage::Greeting)
            }
        ),
        "{e:?}"
    );
    peer.finish();

    let peer = Peer::start(vec![send(GREETING), expect(EHLO), Step::Close]);
    let e = connect(&peer).unwrap_err();
    assert!(
        matches!(
            e,
            Error::ServerDisconnected {
                stage: Some(Stage::Hello)
            }
        ),
        "{e:?}"
    );
    peer.finish();
}

#[test]
fn disconnect_during_the_transaction() {
    // (steps of the transaction before closing, the stage the client names)
    for (upto, stage) in [(1, Stage::Mail), (3, Stage::Rcpt), (5, Stage::DataInit)] {
        let mut steps = hello();
        steps.extend(txn(upto));
        steps.push(Step::Close);
        let peer = Peer::start(steps);
        let mut c = connect(&peer).unwrap();
        let e = sendmail(&mut c).unwrap_err();
        assert!(
            matches!(&e, Error::ServerDisconnected { stage: Some(s) } if *s == stage),
            "{upto}: {e:?}"
        );
        assert!(!e.is_outcome_unknown());
        assert_poisoned(&mut c);
        peer.finish();
    }
}

#[test]
fn disconnect_after_the_final_dot_is_outcome_unknown() {
    let mut steps = hello();
    steps.extend(txn(7));
    steps.push(Step::Close);
    let peer = Peer::start(steps);
    let mut c = connect(&peer).unwrap();
    let e = sendmail(&mut c).unwrap_err();
    assert!(e.is_outcome_unknown(), "{e:?}");
    assert_poisoned(&mut c);
    peer.finish();
}

#[test]
fn disconnect_instead_of_the_quit_reply() {
    let mut steps = hello();
    steps.extend([expect("QUIT\r\n"), Step::Close]);
    let peer = Peer::start(steps);
    let mut c = connect(&peer).unwrap();
    let e = c.quit().unwrap_err();
    assert!(matches!(e, Error::ServerDisconnected { .. }), "{e:?}");
    peer.finish();
}

#[test]
fn service_closing_at_greeting_and_hello() {
    let peer = Peer::start(vec![send("421 4.3.2 busy\r\n"), Step::Drain]);
    let e = connect(&peer).unwrap_err();
    assert!(
        matches!(&e, Error::ConnectError { reply } if reply.code().get() == 421),
        "{e:?}"
    );
    peer.finish();

    let peer = Peer::start(vec![
        send(GREETING),
        expect(EHLO),
        send("421 4.3.2 shutting down\r\n"),
        Step::ExpectClosedSilently,
    ]);
    let e = connect(&peer).unwrap_err();
    assert!(
        matches!(
            &e,
            Error::ServiceClosing {
                stage: Stage::Hello,
                ..
            }
        ),
        "{e:?}"
    );
    peer.finish();
}

#[test]
fn service_closing_during_the_transaction() {
    for (upto, stage) in [
        (1, Stage::Mail),
        (3, Stage::Rcpt),
        (5, Stage::DataInit),
        (7, Stage::DataEnd),
    ] {
        let mut steps = hello();
        steps.extend(txn(upto));
        steps.extend([send("421 4.3.2 closing\r\n"), Step::ExpectClosedSilently]);
        let peer = Peer::start(steps);
        let mut c = connect(&peer).unwrap();
        let e = sendmail(&mut c).unwrap_err();
        assert!(
            matches!(&e, Error::ServiceClosing { stage: s, reply } if *s == stage && reply.code().get() == 421),
            "{upto}: {e:?}"
        );
        // A 421 reply to the final dot is an answer: not delivered.
        assert!(!e.is_outcome_unknown());
        assert_eq!(e.smtp_code(), Some(421));
        assert_poisoned(&mut c);
        peer.finish();
    }
}

#[test]
fn service_closing_to_auth_stops_login() {
    let peer = Peer::start(vec![
        send(GREETING),
        expect(EHLO),
        send("250-peer.test\r\n250 AUTH CRAM-MD5 PLAIN LOGIN\r\n"),
        // login's order puts PLAIN before LOGIN and CRAM-MD5 (last).
        expect("AUTH PLAIN AHUAc2VjcmV0\r\n"),
        send("421 4.7.0 go away\r\n"),
        Step::ExpectClosedSilently,
    ]);
    let mut c = loopback_builder(T)
        .allow_plaintext_auth(true)
        .connect_port("127.0.0.1", peer.addr.port())
        .unwrap();
    let e = c.login("u", "secret").unwrap_err();
    assert!(
        matches!(
            e,
            Error::ServiceClosing {
                stage: Stage::Auth,
                ..
            }
        ),
        "{e:?}"
    );
    peer.finish();
}

#[test]
fn password_mechanisms_need_tls() {
    let mut steps = vec![
        send(GREETING),
        expect(EHLO),
        send("250-peer.test\r\n250 AUTH PLAIN LOGIN\r\n"),
    ];
    steps.extend([expect("QUIT\r\n"), send("221 bye\r\n"), Step::Close]);
    let peer = Peer::start(steps);
    let mut c = connect(&peer).unwrap();
    let e = c.login("u", "secret").unwrap_err();
    assert!(matches!(e, Error::Usage(_)), "{e:?}");
    drop(c);
    peer.finish();
}

#[test]
fn stall_fires_the_deadline_within_budget() {
    let budget = Duration::from_millis(300);
    let peer = Peer::start(vec![
        send(GREETING),
        expect(EHLO),
        send("250-peer"), // a partial line, then nothing
        Step::Drain,
    ]);
    let start = Instant::now();
    let e = loopback_builder(budget)
        .connect_port("127.0.0.1", peer.addr.port())
        .unwrap_err();
    let took = start.elapsed();
    assert!(
        matches!(
            e,
            Error::Timeout {
                stage: Some(Stage::Hello)
            }
        ),
        "{e:?}"
    );
    assert!(took >= budget, "fired early: {took:?}");
    // Generous: the machine may be busy; a missing deadline would hang
    // until the peer gives up (10 s).
    assert!(
        took < budget + Duration::from_secs(2),
        "fired late: {took:?}"
    );
    peer.finish();
}

#[test]
fn dripping_server_cannot_extend_the_deadline() {
    let budget = Duration::from_millis(400);
    let mut steps = vec![send(GREETING), expect(EHLO)];
    // 70 bytes, one every 40 ms (2.8 s): a deadline reset by each byte
    // would fire only after the drip; the real one fires at 400 ms.
    for b in "250-a\r\n".repeat(10).bytes() {
        steps.push(Step::TrySend(vec![b]));
        steps.push(Step::Sleep(Duration::from_millis(40)));
    }
    steps.push(Step::Drain);
    let peer = Peer::start(steps);
    let start = Instant::now();
    let e = loopback_builder(budget)
        .connect_port("127.0.0.1", peer.addr.port())
        .unwrap_err();
    let took = start.elapsed();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(took >= budget, "fired early: {took:?}");
    assert!(took < budget + Duration::from_millis(1500), "took {took:?}");
    peer.finish();
}

#[test]
fn stall_after_the_final_dot_is_outcome_unknown() {
    let budget = Duration::from_millis(300);
    let mut steps = hello();
    steps.extend(txn(7));
    steps.push(Step::Drain);
    let peer = Peer::start(steps);
    let mut c = loopback_builder(budget)
        .connect_port("127.0.0.1", peer.addr.port())
        .unwrap();
    let start = Instant::now();
    let e = sendmail(&mut c).unwrap_err();
    assert!(
        matches!(&e, Error::OutcomeUnknown { cause } if matches!(**cause, Error::Timeout { stage: Some(Stage::DataEnd) })),
        "{e:?}"
    );
    assert!(start.elapsed() < budget + Duration::from_secs(2));
    assert_poisoned(&mut c);
    drop(c);
    peer.finish();
}

#[test]
fn bytes_after_starttls_220_abort_without_handshake() {
    let peer = Peer::start(vec![
        send(GREETING),
        expect(EHLO),
        send("250-peer.test\r\n250 STARTTLS\r\n"),
        expect("STARTTLS\r\n"),
        // The 220 and injected plaintext in one segment.
        send("220 2.0.0 go ahead\r\n250 injected\r\n"),
        // No ClientHello, no QUIT: the client just goes away.
        Step::ExpectClosedSilently,
    ]);
    let mut c = connect(&peer).unwrap();
    let e = c.starttls().unwrap_err();
    assert!(
        matches!(
            e,
            Error::Protocol {
                error: smtp_blocking::smtp_proto::Error::Protocol(ProtocolError::DataAfterStartTls),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(!c.is_tls());
    assert_poisoned(&mut c);
    drop(c);
    peer.finish();
}

#[test]
fn required_tls_without_starttls_sends_only_quit() {
    let peer = Peer::start(vec![
        send(GREETING),
        expect(EHLO),
        send(EHLO_OK),
        expect("QUIT\r\n"),
        send("221 bye\r\n"),
        Step::ExpectClosedSilently,
    ]);
    let e = loopback_builder(T)
        .starttls(TlsPolicy::Required)
        .connect_port("127.0.0.1", peer.addr.port())
        .unwrap_err();
    assert!(matches!(e, Error::TlsRequired { reply: None }), "{e:?}");
    peer.finish();
}

#[test]
fn required_tls_refused_sends_only_quit() {
    let peer = Peer::start(vec![
        send(GREETING),
        expect(EHLO),
        send("250-peer.test\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n"),
        expect("STARTTLS\r\n"),
        send("454 4.7.0 TLS not available\r\n"),
        expect("QUIT\r\n"),
        send("221 bye\r\n"),
        Step::ExpectClosedSilently,
    ]);
    let e = loopback_builder(T)
        .starttls(TlsPolicy::Required)
        .connect_port("127.0.0.1", peer.addr.port())
        .unwrap_err();
    assert!(
        matches!(&e, Error::TlsRequired { reply: Some(r) } if r.code().get() == 454),
        "{e:?}"
    );
    peer.finish();
}

#[test]
fn opportunistic_tls_carries_on_in_plaintext() {
    let mut steps = vec![
        send(GREETING),
        expect(EHLO),
        send("250-peer.test\r\n250 STARTTLS\r\n"),
        expect("STARTTLS\r\n"),
        send("454 4.7.0 not now\r\n"),
        expect("NOOP\r\n"),
        send("250 ok\r\n"),
    ];
    steps.extend([expect("QUIT\r\n"), send("221 bye\r\n"), Step::Close]);
    let peer = Peer::start(steps);
    let mut c = loopback_builder(T)
        .debuglevel(1)
        .starttls(TlsPolicy::Opportunistic)
        .connect_port("127.0.0.1", peer.addr.port())
        .unwrap();
    assert!(!c.is_tls());
    assert_eq!(c.noop().unwrap().code().get(), 250);
    drop(c);
    peer.finish();
}

#[test]
fn refused_greeting_is_a_connect_error() {
    let peer = Peer::start(vec![
        send("554 5.3.2 no service\r\n"),
        expect("QUIT\r\n"),
        send("221 bye\r\n"),
        Step::Close,
    ]);
    let e = connect(&peer).unwrap_err();
    assert!(
        matches!(&e, Error::ConnectError { reply } if reply.code().get() == 554),
        "{e:?}"
    );
    peer.finish();
}

#[test]
fn pipelined_refusals_and_smtplib_errors() {
    let peer = Peer::start(vec![
        send(GREETING),
        expect(EHLO),
        send("250-peer.test\r\n250 PIPELINING\r\n"),
        // One write: MAIL, both RCPTs and DATA.
        expect("MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\nDATA\r\n"),
        send("250 ok\r\n550 5.1.1 no b\r\n450 4.2.1 later c\r\n554 5.5.1 no valid recipients\r\n"),
        // Sender refused: RCPT and DATA pipelined behind it are refused too.
        // The client's own RSET (the server held a transaction) leads.
        expect("RSET\r\nMAIL FROM:<bad@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n"),
        send("250 ok\r\n550 5.7.1 bad sender\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n"),
        expect("QUIT\r\n"),
        send("221 bye\r\n"),
        Step::Close,
    ]);
    let mut c = connect(&peer).unwrap();
    let e = c
        .sendmail("a@x.test", &["b@x.test", "c@x.test"], MSG, &[], &[])
        .unwrap_err();
    let Error::RecipientsRefused { recipients } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(recipients.len(), 2);
    assert_eq!(recipients["b@x.test"].code().get(), 550);
    assert_eq!(recipients["c@x.test"].code().get(), 450);
    let e = c
        .sendmail("bad@x.test", &["b@x.test"], MSG, &[], &[])
        .unwrap_err();
    assert!(
        matches!(&e, Error::SenderRefused { sender, reply } if sender == "bad@x.test" && reply.code().get() == 550),
        "{e:?}"
    );
    assert_eq!(c.quit().unwrap().code().get(), 221);
    peer.finish();
}

#[test]
fn source_address_is_bound_before_connecting() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // A local port that was free a moment ago.
    let src = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, from) = listener.accept().unwrap();
        s.set_read_timeout(Some(T)).unwrap();
        s.write_all(GREETING.as_bytes()).unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], EHLO.as_bytes());
        s.write_all(b"421 4.3.2 bye\r\n").unwrap();
        from
    });
    let e = loopback_builder(T)
        .source_address(src)
        .connect_port("127.0.0.1", port)
        .unwrap_err();
    assert!(matches!(e, Error::ServiceClosing { .. }), "{e:?}");
    assert_eq!(server.join().unwrap(), src);
}

#[test]
fn caller_supplied_stream() {
    let mut steps = hello();
    steps.extend([
        expect("NOOP\r\n"),
        send("250 ok\r\n"),
        expect("QUIT\r\n"),
        send("221 bye\r\n"),
        Step::Close,
    ]);
    let peer = Peer::start(steps);
    let stream = std::net::TcpStream::connect(peer.addr).unwrap();
    let mut c = loopback_builder(T).connect_stream(stream).unwrap();
    assert_eq!(c.noop().unwrap().code().get(), 250);
    assert_eq!(c.quit().unwrap().code().get(), 221);
    peer.finish();
}

#[test]
fn auth_callback_sees_challenges_and_can_cancel() {
    let mut steps = vec![
        send(GREETING),
        expect(EHLO),
        send("250-peer.test\r\n250 AUTH X-TEST\r\n"),
        // Initial response "init", then one challenge answered, one cancelled.
        expect("AUTH X-TEST aW5pdA==\r\n"),
        send("334 Y2gx\r\n"),
        expect("YW5zMQ==\r\n"),
        send("334 Y2gy\r\n"),
        expect("*\r\n"),
        send("501 5.7.0 cancelled\r\n"),
    ];
    steps.extend([expect("QUIT\r\n"), send("221 bye\r\n"), Step::Close]);
    let peer = Peer::start(steps);
    let mut c = loopback_builder(T)
        .allow_plaintext_auth(true)
        .connect_port("127.0.0.1", peer.addr.port())
        .unwrap();
    let mut seen = Vec::new();
    let e = c
        .auth("X-TEST", |challenge| match challenge {
            None => Some(b"init".to_vec()),
            Some(ch) => {
                seen.push(ch.to_vec());
                (ch == b"ch1").then(|| b"ans1".to_vec())
            }
        })
        .unwrap_err();
    assert!(
        matches!(&e, Error::AuthenticationError { mechanism, .. } if mechanism == "X-TEST"),
        "{e:?}"
    );
    assert_eq!(seen, [b"ch1".to_vec(), b"ch2".to_vec()]);
    drop(c);
    peer.finish();
}

#[test]
fn mail_rcpt_data_exact_bytes_and_smtplib_results() {
    let mut steps = vec![
        send(GREETING),
        expect(EHLO),
        send("250-peer.test\r\n250-8BITMIME\r\n250-SIZE 5000\r\n250 DSN\r\n"),
    ];
    steps.extend([
        // smtplib's mail/rcpt/data: one command per call, options as given.
        expect("MAIL FROM:<a@x.test> SIZE=1000 BODY=8BITMIME\r\n"),
        send("250 2.1.0 Ok\r\n"),
        expect("RCPT TO:<b@x.test> NOTIFY=SUCCESS\r\n"),
        send("250 2.1.5 Ok\r\n"),
        expect("RCPT TO:<c@x.test>\r\n"),
        send("550 5.1.1 no c\r\n"),
        expect("DATA\r\n"),
        send("354 go\r\n"),
        expect("Subject: x\r\n\r\n..dot\r\n.\r\n"),
        send("250 2.0.0 queued as 1\r\n"),
        // A refused MAIL: RCPT and DATA still go out; DATA's refusal is
        // the DataError.
        expect("MAIL FROM:<bad@x.test>\r\n"),
        send("550 5.7.1 bad sender\r\n"),
        expect("RCPT TO:<b@x.test>\r\n"),
        send("503 5.5.1 need MAIL\r\n"),
        expect("DATA\r\n"),
        send("503 5.5.1 need MAIL\r\n"),
        // rset closes an envelope left open.
        expect("MAIL FROM:<a@x.test>\r\n"),
        send("250 2.1.0 Ok\r\n"),
        expect("RSET\r\n"),
        send("250 2.0.0 Ok\r\n"),
        expect("QUIT\r\n"),
        send("221 bye\r\n"),
        Step::Close,
    ]);
    let peer = Peer::start(steps);
    let mut c = connect(&peer).unwrap();
    let r = c.mail("a@x.test", &["SIZE=1000", "BODY=8BITMIME"]).unwrap();
    assert_eq!(r.code().get(), 250);
    let r = c.rcpt("b@x.test", &["NOTIFY=SUCCESS"]).unwrap();
    assert_eq!(r.code().get(), 250);
    // A refusal is an answer, not an error.
    let r = c.rcpt("c@x.test", &[]).unwrap();
    assert_eq!(r.code().get(), 550);
    let r = c.data(b"Subject: x\n\n.dot").unwrap();
    assert_eq!(r.code().get(), 250);
    assert_eq!(r.text_lossy(), "2.0.0 queued as 1");
    assert!(matches!(
        c.rcpt("d@x.test", &[]),
        Err(Error::Usage(UsageError::NoOpenEnvelope))
    ));

    assert_eq!(c.mail("bad@x.test", &[]).unwrap().code().get(), 550);
    assert_eq!(c.rcpt("b@x.test", &[]).unwrap().code().get(), 503);
    let e = c.data(MSG).unwrap_err();
    assert!(
        matches!(&e, Error::DataError { reply } if reply.code().get() == 503),
        "{e:?}"
    );
    assert!(!e.is_fatal());

    assert_eq!(c.mail("a@x.test", &[]).unwrap().code().get(), 250);
    assert_eq!(c.rset().unwrap().code().get(), 250);
    assert!(matches!(
        c.data(MSG),
        Err(Error::Usage(UsageError::NoOpenEnvelope))
    ));
    assert!(matches!(
        c.mail("a@x.test", &["SIZE=lots"]),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(c.quit().unwrap().code().get(), 221);
    peer.finish();
}

/// A timeout too large to add to the clock means "no bound": the session
/// runs (no panic, no busy loop) and a connect failure names its target.
#[test]
fn a_huge_timeout_is_no_bound() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = smtp_blocking::Builder::new()
        .timeout(std::time::Duration::MAX)
        .connect_port("127.0.0.1", port)
        .unwrap_err();
    assert!(e.to_string().contains("connecting to 127.0.0.1:"), "{e}");
    let peer = Peer::start(vec![
        send(GREETING),
        expect(EHLO),
        send("250 peer.test\r\n"),
        expect("NOOP\r\n"),
        send("250 ok\r\n"),
        expect("QUIT\r\n"),
        send("221 bye\r\n"),
        Step::Close,
    ]);
    let mut c = loopback_builder(std::time::Duration::MAX)
        .connect_port("127.0.0.1", peer.addr.port())
        .unwrap();
    assert_eq!(c.noop().unwrap().code().get(), 250);
    drop(c);
    peer.finish();
}

/// A TLS backend that was not compiled in fails before the session's first
/// byte (the greeting is not even read), with a typed error that names the
/// feature to turn on; for STARTTLS as for implicit TLS.
#[cfg(not(any(feature = "rustls-native-roots", feature = "rustls-webpki-roots")))]
#[test]
fn a_tls_backend_not_compiled_in_fails_before_the_first_byte() {
    use smtp_blocking::{BackendUnavailable, TlsBackend};
    for implicit in [false, true] {
        let peer = Peer::start(vec![Step::ExpectClosedSilently]);
        let mut b = loopback_builder(T)
            .starttls(TlsPolicy::Required)
            .tls_backend(TlsBackend::Rustls);
        if implicit {
            b = b.implicit_tls();
        }
        let e = b.connect_port("127.0.0.1", peer.addr.port()).unwrap_err();
        let Error::Tls(inner) = &e else {
            panic!("{e:?}")
        };
        let wanted = inner.downcast_ref::<BackendUnavailable>().map(|u| u.wanted);
        assert_eq!(wanted, Some(Some(TlsBackend::Rustls)), "{e:?}");
        assert!(e.to_string().contains("`rustls` feature"), "{e}");
        peer.finish();
    }
}
