//! LMTP (RFC 2033): LHLO, and after the end of data exactly one reply per
//! accepted recipient, in RCPT order (§4.2), for DATA and for BDAT. Too few
//! replies before EOF or the deadline leave the outcome unknown; one too
//! many is a protocol error.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::Duration;

use smtp_proto::{
    BodyOptions, Config, DeliveryScope, Domain, Envelope, Error, Event, ForwardPath, ProtocolError,
    RcptId, ReversePath, Stage, TxnId, TxnOutcome, TxnReport, UsageError,
};

const MIN: Duration = Duration::from_secs(60);

fn envelope(from: &str, rcpts: &[&str]) -> Envelope {
    Envelope::new(
        ReversePath::parse(from).unwrap(),
        rcpts.iter().map(|r| ForwardPath::parse(r).unwrap()),
    )
}

/// The RFC 2033 §4.2 example's envelope.
fn chris() -> Envelope {
    envelope(
        "chris@bar.com",
        &["pat@foo.edu", "jones@foo.edu", "green@foo.edu"],
    )
}

fn lmtp() -> Config {
    Config::lmtp().with_client_domain(Domain::parse("foo.edu").unwrap())
}

/// Greeting and LHLO; `caps` are the capability lines after the domain.
fn lhlo(t: &mut common::Harness, caps: &[&str]) {
    t.server_ok("220 foo.edu LMTP server ready\r\n");
    assert!(matches!(t.event(), Event::Greeting { .. }));
    t.expect_sent("LHLO foo.edu\r\n");
    let mut lines = vec!["foo.edu"];
    lines.extend_from_slice(caps);
    let mut reply = String::new();
    for (i, l) in lines.iter().enumerate() {
        let sep = if i + 1 == lines.len() { ' ' } else { '-' };
        reply.push_str(&format!("250{sep}{l}\r\n"));
    }
    t.server_ok(reply);
    assert!(matches!(
        t.event(),
        Event::Hello {
            esmtp: true,
            extensions: Some(_),
            ..
        }
    ));
}

fn finished(events: &[Event]) -> TxnReport {
    match events.last() {
        Some(Event::TransactionFinished { report, .. }) => report.clone(),
        _ => panic!("expected TransactionFinished last: {events:#?}"),
    }
}

/// The `(recipient, code)` of every `DeliveryReply` in `events`.
fn deliveries(events: &[Event], txn: TxnId) -> Vec<(usize, u16)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::DeliveryReply {
                txn: id,
                scope,
                reply,
            } => {
                assert_eq!(*id, txn);
                let DeliveryScope::Recipient(RcptId(i)) = scope else {
                    panic!("LMTP replies speak for one recipient: {scope:?}")
                };
                Some((*i, reply.code().get()))
            }
            _ => None,
        })
        .collect()
}

// RFC 2033 §4.2: one recipient refused at RCPT; after the "." one reply for
// each of the two accepted ones, in RCPT order. PIPELINING is advertised,
// so the envelope goes in one write.
transcript!(rfc2033_example, lmtp(), |t| {
    lhlo(t, &["PIPELINING", "SIZE"]);
    let txn = t
        .cmd(|c| c.send_mail(&chris(), BodyOptions::default()))
        .unwrap();
    t.expect_sent(
        "MAIL FROM:<chris@bar.com>\r\n\
         RCPT TO:<pat@foo.edu>\r\n\
         RCPT TO:<jones@foo.edu>\r\n\
         RCPT TO:<green@foo.edu>\r\n\
         DATA\r\n",
    );
    t.server_ok(
        "250 OK\r\n\
         250 OK\r\n\
         550 No such user here\r\n\
         250 OK\r\n\
         354 Start mail input; end with <CRLF>.<CRLF>\r\n",
    );
    assert_eq!(t.events().last(), Some(&Event::ReadyForBody { txn }));
    t.cmd(|c| c.send_body(b"Blah blah blah...\r\n...etc. etc. etc.\r\n"))
        .unwrap();
    t.cmd(|c| c.finish_body()).unwrap();
    t.expect_sent("Blah blah blah...\r\n....etc. etc. etc.\r\n.\r\n");
    assert_eq!(t.deadline_in(), Some(10 * MIN));
    t.server_ok("250 OK\r\n");
    // The first of two replies: the transaction is not over yet.
    assert_eq!(deliveries(&t.events(), txn), [(0, 250)]);
    t.server_ok("452 <green@foo.edu> is temporarily over quota\r\n");
    let events = t.events();
    assert_eq!(deliveries(&events, txn), [(2, 452)]);
    let report = finished(&events);
    assert_eq!(report.outcome, TxnOutcome::Delivered);
    let delivered: Vec<_> = report.delivered().map(ToString::to_string).collect();
    assert_eq!(delivered, ["<pat@foo.edu>"]);
    let refused: Vec<_> = report
        .refused()
        .map(|(a, r)| (a.to_string(), r.code().get()))
        .collect();
    assert_eq!(
        refused,
        [
            ("<jones@foo.edu>".to_owned(), 550),
            ("<green@foo.edu>".to_owned(), 452)
        ]
    );
    assert_eq!(
        report.recipients[2]
            .delivery_reply
            .as_ref()
            .unwrap()
            .code()
            .get(),
        452
    );
    let _ = t.cmd(|c| c.quit()).unwrap();
    t.expect_sent("QUIT\r\n");
    t.server_ok("221 foo.edu closing connection\r\n");
    assert!(t.client.is_closed());
});

