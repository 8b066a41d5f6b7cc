//! Byte-scripted peers for what real servers will not do: stalls (every
//! deadline fires within its budget), a stalled write (`data_block`), a
//! server dripping one byte at a time, 421 and disconnects at each phase,
//! bytes after the STARTTLS 220.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::{Duration, Instant};

use common::{Peer, Step, expect, loopback_builder, opening, send, until};
use smtp_tokio::smtp_proto::{
    BodyOptions, Envelope, ForwardPath, ProtocolError, ReversePath, Stage, Timeouts, TxnOutcome,
};
use smtp_tokio::{Error, TlsPolicy};

fn env() -> Envelope {
    Envelope::new(
        ReversePath::parse("a@example.org").unwrap(),
        [ForwardPath::parse("b@example.org").unwrap()],
    )
}

const SHORT: Duration = Duration::from_millis(300);

/// The deadline fired after about `budget`, never much later.
fn within(started: Instant, budget: Duration) {
    let took = started.elapsed();
    assert!(took >= budget.mul_f32(0.9), "fired early: {took:?}");
    assert!(
        took < budget + Duration::from_secs(2),
        "fired late: {took:?}"
    );
}

#[tokio::test]
async fn greeting_deadline() {
    let peer = Peer::start(vec![Step::Sleep(Duration::from_secs(2))]).await;
    let started = Instant::now();
    let e = loopback_builder(SHORT)
        .connect(&peer.addr.to_string())
        .await
        .unwrap_err();
    within(started, SHORT);
    // Nothing at all came: the error says what is likely wrong.
    assert!(
        matches!(e, Error::NoGreeting { waited } if waited == SHORT),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_dripping_reply_does_not_extend_the_deadline() {
    let mut steps = opening(&["PIPELINING"]);
    steps.push(expect("NOOP\r\n"));
    for b in b"250 still here, slowly\r\n" {
        steps.push(Step::Send(vec![*b]));
        steps.push(Step::Sleep(Duration::from_millis(100)));
    }
    let peer = Peer::start(steps).await;
    let mut smtp = loopback_builder(Duration::from_millis(500))
        .connect(&peer.addr.to_string())
        .await
        .unwrap();
    let started = Instant::now();
    let e = smtp.noop().await.unwrap_err();
    within(started, Duration::from_millis(500));
    assert!(
        matches!(
            e,
            Error::Timeout {
                stage: Some(Stage::Command)
            }
        ),
        "{e:?}"
    );
    assert!(matches!(smtp.noop().await, Err(Error::Poisoned { .. })));
}

#[tokio::test]
async fn a_stalled_write_fails_after_data_block() {
    let mut steps = opening(&[]);
    steps.extend([
        expect("MAIL FROM:<a@example.org>\r\n"),
        send("250 ok\r\n"),
        expect("RCPT TO:<b@example.org>\r\n"),
        send("250 ok\r\n"),
        expect("DATA\r\n"),
        send("354 go\r\n"),
        // Never read the body.
        Step::Sleep(Duration::from_secs(4)),
    ]);
    let peer = Peer::start(steps).await;
    let mut timeouts = Timeouts::uniform(Duration::from_secs(30));
    timeouts.data_block = SHORT;
    let mut smtp = loopback_builder(Duration::from_secs(30))
        .timeouts(timeouts)
        .connect(&peer.addr.to_string())
        .await
        .unwrap();
    let body = vec![b'x'; 64 * 1024 * 1024];
    let started = Instant::now();
    let e = smtp
        .send_report(&env(), &body[..], BodyOptions::default())
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            e,
            Error::Timeout {
                stage: Some(Stage::Body)
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn final_reply_deadline_is_outcome_unknown() {
    let mut steps = opening(&["PIPELINING"]);
    steps.extend([
        until("DATA\r\n"),
        send("250 ok\r\n250 ok\r\n354 go\r\n"),
        until("\r\n.\r\n"),
        Step::Sleep(Duration::from_secs(2)),
    ]);
    let peer = Peer::start(steps).await;
    let mut smtp = loopback_builder(SHORT)
        .connect(&peer.addr.to_string())
        .await
        .unwrap();
    let e = smtp
        .sendmail("a@example.org", &["b@example.org"], b"hi\r\n", &[], &[])
        .await
        .unwrap_err();
    assert!(e.is_outcome_unknown(), "{e:?}");
    let Error::OutcomeUnknown { cause } = e else {
        unreachable!()
    };
    assert!(
        matches!(
            *cause,
            Error::Timeout {
                stage: Some(Stage::DataEnd)
            }
        ),
        "{cause:?}"
    );
}

#[tokio::test]
async fn disconnect_after_the_dot_is_outcome_unknown() {
    let mut steps = opening(&["PIPELINING"]);
    steps.extend([
        until("DATA\r\n"),
        send("250 ok\r\n250 ok\r\n354 go\r\n"),
        until("\r\n.\r\n"),
        Step::Close,
    ]);
    let peer = Peer::start(steps).await;
    let mut smtp = loopback_builder(Duration::from_secs(5))
        .connect(&peer.addr.to_string())
        .await
        .unwrap();
    let e = smtp
        .send_report(&env(), &b"hi\r\n"[..], BodyOptions::default())
        .await
        .unwrap_err();
    assert!(e.is_outcome_unknown(), "{e:?}");
    peer.finish().await;
}

#[tokio::test]
async fn disconnect_before_the_dot_is_not_delivered() {
    let mut steps = opening(&["PIPELINING"]);
    steps.extend([until("RCPT TO:<b@example.org>\r\n"), Step::Close]);
    let peer = Peer::start(steps).await;
    let mut smtp = loopback_builder(Duration::from_secs(5))
        .connect(&peer.addr.to_string())
        .await
        .unwrap();
    let e = smtp
        .sendmail("a@example.org", &["b@example.org"], b"hi\r\n", &[], &[])
        .await
        .unwrap_err();
    assert!(!e.is_outcome_unknown(), "{e:?}");
    assert!(matches!(e, Error::ServerDisconnected { .. }), "{e:?}");
}

#[tokio::test]
async fn service_closing_at_each_phase() {
    // (what the client sends last, the 421 in its place, expected stage)
    let cases: Vec<(Vec<Step>, Stage)> = vec![
        (vec![expect("NOOP\r\n")], Stage::Command),
        (vec![expect("MAIL FROM:<a@example.org>\r\n")], Stage::Mail),
        (
            vec![
                expect("MAIL FROM:<a@example.org>\r\n"),
                send("250 ok\r\n"),
                expect("RCPT TO:<b@example.org>\r\n"),
            ],
            Stage::Rcpt,
        ),
        (
            vec![
                expect("MAIL FROM:<a@example.org>\r\n"),
                send("250 ok\r\n"),
                expect("RCPT TO:<b@example.org>\r\n"),
                send("250 ok\r\n"),
                expect("DATA\r\n"),
            ],
            Stage::DataInit,
        ),
    ];
    for (prefix, stage) in cases {
        let mut steps = opening(&[]);
        steps.extend(prefix);
        steps.push(send("421 4.3.2 shutting down\r\n"));
        steps.push(Step::Drain);
        let peer = Peer::start(steps).await;
        let mut smtp = loopback_builder(Duration::from_secs(5))
            .connect(&peer.addr.to_string())
            .await
            .unwrap();
        let e = if stage == Stage::Command {
            smtp.noop().await.unwrap_err()
        } else {
            smtp.sendmail("a@example.org", &["b@example.org"], b"x\r\n", &[], &[])
                .await
                .unwrap_err()
        };
        assert!(
            matches!(&e, Error::ServiceClosing { stage: s, .. } if *s == stage),
            "{stage:?}: {e:?}"
        );
        assert_eq!(e.smtp_code(), Some(421));
        assert!(!smtp.is_connected());
        assert!(matches!(smtp.noop().await, Err(Error::Poisoned { .. })));
        peer.finish().await;
    }
}

#[tokio::test]
async fn refused_greeting_is_a_connect_error() {
    let peer = Peer::start(vec![
        send("554 go away\r\n"),
        expect("QUIT\r\n"),
        send("221 bye\r\n"),
        Step::Drain,
    ])
    .await;
    let e = loopback_builder(Duration::from_secs(5))
        .connect(&peer.addr.to_string())
        .await
        .unwrap_err();
    assert!(matches!(&e, Error::ConnectError { .. }), "{e:?}");
    assert_eq!(e.smtp_code(), Some(554));
    peer.finish().await;
}

#[tokio::test]
async fn bytes_after_the_starttls_reply_stop_everything() {
    let mut steps = opening(&["STARTTLS"]);
    steps.extend([
        expect("STARTTLS\r\n"),
        // The injection: a plaintext reply hidden behind the 220.
        send("220 go ahead\r\n250 injected\r\n"),
        Step::Drain,
    ]);
    let peer = Peer::start(steps).await;
    let e = loopback_builder(Duration::from_secs(5))
        .starttls(TlsPolicy::Required)
        .connect(&peer.addr.to_string())
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Protocol {
                error: smtp_tokio::smtp_proto::Error::Protocol(ProtocolError::DataAfterStartTls),
                ..
            }
        ),
        "{e:?}"
    );
    peer.finish().await;
}

#[tokio::test]
async fn refused_starttls_under_required_sends_only_quit() {
    let mut steps = opening(&["STARTTLS", "AUTH PLAIN"]);
    steps.extend([
        expect("STARTTLS\r\n"),
        send("454 4.7.0 TLS not available\r\n"),
        expect("QUIT\r\n"),
        send("221 bye\r\n"),
        Step::Drain,
    ]);
    let peer = Peer::start(steps).await;
    let e = loopback_builder(Duration::from_secs(5))
        .starttls(TlsPolicy::Required)
        .connect(&peer.addr.to_string())
        .await
        .unwrap_err();
    assert!(matches!(&e, Error::TlsRequired { reply: Some(_) }), "{e:?}");
    peer.finish().await;
}

#[tokio::test]
async fn pipelined_batch_shares_round_trips() {
    // Two messages: the second envelope rides with the first end of data.
    let mut steps = opening(&["PIPELINING"]);
    steps.extend([
        expect("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"),
        send("250 ok\r\n250 ok\r\n354 go\r\n"),
        expect("one\r\n.\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"),
        send("250 queued as 1\r\n250 ok\r\n250 ok\r\n354 go\r\n"),
        expect("two\r\n.\r\n"),
        send("250 queued as 2\r\n"),
        expect("QUIT\r\n"),
        send("221 bye\r\n"),
    ]);
    let peer = Peer::start(steps).await;
    let mut smtp = loopback_builder(Duration::from_secs(5))
        .connect(&peer.addr.to_string())
        .await
        .unwrap();
    let results = smtp
        .send_many(&[(env(), b"one\r\n".to_vec()), (env(), b"two\r\n".to_vec())])
        .await;
    for r in &results {
        assert_eq!(r.as_ref().unwrap().outcome, TxnOutcome::Delivered);
    }
    smtp.quit().await.unwrap();
    peer.finish().await;
}

#[tokio::test]
async fn batch_failure_accounts_for_every_message() {
    // The connection drops after the first message's end of data.
    let mut steps = opening(&["PIPELINING"]);
    steps.extend([
        expect("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"),
        send("250 ok\r\n250 ok\r\n354 go\r\n"),
        until("one\r\n.\r\n"),
        Step::Close,
    ]);
    let peer = Peer::start(steps).await;
    let mut smtp = loopback_builder(Duration::from_secs(5))
        .connect(&peer.addr.to_string())
        .await
        .unwrap();
    let msgs: Vec<(Envelope, Vec<u8>)> = ["one", "two", "three", "four"]
        .iter()
        .map(|b| (env(), format!("{b}\r\n").into_bytes()))
        .collect();
    let results = smtp.send_many(&msgs).await;
    assert_eq!(results.len(), 4);
    assert_eq!(results[0].as_ref().unwrap().outcome, TxnOutcome::Unknown);
    // The other three were in the window (queued in the engine, not sent
    // past their envelope): each is reported aborted before its end of
    // data, so none of them can have been delivered.
    for r in &results[1..] {
        assert_eq!(r.as_ref().unwrap().outcome, TxnOutcome::Aborted, "{r:?}");
    }
    assert!(!smtp.is_connected());
    peer.finish().await;
}

#[tokio::test]
async fn drop_sends_quit_when_idle_and_nothing_when_poisoned() {
    let mut steps = opening(&[]);
    steps.extend([expect("QUIT\r\n"), Step::ExpectClosedSilently]);
    let peer = Peer::start(steps).await;
    let smtp = loopback_builder(Duration::from_secs(5))
        .connect(&peer.addr.to_string())
        .await
        .unwrap();
    drop(smtp);
    peer.finish().await;

    let mut steps = opening(&[]);
    steps.extend([expect("NOOP\r\n"), Step::ExpectClosedSilently]);
    let peer = Peer::start(steps).await;
    let mut smtp = loopback_builder(Duration::from_secs(5))
        .connect(&peer.addr.to_string())
        .await
        .unwrap();
    let _ = tokio::time::timeout(Duration::from_millis(100), smtp.noop()).await;
    drop(smtp);
    peer.finish().await;
}

#[tokio::test]
async fn source_address_is_bound_before_connecting() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, from) = listener.accept().await.unwrap();
        let mut steps = opening(&[]);
        steps.push(Step::Drain);
        common::run_script(stream, steps).await.unwrap();
        from
    });
    let smtp = loopback_builder(Duration::from_secs(5))
        .source_address("127.0.0.2:0".parse().unwrap())
        .connect(&addr.to_string())
        .await
        .unwrap();
    drop(smtp);
    let from = server.await.unwrap();
    assert_eq!(from.ip().to_string(), "127.0.0.2");
}

