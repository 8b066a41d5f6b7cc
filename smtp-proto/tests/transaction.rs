//! Mail transactions in lock-step (no PIPELINING): RFC 5321 §3.3 and
//! Appendix D.1, plus every way a transaction can end early.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use smtp_proto::{
    BodyOptions, Config, Envelope, Event, ForwardPath, ReversePath, TxnOutcome, UsageError,
};

fn envelope(rcpts: &[&str]) -> Envelope {
    Envelope::new(
        ReversePath::parse("Smith@bar.com").unwrap(),
        rcpts.iter().map(|r| ForwardPath::parse(r).unwrap()),
    )
}

fn no_chunking() -> BodyOptions {
    BodyOptions::default().with_chunking(false)
}

// RFC 5321 Appendix D.1, a typical SMTP transaction scenario, with one
// recipient refused.
transcript!(rfc5321_d1_partial_acceptance, Config::default(), |t| {
    t.ready(&["8BITMIME", "SIZE"]);
    let env = envelope(&["Jones@foo.com", "Green@foo.com", "Brown@foo.com"]);
    let txn = t.cmd(|c| c.send_mail(&env, no_chunking())).unwrap();
    t.expect_sent("MAIL FROM:<Smith@bar.com> BODY=8BITMIME\r\n");
    t.server_ok("250 OK\r\n");
    assert!(matches!(t.event(), Event::MailReply { .. }));
    t.expect_sent("RCPT TO:<Jones@foo.com>\r\n");
    t.server_ok("250 OK\r\n");
    t.expect_sent("RCPT TO:<Green@foo.com>\r\n");
    t.server_ok("550 No such user here\r\n");
    t.expect_sent("RCPT TO:<Brown@foo.com>\r\n");
    t.server_ok("250 OK\r\n");
    for _ in 0..3 {
        assert!(matches!(t.event(), Event::RcptReply { .. }));
    }
    t.expect_sent("DATA\r\n");
    t.server_ok("354 Start mail input; end with <CRLF>.<CRLF>\r\n");
    assert_eq!(t.event(), Event::ReadyForBody { txn });
    t.cmd(|c| c.send_body(b"Blah blah blah...\r\n.leading dot\n"))
        .unwrap();
    t.cmd(|c| c.finish_body()).unwrap();
    t.expect_sent("Blah blah blah...\r\n..leading dot\r\n.\r\n");
    t.server_ok("250 OK\r\n");
    assert!(matches!(t.event(), Event::DeliveryReply { .. }));
    let Event::TransactionFinished { report, .. } = t.event() else {
        panic!()
    };
    assert_eq!(report.outcome, TxnOutcome::Delivered);
    let refused: Vec<_> = report
        .refused()
        .map(|(a, r)| (a.to_string(), r.code().get()))
        .collect();
    assert_eq!(refused, vec![("<Green@foo.com>".to_owned(), 550)]);
    assert_eq!(report.delivered().count(), 2);
    let _ = t.cmd(|c| c.quit()).unwrap();
    t.expect_sent("QUIT\r\n");
    t.server_ok("221 foo.com Service closing transmission channel\r\n");
    assert!(matches!(t.event(), Event::Reply { .. }));
    assert!(matches!(t.event(), Event::Closed { reply: Some(_) }));
    assert!(t.client.is_closed());
});

transcript!(
    sender_refused_skips_recipients_in_lockstep,
    Config::default(),
    |t| {
        t.ready(&[]);
        let env = envelope(&["a@foo.com", "b@foo.com"]);
        let _ = t.cmd(|c| c.send_mail(&env, no_chunking())).unwrap();
        t.expect_sent("MAIL FROM:<Smith@bar.com>\r\n");
        t.server_ok("550 5.7.1 Sender rejected\r\n");
        assert!(matches!(t.event(), Event::MailReply { .. }));
        let Event::TransactionFinished { report, .. } = t.event() else {
            panic!()
        };
        assert_eq!(report.outcome, TxnOutcome::SenderRefused);
        assert_eq!(report.mail_reply.unwrap().code().get(), 550);
        // No RCPT, no DATA, no RSET: the server holds no transaction.
        t.expect_sent("");
    }
);

transcript!(
    all_recipients_refused_sends_no_data_and_resets,
    Config::default(),
    |t| {
        t.ready(&[]);
        let env = envelope(&["a@foo.com", "b@foo.com"]);
        let _ = t.cmd(|c| c.send_mail(&env, no_chunking())).unwrap();
        t.expect_sent("MAIL FROM:<Smith@bar.com>\r\n");
        t.server_ok("250 OK\r\n");
        t.expect_sent("RCPT TO:<a@foo.com>\r\n");
        t.server_ok("550 5.1.1 no\r\n");
        t.expect_sent("RCPT TO:<b@foo.com>\r\n");
        t.server_ok("451 4.2.1 later\r\n");
        t.expect_sent("RSET\r\n");
        let evs = t.events();
        let Some(Event::TransactionFinished { report, .. }) = evs.last() else {
            panic!("{evs:?}")
        };
        assert_eq!(report.outcome, TxnOutcome::AllRecipientsRefused);
        assert_eq!(report.refused().count(), 2);
        t.server_ok("250 2.0.0 Ok\r\n");
        t.no_event();
        assert!(t.client.is_idle());
    }
);