// Three accepted recipients, mixed final replies arriving in one read.
transcript!(three_accepted_mixed_final_replies, lmtp(), |t| {
    lhlo(t, &["PIPELINING"]);
    let txn = t
        .cmd(|c| c.send_mail(&chris(), BodyOptions::default()))
        .unwrap();
    let _ = t.sent();
    t.server_ok("250 OK\r\n250 OK\r\n250 OK\r\n250 OK\r\n354 go\r\n");
    let _ = t.events();
    t.cmd(|c| c.send_body(b"hi\r\n")).unwrap();
    t.cmd(|c| c.finish_body()).unwrap();
    t.expect_sent("hi\r\n.\r\n");
    t.server_ok(
        "250 2.1.5 <pat@foo.edu> delivered\r\n\
         452 4.2.2 <jones@foo.edu> over quota\r\n\
         250 2.1.5 <green@foo.edu> delivered\r\n",
    );
    let events = t.events();
    assert_eq!(deliveries(&events, txn), [(0, 250), (1, 452), (2, 250)]);
    let report = finished(&events);
    assert_eq!(report.outcome, TxnOutcome::Delivered);
    assert_eq!(report.delivered().count(), 2);
    let refused: Vec<_> = report.refused().map(|(a, _)| a.to_string()).collect();
    assert_eq!(refused, ["<jones@foo.edu>"]);
    assert!(t.client.is_idle());
});

// Every final reply negative: the message was refused.
transcript!(every_final_reply_negative, lmtp(), |t| {
    lhlo(t, &["PIPELINING"]);
    let env = envelope("chris@bar.com", &["pat@foo.edu", "green@foo.edu"]);
    let txn = t
        .cmd(|c| c.send_mail(&env, BodyOptions::default()))
        .unwrap();
    let _ = t.sent();
    t.server_ok("250 OK\r\n250 OK\r\n250 OK\r\n354 go\r\n");
    let _ = t.events();
    t.cmd(|c| c.finish_body()).unwrap();
    t.expect_sent(".\r\n");
    t.server_ok("552 5.2.2 mailbox full\r\n450 4.2.0 try later\r\n");
    let events = t.events();
    assert_eq!(deliveries(&events, txn), [(0, 552), (1, 450)]);
    assert_eq!(finished(&events).outcome, TxnOutcome::MessageRefused);
});

// One recipient refused at RCPT, two accepted: exactly two replies are read
// after the "."; a third is not taken for anything and is fatal.
transcript!(one_reply_per_accepted_recipient_only, lmtp(), |t| {
    lhlo(t, &["PIPELINING"]);
    let txn = t
        .cmd(|c| c.send_mail(&chris(), BodyOptions::default()))
        .unwrap();
    let _ = t.sent();
    t.server_ok("250 OK\r\n550 no such user\r\n250 OK\r\n250 OK\r\n354 go\r\n");
    let _ = t.events();
    t.cmd(|c| c.finish_body()).unwrap();
    t.expect_sent(".\r\n");
    t.server_ok("250 OK\r\n250 OK\r\n");
    let events = t.events();
    assert_eq!(deliveries(&events, txn), [(1, 250), (2, 250)]);
    assert_eq!(finished(&events).outcome, TxnOutcome::Delivered);
    assert_eq!(t.client.poll_timeout(), None);
    let err = t.server("250 OK\r\n").unwrap_err();
    assert!(
        matches!(err, Error::Protocol(ProtocolError::UnexpectedReply { .. })),
        "{err:?}"
    );
    t.no_event();
});