#[tokio::test]
async fn auth_callback_sees_challenges_and_can_cancel() {
    let mut steps = opening(&["AUTH X-TEST"]);
    steps.extend([
        expect("AUTH X-TEST aGVsbG8=\r\n"),
        send("334 Y2hhbGxlbmdl\r\n"),
        expect("YW5zd2Vy\r\n"),
        send("334 bW9yZQ==\r\n"),
        expect("*\r\n"),
        send("501 5.7.0 cancelled\r\n"),
        expect("NOOP\r\n"),
        send("250 ok\r\n"),
    ]);
    let peer = Peer::start(steps).await;
    let mut smtp = loopback_builder(Duration::from_secs(5))
        .allow_plaintext_auth(true)
        .connect(&peer.addr.to_string())
        .await
        .unwrap();
    let mut seen: Vec<Option<Vec<u8>>> = Vec::new();
    let e = smtp
        .auth("X-TEST", |challenge| {
            seen.push(challenge.map(<[u8]>::to_vec));
            match challenge {
                None => Some(b"hello".to_vec()),
                Some(b"challenge") => Some(b"answer".to_vec()),
                Some(_) => None,
            }
        })
        .await
        .unwrap_err();
    assert!(matches!(&e, Error::AuthenticationError { mechanism, .. } if mechanism == "X-TEST"));
    assert_eq!(e.smtp_code(), Some(501));
    assert_eq!(
        seen,
        [None, Some(b"challenge".to_vec()), Some(b"more".to_vec())]
    );
    smtp.noop().await.unwrap();
    peer.finish().await;
}

