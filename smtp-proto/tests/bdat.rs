//! CHUNKING and BINARYMIME (RFC 3030): the examples of §4 as transcripts,
//! exact `BDAT n [LAST]` counts, no dot-stuffing, chunks cut at
//! `bdat_chunk_size`, lock-step chunks without PIPELINING, refused chunks,
//! and the choice between BDAT and DATA.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::Duration;

use smtp_proto::{
    BodyContent, BodyOptions, Config, DeliveryScope, Domain, Envelope, Event, ForwardPath,
    ReversePath, TxnOutcome, TxnReport, UsageError,
};

const MIN: Duration = Duration::from_secs(60);

fn envelope(from: &str, rcpts: &[&str]) -> Envelope {
    Envelope::new(
        ReversePath::parse(from).unwrap(),
        rcpts.iter().map(|r| ForwardPath::parse(r).unwrap()),
    )
}

fn simple() -> Envelope {
    envelope("a@b.example", &["c@d.example"])
}

/// The RFC 3030 examples' client.
fn ymir() -> Config {
    Config::default().with_client_domain(Domain::parse("ymir.claremont.edu").unwrap())
}

fn cnri_hello(t: &mut common::Harness, caps: &str) {
    t.server_ok("220 cnri.reston.va.us SMTP service ready\r\n");
    assert!(matches!(t.event(), Event::Greeting { .. }));
    t.expect_sent("EHLO ymir.claremont.edu\r\n");
    t.server_ok(caps);
    assert!(matches!(
        t.event(),
        Event::Hello {
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

fn bdat(count: usize, last: bool, data: &[u8]) -> Vec<u8> {
    let mut v = format!("BDAT {count}{}\r\n", if last { " LAST" } else { "" }).into_bytes();
    v.extend_from_slice(data);
    v
}

// RFC 3030 §4.1, "simple chunking": one BDAT LAST carries the whole message
// with its exact octet count.
transcript!(rfc3030_example_simple_chunking, ymir(), |t| {
    cnri_hello(t, "250-cnri.reston.va.us says hello\r\n250 CHUNKING\r\n");
    let env = envelope("Sam@Random.com", &["Susan@Random.com"]);
    let txn = t
        .cmd(|c| c.send_mail(&env, BodyOptions::default()))
        .unwrap();
    t.expect_sent("MAIL FROM:<Sam@Random.com>\r\n");
    t.server_ok("250 <Sam@Random.com>... Sender ok\r\n");
    assert!(matches!(t.event(), Event::MailReply { .. }));
    t.expect_sent("RCPT TO:<Susan@Random.com>\r\n");
    t.server_ok("250 <Susan@random.com>... Recipient ok\r\n");
    assert!(matches!(t.event(), Event::RcptReply { .. }));
    assert_eq!(t.event(), Event::ReadyForBody { txn });
    assert!(t.client.can_send_body());
    t.expect_sent("");
    // Bare LF line endings become CRLF before the octets are counted.
    t.cmd(|c| {
        c.send_body(b"To: Susan@random.com\nFrom: Sam@random.com\nSubject: This is a bodyless test message\n")
    })
    .unwrap();
    t.expect_sent("");
    t.cmd(|c| c.finish_body()).unwrap();
    t.expect_sent(
        "BDAT 86 LAST\r\n\
         To: Susan@random.com\r\n\
         From: Sam@random.com\r\n\
         Subject: This is a bodyless test message\r\n",
    );
    assert_eq!(
        t.deadline_in(),
        Some(10 * MIN),
        "BDAT LAST waits like the final \".\""
    );
    t.server_ok("250 Message OK, 86 octets received\r\n");
    let events = t.events();
    assert!(matches!(
        &events[0],
        Event::DeliveryReply { scope: DeliveryScope::AllAccepted, reply, .. } if reply.code().get() == 250
    ));
    assert_eq!(finished(&events).outcome, TxnOutcome::Delivered);
    let _ = t.cmd(|c| c.quit()).unwrap();
    t.expect_sent("QUIT\r\n");
    t.server_ok("221 goodbye\r\n");
    assert!(t.client.is_closed());
});

// RFC 3030 §4.2, "pipelining BINARYMIME": BODY=BINARYMIME, the envelope and
// every chunk sent without waiting for a reply, then the replies in order
// (on a connection that has delivered a message already).
transcript!(
    rfc3030_example_pipelining_binarymime,
    ymir().with_bdat_chunk_size(100_000),
    |t| {
        cnri_hello(
            t,
            "250-cnri.reston.va.us says hello\r\n250-PIPELINING\r\n250-BINARYMIME\r\n250 CHUNKING\r\n",
        );
        // The RFC's client has delivered on this connection before: only
        // then does data follow an unanswered envelope (rule 7).
        t.warm();
        let env = envelope(
            "ned@ymir.claremont.edu",
            &["gvaudre@cnri.reston.va.us", "jstewart@cnri.reston.va.us"],
        );
        let options = BodyOptions::default().with_content(BodyContent::Binary);
        let txn = t.cmd(|c| c.send_mail(&env, options)).unwrap();
        // With PIPELINING the body opens at once: no reply is awaited.
        assert_eq!(t.event(), Event::ReadyForBody { txn });
        let canned: Vec<u8> = (0..100_324u32).map(|i| (i % 251) as u8).collect();
        t.cmd(|c| c.send_body(&canned[..100_000])).unwrap();
        t.cmd(|c| c.send_body(&canned[100_000..])).unwrap();
        t.cmd(|c| c.finish_body()).unwrap();
        let mut expected = b"MAIL FROM:<ned@ymir.claremont.edu> BODY=BINARYMIME\r\n\
                             RCPT TO:<gvaudre@cnri.reston.va.us>\r\n\
                             RCPT TO:<jstewart@cnri.reston.va.us>\r\n"
            .to_vec();
        expected.extend(bdat(100_000, false, &canned[..100_000]));
        expected.extend(bdat(324, true, &canned[100_000..]));
        assert!(t.sent_bytes() == expected, "one round trip, exact chunks");
        t.server_ok(
            "250 <ned@ymir.claremont.edu>... Sender and BINARYMIME ok\r\n\
             250 <gvaudre@cnri.reston.va.us>... Recipient ok\r\n\
             250 <jstewart@cnri.reston.va.us>... Recipient ok\r\n\
             250 100000 bytes received\r\n\
             250 Message OK, 100324 octets received\r\n",
        );
        let events = t.events();
        let kinds: Vec<_> = events
            .iter()
            .map(|e| match e {
                Event::MailReply { .. } => "mail",
                Event::RcptReply { .. } => "rcpt",
                Event::DeliveryReply { .. } => "delivery",
                Event::TransactionFinished { .. } => "finished",
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(kinds, ["mail", "rcpt", "rcpt", "delivery", "finished"]);
        let report = finished(&events);
        assert_eq!(report.outcome, TxnOutcome::Delivered);
        assert_eq!(report.delivered().count(), 2);
        let _ = t.cmd(|c| c.quit()).unwrap();
        t.expect_sent("QUIT\r\n");
        t.server_ok("221 goodbye\r\n");
    }
);

// BDAT counts octets, so there is no dot-stuffing; line endings of a text
// body are still normalised (lone CR and lone LF become CRLF).
transcript!(
    text_body_is_normalised_not_stuffed,
    Config::default(),
    |t| {
        t.ready(&["CHUNKING", "PIPELINING"]);
        t.warm();
        let _ = t
            .cmd(|c| c.send_mail(&simple(), BodyOptions::default()))
            .unwrap();
        let _ = t.events();
        t.cmd(|c| c.send_body(b".leading dot\n..two dots\r"))
            .unwrap();
        t.cmd(|c| c.send_body(b"\n.\nlone cr\rend\r\n.")).unwrap();
        t.cmd(|c| c.finish_body()).unwrap();
        let body = ".leading dot\r\n..two dots\r\n.\r\nlone cr\r\nend\r\n.";
        let expected = format!(
            "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT {} LAST\r\n{body}",
            body.len()
        );
        t.expect_sent(&expected);
    }
);

// An empty body is `BDAT 0 LAST`.
transcript!(empty_body_is_bdat_0_last, Config::default(), |t| {
    t.ready(&["CHUNKING"]);
    let _ = t
        .cmd(|c| c.send_mail(&simple(), BodyOptions::default()))
        .unwrap();
    t.server_ok("250 ok\r\n");
    t.server_ok("250 ok\r\n");
    let _ = t.events();
    let _ = t.sent();
    t.cmd(|c| c.finish_body()).unwrap();
    t.expect_sent("BDAT 0 LAST\r\n");
    t.server_ok("250 ok, empty\r\n");
    assert_eq!(finished(&t.events()).outcome, TxnOutcome::Delivered);
});

// A body longer than `bdat_chunk_size` goes as several full chunks and a
// last one. Without PIPELINING each chunk waits for the reply to the one
// before it: `send_body` says `WouldBlock` while a chunk waits, and
// `can_send_body` says when to go on.
transcript!(
    chunks_go_lock_step_without_pipelining,
    Config::default().with_bdat_chunk_size(8),
    |t| {
        t.ready(&["CHUNKING"]);
        let txn = t
            .cmd(|c| c.send_mail(&simple(), BodyOptions::default()))
            .unwrap();
        t.expect_sent("MAIL FROM:<a@b.example>\r\n");
        assert!(!t.client.can_send_body());
        assert_eq!(
            t.cmd(|c| c.send_body(b"early")),
            Err(UsageError::NoBodyExpected)
        );
        t.server_ok("250 ok\r\n");
        t.expect_sent("RCPT TO:<c@d.example>\r\n");
        t.server_ok("250 ok\r\n");
        let events = t.events();
        assert_eq!(events.last(), Some(&Event::ReadyForBody { txn }));
        assert!(t.client.can_send_body());

        // Less than a chunk is held back.
        t.cmd(|c| c.send_body(b"0123")).unwrap();
        t.expect_sent("");
        // A full chunk goes at once...
        t.cmd(|c| c.send_body(b"4567")).unwrap();
        t.expect_sent("BDAT 8\r\n01234567");
        assert_eq!(t.deadline_in(), Some(5 * MIN), "a chunk's reply deadline");
        assert!(t.client.can_send_body());
        // ...the next waits for its reply, and then nothing more is taken.
        t.cmd(|c| c.send_body(b"89abcdef")).unwrap();
        t.expect_sent("");
        assert!(!t.client.can_send_body());
        assert_eq!(t.cmd(|c| c.send_body(b"x")), Err(UsageError::WouldBlock));
        t.server_ok("250 8 octets\r\n");
        t.expect_sent("BDAT 8\r\n89abcdef");
        assert!(t.client.can_send_body());
        t.cmd(|c| c.send_body(b"tail")).unwrap();
        t.cmd(|c| c.finish_body()).unwrap();
        assert!(!t.client.can_send_body());
        t.expect_sent("");
        t.server_ok("250 8 more octets\r\n");
        t.expect_sent("BDAT 4 LAST\r\ntail");
        assert_eq!(t.deadline_in(), Some(10 * MIN));
        t.server_ok("250 message ok, 20 octets\r\n");
        let events = t.events();
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(matches!(&events[0], Event::DeliveryReply { .. }));
        assert_eq!(finished(&events).outcome, TxnOutcome::Delivered);
        assert!(t.client.is_idle());
    }
);

// One `send_body` larger than `bdat_chunk_size` is cut into chunks of that
// size; the rest goes with LAST.
transcript!(
    large_send_body_is_cut_into_chunks,
    Config::default().with_bdat_chunk_size(8),
    |t| {
        t.ready(&["CHUNKING", "PIPELINING"]);
        t.warm();
        let _ = t
            .cmd(|c| c.send_mail(&simple(), BodyOptions::default()))
            .unwrap();
        let _ = t.events();
        let _ = t.sent();
        t.cmd(|c| c.send_body(b"0123456789abcdefXYZ")).unwrap();
        t.expect_sent("BDAT 8\r\n01234567BDAT 8\r\n89abcdef");
        assert!(t.client.can_send_body());
        t.cmd(|c| c.finish_body()).unwrap();
        t.expect_sent("BDAT 3 LAST\r\nXYZ");
        t.server_ok("250 ok\r\n250 ok\r\n250 8\r\n250 8\r\n250 done\r\n");
        assert_eq!(finished(&t.events()).outcome, TxnOutcome::Delivered);
    }
);

// A refused chunk ends the transaction: no further chunk goes out, the
// caller is told to stop (`NoBodyExpected`), the server's transaction is
// reset and the outcome is `DataRefused` with the refusal.
transcript!(
    refused_chunk_stops_the_body,
    Config::default().with_bdat_chunk_size(4),
    |t| {
        t.ready(&["CHUNKING"]);
        let _ = t
            .cmd(|c| c.send_mail(&simple(), BodyOptions::default()))
            .unwrap();
        t.server_ok("250 ok\r\n");
        t.server_ok("250 ok\r\n");
        let _ = t.events();
        let _ = t.sent();
        t.cmd(|c| c.send_body(b"aaaa")).unwrap();
        t.cmd(|c| c.send_body(b"bbbb")).unwrap();
        t.expect_sent("BDAT 4\r\naaaa");
        t.server_ok("552 5.3.4 message too big\r\n");
        let events = t.events();
        let report = finished(&events);
        assert_eq!(report.outcome, TxnOutcome::DataRefused);
        assert_eq!(report.data_reply.as_ref().unwrap().code().get(), 552);
        assert!(!t.client.can_send_body());
        assert_eq!(
            t.cmd(|c| c.send_body(b"cccc")),
            Err(UsageError::NoBodyExpected)
        );
        assert_eq!(t.cmd(|c| c.finish_body()), Err(UsageError::NoBodyExpected));
        // The waiting chunk is dropped; RSET goes instead.
        t.expect_sent("RSET\r\n");
        t.server_ok("250 reset\r\n");
        t.no_event();
        assert!(t.client.is_idle());
    }
);

// The same with PIPELINING: chunks already on the wire get their replies
// (read and dropped), and RSET follows them.
transcript!(
    refused_chunk_while_pipelining,
    Config::default().with_bdat_chunk_size(4),
    |t| {
        t.ready(&["CHUNKING", "PIPELINING"]);
        t.warm();
        let _ = t
            .cmd(|c| c.send_mail(&simple(), BodyOptions::default()))
            .unwrap();
        let _ = t.events();
        t.cmd(|c| c.send_body(b"aaaabbbb")).unwrap();
        t.expect_sent(
            "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 4\r\naaaaBDAT 4\r\nbbbb",
        );
        t.server_ok("250 ok\r\n250 ok\r\n452 4.3.1 out of space\r\n");
        let report = finished(&t.events());
        assert_eq!(report.outcome, TxnOutcome::DataRefused);
        assert_eq!(report.data_reply.as_ref().unwrap().code().get(), 452);
        assert_eq!(
            t.cmd(|c| c.send_body(b"cccc")),
            Err(UsageError::NoBodyExpected)
        );
        // RSET joins the group: non-final chunks do not end one.
        t.expect_sent("RSET\r\n");
        t.server_ok("452 4.3.1 still out of space\r\n250 reset\r\n");
        t.no_event();
        assert!(t.client.is_idle());
        assert_eq!(t.client.poll_timeout(), None);
    }
);

// The reply to BDAT LAST refuses the message.
transcript!(
    refused_last_chunk_is_message_refused,
    Config::default(),
    |t| {
        t.ready(&["CHUNKING", "PIPELINING"]);
        t.warm();
        let _ = t
            .cmd(|c| c.send_mail(&simple(), BodyOptions::default()))
            .unwrap();
        let _ = t.events();
        t.cmd(|c| c.send_body(b"spam\r\n")).unwrap();
        t.cmd(|c| c.finish_body()).unwrap();
        t.expect_sent(
            "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 6 LAST\r\nspam\r\n",
        );
        t.server_ok("250 ok\r\n250 ok\r\n554 5.7.1 spam\r\n");
        let events = t.events();
        assert!(
            matches!(&events[2], Event::DeliveryReply { reply, .. } if reply.code().get() == 554)
        );
        let report = finished(&events);
        assert_eq!(report.outcome, TxnOutcome::MessageRefused);
        assert_eq!(report.refused().count(), 1);
    }
);

// Without PIPELINING the body opens only once a recipient is accepted: a
// refused sender or only refused recipients mean no BDAT at all.
transcript!(
    lock_step_sender_refused_sends_no_chunk,
    Config::default(),
    |t| {
        t.ready(&["CHUNKING"]);
        let _ = t
            .cmd(|c| c.send_mail(&simple(), BodyOptions::default()))
            .unwrap();
        t.expect_sent("MAIL FROM:<a@b.example>\r\n");
        t.server_ok("550 5.7.1 go away\r\n");
        let events = t.events();
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, Event::ReadyForBody { .. }))
        );
        assert_eq!(finished(&events).outcome, TxnOutcome::SenderRefused);
        t.expect_sent("");
    }
);

transcript!(
    lock_step_all_recipients_refused_sends_no_chunk,
    Config::default(),
    |t| {
        t.ready(&["CHUNKING"]);
        let env = envelope("a@b.example", &["c@d.example", "e@d.example"]);
        let _ = t
            .cmd(|c| c.send_mail(&env, BodyOptions::default()))
            .unwrap();
        t.server_ok("250 ok\r\n");
        t.server_ok("550 no\r\n");
        t.server_ok("550 no\r\n");
        let events = t.events();
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, Event::ReadyForBody { .. }))
        );
        assert_eq!(finished(&events).outcome, TxnOutcome::AllRecipientsRefused);
        t.expect_sent(
            "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nRCPT TO:<e@d.example>\r\nRSET\r\n",
        );
    }
);