// The same, with the surplus reply in the same read as the other two.
transcript!(surplus_final_reply_in_one_read, lmtp(), |t| {
    lhlo(t, &["PIPELINING"]);
    let txn = t
        .cmd(|c| c.send_mail(&chris(), BodyOptions::default()))
        .unwrap();
    let _ = t.sent();
    t.server_ok("250 OK\r\n550 no such user\r\n250 OK\r\n250 OK\r\n354 go\r\n");
    let _ = t.events();
    t.cmd(|c| c.finish_body()).unwrap();
    let err = t.feed("250 OK\r\n250 OK\r\n250 OK\r\n").unwrap_err();
    assert!(
        matches!(err, Error::Protocol(ProtocolError::UnexpectedReply { .. })),
        "{err:?}"
    );
    let events = t.events();
    assert_eq!(deliveries(&events, txn), [(1, 250), (2, 250)]);
    assert_eq!(finished(&events).outcome, TxnOutcome::Delivered);
});

// Too few replies, then the server closes: the recipients without a reply
// have an unknown fate, and so has the transaction.
transcript!(too_few_replies_then_eof, lmtp(), |t| {
    lhlo(t, &["PIPELINING"]);
    let txn = t
        .cmd(|c| c.send_mail(&chris(), BodyOptions::default()))
        .unwrap();
    let _ = t.sent();
    t.server_ok("250 OK\r\n250 OK\r\n250 OK\r\n250 OK\r\n354 go\r\n");
    let _ = t.events();
    t.cmd(|c| c.finish_body()).unwrap();
    t.server_ok("250 OK\r\n");
    assert_eq!(deliveries(&t.events(), txn), [(0, 250)]);
    let err = t.eof().unwrap_err();
    assert_eq!(
        err,
        Error::PeerClosed {
            stage: Stage::DataEnd
        }
    );
    assert!(err.is_outcome_unknown());
    let report = finished(&t.events());
    assert_eq!(report.outcome, TxnOutcome::Unknown);
    // What is known is kept: the first recipient's reply.
    assert_eq!(
        report.recipients[0]
            .delivery_reply
            .as_ref()
            .unwrap()
            .code()
            .get(),
        250
    );
    assert!(report.recipients[1].delivery_reply.is_none());
    assert_eq!(t.eof(), Err(err));
});

// Too few replies, then the deadline: the end-of-data deadline runs from
// the "." and a reply for one recipient does not extend it.
transcript!(too_few_replies_then_timeout, lmtp(), |t| {
    lhlo(t, &["PIPELINING"]);
    let txn = t
        .cmd(|c| c.send_mail(&chris(), BodyOptions::default()))
        .unwrap();
    let _ = t.sent();
    t.server_ok("250 OK\r\n250 OK\r\n250 OK\r\n250 OK\r\n354 go\r\n");
    let _ = t.events();
    t.cmd(|c| c.finish_body()).unwrap();
    t.expect_sent(".\r\n");
    assert_eq!(t.deadline_in(), Some(10 * MIN));
    t.advance(6 * MIN).unwrap();
    t.server_ok("250 OK\r\n250 OK\r\n");
    assert_eq!(deliveries(&t.events(), txn), [(0, 250), (1, 250)]);
    assert_eq!(t.deadline_in(), Some(4 * MIN));
    t.advance(4 * MIN - Duration::from_millis(1)).unwrap();
    let err = t.advance(Duration::from_millis(1)).unwrap_err();
    assert_eq!(
        err,
        Error::Timeout {
            stage: Stage::DataEnd
        }
    );
    assert!(err.is_outcome_unknown());
    let report = finished(&t.events());
    assert_eq!(report.outcome, TxnOutcome::Unknown);
    assert_eq!(t.server("250 OK\r\n"), Err(err));
    t.expect_sent("");
});

// LMTP with BDAT: the per-recipient replies come after BDAT LAST (RFC 3030
// §2 with RFC 2033 §4.2); non-final chunks get one reply each.
transcript!(
    bdat_last_gets_per_recipient_replies,
    lmtp().with_bdat_chunk_size(4),
    |t| {
        lhlo(t, &["PIPELINING", "CHUNKING"]);
        t.warm();
        let txn = t
            .cmd(|c| c.send_mail(&chris(), BodyOptions::default()))
            .unwrap();
        assert_eq!(t.event(), Event::ReadyForBody { txn });
        t.cmd(|c| c.send_body(b"abcdef")).unwrap();
        t.cmd(|c| c.finish_body()).unwrap();
        t.expect_sent(
            "MAIL FROM:<chris@bar.com>\r\n\
         RCPT TO:<pat@foo.edu>\r\n\
         RCPT TO:<jones@foo.edu>\r\n\
         RCPT TO:<green@foo.edu>\r\n\
         BDAT 4\r\nabcd\
         BDAT 2 LAST\r\nef",
        );
        t.server_ok(
            "250 OK\r\n250 OK\r\n550 no such user\r\n250 OK\r\n\
         250 4 octets\r\n\
         250 2.0.0 <pat@foo.edu> delivered\r\n",
        );
        assert_eq!(deliveries(&t.events(), txn), [(0, 250)]);
        t.server_ok("451 4.3.0 <green@foo.edu> try later\r\n");
        let events = t.events();
        assert_eq!(deliveries(&events, txn), [(2, 451)]);
        assert_eq!(finished(&events).outcome, TxnOutcome::Delivered);
        assert!(t.client.is_idle());
    }
);