#[tokio::test]
async fn caller_supplied_stream_and_lmtp_dialect() {
    // An in-memory duplex stands in for any AsyncRead + AsyncWrite.
    let (client_end, server_end) = tokio::io::duplex(1024);
    let server = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut r, mut w) = tokio::io::split(server_end);
        w.write_all(b"220 lmtp\r\n").await.unwrap();
        let mut buf = vec![0u8; 64];
        let n = r.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"LHLO client.test\r\n");
        w.write_all(b"250 lmtp\r\n").await.unwrap();
        let n = r.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"QUIT\r\n");
        w.write_all(b"221 bye\r\n").await.unwrap();
    });
    let mut lmtp = loopback_builder(Duration::from_secs(5))
        .lmtp()
        .connect_stream(client_end)
        .await
        .unwrap();
    assert!(lmtp.is_lmtp());
    assert_eq!(lmtp.quit().await.unwrap().code().get(), 221);
    server.await.unwrap();
}

/// Compile-time check: the futures can be spawned on a multi-threaded
/// runtime.
#[allow(dead_code)]
fn futures_are_send(
    c: &mut smtp_tokio::SmtpClient,
    p: &smtp_tokio::Pool,
    msgs: &[(Envelope, Vec<u8>)],
) {
    fn is_send<T: Send>(_: &T) {}
    is_send(&c.sendmail("a@b.c", &["d@e.f"], b"x", &[], &[]));
    is_send(&c.send_report(&env(), &b"x"[..], BodyOptions::default()));
    is_send(&c.send_message_reader(&b"x"[..], None, None));
    is_send(&c.send_many(msgs));
    is_send(&c.login("u", "p"));
    is_send(&c.starttls());
    is_send(&p.get());
    is_send(&p.send_many(msgs));
    is_send(&p.close());
    is_send(&smtp_tokio::Builder::new().connect("x"));
}