// With PIPELINING the body was already sent when the refusals come back;
// the server refuses BDAT LAST and the outcome says why.
transcript!(pipelined_all_recipients_refused, Config::default(), |t| {
    t.ready(&["CHUNKING", "PIPELINING"]);
    t.warm();
    let _ = t
        .cmd(|c| c.send_mail(&simple(), BodyOptions::default()))
        .unwrap();
    let _ = t.events();
    t.cmd(|c| c.send_body(b"hi\r\n")).unwrap();
    t.cmd(|c| c.finish_body()).unwrap();
    let _ = t.sent();
    t.server_ok("250 ok\r\n550 5.1.1 unknown\r\n554 5.5.1 no valid recipients\r\n");
    let events = t.events();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::DeliveryReply { .. }))
    );
    let report = finished(&events);
    assert_eq!(report.outcome, TxnOutcome::AllRecipientsRefused);
    assert_eq!(report.delivered().count(), 0);
    t.expect_sent("");
});

// BINARYMIME: `BODY=BINARYMIME`, and the bytes go exactly as given (NUL,
// lone LF, lone CR, 8-bit, a dot line).
transcript!(binarymime_bytes_are_untouched, Config::default(), |t| {
    t.ready(&["CHUNKING", "BINARYMIME", "8BITMIME"]);
    let options = BodyOptions::default().with_content(BodyContent::Binary);
    let _ = t.cmd(|c| c.send_mail(&simple(), options)).unwrap();
    t.expect_sent("MAIL FROM:<a@b.example> BODY=BINARYMIME\r\n");
    t.server_ok("250 ok\r\n");
    t.expect_sent("RCPT TO:<c@d.example>\r\n");
    t.server_ok("250 ok\r\n");
    let _ = t.events();
    let body: &[u8] = b"\x00\x01bare lf\nlone cr\r\n.\r\n\xff\xfe\r";
    t.cmd(|c| c.send_body(body)).unwrap();
    t.cmd(|c| c.finish_body()).unwrap();
    assert_eq!(t.sent_bytes(), bdat(body.len(), true, body));
});

