//! PRDR (draft-hall-prdr-00): per-recipient replies after the end of data
//! in SMTP. When the server offers PRDR and a message has more than one
//! recipient, MAIL carries `PRDR`; the end of data is then answered with
//! 353, one reply per recipient accepted at RCPT (in RCPT order), and the
//! message's own reply. Each recipient gets its own outcome, as in LMTP.
//! Every test runs twice: replies fed whole and byte by byte.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::Duration;

use smtp_proto::{
    BodyOptions, Config, DeliveryScope, Envelope, Error, Event, ForwardPath, MailParams, RcptId,
    RcptParams, ReversePath, Stage, TxnId, TxnOutcome, TxnReport, UsageError,
};

const MIN: Duration = Duration::from_secs(60);

fn envelope(rcpts: &[&str]) -> Envelope {
    Envelope::new(
        ReversePath::parse("chris@bar.example").unwrap(),
        rcpts.iter().map(|r| ForwardPath::parse(r).unwrap()),
    )
}

/// Three recipients: the draft's examples use a sender and a handful of
/// recipients of which one is refused after the data.
fn three() -> Envelope {
    envelope(&["pat@foo.example", "jones@foo.example", "green@foo.example"])
}

fn finished(events: &[Event]) -> TxnReport {
    match events.last() {
        Some(Event::TransactionFinished { report, .. }) => report.clone(),
        _ => panic!("expected TransactionFinished last: {events:#?}"),
    }
}

/// Every `DeliveryReply` of `txn` in `events`: `Some(i)` for recipient `i`,
/// `None` for the message's own reply, with its code.
fn deliveries(events: &[Event], txn: TxnId) -> Vec<(Option<usize>, u16)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::DeliveryReply {
                txn: id,
                scope,
                reply,
            } if *id == txn => {
                let who = match scope {
                    DeliveryScope::Recipient(RcptId(i)) => Some(*i),
                    DeliveryScope::Message => None,
                    other => {
                        panic!("a PRDR reply speaks for one recipient or the message: {other:?}")
                    }
                };
                Some((who, reply.code().get()))
            }
            _ => None,
        })
        .collect()
}

fn codes(report: &TxnReport) -> Vec<Option<u16>> {
    report
        .recipients
        .iter()
        .map(|r| r.delivery_reply.as_ref().map(|x| x.code().get()))
        .collect()
}

/// Pipelined PRDR transaction up to the end of data: MAIL (with PRDR),
/// three RCPTs of which the second is refused, DATA, 354, body, ".".
fn to_end_of_data(t: &mut common::Harness) -> TxnId {
    t.ready(&["PIPELINING", "PRDR", "8BITMIME"]);
    let txn = t
        .cmd(|c| c.send_mail(&three(), BodyOptions::default()))
        .unwrap();
    t.expect_sent(
        "MAIL FROM:<chris@bar.example> BODY=8BITMIME PRDR\r\n\
         RCPT TO:<pat@foo.example>\r\n\
         RCPT TO:<jones@foo.example>\r\n\
         RCPT TO:<green@foo.example>\r\n\
         DATA\r\n",
    );
    t.server_ok(
        "250 2.1.0 Ok\r\n\
         250 2.1.5 Ok\r\n\
         550 5.1.1 <jones@foo.example>: unknown user\r\n\
         250 2.1.5 Ok\r\n\
         354 End data with <CR><LF>.<CR><LF>\r\n",
    );
    assert_eq!(t.events().last(), Some(&Event::ReadyForBody { txn }));
    t.cmd(|c| c.send_body(b"Subject: hi\r\n\r\nhello\r\n"))
        .unwrap();
    t.cmd(|c| c.finish_body()).unwrap();
    t.expect_sent("Subject: hi\r\n\r\nhello\r\n.\r\n");
    txn
}

// The draft's flow: 353, one reply per accepted recipient (pat, green; jones
// was refused at RCPT and gets none), then the message's reply. Green's copy
// is refused; pat's is delivered; the transaction is Delivered with green
// and jones among the refused.
transcript!(per_recipient_replies_after_353, Config::default(), |t| {
    let txn = to_end_of_data(t);
    t.server_ok("353 PRDR content analysis beginning\r\n");
    assert_eq!(deliveries(&t.events(), txn), []);
    assert!(!t.client.is_idle(), "the 353 is not the end");
    t.server_ok("250 2.0.0 <pat@foo.example> accepted\r\n");
    assert_eq!(deliveries(&t.events(), txn), [(Some(0), 250)]);
    t.server_ok("550 5.7.1 <green@foo.example> refuses this content\r\n");
    assert_eq!(deliveries(&t.events(), txn), [(Some(2), 550)]);
    t.server_ok("250 2.0.0 OK id=1abc\r\n");
    let events = t.events();
    assert_eq!(deliveries(&events, txn), [(None, 250)]);
    let report = finished(&events);
    assert_eq!(report.outcome, TxnOutcome::Delivered);
    assert_eq!(codes(&report), [Some(250), None, Some(550)]);
    assert_eq!(report.message_reply.as_ref().unwrap().code().get(), 250);
    let delivered: Vec<_> = report.delivered().map(ToString::to_string).collect();
    assert_eq!(delivered, ["<pat@foo.example>"]);
    let refused: Vec<_> = report
        .refused()
        .map(|(a, r)| (a.to_string(), r.code().get()))
        .collect();
    assert_eq!(
        refused,
        [
            ("<jones@foo.example>".to_owned(), 550),
            ("<green@foo.example>".to_owned(), 550)
        ]
    );
    assert!(t.client.is_idle());
});