/// A timeout too large to add to the clock means "no bound", never a
/// panic (`Instant + Duration::MAX` overflows).
#[tokio::test]
async fn a_huge_timeout_does_not_panic() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = smtp_tokio::Builder::new()
        .timeout(Duration::MAX)
        .connect_port("127.0.0.1", port)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("connecting to 127.0.0.1:"), "{e}");
}

/// A server with a command gate (Postfix's "530 Must issue a STARTTLS
/// command first") refuses every command without parsing it, BDAT too, and
/// would then read a chunk's data as commands: the connection's first
/// message sends only its envelope until the replies say the gate is
/// open, so nothing but commands reaches this peer.
#[tokio::test]
async fn no_data_behind_an_envelope_a_command_gate_may_refuse() {
    let gate = "530 5.7.0 Must issue a STARTTLS command first\r\n";
    let mut steps = opening(&["PIPELINING", "CHUNKING"]);
    steps.extend([
        expect("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n"),
        send(&format!("{gate}{gate}")),
        expect("QUIT\r\n"),
        send("221 2.0.0 bye\r\n"),
    ]);
    let peer = Peer::start(steps).await;
    let mut smtp = loopback_builder(Duration::from_secs(5))
        .connect(&peer.addr.to_string())
        .await
        .unwrap();
    let msgs = [(env(), b"From: a@example.org\r\n\r\nhi\r\n".to_vec())];
    let results = smtp.send_many(&msgs).await;
    assert_eq!(
        results[0].as_ref().unwrap().outcome,
        TxnOutcome::SenderRefused
    );
    smtp.quit().await.unwrap();
    peer.finish().await;
}

