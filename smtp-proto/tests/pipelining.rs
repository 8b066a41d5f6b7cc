//! Command pipelining (RFC 2920): the examples of §3 as transcripts, the
//! grouping rules of §3.1 (which commands share one write and which go
//! alone), every reply matched to its command, and lock-step when
//! PIPELINING is not advertised or not configured.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::Duration;

use smtp_proto::{
    BodyOptions, Config, DeliveryScope, Domain, Envelope, Error, Event, ForwardPath, Mechanism,
    Phase, ProtocolError, RcptId, ReversePath, TxnOutcome, TxnReport, UsageError,
};

const MIN: Duration = Duration::from_secs(60);

fn envelope(from: &str, rcpts: &[&str]) -> Envelope {
    Envelope::new(
        ReversePath::parse(from).unwrap(),
        rcpts.iter().map(|r| ForwardPath::parse(r).unwrap()),
    )
}

fn mrose() -> Envelope {
    envelope(
        "mrose@dbc.mtview.ca.us",
        &["ned@innosoft.com", "dan@innosoft.com", "kvc@innosoft.com"],
    )
}

/// The RFC 2920 examples' client.
fn dbc() -> Config {
    Config::default().with_client_domain(Domain::parse("dbc.mtview.ca.us").unwrap())
}

/// Greeting and EHLO of the RFC 2920 §3 examples.
fn innosoft_hello(t: &mut common::Harness) {
    t.server_ok("220 innosoft.com SMTP service ready\r\n");
    assert!(matches!(t.event(), Event::Greeting { .. }));
    t.expect_sent("EHLO dbc.mtview.ca.us\r\n");
    t.server_ok("250-innosoft.com\r\n250 PIPELINING\r\n");
    let Event::Hello {
        extensions: Some(ext),
        ..
    } = t.event()
    else {
        panic!()
    };
    assert!(ext.pipelining());
    assert!(t.client.is_pipelining());
}

const GROUP: &str = "MAIL FROM:<mrose@dbc.mtview.ca.us>\r\n\
                     RCPT TO:<ned@innosoft.com>\r\n\
                     RCPT TO:<dan@innosoft.com>\r\n\
                     RCPT TO:<kvc@innosoft.com>\r\n\
                     DATA\r\n";

/// The `TransactionFinished` report that must be the last of `events`.
fn finished(events: &[Event]) -> TxnReport {
    match events.last() {
        Some(Event::TransactionFinished { report, .. }) => report.clone(),
        _ => panic!("expected TransactionFinished last: {events:#?}"),
    }
}