// All the replies in one read, as a server writes them.
transcript!(per_recipient_replies_in_one_read, Config::default(), |t| {
    let txn = to_end_of_data(t);
    t.server_ok(
        "353 go\r\n\
         451 4.7.1 <pat@foo.example> try later\r\n\
         250 2.0.0 <green@foo.example> ok\r\n\
         250 OK id=1abd\r\n",
    );
    let events = t.events();
    assert_eq!(
        deliveries(&events, txn),
        [(Some(0), 451), (Some(2), 250), (None, 250)]
    );
    let report = finished(&events);
    assert_eq!(report.outcome, TxnOutcome::Delivered);
    assert_eq!(codes(&report), [Some(451), None, Some(250)]);
});

// Every accepted recipient refused after the data: the message is refused,
// each recipient with its own reason.
transcript!(every_recipient_refused_after_data, Config::default(), |t| {
    let txn = to_end_of_data(t);
    t.server_ok("353 go\r\n550 5.7.1 no\r\n552 5.2.2 full\r\n550 5.7.1 none delivered\r\n");
    let events = t.events();
    assert_eq!(
        deliveries(&events, txn),
        [(Some(0), 550), (Some(2), 552), (None, 550)]
    );
    let report = finished(&events);
    assert_eq!(report.outcome, TxnOutcome::MessageRefused);
    assert_eq!(codes(&report), [Some(550), None, Some(552)]);
});

// The server declines to answer per recipient: a reply other than 353
// speaks for every accepted recipient, as in plain SMTP.
transcript!(a_single_reply_instead_of_353, Config::default(), |t| {
    let txn = to_end_of_data(t);
    t.server_ok("250 2.0.0 Ok: queued as 4A1B\r\n");
    let events = t.events();
    let all: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::DeliveryReply { scope, reply, .. } => Some((*scope, reply.code().get())),
            _ => None,
        })
        .collect();
    assert_eq!(all, [(DeliveryScope::AllAccepted, 250)]);
    let report = finished(&events);
    assert_eq!(report.txn, txn);
    assert_eq!(report.outcome, TxnOutcome::Delivered);
    assert_eq!(codes(&report), [Some(250), None, Some(250)]);
    assert_eq!(report.message_reply, None);
});

// A negative message reply after positive recipient replies: the server did
// not keep the message, so nobody is reported delivered.
transcript!(a_negative_message_reply_overrides, Config::default(), |t| {
    let _ = to_end_of_data(t);
    t.server_ok("353 go\r\n250 ok\r\n250 ok\r\n451 4.3.0 queue write failed\r\n");
    let report = finished(&t.events());
    assert_eq!(report.outcome, TxnOutcome::MessageRefused);
    assert_eq!(codes(&report), [Some(451), None, Some(451)]);
    assert_eq!(report.delivered().count(), 0);
});

// The connection drops after the first recipient's reply: that recipient's
// fate is known, the other's and the transaction's are not.
transcript!(eof_inside_the_recipient_replies, Config::default(), |t| {
    let _ = to_end_of_data(t);
    t.server_ok("353 go\r\n250 2.0.0 <pat@foo.example> ok\r\n");
    let _ = t.events();
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
    assert_eq!(codes(&report), [Some(250), None, None]);
    t.expect_sent("");
});

// EOF after the 353, before any recipient reply.
transcript!(eof_right_after_353, Config::default(), |t| {
    let _ = to_end_of_data(t);
    t.server_ok("353 go\r\n");
    let err = t.eof().unwrap_err();
    assert!(err.is_outcome_unknown());
    let report = finished(&t.events());
    assert_eq!(report.outcome, TxnOutcome::Unknown);
    assert_eq!(codes(&report), [None, None, None]);
});