transcript!(
    binary_needs_binarymime_and_chunking,
    Config::default(),
    |t| {
        t.ready(&["CHUNKING", "8BITMIME"]);
        let binary = BodyOptions::default().with_content(BodyContent::Binary);
        assert_eq!(
            t.cmd(|c| c.send_mail(&simple(), binary)),
            Err(UsageError::ExtensionNotAdvertised("BINARYMIME"))
        );
        t.expect_sent("");
        assert!(t.client.is_idle());
    }
);

// BINARYMIME without CHUNKING cannot be used: a binary body needs BDAT.
transcript!(
    binarymime_without_chunking_is_refused,
    Config::default(),
    |t| {
        t.ready(&["BINARYMIME", "8BITMIME"]);
        let binary = BodyOptions::default().with_content(BodyContent::Binary);
        assert_eq!(
            t.cmd(|c| c.send_mail(&simple(), binary)),
            Err(UsageError::ExtensionNotAdvertised("BINARYMIME"))
        );
        t.expect_sent("");
    }
);

// The caller (per message or per session) can prefer DATA even when the
// server offers CHUNKING.
transcript!(
    chunking_can_be_declined_per_message,
    Config::default(),
    |t| {
        t.ready(&["CHUNKING", "PIPELINING"]);
        let options = BodyOptions::default().with_chunking(false);
        let _ = t.cmd(|c| c.send_mail(&simple(), options)).unwrap();
        t.expect_sent("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
        t.server_ok("250 ok\r\n250 ok\r\n354 go\r\n");
        let _ = t.events();
        t.cmd(|c| c.send_body(b".dot\r\n")).unwrap();
        t.cmd(|c| c.finish_body()).unwrap();
        t.expect_sent("..dot\r\n.\r\n");
    }
);

transcript!(
    chunking_can_be_declined_per_session,
    Config::default().with_chunking(false),
    |t| {
        t.ready(&["CHUNKING"]);
        let _ = t
            .cmd(|c| c.send_mail(&simple(), BodyOptions::default()))
            .unwrap();
        t.server_ok("250 ok\r\n");
        t.server_ok("250 ok\r\n");
        t.expect_sent("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
    }
);

// Two BDAT transactions back to back with PIPELINING: the second envelope
// follows the first one's LAST chunk only after its reply (BDAT LAST ends a
// group), and each reply lands on its own command.
transcript!(two_bdat_transactions, Config::default(), |t| {
    t.ready(&["CHUNKING", "PIPELINING"]);
    t.warm();
    let first = t
        .cmd(|c| c.send_mail(&simple(), BodyOptions::default()))
        .unwrap();
    let second = t
        .cmd(|c| c.send_mail(&simple(), BodyOptions::default()))
        .unwrap();
    assert_eq!(t.event(), Event::ReadyForBody { txn: first });
    t.cmd(|c| c.send_body(b"one\r\n")).unwrap();
    t.cmd(|c| c.finish_body()).unwrap();
    // BDAT LAST ends the transaction whatever its reply (RFC 3030 §2), so the
    // next envelope shares the write, as it does after a final ".".
    t.expect_sent(
        "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 5 LAST\r\none\r\n\
         MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n",
    );
    assert_eq!(t.event(), Event::ReadyForBody { txn: second });
    t.cmd(|c| c.send_body(b"two\r\n")).unwrap();
    t.cmd(|c| c.finish_body()).unwrap();
    t.expect_sent("BDAT 5 LAST\r\ntwo\r\n");
    t.server_ok("250 ok\r\n250 ok\r\n250 first done\r\n");
    let first_report = finished(&t.events());
    assert_eq!(
        (first_report.txn, first_report.outcome),
        (first, TxnOutcome::Delivered)
    );
    t.server_ok("250 ok\r\n250 ok\r\n250 second done\r\n");
    let report = finished(&t.events());
    assert_eq!(
        (report.txn, report.outcome),
        (second, TxnOutcome::Delivered)
    );
});

// With PIPELINING the chunks are on the wire before MAIL is refused; the
// transaction fails once, as "sender refused", and nothing is reset.
transcript!(
    pipelined_sender_refused,
    Config::default().with_bdat_chunk_size(4),
    |t| {
        t.ready(&["CHUNKING", "PIPELINING"]);
        t.warm();
        let _ = t
            .cmd(|c| c.send_mail(&simple(), BodyOptions::default()))
            .unwrap();
        let _ = t.events();
        t.cmd(|c| c.send_body(b"abcdef")).unwrap();
        t.cmd(|c| c.finish_body()).unwrap();
        t.expect_sent(
            "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 4\r\nabcdBDAT 2 LAST\r\nef",
        );
        t.server_ok("550 5.7.1 no\r\n503 5.5.1 no MAIL\r\n503 5.5.1 no MAIL\r\n");
        let report = finished(&t.events());
        assert_eq!(report.outcome, smtp_proto::TxnOutcome::SenderRefused);
        // The reply to BDAT LAST still comes and is read, not misplaced.
        t.server_ok("503 5.5.1 no MAIL\r\n");
        t.no_event();
        t.expect_sent("");
        assert!(t.client.is_idle());
    }
);

// A chunk's reply is due within the command deadline; missing it is a
// timeout before the end of data, so nothing was delivered.
transcript!(
    chunk_reply_timeout,
    Config::default().with_bdat_chunk_size(4),
    |t| {
        t.ready(&["CHUNKING"]);
        let _ = t
            .cmd(|c| c.send_mail(&simple(), BodyOptions::default()))
            .unwrap();
        t.server_ok("250 ok\r\n");
        t.server_ok("250 ok\r\n");
        let _ = t.events();
        t.cmd(|c| c.send_body(b"abcd")).unwrap();
        assert!(t.sent().ends_with("BDAT 4\r\nabcd"));
        assert_eq!(t.deadline_in(), Some(5 * MIN));
        let err = t.advance(5 * MIN).unwrap_err();
        assert_eq!(
            err,
            smtp_proto::Error::Timeout {
                stage: smtp_proto::Stage::Bdat
            }
        );
        assert!(!err.is_outcome_unknown());
        assert_eq!(finished(&t.events()).outcome, TxnOutcome::Aborted);
        assert_eq!(t.cmd(|c| c.send_body(b"x")), Err(UsageError::Closed));
    }
);

// A chunk refused while BDAT LAST and the next envelope are already in flight:
// LAST ended the first transaction on the server, so no RSET may follow (it
// would land after the second envelope and reset it).
transcript!(
    refused_chunk_behind_next_envelope_sends_no_rset,
    Config::default().with_bdat_chunk_size(4),
    |t| {
        t.ready(&["CHUNKING", "PIPELINING"]);
        t.warm();
        let first = t
            .cmd(|c| c.send_mail(&simple(), BodyOptions::default()))
            .unwrap();
        let second = t
            .cmd(|c| c.send_mail(&simple(), BodyOptions::default()))
            .unwrap();
        assert_eq!(t.event(), Event::ReadyForBody { txn: first });
        t.cmd(|c| c.send_body(b"abcdef")).unwrap();
        t.cmd(|c| c.finish_body()).unwrap();
        t.expect_sent(
            "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 4\r\nabcdBDAT 2 LAST\r\nef\
             MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n",
        );
        assert_eq!(t.event(), Event::ReadyForBody { txn: second });
        t.server_ok("250 ok\r\n250 ok\r\n552 5.3.4 too big\r\n");
        let report = finished(&t.events());
        assert_eq!(
            (report.txn, report.outcome),
            (first, TxnOutcome::DataRefused)
        );
        t.expect_sent("");
        // The reply to the first transaction's LAST is consumed quietly.
        t.server_ok("554 5.5.1 transaction failed\r\n250 ok\r\n250 ok\r\n");
        t.cmd(|c| c.send_body(b"x\r\n")).unwrap();
        t.cmd(|c| c.finish_body()).unwrap();
        t.expect_sent("BDAT 3 LAST\r\nx\r\n");
        t.server_ok("250 2.0.0 queued\r\n");
        let report = finished(&t.events());
        assert_eq!(
            (report.txn, report.outcome),
            (second, TxnOutcome::Delivered)
        );
    }
);

// The first message of a connection: with PIPELINING the envelope goes in
// one write, but the data waits for the MAIL and RCPT replies. A server
// that refuses MAIL at a command gate ("530 Must issue a STARTTLS command
// first") may refuse the BDAT command too without reading its data, and
// then take the message's lines for commands; so nothing but the envelope
// is sent until the gate is known to be open.
transcript!(
    first_message_data_waits_for_its_envelope,
    Config::default(),
    |t| {
        t.ready(&["CHUNKING", "PIPELINING"]);
        let txn = t
            .cmd(|c| c.send_mail(&simple(), BodyOptions::default()))
            .unwrap();
        t.expect_sent("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
        assert!(!t.client.can_send_body());
        t.server_ok("530 5.7.0 Must issue a STARTTLS command first\r\n");
        t.server_ok("530 5.7.0 Must issue a STARTTLS command first\r\n");
        let events = t.events();
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, Event::ReadyForBody { .. }))
        );
        let report = finished(&events);
        assert_eq!(
            (report.txn, report.outcome),
            (txn, TxnOutcome::SenderRefused)
        );
        t.expect_sent("");
        // Nothing was delivered, so the next message waits as well.
        let _ = t
            .cmd(|c| c.send_mail(&simple(), BodyOptions::default()))
            .unwrap();
        t.expect_sent("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
        t.server_ok("250 ok\r\n250 ok\r\n");
        let _ = t.events();
        t.cmd(|c| c.send_body(b"hi\r\n")).unwrap();
        t.cmd(|c| c.finish_body()).unwrap();
        t.expect_sent("BDAT 4 LAST\r\nhi\r\n");
        t.server_ok("250 queued\r\n");
        assert_eq!(finished(&t.events()).outcome, TxnOutcome::Delivered);
        // Delivered once: from now on the data follows the envelope at once.
        let next = t
            .cmd(|c| c.send_mail(&simple(), BodyOptions::default()))
            .unwrap();
        assert_eq!(t.event(), Event::ReadyForBody { txn: next });
        t.cmd(|c| c.send_body(b"hi\r\n")).unwrap();
        t.cmd(|c| c.finish_body()).unwrap();
        t.expect_sent("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 4 LAST\r\nhi\r\n");
    }
);