fn codes(events: &[Event]) -> Vec<(&'static str, u16)> {
    events
        .iter()
        .map(|e| match e {
            Event::MailReply { reply, .. } => ("mail", reply.code().get()),
            Event::RcptReply { reply, .. } => ("rcpt", reply.code().get()),
            Event::DeliveryReply { reply, .. } => ("delivery", reply.code().get()),
            Event::Reply { reply, .. } => ("reply", reply.code().get()),
            Event::ReadyForBody { .. } => ("body", 0),
            Event::TransactionFinished { .. } => ("finished", 0),
            Event::Closed { .. } => ("closed", 0),
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

// RFC 2920 §3, first example: the whole envelope in one write, every
// reply read back in order, and "." and QUIT sharing the last write.
// Each reply's deadline runs from the completion of the reply before it.
transcript!(rfc2920_example_all_accepted, dbc(), |t| {
    innosoft_hello(t);
    let txn = t
        .cmd(|c| c.send_mail(&mrose(), BodyOptions::default()))
        .unwrap();
    t.expect_sent(GROUP);
    assert_eq!(t.deadline_in(), Some(5 * MIN), "MAIL deadline");

    t.advance(4 * MIN).unwrap();
    t.server_ok("250 sender <mrose@dbc.mtview.ca.us> OK\r\n");
    assert_eq!(
        t.deadline_in(),
        Some(5 * MIN),
        "first RCPT deadline, from the MAIL reply"
    );
    t.advance(4 * MIN).unwrap();
    t.server_ok("250 recipient <ned@innosoft.com> OK\r\n");
    t.server_ok("250 recipient <dan@innosoft.com> OK\r\n");
    t.server_ok("250 recipient <kvc@innosoft.com> OK\r\n");
    assert_eq!(t.deadline_in(), Some(2 * MIN), "DATA deadline");
    t.server_ok("354 enter mail, end with line containing only \".\"\r\n");
    assert_eq!(
        t.deadline_in(),
        None,
        "no reply is due while the body is open"
    );
    let events = t.events();
    assert_eq!(
        codes(&events),
        [
            ("mail", 250),
            ("rcpt", 250),
            ("rcpt", 250),
            ("rcpt", 250),
            ("body", 0)
        ]
    );
    for (i, e) in events[1..4].iter().enumerate() {
        let Event::RcptReply { rcpt, txn: id, .. } = e else {
            panic!()
        };
        assert_eq!((*rcpt, *id), (RcptId(i), txn));
    }
    assert_eq!(events[4], Event::ReadyForBody { txn });
    t.expect_sent("");

    // QUIT queued while the body is open waits for the end of data, then
    // joins it.
    let _quit = t.cmd(|c| c.quit()).unwrap();
    t.expect_sent("");
    t.cmd(|c| c.send_body(b"Subject: pipelining\r\n\r\n...etc. etc. etc.\r\n"))
        .unwrap();
    t.expect_sent("Subject: pipelining\r\n\r\n....etc. etc. etc.\r\n");
    t.cmd(|c| c.finish_body()).unwrap();
    t.expect_sent(".\r\nQUIT\r\n");
    assert_eq!(t.deadline_in(), Some(10 * MIN), "end-of-data deadline");

    t.server_ok("250 message sent\r\n221 goodbye\r\n");
    let events = t.events();
    assert_eq!(
        codes(&events),
        [
            ("delivery", 250),
            ("finished", 0),
            ("reply", 221),
            ("closed", 0)
        ]
    );
    assert!(matches!(
        events[0],
        Event::DeliveryReply {
            scope: DeliveryScope::AllAccepted,
            ..
        }
    ));
    let Event::TransactionFinished { report, .. } = &events[1] else {
        panic!()
    };
    assert_eq!(report.outcome, TxnOutcome::Delivered);
    assert_eq!(report.delivered().count(), 3);
    assert_eq!(report.refused().count(), 0);
    assert!(t.client.is_closed());
    assert_eq!(t.client.poll_timeout(), None);
});

// RFC 2920 §3, second example: one recipient refused; the message goes to
// the two accepted ones and the refusal is in the report.
transcript!(rfc2920_example_one_recipient_refused, dbc(), |t| {
    innosoft_hello(t);
    let txn = t
        .cmd(|c| c.send_mail(&mrose(), BodyOptions::default()))
        .unwrap();
    t.expect_sent(GROUP);
    t.server_ok(
        "250 sender <mrose@dbc.mtview.ca.us> OK\r\n\
         550 remote mail to <ned@innosoft.com> not allowed\r\n\
         250 recipient <dan@innosoft.com> OK\r\n\
         250 recipient <kvc@innosoft.com> OK\r\n\
         354 enter mail, end with line containing only \".\"\r\n",
    );
    let events = t.events();
    assert_eq!(
        codes(&events),
        [
            ("mail", 250),
            ("rcpt", 550),
            ("rcpt", 250),
            ("rcpt", 250),
            ("body", 0)
        ]
    );
    assert_eq!(events[4], Event::ReadyForBody { txn });
    t.cmd(|c| c.send_body(b"hello\n")).unwrap();
    t.cmd(|c| c.finish_body()).unwrap();
    let _quit = t.cmd(|c| c.quit()).unwrap();
    t.expect_sent("hello\r\n.\r\nQUIT\r\n");
    t.server_ok("250 message sent\r\n");
    let report = finished(&t.events());
    assert_eq!(report.outcome, TxnOutcome::Delivered);
    let delivered: Vec<_> = report.delivered().map(ToString::to_string).collect();
    assert_eq!(delivered, ["<dan@innosoft.com>", "<kvc@innosoft.com>"]);
    let refused: Vec<_> = report
        .refused()
        .map(|(a, r)| (a.to_string(), r.code().get()))
        .collect();
    assert_eq!(refused, [("<ned@innosoft.com>".to_owned(), 550)]);
    // The refused recipient has no delivery reply; the others share the 250.
    assert!(report.recipients[0].delivery_reply.is_none());
    assert_eq!(
        report.recipients[1]
            .delivery_reply
            .as_ref()
            .unwrap()
            .code()
            .get(),
        250
    );
    t.server_ok("221 goodbye\r\n");
    assert!(t.client.is_closed());
});

// RFC 2920 §3, third example: every recipient refused and DATA refused.
// The client sends no data, resets, and reports `AllRecipientsRefused`.
transcript!(rfc2920_example_all_refused_data_554, dbc(), |t| {
    innosoft_hello(t);
    let env = envelope(
        "mrose@dbc.mtview.ca.us",
        &["ned@innosoft.com", "dan@innosoft.com"],
    );
    let _ = t
        .cmd(|c| c.send_mail(&env, BodyOptions::default()))
        .unwrap();
    t.expect_sent(
        "MAIL FROM:<mrose@dbc.mtview.ca.us>\r\n\
         RCPT TO:<ned@innosoft.com>\r\n\
         RCPT TO:<dan@innosoft.com>\r\n\
         DATA\r\n",
    );
    t.server_ok(
        "250 sender <mrose@dbc.mtview.ca.us> OK\r\n\
         550 remote mail to <ned@innosoft.com> not allowed\r\n\
         550 remote mail to <dan@innosoft.com> not allowed\r\n\
         554 no valid recipients given\r\n",
    );
    let events = t.events();
    assert_eq!(
        codes(&events),
        [("mail", 250), ("rcpt", 550), ("rcpt", 550), ("finished", 0)]
    );
    let report = finished(&events);
    assert_eq!(report.outcome, TxnOutcome::AllRecipientsRefused);
    assert_eq!(report.refused().count(), 2);
    assert_eq!(report.data_reply.as_ref().unwrap().code().get(), 554);
    assert_eq!(
        t.cmd(|c| c.send_body(b"x")),
        Err(UsageError::NoBodyExpected)
    );
    // The sender was accepted, so the server holds a transaction: RSET.
    t.expect_sent("RSET\r\n");
    // The client's RSET does not end a group: QUIT follows at once.
    let _ = t.cmd(|c| c.quit()).unwrap();
    t.expect_sent("QUIT\r\n");
    t.server_ok("250 flushed\r\n221 goodbye\r\n");
    // The internal RSET's reply is not reported.
    assert_eq!(codes(&t.events()), [("reply", 221), ("closed", 0)]);
});

// RFC 2920 §3.1: DATA answered 354 although no recipient was accepted.
// Nothing may be delivered, so the client ends the data at once with a
// lone "." and never opens the body.
transcript!(all_refused_but_data_354_sends_a_lone_dot, dbc(), |t| {
    innosoft_hello(t);
    let env = envelope(
        "mrose@dbc.mtview.ca.us",
        &["ned@innosoft.com", "dan@innosoft.com"],
    );
    let _ = t
        .cmd(|c| c.send_mail(&env, BodyOptions::default()))
        .unwrap();
    let _ = t.sent();
    t.server_ok(
        "250 sender OK\r\n\
         550 5.1.1 no such user\r\n\
         451 4.3.0 try later\r\n\
         354 go ahead\r\n",
    );
    assert_eq!(
        codes(&t.events()),
        [("mail", 250), ("rcpt", 550), ("rcpt", 451)]
    );
    t.expect_sent(".\r\n");
    assert!(!t.client.can_send_body());
    assert_eq!(
        t.cmd(|c| c.send_body(b"secret")),
        Err(UsageError::NoBodyExpected)
    );
    assert_eq!(t.cmd(|c| c.finish_body()), Err(UsageError::NoBodyExpected));
    assert_eq!(t.deadline_in(), Some(10 * MIN));
    t.server_ok("554 5.5.1 no valid recipients\r\n");
    let events = t.events();
    assert_eq!(codes(&events), [("finished", 0)]);
    let report = finished(&events);
    assert_eq!(report.outcome, TxnOutcome::AllRecipientsRefused);
    assert_eq!(report.delivered().count(), 0);
    assert!(report.recipients.iter().all(|r| r.delivery_reply.is_none()));
    // The transaction ended with the "."; no RSET is needed.
    t.expect_sent("");
    assert!(t.client.is_idle());
});

// MAIL refused while the RCPTs and DATA were already on the wire: the 503s
// they get are reported against their commands, but the transaction fails
// once, as "sender refused", and no RSET follows (the server holds nothing).
transcript!(sender_refused_with_pipelined_recipients, dbc(), |t| {
    innosoft_hello(t);
    let _ = t
        .cmd(|c| c.send_mail(&mrose(), BodyOptions::default()))
        .unwrap();
    t.expect_sent(GROUP);
    t.server_ok(
        "550 5.7.1 sender rejected\r\n\
         503 5.5.1 need MAIL first\r\n\
         503 5.5.1 need MAIL first\r\n\
         503 5.5.1 need MAIL first\r\n\
         503 5.5.1 need MAIL first\r\n",
    );
    let events = t.events();
    assert_eq!(
        codes(&events),
        [
            ("mail", 550),
            ("rcpt", 503),
            ("rcpt", 503),
            ("rcpt", 503),
            ("finished", 0)
        ]
    );
    let report = finished(&events);
    assert_eq!(report.outcome, TxnOutcome::SenderRefused);
    assert_eq!(report.mail_reply.as_ref().unwrap().code().get(), 550);
    t.expect_sent("");
    assert!(t.client.is_idle());
    assert_eq!(t.client.poll_timeout(), None);
});

// The same, but the server answers DATA with 354 anyway: the lone "."
// ends it and the outcome is still "sender refused".
transcript!(sender_refused_but_data_354, dbc(), |t| {
    innosoft_hello(t);
    let _ = t
        .cmd(|c| c.send_mail(&mrose(), BodyOptions::default()))
        .unwrap();
    let _ = t.sent();
    t.server_ok("550 no\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    t.expect_sent(".\r\n");
    t.server_ok("250 ok, nothing\r\n");
    let report = finished(&t.events());
    assert_eq!(report.outcome, TxnOutcome::SenderRefused);
    assert_eq!(report.delivered().count(), 0);
});

// Two transactions queued at once: the end of the first message and the
// whole envelope of the second go out in one write (RFC 2920 §3.1: message
// content may start a group), and the replies are matched in order.
transcript!(two_transactions_share_a_write, dbc(), |t| {
    innosoft_hello(t);
    let first = t
        .cmd(|c| c.send_mail(&mrose(), BodyOptions::default()))
        .unwrap();
    let env2 = envelope("mrose@dbc.mtview.ca.us", &["ned@innosoft.com"]);
    let second = t
        .cmd(|c| c.send_mail(&env2, BodyOptions::default()))
        .unwrap();
    assert_ne!(first, second);
    // DATA ends a group: the second envelope waits.
    t.expect_sent(GROUP);
    t.server_ok("250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    let events = t.events();
    assert_eq!(events.last(), Some(&Event::ReadyForBody { txn: first }));
    t.cmd(|c| c.send_body(b"first message\r\n")).unwrap();
    t.expect_sent("first message\r\n");
    t.cmd(|c| c.finish_body()).unwrap();
    t.expect_sent(
        ".\r\n\
         MAIL FROM:<mrose@dbc.mtview.ca.us>\r\n\
         RCPT TO:<ned@innosoft.com>\r\n\
         DATA\r\n",
    );
    // The first message's deadline is the one that counts now.
    assert_eq!(t.deadline_in(), Some(10 * MIN));
    t.server_ok("250 first queued\r\n250 sender ok\r\n250 rcpt ok\r\n354 go\r\n");
    let events = t.events();
    assert_eq!(
        codes(&events),
        [
            ("delivery", 250),
            ("finished", 0),
            ("mail", 250),
            ("rcpt", 250),
            ("body", 0)
        ]
    );
    assert!(matches!(events[0], Event::DeliveryReply { txn, .. } if txn == first));
    let Event::TransactionFinished { txn, report } = &events[1] else {
        panic!()
    };
    assert_eq!((*txn, report.outcome), (first, TxnOutcome::Delivered));
    assert!(matches!(events[2], Event::MailReply { txn, .. } if txn == second));
    assert_eq!(events[4], Event::ReadyForBody { txn: second });
    t.cmd(|c| c.send_body(b"second message")).unwrap();
    t.cmd(|c| c.finish_body()).unwrap();
    let _ = t.cmd(|c| c.quit()).unwrap();
    t.expect_sent("second message\r\n.\r\nQUIT\r\n");
    t.server_ok("250 second queued\r\n221 bye\r\n");
    let events = t.events();
    assert_eq!(
        codes(&events),
        [
            ("delivery", 250),
            ("finished", 0),
            ("reply", 221),
            ("closed", 0)
        ]
    );
    assert!(matches!(&events[1], Event::TransactionFinished { txn, .. } if *txn == second));
});

// The second transaction's envelope rides with the first one's ".", and
// the first message is refused: each reply still lands on its own command.
transcript!(
    refused_message_does_not_shift_the_next_envelope,
    dbc(),
    |t| {
        innosoft_hello(t);
        let first = t
            .cmd(|c| c.send_mail(&mrose(), BodyOptions::default()))
            .unwrap();
        let env2 = envelope("mrose@dbc.mtview.ca.us", &["ned@innosoft.com"]);
        let second = t
            .cmd(|c| c.send_mail(&env2, BodyOptions::default()))
            .unwrap();
        let _ = t.sent();
        t.server_ok("250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
        let _ = t.events();
        t.cmd(|c| c.send_body(b"x\r\n")).unwrap();
        t.cmd(|c| c.finish_body()).unwrap();
        let _ = t.sent();
        t.server_ok("554 5.7.1 spam\r\n250 sender ok\r\n550 no such user\r\n554 no recipients\r\n");
        let events = t.events();
        let outcomes: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::TransactionFinished { txn, report } => Some((*txn, report.outcome)),
                _ => None,
            })
            .collect();
        assert_eq!(
            outcomes,
            [
                (first, TxnOutcome::MessageRefused),
                (second, TxnOutcome::AllRecipientsRefused)
            ]
        );
        t.expect_sent("RSET\r\n");
    }
);

// EHLO ends a group and never joins one: a MAIL queued behind it waits for
// its reply, and the envelope then goes as one group.
transcript!(ehlo_goes_alone, dbc(), |t| {
    innosoft_hello(t);
    let _ = t.cmd(|c| c.ehlo()).unwrap();
    let _ = t
        .cmd(|c| c.send_mail(&mrose(), BodyOptions::default()))
        .unwrap();
    t.expect_sent("EHLO dbc.mtview.ca.us\r\n");
    t.server_ok("250-innosoft.com\r\n250 PIPELINING\r\n");
    assert!(matches!(t.event(), Event::Hello { .. }));
    t.expect_sent(GROUP);
});

/// Sets up "RSET in flight, nothing ending a group before it": every
/// recipient refused, DATA refused, the client's own RSET on the wire.
fn internal_rset_in_flight(t: &mut common::Harness, caps: &[&str]) {
    t.ready(caps);
    let env = envelope("a@b.example", &["c@d.example"]);
    let _ = t
        .cmd(|c| c.send_mail(&env, BodyOptions::default()))
        .unwrap();
    let _ = t.sent();
    t.server_ok("250 ok\r\n550 no\r\n554 no recipients\r\n");
    let _ = t.events();
    t.expect_sent("RSET\r\n");
}

// A group in flight that has not ended (only the client's RSET): MAIL may
// join it, EHLO, STARTTLS and AUTH may not.
transcript!(mail_joins_a_group_in_flight, Config::default(), |t| {
    internal_rset_in_flight(t, &["PIPELINING"]);
    let env = envelope("a@b.example", &["e@d.example"]);
    let _ = t
        .cmd(|c| c.send_mail(&env, BodyOptions::default()))
        .unwrap();
    t.expect_sent("MAIL FROM:<a@b.example>\r\nRCPT TO:<e@d.example>\r\nDATA\r\n");
});

transcript!(ehlo_never_joins_a_group, Config::default(), |t| {
    internal_rset_in_flight(t, &["PIPELINING"]);
    let _ = t.cmd(|c| c.ehlo()).unwrap();
    t.expect_sent("");
    t.server_ok("250 flushed\r\n");
    t.expect_sent("EHLO localhost\r\n");
});

transcript!(starttls_never_joins_a_group, Config::default(), |t| {
    internal_rset_in_flight(t, &["PIPELINING", "STARTTLS"]);
    let _ = t.cmd(|c| c.starttls()).unwrap();
    t.expect_sent("");
    // Nothing may be queued behind STARTTLS.
    assert_eq!(t.cmd(|c| c.noop()), Err(UsageError::StartTlsInProgress));
    t.server_ok("250 flushed\r\n");
    t.expect_sent("STARTTLS\r\n");
    t.server_ok("220 go ahead\r\n");
    assert!(matches!(t.event(), Event::StartTlsReady { .. }));
    t.expect_sent("");
    assert_eq!(t.client.phase(), Phase::AwaitingTls);
});

transcript!(auth_never_joins_a_group, Config::default(), |t| {
    internal_rset_in_flight(t, &["PIPELINING", "AUTH CRAM-MD5"]);
    let _ = t.cmd(|c| c.auth(Mechanism::CRAM_MD5, None)).unwrap();
    t.expect_sent("");
    t.server_ok("250 flushed\r\n");
    t.expect_sent("AUTH CRAM-MD5\r\n");
    // Nothing joins AUTH either: commands wait for the exchange to end.
    assert_eq!(t.cmd(|c| c.noop()), Err(UsageError::AuthInProgress));
});

// RSET may appear anywhere in a group (RFC 2920 §3.1), so the caller's RSET
// and the next envelope share one write.
transcript!(caller_rset_joins_the_next_group, Config::default(), |t| {
    t.ready(&["PIPELINING"]);
    let _ = t.cmd(|c| c.rset()).unwrap();
    let env = envelope("a@b.example", &["c@d.example"]);
    let _ = t
        .cmd(|c| c.send_mail(&env, BodyOptions::default()))
        .unwrap();
    t.expect_sent("RSET\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
    t.server_ok("250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    assert_eq!(
        codes(&t.events()),
        [("reply", 250), ("mail", 250), ("rcpt", 250), ("body", 0)]
    );
});

// NOOP, VRFY and QUIT end a group: what follows waits for their reply.
transcript!(noop_ends_a_group, Config::default(), |t| {
    t.ready(&["PIPELINING"]);
    let _ = t.cmd(|c| c.noop()).unwrap();
    let _ = t.cmd(|c| c.vrfy("postmaster")).unwrap();
    let _ = t.cmd(|c| c.quit()).unwrap();
    t.expect_sent("NOOP\r\n");
    t.server_ok("250 ok\r\n");
    t.expect_sent("VRFY postmaster\r\n");
    t.server_ok("252 cannot verify\r\n");
    t.expect_sent("QUIT\r\n");
    t.server_ok("221 bye\r\n");
    assert_eq!(
        codes(&t.events()),
        [
            ("reply", 250),
            ("reply", 252),
            ("reply", 221),
            ("closed", 0)
        ]
    );
});

/// The lock-step conversation for one message to two recipients.
fn lock_step(t: &mut common::Harness) {
    let env = envelope("a@b.example", &["c@d.example", "e@d.example"]);
    let _ = t
        .cmd(|c| c.send_mail(&env, BodyOptions::default()))
        .unwrap();
    let _ = t.cmd(|c| c.quit()).unwrap();
    t.expect_sent("MAIL FROM:<a@b.example>\r\n");
    t.server_ok("250 ok\r\n");
    t.expect_sent("RCPT TO:<c@d.example>\r\n");
    t.server_ok("250 ok\r\n");
    t.expect_sent("RCPT TO:<e@d.example>\r\n");
    t.server_ok("550 no\r\n");
    t.expect_sent("DATA\r\n");
    t.server_ok("354 go\r\n");
    t.cmd(|c| c.send_body(b"body\r\n")).unwrap();
    t.cmd(|c| c.finish_body()).unwrap();
    t.expect_sent("body\r\n.\r\n");
    t.server_ok("250 queued\r\n");
    t.expect_sent("QUIT\r\n");
    t.server_ok("221 bye\r\n");
    let events = t.events();
    assert_eq!(
        codes(&events),
        [
            ("mail", 250),
            ("rcpt", 250),
            ("rcpt", 550),
            ("body", 0),
            ("delivery", 250),
            ("finished", 0),
            ("reply", 221),
            ("closed", 0)
        ]
    );
}

transcript!(lock_step_when_not_advertised, Config::default(), |t| {
    t.ready(&["SIZE"]);
    assert!(!t.client.is_pipelining());
    lock_step(t);
});

transcript!(
    lock_step_when_configured_off,
    Config::default().with_pipelining(false),
    |t| {
        t.ready(&["PIPELINING"]);
        assert!(t.client.extensions().unwrap().pipelining());
        assert!(!t.client.is_pipelining());
        lock_step(t);
    }
);

// A reply while nothing is outstanding (here during the body): fatal, and
// sticky; nothing more goes out, the transaction is reported aborted.
transcript!(extra_reply_while_pipelining_is_fatal, dbc(), |t| {
    innosoft_hello(t);
    let _ = t
        .cmd(|c| c.send_mail(&mrose(), BodyOptions::default()))
        .unwrap();
    let _ = t.sent();
    let err = t
        .feed("250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 one too many\r\n")
        .unwrap_err();
    let Error::Protocol(ProtocolError::UnexpectedReply { reply }) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(reply.code().get(), 250);
    let events = t.events();
    let report = finished(&events);
    assert_eq!(report.outcome, TxnOutcome::Aborted);
    assert_eq!(t.client.phase(), Phase::Failed);
    assert_eq!(t.cmd(|c| c.send_body(b"x")), Err(UsageError::Closed));
    assert_eq!(t.cmd(|c| c.quit()), Err(UsageError::Closed));
    assert_eq!(t.server("250 ok\r\n"), Err(err.clone()));
    assert_eq!(t.eof(), Err(err.clone()));
    assert_eq!(t.advance(60 * MIN), Err(err));
    t.expect_sent("");
    t.no_event();
});

// 421 in the middle of the replies to a group: the reply is reported to the
// command it answers, then the session ends; nothing more is sent and the
// transaction is aborted (its end of data was never sent).
transcript!(service_closing_in_the_middle_of_a_group, dbc(), |t| {
    innosoft_hello(t);
    let _ = t
        .cmd(|c| c.send_mail(&mrose(), BodyOptions::default()))
        .unwrap();
    let _ = t.sent();
    let err = t
        .feed("250 sender ok\r\n421 4.3.2 shutting down\r\n")
        .unwrap_err();
    let Error::ServiceClosing { reply, stage } = &err else {
        panic!("{err:?}")
    };
    assert_eq!((reply.code().get(), *stage), (421, smtp_proto::Stage::Rcpt));
    let events = t.events();
    assert_eq!(
        codes(&events),
        [("mail", 250), ("rcpt", 421), ("finished", 0)]
    );
    assert_eq!(finished(&events).outcome, TxnOutcome::Aborted);
    t.expect_sent("");
    assert_eq!(t.client.poll_timeout(), None);
});

// The connection lost while the group's replies are due: the stage names
// the command whose reply was awaited.
transcript!(eof_in_the_middle_of_a_group, dbc(), |t| {
    innosoft_hello(t);
    let _ = t
        .cmd(|c| c.send_mail(&mrose(), BodyOptions::default()))
        .unwrap();
    let _ = t.sent();
    t.server_ok("250 sender ok\r\n250 rcpt ok\r\n");
    let _ = t.events();
    assert_eq!(
        t.eof(),
        Err(Error::PeerClosed {
            stage: smtp_proto::Stage::Rcpt
        })
    );
    assert_eq!(finished(&t.events()).outcome, TxnOutcome::Aborted);
});

// A reply after every command has been answered (more replies than
// commands in the group) is never taken for the next command's reply.
transcript!(surplus_reply_after_the_group_is_fatal, dbc(), |t| {
    innosoft_hello(t);
    let _ = t.cmd(|c| c.noop()).unwrap();
    t.expect_sent("NOOP\r\n");
    let err = t.feed("250 ok\r\n250 surplus\r\n").unwrap_err();
    assert!(
        matches!(err, Error::Protocol(ProtocolError::UnexpectedReply { .. })),
        "{err:?}"
    );
    t.expect_sent("");
});

// Garbage in the middle of the pipelined replies is a protocol error; the
// client does not skip it to re-align with the rest.
transcript!(garbage_while_pipelining_is_fatal, dbc(), |t| {
    innosoft_hello(t);
    let _ = t
        .cmd(|c| c.send_mail(&mrose(), BodyOptions::default()))
        .unwrap();
    let _ = t.sent();
    let err = t
        .feed("250 ok\r\n250 ok\r\nthis is not a reply\r\n250 ok\r\n354 go\r\n")
        .unwrap_err();
    assert!(
        matches!(err, Error::Protocol(ProtocolError::MalformedReply(_))),
        "{err:?}"
    );
    let events = t.events();
    assert_eq!(
        codes(&events),
        [("mail", 250), ("rcpt", 250), ("finished", 0)]
    );
    assert_eq!(finished(&events).outcome, TxnOutcome::Aborted);
    t.expect_sent("");
    assert_eq!(t.server("354 go\r\n"), Err(err));
});