// EOF after every recipient reply but before the message's: unknown, with
// both recipient replies kept.
transcript!(eof_before_the_message_reply, Config::default(), |t| {
    let _ = to_end_of_data(t);
    t.server_ok("353 go\r\n250 ok\r\n250 ok\r\n");
    let _ = t.events();
    let err = t.eof().unwrap_err();
    assert!(err.is_outcome_unknown());
    let report = finished(&t.events());
    assert_eq!(report.outcome, TxnOutcome::Unknown);
    assert_eq!(codes(&report), [Some(250), None, Some(250)]);
    assert_eq!(report.message_reply, None);
});

// A 421 in place of the second recipient's reply: the session ends, the
// first recipient keeps its reply, the outcome is unknown.
transcript!(service_closing_inside_the_replies, Config::default(), |t| {
    let _ = to_end_of_data(t);
    let err = t
        .feed("353 go\r\n250 ok\r\n421 4.3.2 shutting down\r\n")
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::ServiceClosing {
                stage: Stage::DataEnd,
                ..
            }
        ),
        "{err:?}"
    );
    let report = finished(&t.events());
    assert_eq!(report.outcome, TxnOutcome::Unknown);
    assert_eq!(codes(&report)[0], Some(250));
    t.expect_sent("");
});

// One data-end deadline, from the ".", covers the 353 and every reply
// after it: answering one recipient at a time does not extend it.
transcript!(one_deadline_covers_every_reply, Config::default(), |t| {
    let _ = to_end_of_data(t);
    assert_eq!(t.deadline_in(), Some(10 * MIN));
    t.advance(4 * MIN).unwrap();
    t.server_ok("353 go\r\n");
    t.advance(4 * MIN).unwrap();
    t.server_ok("250 ok\r\n");
    assert_eq!(t.deadline_in(), Some(2 * MIN));
    let err = t.advance(2 * MIN).unwrap_err();
    assert_eq!(
        err,
        Error::Timeout {
            stage: Stage::DataEnd
        }
    );
    let report = finished(&t.events());
    assert_eq!(report.outcome, TxnOutcome::Unknown);
    assert_eq!(codes(&report), [Some(250), None, None]);
});

// With one recipient the message's reply already is the recipient's: no
// PRDR. Nor when the server does not offer it, or the caller turned it off.
transcript!(prdr_only_when_it_helps, Config::default(), |t| {
    t.ready(&["PIPELINING", "PRDR"]);
    let one = envelope(&["pat@foo.example"]);
    let _ = t
        .cmd(|c| c.send_mail(&one, BodyOptions::default()))
        .unwrap();
    assert!(t.sent().starts_with("MAIL FROM:<chris@bar.example>\r\n"));
});

transcript!(no_prdr_unless_offered, Config::default(), |t| {
    t.ready(&["PIPELINING"]);
    let _ = t
        .cmd(|c| c.send_mail(&three(), BodyOptions::default()))
        .unwrap();
    assert!(t.sent().starts_with("MAIL FROM:<chris@bar.example>\r\n"));
});