/// A TLS backend that was not compiled in fails before the session's first
/// byte (the greeting is not even read), with a typed error that names the
/// feature to turn on; for STARTTLS as for implicit TLS.
#[cfg(not(any(feature = "rustls-native-roots", feature = "rustls-webpki-roots")))]
#[tokio::test]
async fn a_tls_backend_not_compiled_in_fails_before_the_first_byte() {
    use smtp_tokio::{BackendUnavailable, TlsBackend};
    for implicit in [false, true] {
        let peer = Peer::start(vec![Step::ExpectClosedSilently]).await;
        let mut b = loopback_builder(Duration::from_secs(5))
            .starttls(TlsPolicy::Required)
            .tls_backend(TlsBackend::Rustls);
        if implicit {
            b = b.implicit_tls();
        }
        let e = b
            .connect_port("127.0.0.1", peer.addr.port())
            .await
            .unwrap_err();
        let Error::Tls(inner) = &e else {
            panic!("{e:?}")
        };
        let wanted = inner.downcast_ref::<BackendUnavailable>().map(|u| u.wanted);
        assert_eq!(wanted, Some(Some(TlsBackend::Rustls)), "{e:?}");
        assert!(e.to_string().contains("`rustls` feature"), "{e}");
        peer.finish().await;
    }
}