transcript!(data_refused_is_reported_and_reset, Config::default(), |t| {
    t.ready(&[]);
    let env = envelope(&["a@foo.com"]);
    let _ = t.cmd(|c| c.send_mail(&env, no_chunking())).unwrap();
    t.server_ok("250 OK\r\n");
    t.server_ok("250 OK\r\n");
    t.expect_sent("MAIL FROM:<Smith@bar.com>\r\nRCPT TO:<a@foo.com>\r\nDATA\r\n");
    t.server_ok("554 5.5.1 no valid recipients\r\n");
    let evs = t.events();
    let Some(Event::TransactionFinished { report, .. }) = evs.last() else {
        panic!("{evs:?}")
    };
    assert_eq!(report.outcome, TxnOutcome::DataRefused);
    assert_eq!(report.data_reply.as_ref().unwrap().code().get(), 554);
    t.expect_sent("RSET\r\n");
    assert_eq!(
        t.cmd(|c| c.send_body(b"x")),
        Err(UsageError::NoBodyExpected)
    );
});

transcript!(message_refused_after_data, Config::default(), |t| {
    t.ready(&[]);
    let env = envelope(&["a@foo.com"]);
    let _ = t.cmd(|c| c.send_mail(&env, no_chunking())).unwrap();
    for reply in ["250 OK\r\n", "250 OK\r\n", "354 go\r\n"] {
        t.server_ok(reply);
    }
    let _ = t.events();
    t.cmd(|c| c.send_body(b"hi")).unwrap();
    t.cmd(|c| c.finish_body()).unwrap();
    assert!(t.sent().ends_with("hi\r\n.\r\n"));
    t.server_ok("552 5.3.4 Message too big for system\r\n");
    let evs = t.events();
    let Some(Event::TransactionFinished { report, .. }) = evs.last() else {
        panic!("{evs:?}")
    };
    assert_eq!(report.outcome, TxnOutcome::MessageRefused);
    assert_eq!(report.refused().count(), 1);
});

transcript!(commands_need_a_successful_ehlo, Config::default(), |t| {
    let env = envelope(&["a@foo.com"]);
    assert!(matches!(
        t.cmd(|c| c.send_mail(&env, BodyOptions::default())),
        Err(UsageError::NotAllowed { .. })
    ));
    assert!(matches!(
        t.cmd(|c| c.noop()),
        Err(UsageError::NotAllowed { .. })
    ));
    t.ready(&[]);
    let empty = Envelope::new(ReversePath::null(), []);
    assert_eq!(
        t.cmd(|c| c.send_mail(&empty, BodyOptions::default())),
        Err(UsageError::NoRecipients)
    );
    t.expect_sent("");
});

transcript!(size_is_declared_and_checked, Config::default(), |t| {
    t.ready(&["SIZE 1000"]);
    let env = envelope(&["a@foo.com"]);
    let big = BodyOptions::default()
        .with_size(Some(1001))
        .with_chunking(false);
    assert_eq!(
        t.cmd(|c| c.send_mail(&env, big)),
        Err(UsageError::MessageTooLarge {
            size: 1001,
            limit: 1000
        })
    );
    t.expect_sent("");
    let ok = BodyOptions::for_body(b"hello\n");
    let _ = t.cmd(|c| c.send_mail(&env, ok)).unwrap();
    t.expect_sent("MAIL FROM:<Smith@bar.com> SIZE=7\r\n");
});

transcript!(eight_bit_needs_8bitmime, Config::default(), |t| {
    t.ready(&["SIZE"]);
    let env = envelope(&["a@foo.com"]);
    assert_eq!(
        t.cmd(|c| c.send_mail(&env, BodyOptions::for_body("caf\u{e9}".as_bytes()))),
        Err(UsageError::ExtensionNotAdvertised("8BITMIME"))
    );
    // A streamed body of unknown content: no BODY= (not offered), and an
    // 8-bit byte then ends the session instead of going out mislabelled.
    let _ = t
        .cmd(|c| c.send_mail(&env, BodyOptions::default()))
        .unwrap();
    for reply in ["250 OK\r\n", "250 OK\r\n", "354 go\r\n"] {
        t.server_ok(reply);
    }
    let sent = t.sent();
    assert!(sent.starts_with("MAIL FROM:<Smith@bar.com>\r\n"), "{sent}");
    let _ = t.events();
    t.cmd(|c| c.send_body(b"plain ascii\r\n")).unwrap();
    assert_eq!(t.cmd(|c| c.send_body(&[0xe9])), Err(UsageError::Closed));
    assert_eq!(t.client.error(), Some(&smtp_proto::Error::Undeclared8Bit));
    let sent = t.sent_bytes();
    assert!(!sent.contains(&0xe9));
    let Some(Event::TransactionFinished { report, .. }) = t.events().pop() else {
        panic!()
    };
    assert_eq!(report.outcome, TxnOutcome::Aborted);
});

transcript!(
    smtputf8_address_requires_the_extension,
    Config::default(),
    |t| {
        t.ready(&["8BITMIME"]);
        let env = Envelope::new(
            ReversePath::parse("j\u{f6}rg@example.org").unwrap(),
            [ForwardPath::parse("a@foo.com").unwrap()],
        );
        assert_eq!(
            t.cmd(|c| c.send_mail(&env, no_chunking())),
            Err(UsageError::ExtensionNotAdvertised("SMTPUTF8"))
        );
    }
);