transcript!(
    no_prdr_when_turned_off,
    Config::default().with_prdr(false),
    |t| {
        t.ready(&["PIPELINING", "PRDR"]);
        let txn = t
            .cmd(|c| c.send_mail(&three(), BodyOptions::default()))
            .unwrap();
        assert!(t.sent().starts_with("MAIL FROM:<chris@bar.example>\r\n"));
        t.server_ok("250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
        let _ = t.events();
        t.cmd(|c| c.finish_body()).unwrap();
        let _ = t.sent();
        t.server_ok("250 queued\r\n");
        let events = t.events();
        assert_eq!(finished(&events).txn, txn);
        assert_eq!(finished(&events).outcome, TxnOutcome::Delivered);
    }
);

// The caller may ask for PRDR itself (`MailParams::prdr`); it needs the
// extension.
transcript!(
    caller_asked_prdr_needs_the_extension,
    Config::default(),
    |t| {
        t.ready(&["PIPELINING"]);
        let mut env = three();
        env.params.prdr = true;
        assert_eq!(
            t.cmd(|c| c.send_mail(&env, BodyOptions::default())),
            Err(UsageError::ExtensionNotAdvertised("PRDR"))
        );
        t.expect_sent("");
    }
);

// BDAT: the per-recipient replies follow BDAT LAST (the chunks before it get
// one reply each).
transcript!(
    with_bdat_the_replies_follow_the_last_chunk,
    Config::default().with_bdat_chunk_size(4),
    |t| {
        t.ready(&["PIPELINING", "CHUNKING", "PRDR"]);
        t.warm();
        let env = envelope(&["pat@foo.example", "green@foo.example"]);
        let txn = t
            .cmd(|c| c.send_mail(&env, BodyOptions::default()))
            .unwrap();
        assert_eq!(t.event(), Event::ReadyForBody { txn });
        t.cmd(|c| c.send_body(b"abcdef")).unwrap();
        t.cmd(|c| c.finish_body()).unwrap();
        t.expect_sent(
            "MAIL FROM:<chris@bar.example> PRDR\r\n\
             RCPT TO:<pat@foo.example>\r\n\
             RCPT TO:<green@foo.example>\r\n\
             BDAT 4\r\nabcd\
             BDAT 2 LAST\r\nef",
        );
        t.server_ok(
            "250 ok\r\n250 ok\r\n250 ok\r\n\
             250 4 octets\r\n\
             353 go\r\n\
             550 5.7.1 <pat@foo.example> no\r\n\
             250 2.0.0 <green@foo.example> ok\r\n\
             250 OK id=2\r\n",
        );
        let events = t.events();
        assert_eq!(
            deliveries(&events, txn),
            [(Some(0), 550), (Some(1), 250), (None, 250)]
        );
        let report = finished(&events);
        assert_eq!(report.outcome, TxnOutcome::Delivered);
        assert_eq!(codes(&report), [Some(550), Some(250)]);
        assert!(t.client.is_idle());
    }
);

// Two messages pipelined: the second envelope goes out behind the first's
// end of data and its replies come after the first's PRDR replies.
transcript!(
    pipelined_messages_each_get_their_replies,
    Config::default(),
    |t| {
        t.ready(&["PIPELINING", "CHUNKING", "PRDR"]);
        t.warm();
        let env = envelope(&["pat@foo.example", "green@foo.example"]);
        let a = t
            .cmd(|c| c.send_mail(&env, BodyOptions::default()))
            .unwrap();
        let b = t
            .cmd(|c| c.send_mail(&env, BodyOptions::default()))
            .unwrap();
        assert_eq!(t.event(), Event::ReadyForBody { txn: a });
        t.cmd(|c| c.send_body(b"a\r\n")).unwrap();
        t.cmd(|c| c.finish_body()).unwrap();
        assert_eq!(t.event(), Event::ReadyForBody { txn: b });
        t.cmd(|c| c.send_body(b"b\r\n")).unwrap();
        t.cmd(|c| c.finish_body()).unwrap();
        let envelope_lines = "MAIL FROM:<chris@bar.example> PRDR\r\n\
             RCPT TO:<pat@foo.example>\r\n\
             RCPT TO:<green@foo.example>\r\n";
        t.expect_sent(&format!(
            "{envelope_lines}BDAT 3 LAST\r\na\r\n{envelope_lines}BDAT 3 LAST\r\nb\r\n"
        ));
        t.server_ok(
            "250 ok\r\n250 ok\r\n250 ok\r\n\
             353 go\r\n250 ok\r\n550 no\r\n250 OK id=a\r\n\
             250 ok\r\n250 ok\r\n250 ok\r\n\
             353 go\r\n550 no\r\n250 ok\r\n250 OK id=b\r\n",
        );
        let events = t.events();
        assert_eq!(
            deliveries(&events, a),
            [(Some(0), 250), (Some(1), 550), (None, 250)]
        );
        assert_eq!(
            deliveries(&events, b),
            [(Some(0), 550), (Some(1), 250), (None, 250)]
        );
        let reports: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::TransactionFinished { report, .. } => Some(codes(report)),
                _ => None,
            })
            .collect();
        assert_eq!(
            reports,
            [vec![Some(250), Some(550)], vec![Some(550), Some(250)]]
        );
        assert!(t.client.is_idle());
    }
);

// smtplib's step-by-step envelope: `mail` with the PRDR option reads the
// replies per recipient after DATA too.
transcript!(incremental_envelope_with_prdr, Config::default(), |t| {
    t.ready(&["PRDR"]);
    let params = MailParams::from_options(&["PRDR"]).unwrap();
    let txn = t
        .cmd(|c| c.mail(ReversePath::parse("chris@bar.example").unwrap(), params))
        .unwrap();
    t.expect_sent("MAIL FROM:<chris@bar.example> PRDR\r\n");
    t.server_ok("250 ok\r\n");
    for to in ["pat@foo.example", "green@foo.example"] {
        let _ = t
            .cmd(|c| c.rcpt(txn, ForwardPath::parse(to).unwrap(), RcptParams::default()))
            .unwrap();
        let _ = t.sent();
        t.server_ok("250 ok\r\n");
    }
    t.cmd(|c| c.data(txn)).unwrap();
    t.expect_sent("DATA\r\n");
    t.server_ok("354 go\r\n");
    let _ = t.events();
    t.cmd(|c| c.send_body(b"x\r\n")).unwrap();
    t.cmd(|c| c.finish_body()).unwrap();
    t.expect_sent("x\r\n.\r\n");
    t.server_ok("353 go\r\n250 ok\r\n452 4.2.2 full\r\n250 OK\r\n");
    let report = finished(&t.events());
    assert_eq!(report.outcome, TxnOutcome::Delivered);
    assert_eq!(codes(&report), [Some(250), Some(452)]);
});