// All recipients refused at RCPT: no data. In lock-step DATA is not even
// sent; the server's transaction is reset.
transcript!(all_refused_lock_step_sends_no_data, lmtp(), |t| {
    lhlo(t, &["SIZE"]);
    let env = envelope("chris@bar.com", &["pat@foo.edu", "green@foo.edu"]);
    let _ = t
        .cmd(|c| c.send_mail(&env, BodyOptions::default()))
        .unwrap();
    t.expect_sent("MAIL FROM:<chris@bar.com>\r\n");
    t.server_ok("250 OK\r\n");
    t.expect_sent("RCPT TO:<pat@foo.edu>\r\n");
    t.server_ok("550 no\r\n");
    t.expect_sent("RCPT TO:<green@foo.edu>\r\n");
    t.server_ok("550 no\r\n");
    t.expect_sent("RSET\r\n");
    let events = t.events();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::ReadyForBody { .. }))
    );
    assert_eq!(finished(&events).outcome, TxnOutcome::AllRecipientsRefused);
    assert_eq!(
        t.cmd(|c| c.send_body(b"x")),
        Err(UsageError::NoBodyExpected)
    );
});

// Pipelined, DATA is already sent; the server refuses it with 503 (RFC
// 2033 §4.2: "the DATA command MUST fail with a 503 reply code").
transcript!(all_refused_pipelined_data_503, lmtp(), |t| {
    lhlo(t, &["PIPELINING"]);
    let env = envelope("chris@bar.com", &["pat@foo.edu", "green@foo.edu"]);
    let _ = t
        .cmd(|c| c.send_mail(&env, BodyOptions::default()))
        .unwrap();
    let _ = t.sent();
    t.server_ok("250 OK\r\n550 no\r\n550 no\r\n503 5.5.1 no valid recipients\r\n");
    let events = t.events();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::ReadyForBody { .. }))
    );
    let report = finished(&events);
    assert_eq!(report.outcome, TxnOutcome::AllRecipientsRefused);
    assert_eq!(report.data_reply.as_ref().unwrap().code().get(), 503);
    t.expect_sent("RSET\r\n");
});

// Two LMTP transactions: the first one's "." and the second envelope share
// a write, and the first one's per-recipient replies are counted exactly,
// so the second one's MAIL reply is not mistaken for a delivery reply.
transcript!(two_transactions_keep_replies_aligned, lmtp(), |t| {
    lhlo(t, &["PIPELINING"]);
    let first = t
        .cmd(|c| c.send_mail(&chris(), BodyOptions::default()))
        .unwrap();
    let env2 = envelope("chris@bar.com", &["pat@foo.edu"]);
    let second = t
        .cmd(|c| c.send_mail(&env2, BodyOptions::default()))
        .unwrap();
    let _ = t.sent();
    t.server_ok("250 OK\r\n250 OK\r\n550 no\r\n250 OK\r\n354 go\r\n");
    let _ = t.events();
    t.cmd(|c| c.send_body(b"one\r\n")).unwrap();
    t.cmd(|c| c.finish_body()).unwrap();
    t.expect_sent("one\r\n.\r\nMAIL FROM:<chris@bar.com>\r\nRCPT TO:<pat@foo.edu>\r\nDATA\r\n");
    t.server_ok("250 pat ok\r\n450 green later\r\n250 sender\r\n250 rcpt\r\n354 go\r\n");
    let events = t.events();
    assert_eq!(deliveries(&events, first), [(0, 250), (2, 450)]);
    let kinds: Vec<_> = events
        .iter()
        .map(|e| match e {
            Event::DeliveryReply { .. } => "delivery",
            Event::TransactionFinished { txn, .. } if *txn == first => "first finished",
            Event::MailReply { txn, .. } if *txn == second => "second mail",
            Event::RcptReply { txn, .. } if *txn == second => "second rcpt",
            Event::ReadyForBody { txn } if *txn == second => "second body",
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "delivery",
            "delivery",
            "first finished",
            "second mail",
            "second rcpt",
            "second body"
        ]
    );
});

// LMTP has no HELO, and EHLO is spelled LHLO.
transcript!(lhlo_not_helo, lmtp(), |t| {
    lhlo(t, &[]);
    assert_eq!(t.cmd(|c| c.helo()), Err(UsageError::WrongDialect("HELO")));
    let _ = t.cmd(|c| c.ehlo()).unwrap();
    t.expect_sent("LHLO foo.edu\r\n");
});
